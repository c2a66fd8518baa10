"""Log Bayes factors: PINN (defaults, numpyro_pinn.bayes_factor) against BlackJAX adaptive tempered
SMC, on model pairs whose evidence is known (closed form or 1-D quadrature), in one run.

    python benchmarks/evidence.py | tee benchmarks/out/evidence.txt

SMC: numpyro_pinn.warmstart.smc (BlackJAX adaptive_tempered, HMC moves, from a broad Gaussian around
the Laplace fit), 2,048 and 16,384 particles, 5 seeds each: mean and sd of its log Bayes factor.
"""
import datetime
import platform
import time
import warnings

import jax
import numpy as np
import numpyro
import numpyro.distributions as dist
from scipy.special import betaln, logsumexp
from scipy.stats import norm

from numpyro_pinn import PINNSampler, bayes_factor
from numpyro_pinn.target import from_model
from numpyro_pinn.warmstart import laplace, smc

jax.config.update("jax_enable_x64", True)

Y_NORMAL = np.array([0.9, 1.7, 0.4, 1.3, 2.1, 0.8])
Y_BERN = np.array([1, 1, 1, 0, 1, 1, 1, 1, 0, 1, 1, 1], dtype=float)
Y_SQ = np.array([4.1, 3.8, 4.3])


def normal_mean(tau):
    def model(y):
        mu = numpyro.sample("mu", dist.Normal(0.0, tau))
        numpyro.sample("y", dist.Normal(mu, 1.0), obs=y)
    return model


def beta_bernoulli(a, b):
    def model(y):
        p = numpyro.sample("p", dist.Beta(a, b))
        numpyro.sample("y", dist.Bernoulli(p), obs=y)
    return model


def squared_mean(s):
    def model(y):
        mu = numpyro.sample("mu", dist.Normal(0.0, s))
        numpyro.sample("y", dist.Normal(mu**2, 1.0), obs=y)
    return model


def quad_squared(s, y=Y_SQ):
    mu = np.linspace(-10, 10, 400001)
    lp = norm.logpdf(mu, 0, s) + norm.logpdf(y[:, None], mu**2, 1).sum(0)
    return logsumexp(lp) + np.log(mu[1] - mu[0])


def closed_normal(tau, y=Y_NORMAL):
    from scipy.stats import multivariate_normal

    n = len(y)
    return multivariate_normal(np.zeros(n), np.eye(n) + tau**2 * np.ones((n, n))).logpdf(y)


def closed_beta(a, b, y=Y_BERN):
    k, n = y.sum(), len(y)
    return betaln(a + k, b + n - k) - betaln(a, b)


PAIRS = [
    ("normal mean: tau 1 vs 10", (normal_mean(1.0), closed_normal(1.0)), (normal_mean(10.0), closed_normal(10.0)), Y_NORMAL),
    ("Beta-Bernoulli: Beta(1,1) vs Beta(2,8)", (beta_bernoulli(1.0, 1.0), closed_beta(1, 1)),
     (beta_bernoulli(2.0, 8.0), closed_beta(2, 8)), Y_BERN),
    ("two modes y~N(mu^2,1): prior sd 3 vs 1", (squared_mean(3.0), quad_squared(3.0)),
     (squared_mean(1.0), quad_squared(1.0)), Y_SQ),
]


def smc_log_z(model, y, key, n):
    target = from_model(jax.random.PRNGKey(0), model, (y,), {})
    t0 = time.perf_counter()
    lap = laplace(target.potential_fn, target.x0)
    ws = smc(key, target.potential_fn, lap, num_particles=n, centre=target.x0)
    return float(ws.log_Z), time.perf_counter() - t0


def main():
    print(f"# evidence benchmark, {datetime.date.today()}, {platform.machine()} {jax.devices()[0].platform}, "
          f"jax {jax.__version__}")
    print("| pair | exact log BF | PINN log BF +- se | PINN err | PINN s | SMC 2048 err (mean +- sd, 5 seeds) | "
          "SMC 2048 s | SMC 16384 err | SMC 16384 s |")
    print("|---|---|---|---|---|---|---|---|---|")
    for name, (ma, za), (mb, zb), y in PAIRS:
        exact = za - zb
        t0 = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fa = PINNSampler(ma, progress_bar=False).run(jax.random.PRNGKey(0), y)
            fb = PINNSampler(mb, progress_bar=False).run(jax.random.PRNGKey(1), y)
        t_pinn = time.perf_counter() - t0
        bf = bayes_factor(fa, fb)
        cells = []
        for n in (2048, 16384):
            errs, secs = [], 0.0
            for seed in range(5):
                la, sa = smc_log_z(ma, y, jax.random.PRNGKey(10 + seed), n)
                lb, sb = smc_log_z(mb, y, jax.random.PRNGKey(20 + seed), n)
                errs.append(la - lb - exact)
                secs += sa + sb
            cells += [f"{np.mean(errs):+.4f} +- {np.std(errs, ddof=1):.4f}", f"{secs / 5:.1f}"]
        print(f"| {name} | {exact:.4f} | {bf.log_bf:.4f} +- {bf.se:.4f} | {bf.log_bf - exact:+.4f} | {t_pinn:.1f} | "
              + " | ".join(cells) + " |", flush=True)
        for tag, f in (("a", fa), ("b", fb)):
            d = f.diagnostics
            print(f"  {tag}: ESS {d['ess']:.4f}, k-hat {d['pareto_k']:.2f}, train steps {d['num_train_steps']}")


if __name__ == "__main__":
    main()
