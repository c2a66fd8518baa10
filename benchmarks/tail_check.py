"""Which targets does ``PINNSampler(prior="auto")`` give a heavy-tailed (Student-t) base component?

Before training, the default base ``N(0, I)`` in the warm start's whitened coordinates is checked
with :func:`numpyro_pinn.tails.base_tail_check`: the target's log-density drop from the base
draws' 99.9% extent to 4 times as far, along principal and coordinate directions. Under
``numpyro_pinn.tails.MIN_DROP`` nats the base gets a Student-t component
(:func:`numpyro_pinn.tails.with_heavy_tail`). Neal's funnel (d = 10), the sixteen posteriordb
posteriors and the reliability issue's Cauchy case:

    python benchmarks/tail_check.py > benchmarks/out/tail_check.txt
"""
import datetime
import os
import platform
import sys
import time
import warnings

import jax
import jax.numpy as jnp
import numpyro
import numpyro.distributions as dist

sys.path.insert(0, os.path.dirname(__file__))
from dps import funnel  # noqa: E402

from numpyro_pinn import posteriordb  # noqa: E402
from numpyro_pinn.core import make_warm_start  # noqa: E402
from numpyro_pinn.tails import MIN_DROP, base_tail_check  # noqa: E402
from numpyro_pinn.target import from_model  # noqa: E402


def cauchy(y):
    mu = numpyro.sample("mu", dist.Normal(0, 100))
    numpyro.sample("y", dist.Cauchy(mu, 1), obs=y)


def drop(potential_fn, x0) -> float:
    ws = make_warm_start(jax.random.PRNGKey(0), potential_fn, x0)
    return base_tail_check(jax.random.PRNGKey(5), potential_fn, ws.mean, ws.chol, None).drop


def main():
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


if __name__ == "__main__":
    main()
