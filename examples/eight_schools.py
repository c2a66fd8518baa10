"""Eight schools (non-centred): PINN sampler beside NUTS, both against posteriordb's reference.

Data and reference summary: posteriordb (github.com/stan-dev/posteriordb), BSD 3-Clause,
Copyright (c) 2011-2024 Stan Developers and their Assignees.

    python examples/eight_schools.py            # defaults
    python examples/eight_schools.py --num-steps 500 --num-samples 500   # smoke test
"""
import argparse
import json
import time
from importlib import resources

import jax
import jax.numpy as jnp
import numpy as np
import numpyro
import numpyro.distributions as dist
from numpyro.infer import MCMC, NUTS

from numpyro_pinn import PINNSampler

J = 8
Y = np.array([28.0, 8.0, -3.0, 7.0, -1.0, 1.0, 18.0, 12.0])
SIGMA = np.array([15.0, 10.0, 16.0, 11.0, 9.0, 11.0, 10.0, 18.0])


def eight_schools(sigma, y=None):
    mu = numpyro.sample("mu", dist.Normal(0.0, 5.0))
    tau = numpyro.sample("tau", dist.HalfCauchy(5.0))
    with numpyro.plate("J", sigma.shape[0]):
        theta_trans = numpyro.sample("theta_trans", dist.Normal(0.0, 1.0))
        theta = numpyro.deterministic("theta", mu + tau * theta_trans)
        numpyro.sample("y", dist.Normal(theta, sigma), obs=y)


def reference():
    text = resources.files("numpyro_pinn.data").joinpath("eight_schools_reference_summary.json").read_text()
    return json.loads(text)["summary"]


def compare(samples, ref):
    rows = []
    for name, s in ref.items():
        if "[" in name:
            base, idx = name[:-1].split("[")
            x = np.asarray(samples[base])[:, int(idx) - 1]
        else:
            x = np.asarray(samples[name])
        rows.append((name, np.mean(x), np.std(x), (np.median(x) - s["q50"]) / s["sd"],
                     (np.quantile(x, 0.95) - np.quantile(x, 0.05)) / (s["q95"] - s["q05"]) - 1))
    return rows


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
    pinn = PINNSampler(eight_schools, num_samples=args.num_samples, num_steps=args.num_steps,
                       progress_bar=not args.no_progress).run(key, SIGMA, y=Y)
    t_pinn = time.perf_counter() - t0
    print("\n=== PINN sampler ===")
    pinn.print_summary(exclude_deterministic=False)

    t0 = time.perf_counter()
    nuts = MCMC(NUTS(eight_schools), num_warmup=args.nuts_samples, num_samples=args.nuts_samples, num_chains=4,
                chain_method="sequential", progress_bar=False)
    nuts.run(jax.random.fold_in(key, 1), SIGMA, y=Y)
    t_nuts = time.perf_counter() - t0
    print("\n=== NUTS (4 chains) ===")
    nuts.print_summary(exclude_deterministic=False)

    ref = reference()
    print("\n=== Against the posteriordb reference (Stan, 10,000 draws) ===")
    print(f"{'param':10s} {'PINN med err/sd':>16s} {'PINN 90% width err':>19s} {'NUTS med err/sd':>16s} "
          f"{'NUTS 90% width err':>19s}")
    for a, b in zip(compare(pinn.get_samples(), ref), compare(nuts.get_samples(), ref)):
        print(f"{a[0]:10s} {a[3]:16.3f} {a[4]:19.3f} {b[3]:16.3f} {b[4]:19.3f}")
    print(f"\nwall time: PINN {t_pinn:.1f} s, NUTS {t_nuts:.1f} s")


if __name__ == "__main__":
    main()
