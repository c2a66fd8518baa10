"""Eight schools (non-centred): PINN sampler beside NUTS, both against posteriordb's reference.

Data and reference summary: posteriordb (github.com/stan-dev/posteriordb), BSD 3-Clause,
Copyright (c) 2011-2024 Stan Developers and their Assignees.

    python examples/eight_schools.py            # defaults
    python examples/eight_schools.py --num-steps 500 --num-samples 500   # smoke test
"""
import argparse
import time

import jax
from numpyro.infer import MCMC, NUTS

from numpyro_pinn import PINNSampler, posteriordb

POST = posteriordb.load("eight_schools-eight_schools_noncentered")


def errors(samples, ref):
    """Per parameter, NumPyro's 0-based name -> (mean, median error in reference sds, 90% width error)."""
    cmp = posteriordb.compare_to_reference(samples, ref)
    return {posteriordb.numpyro_name(k): (v["mean"], v["median_err_sd"], v["width_err"]) for k, v in cmp.items()}


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--num-samples", type=int, default=4000)
    p.add_argument("--num-steps", type=int, default=6000)
    p.add_argument("--nuts-samples", type=int, default=1000)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--no-progress", action="store_true")
    args = p.parse_args()
    key = jax.random.PRNGKey(args.seed)

    t0 = time.perf_counter()
    pinn = PINNSampler(POST.model, num_samples=args.num_samples, num_steps=args.num_steps,
                       progress_bar=not args.no_progress).run(key, *POST.args, **POST.kwargs)
    t_pinn = time.perf_counter() - t0
    print("\n=== PINN sampler ===")
    pinn.print_summary(exclude_deterministic=False)

    t0 = time.perf_counter()
    nuts = MCMC(NUTS(POST.model), num_warmup=args.nuts_samples, num_samples=args.nuts_samples, num_chains=4,
                chain_method="sequential", progress_bar=False)
    nuts.run(jax.random.fold_in(key, 1), *POST.args, **POST.kwargs)
    t_nuts = time.perf_counter() - t0
    print("\n=== NUTS (4 chains) ===")
    nuts.print_summary(exclude_deterministic=False)

    ref = {posteriordb.numpyro_name(k): v for k, v in POST.reference.items()}
    e_pinn, e_nuts = errors(pinn.get_samples(), POST.reference), errors(nuts.get_samples(), POST.reference)
    print("\n=== Against the posteriordb reference (Stan, 10,000 draws; names 0-based as above) ===")
    print("median error in reference sds, and 90%-interval width error (0.1 = 10% too wide)")
    print(f"{'param':10s} {'ref mean':>9s} {'ref sd':>7s} {'PINN mean':>10s} {'NUTS mean':>10s} {'PINN med':>9s} "
          f"{'PINN width':>11s} {'NUTS med':>9s} {'NUTS width':>11s}")
    for k, r in ref.items():
        (mp, ep, wp), (mn, en, wn) = e_pinn[k], e_nuts[k]
        print(f"{k:10s} {r['mean']:9.3f} {r['sd']:7.3f} {mp:10.3f} {mn:10.3f} {ep:9.3f} {wp:11.3f} {en:9.3f} "
              f"{wn:11.3f}")
    print(f"\nwall time: PINN {t_pinn:.1f} s, NUTS {t_nuts:.1f} s")


if __name__ == "__main__":
    main()
