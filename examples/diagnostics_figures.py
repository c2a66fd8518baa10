"""The documentation's figures: mode coverage against NUTS, the importance weights with their
Pareto k-hat, and parallel tempering's ladder and swap rates, on a two-mode posterior.

The model ``y_i ~ N(mu^2, 1)`` has two equal modes of ``mu`` near +2 and -2.

    python examples/diagnostics_figures.py --out-dir docs/figures
"""
import argparse
import os

import jax
import jax.numpy as jnp
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import numpyro  # noqa: E402
import numpyro.distributions as dist  # noqa: E402
from numpyro.infer import MCMC, NUTS  # noqa: E402

from numpyro_pinn import ParallelTempering, PINNSampler  # noqa: E402
from numpyro_pinn.bases import Gaussian  # noqa: E402

Y = jnp.array([4.1, 3.8, 4.3])


def two_modes(y=None):
    mu = numpyro.sample("mu", dist.Normal(0.0, 3.0))
    numpyro.sample("y", dist.Normal(mu**2, 1.0), obs=y)


def exact_log_z(y=np.asarray(Y)):
    from scipy.special import logsumexp
    from scipy.stats import norm

    mu = np.linspace(-10, 10, 200001)
    lp = norm.logpdf(mu, 0, 3) + norm.logpdf(y[:, None], mu**2, 1).sum(0)
    return float(logsumexp(lp) + np.log(mu[1] - mu[0]))


def mode_coverage(pinn, nuts, path):
    fig, ax = plt.subplots(figsize=(7, 3.2))
    bins = np.linspace(-3.5, 3.5, 71)
    ax.hist(np.asarray(pinn.get_samples()["mu"]), bins, density=True, histtype="stepfilled", alpha=0.35,
            color="k", label=f"PINN, P(mu > 0) = {float(np.mean(pinn.get_samples()['mu'] > 0)):.2f}")
    chains = np.asarray(nuts.get_samples(group_by_chain=True)["mu"])
    for c, x in enumerate(chains):
        ax.hist(x, bins, density=True, histtype="step", lw=1.5, label=f"NUTS chain {c}")
    ax.set_xlabel("mu")
    ax.set_title("Each NUTS chain stays in its starting mode; the PINN transport covers both")
    ax.legend(fontsize=8)
    fig.savefig(path, dpi=90, bbox_inches="tight")
    plt.close(fig)


def weights(fits, path):
    fig, axes = plt.subplots(1, len(fits), figsize=(4 * len(fits), 3.2), sharey=True)
    for ax, (title, s) in zip(np.atleast_1d(axes), fits.items()):
        _, lw = s.get_weighted_samples()
        lw = np.asarray(lw)
        lw = lw[np.isfinite(lw)]
        ax.hist(lw - lw.max(), bins=60, color="C0")
        d = s.diagnostics
        ax.set_title(f"{title}\nESS {d['ess']:.3f}, Pareto k {d['pareto_k']:.2f}, log Z {d['log_Z']:.3f}", fontsize=9)
        ax.set_xlabel("log weight - max")
    np.atleast_1d(axes)[0].set_ylabel("particles")
    fig.savefig(path, dpi=90, bbox_inches="tight")
    plt.close(fig)


def pt_ladder(pt, path):
    d = pt.diagnostics
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(8, 3.2))
    a1.semilogy(np.arange(len(d["betas"])), np.maximum(d["betas"], 1e-4), "o-")
    a1.set_xlabel("replica (0 = posterior)")
    a1.set_ylabel("inverse temperature beta")
    a1.set_title("Adapted ladder (beta = 0 drawn as 1e-4)", fontsize=9)
    a2.bar(np.arange(len(d["swap_acceptance"])), d["swap_acceptance"])
    a2.set_ylim(0, 1)
    a2.set_xlabel("adjacent pair")
    a2.set_ylabel("swap acceptance")
    a2.set_title(f"{d['round_trips']} round trips, log Z = {d['log_Z']:.3f} +- {d['log_Z_se']:.3f}", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=90, bbox_inches="tight")
    plt.close(fig)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out-dir", default="docs/figures")
    p.add_argument("--num-steps", type=int, default=6000)
    p.add_argument("--nuts-samples", type=int, default=1000)
    p.add_argument("--pt-samples", type=int, default=1000)
    args = p.parse_args()
    os.makedirs(args.out_dir, exist_ok=True)
    key = jax.random.PRNGKey(0)

    pinn = PINNSampler(two_modes, num_steps=args.num_steps, progress_bar=False).run(key, Y)
    nuts = MCMC(NUTS(two_modes), num_warmup=args.nuts_samples, num_samples=args.nuts_samples, num_chains=4,
                chain_method="sequential", progress_bar=False)
    nuts.run(jax.random.fold_in(key, 1), Y)
    mode_coverage(pinn, nuts, os.path.join(args.out_dir, "mode_coverage.png"))

    poor = PINNSampler(two_modes, num_steps=5, target_ess=None, base=Gaussian(fallback=False),
                       warm_start="laplace", progress_bar=False).run(key, Y)
    weights({"default settings (both modes)": pinn,
             "Laplace start, one Gaussian, 5 steps (one mode)": poor}, os.path.join(args.out_dir, "weights.png"))

    pt = ParallelTempering(two_modes, num_temperatures=8, num_warmup=args.pt_samples, num_samples=args.pt_samples,
                           progress_bar=False).run(jax.random.fold_in(key, 2), Y)
    pt_ladder(pt, os.path.join(args.out_dir, "pt_ladder.png"))
    for name in ("mode_coverage", "weights", "pt_ladder"):
        print("saved", os.path.join(args.out_dir, name + ".png"))
    print(f"exact log Z (quadrature): {exact_log_z():.4f}")
    print(pinn.summary_line())
    print(poor.summary_line())
    print(pt.summary_line())


if __name__ == "__main__":
    main()
