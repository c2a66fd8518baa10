"""Which targets does ``PINNSampler(base="auto")`` give a heavy-tailed (Student-t) base component?

Before training, the default base ``N(0, I)`` in the warm start's whitened coordinates is checked
with :func:`numpyro_pinn.tails.base_tail_check`: the target's log-density drop from the base
draws' 99.9% extent to 4 times as far, along principal and coordinate directions. Under
``numpyro_pinn.tails.MIN_DROP`` nats the base gets a Student-t component
(:func:`numpyro_pinn.tails.with_heavy_tail`). Neal's funnel (d = 10), the sixteen posteriordb
posteriors and the reliability issue's Cauchy case. ``--cauchy N`` then runs ``PINNSampler`` with
default settings on the Cauchy case for N seeds (with and without the component) and compares the
sd and P(|mu| > 50) of 100,000 weighted draws with quadrature:

    python benchmarks/tail_check.py --cauchy 3 > benchmarks/out/tail_check.txt
"""
import argparse
import datetime
import os
import platform
import sys
import time
import warnings

import jax
import jax.numpy as jnp
import numpy as np
import numpyro
import numpyro.distributions as dist

sys.path.insert(0, os.path.dirname(__file__))
from targets import funnel  # noqa: E402

from numpyro_pinn import PINNSampler, posteriordb  # noqa: E402
from numpyro_pinn.core import make_warm_start  # noqa: E402
from numpyro_pinn.diagnostics import normalised_weights  # noqa: E402
from numpyro_pinn.tails import MIN_DROP, base_tail_check  # noqa: E402
from numpyro_pinn.target import from_model  # noqa: E402


def cauchy(y):
    mu = numpyro.sample("mu", dist.Normal(0, 100))
    numpyro.sample("y", dist.Cauchy(mu, 1), obs=y)


def drop(potential_fn, x0) -> float:
    ws = make_warm_start(jax.random.PRNGKey(0), potential_fn, x0)
    return base_tail_check(jax.random.PRNGKey(5), potential_fn, ws.mean, ws.chol, None).drop


def cauchy_runs(seeds: int) -> None:
    g = np.linspace(-3000, 3000, 2_000_001)
    p = np.exp(-0.5 * (g / 100) ** 2 - np.log1p((0.5 - g) ** 2))
    p /= p.sum()
    sd_true, tail_true = np.sqrt(np.sum(p * (g - np.sum(p * g)) ** 2)), np.sum(p[np.abs(g) > 50])
    print(f"\nCauchy case, default settings; quadrature: sd {sd_true:.3f}, P(|mu| > 50) {tail_true:.4f}")
    for prior in ("auto", "gaussian"):
        for seed in range(seeds):
            t0 = time.perf_counter()
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                s = PINNSampler(cauchy, base=prior, progress_bar=False).run(jax.random.PRNGKey(seed), jnp.array(0.5))
            secs = time.perf_counter() - t0
            x, lw = s.sample(jax.random.PRNGKey(99), 100_000, weighted=True)
            x, w = np.asarray(x["mu"]), normalised_weights(lw)
            sd = np.sqrt(np.sum(w * (x - np.sum(w * x)) ** 2))
            d = s.diagnostics
            warned = sorted({str(c.message).split(":")[0][:40] for c in caught if issubclass(c.category, RuntimeWarning)})
            print(f"prior={prior:8s} seed {seed}: sd {sd:.3f} ({100 * (sd / sd_true - 1):+.1f}%), resampled sd "
                  f"{np.std(np.asarray(s.get_samples()['mu'])):.3f}, P(|mu|>50) {np.sum(w * (np.abs(x) > 50)):.4f}, "
                  f"ESS {d['ess']:.4f}, k-hat {d['pareto_k']:.2f}, heavy component {d['heavy_tail_component']}, "
                  f"final tail drop {d['tail_drop']:.1f}, {d['num_train_steps']} steps, {secs:.0f} s; warnings: {warned}",
                  flush=True)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--cauchy", type=int, default=0, help="seeds of the sampler runs on the Cauchy case")
    args = parser.parse_args()
    jax.config.update("jax_enable_x64", True)
    print(f"{datetime.date.today()}, {platform.machine()} {jax.devices()[0].device_kind}, jax {jax.__version__}; "
          f"flagged below {MIN_DROP:.2f} nats")
    rows = [("funnel (d=10)", funnel().potential, jnp.zeros(10))]
    t = from_model(jax.random.PRNGKey(0), cauchy, (jnp.array(0.5),), {})
    rows.append(("cauchy (issue 24)", t.potential_fn, t.x0))
    for name in posteriordb.NAMES:
        p = posteriordb.load(name)
        t = from_model(jax.random.PRNGKey(0), p.model, p.args, p.kwargs)
        rows.append((name, t.potential_fn, t.x0))
    for name, pot, x0 in rows:
        t0 = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            dr = drop(pot, x0)
        flag = "heavy-tailed component" if dr < MIN_DROP else "N(0, I) kept"
        print(f"{name:45s} dim {x0.shape[0]:3d}  drop {dr:8.2f} nats  {flag}  ({time.perf_counter() - t0:.0f} s)",
              flush=True)
    if args.cauchy:
        cauchy_runs(args.cauchy)


if __name__ == "__main__":
    main()
