"""``numpyro_pinn.compare``: PINN beside NUTS on eight schools and on a two-mode model.

In the two-mode model ``y ~ N(mu^2, 1)`` the posterior of ``mu`` has two equal, well separated
modes near +2 and -2. Each NUTS chain stays in the mode it starts in, so P(mu > 0) from NUTS is
the fraction of chains that happened to start there; the PINN transport carries mass to both.

    python examples/compare_nuts.py [--out-dir .] [--num-steps 6000]
"""
import argparse
import os

import jax
import jax.numpy as jnp
import numpy as np
import numpyro
import numpyro.distributions as dist

from numpyro_pinn import compare, plot_compare, posteriordb


def two_modes(y=None):
    mu = numpyro.sample("mu", dist.Normal(0.0, 3.0))
    numpyro.sample("y", dist.Normal(mu**2, 1.0), obs=y)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out-dir", default=".")
    p.add_argument("--num-steps", type=int, default=6000)
    p.add_argument("--nuts-samples", type=int, default=1000)
    args = p.parse_args()
    os.makedirs(args.out_dir, exist_ok=True)
    opts = dict(pinn_kwargs={"num_steps": args.num_steps}, num_warmup=args.nuts_samples,
                num_samples=args.nuts_samples)

    post = posteriordb.load("eight_schools-eight_schools_noncentered")
    res = compare(post.model, *post.args, key=jax.random.PRNGKey(0), var_names=["mu", "tau", "theta"], **opts,
                  **post.kwargs)
    print("=== eight schools ===")
    print(res)
    print("saved", plot_compare(res, os.path.join(args.out_dir, "compare_eight_schools.png"), var_names=["mu", "tau"]))

    y = jnp.array([4.1, 3.8, 4.3])
    res2 = compare(two_modes, key=jax.random.PRNGKey(1), y=y, **opts)
    print("\n=== two modes: y ~ N(mu^2, 1) ===")
    print(res2)
    x, lw = res2.pinn.get_weighted_samples()
    w = np.asarray(jax.nn.softmax(lw))
    p_pinn = float(np.sum(w * (np.asarray(x["mu"]) > 0)))
    chains = np.asarray(res2.nuts.get_samples(group_by_chain=True)["mu"])
    print(f"P(mu > 0): PINN {p_pinn:.3f} (exact 0.5 by symmetry), NUTS {float(np.mean(chains > 0)):.3f}; "
          f"NUTS per-chain fractions {np.round(np.mean(chains > 0, axis=1), 2).tolist()}")
    print("saved", plot_compare(res2, os.path.join(args.out_dir, "compare_two_modes.png")))


if __name__ == "__main__":
    main()
