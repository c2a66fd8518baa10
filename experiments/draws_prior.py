"""How good is ``prior="draws"`` by itself, with a fixed number of components and with the automatic
choice? The importance-sampling ESS and lower bound of the fitted mixture as a proposal, no training.

Builds the default warm start (SMC) on Rings (d=2, four rings) and Neal's funnel (d=10), fits
``bases.draw_mixture`` with each ``--components`` (``auto``: the doubling search scored against
the target), draws 20,000 points from it and prints the chosen number of components, the ESS of
the weights ``q / prior``, the lower bound ``mean(log w)`` minus the true log Z, the IS log Z error,
and the seconds the fit took.

``--path-points 0`` turns off the components along the way from the draws to the mode
(``draw_mixture(path_points=...)``, default 64).

    python experiments/draws_prior.py [--components 4 auto] [--targets rings funnel] [--path-points 64]
"""
import argparse
import datetime
import os
import platform
import sys
import time

import jax
import jax.numpy as jnp

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "benchmarks"))
from dps import rings  # noqa: E402
from targets import funnel  # noqa: E402

from numpyro_pinn import bases  # noqa: E402
from numpyro_pinn.core import make_warm_start  # noqa: E402
from numpyro_pinn.diagnostics import ess, log_evidence  # noqa: E402

jax.config.update("jax_enable_x64", True)
p = argparse.ArgumentParser()
p.add_argument("--components", nargs="+", default=["4", "auto"])
p.add_argument("--targets", nargs="+", default=["rings", "funnel"])
p.add_argument("--path-points", type=int, default=64)
args = p.parse_args()
print(f"{datetime.date.today()}, {platform.machine()} {jax.devices()[0].device_kind}, jax {jax.__version__}")
for name in args.targets:
    t = {"rings": rings, "funnel": funnel}[name]()
    init = jnp.zeros(t.dim) + (0.1 if name == "rings" else 0.0)  # the origin is the rings' singular point
    ws = make_warm_start(jax.random.PRNGKey(0), t.potential, init)
    for c in args.components:
        t0 = time.perf_counter()
        pr = bases.draw_mixture(t.potential, ws.mean, ws.chol, ws.draws, num_components=c if c == "auto" else int(c),
                                 rng_key=jax.random.PRNGKey(1), path_points=args.path_points)
        secs = time.perf_counter() - t0
        lw = bases.proposal_log_weights(t.potential, ws.mean, ws.chol, pr, jax.random.PRNGKey(2), 20000)
        print(f"{t.name}, components={c}, path_points={args.path_points}: K = {pr.means.shape[0]}, prior ESS {ess(lw):.4f}, "
              f"lower bound error {lw.mean() - t.log_Z:+.4f}, IS log Z error {log_evidence(lw) - t.log_Z:+.4f}, "
              f"fit {secs:.1f} s", flush=True)
