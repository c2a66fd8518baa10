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


def compare(samples, ref):
    cmp = posteriordb.compare_to_reference(samples, ref)
    return [(k, v["mean"], v["sd"], v["median_err_sd"], v["width_err"]) for k, v in cmp.items()]


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

    ref = POST.reference
    print("\n=== Against the posteriordb reference (Stan, 10,000 draws) ===")
    print(f"{'param':10s} {'PINN med err/sd':>16s} {'PINN 90% width err':>19s} {'NUTS med err/sd':>16s} "
          f"{'NUTS 90% width err':>19s}")
    for a, b in zip(compare(pinn.get_samples(), ref), compare(nuts.get_samples(), ref)):
        print(f"{a[0]:10s} {a[3]:16.3f} {a[4]:19.3f} {b[3]:16.3f} {b[4]:19.3f}")
    print(f"\nwall time: PINN {t_pinn:.1f} s, NUTS {t_nuts:.1f} s")


if __name__ == "__main__":
    main()
