"""Model choice by the evidence: which prior scale for a normal mean do the data support?

Two models for the same data, ``mu ~ N(0, tau^2)``, ``y_i ~ N(mu, 1)``, with ``tau = 1`` and
``tau = 10``. Their evidences ``p(y | model)`` are known in closed form (``y`` is jointly
Gaussian), so the PINN sampler's log Bayes factor can be checked exactly.

    python examples/model_choice.py
"""
import argparse

import jax
import numpy as np
import numpyro
import numpyro.distributions as dist
from scipy.stats import multivariate_normal

from numpyro_pinn import PINNSampler, bayes_factor

Y = np.array([0.9, 1.7, 0.4, 1.3, 2.1, 0.8])


def make_model(tau):
    def model(y):
        mu = numpyro.sample("mu", dist.Normal(0.0, tau))
        numpyro.sample("y", dist.Normal(mu, 1.0), obs=y)

    return model


def exact_log_evidence(tau, y=Y):
    n = len(y)
    return multivariate_normal(np.zeros(n), np.eye(n) + tau**2 * np.ones((n, n))).logpdf(y)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--num-samples", type=int, default=4000)
    p.add_argument("--no-progress", action="store_true")
    args = p.parse_args()

    fits = {}
    for i, tau in enumerate((1.0, 10.0)):
        fits[tau] = PINNSampler(make_model(tau), num_samples=args.num_samples,
                                progress_bar=not args.no_progress).run(jax.random.PRNGKey(i), Y)
        d = fits[tau].diagnostics
        print(f"tau = {tau:4}: log Z = {d['log_Z']:.4f} +- {d['log_Z_se']:.4f} "
              f"(exact {exact_log_evidence(tau):.4f}), ESS {d['ess']:.3f}, Pareto k {d['pareto_k']:.2f}")

    bf = bayes_factor(fits[1.0], fits[10.0])
    exact = exact_log_evidence(1.0) - exact_log_evidence(10.0)
    print(bf)
    print(f"exact log Bayes factor: {exact:.4f}; error {bf.log_bf - exact:+.4f} ({(bf.log_bf - exact) / bf.se:+.1f} se)"
          if bf.se > 0 else f"exact log Bayes factor: {exact:.4f}; error {bf.log_bf - exact:+.2e}")
    print(f"posterior odds of tau = 1 against tau = 10 (equal prior odds): {np.exp(bf.log_bf):.2f}")


if __name__ == "__main__":
    main()
