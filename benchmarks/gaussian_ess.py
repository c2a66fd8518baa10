"""How far from Gaussian is each target, and which Gaussian does ``base="auto"`` keep? For one mode,
the importance-sampling ESS (4,096 draws) of the two Gaussians ``Auto`` chooses between, in the
default warm start's whitened coordinates: ``N(0, I)`` (the Gaussian of the SMC draws) and the
Laplace fit at the mode (``mode_mixture(one_mode="laplace")``), and the one ``Auto`` keeps.

``PINNSampler(base="auto")`` keeps the Laplace fit when both its lower bound and its ESS are higher,
and switches to the draws mixture when the kept Gaussian's ESS (on 2,048 draws) is below
``numpyro_pinn.bases.FAR_FROM_GAUSSIAN_ESS`` (0.1) and the mixture's lower bound is higher. Neal's
funnel (d = 10) and the real-model table of ``benchmarks/realworld.py`` (posteriordb's sixteen,
NumPyro's examples, breast cancer, the Gaussians):

    python benchmarks/gaussian_ess.py > benchmarks/out/gaussian_ess.txt
    python benchmarks/gaussian_ess.py normal1 gauss50      # some of them
"""
import datetime
import os
import platform
import sys
import time
import warnings

import jax
import jax.numpy as jnp

sys.path.insert(0, os.path.dirname(__file__))
from targets import funnel  # noqa: E402
from realworld import ALL, load  # noqa: E402

from numpyro_pinn.bases import FAR_FROM_GAUSSIAN_ESS, Auto, mode_mixture, proposal_log_weights  # noqa: E402
from numpyro_pinn.core import make_warm_start  # noqa: E402
from numpyro_pinn.diagnostics import ess  # noqa: E402
from numpyro_pinn.target import from_model  # noqa: E402


def gaussians(potential_fn, x0) -> str:
    t0 = time.perf_counter()
    ws = make_warm_start(jax.random.PRNGKey(0), potential_fn, x0)
    lap = mode_mixture(potential_fn, ws.mean, ws.chol, ws.draws, one_mode="laplace")
    if lap is not None and lap.means.shape[0] > 1:
        return f"{lap.means.shape[0]} modes"
    key = jax.random.PRNGKey(5)
    e0 = ess(proposal_log_weights(potential_fn, ws.mean, ws.chol, None, key, 4096))
    e1 = float("nan") if lap is None else ess(proposal_log_weights(potential_fn, ws.mean, ws.chol, lap, key, 4096))
    # far_from_gaussian_ess=0, refit_below=0: only the choice between the two Gaussians, not the draws
    # mixture or a refit.
    kept, _ = Auto(far_from_gaussian_ess=0.0, refit_below=0.0).one_mode_mixture(jax.random.PRNGKey(6), potential_fn, ws, "prior",
                                                                laplace=lap)
    return (f"ESS N(0, I) {e0:.4f}, Laplace {e1:.4f}; auto keeps {'N(0, I)' if kept is None else 'Laplace'} "
            f"({time.perf_counter() - t0:.0f} s)")


def main():
    jax.config.update("jax_enable_x64", True)
    names = sys.argv[1:] or ["funnel10", *ALL]
    print(f"{datetime.date.today()}, {platform.machine()} {jax.devices()[0].device_kind}, jax {jax.__version__}; "
          f"threshold {FAR_FROM_GAUSSIAN_ESS}")
    for name in names:
        if name == "funnel10":
            pot, x0 = funnel().potential, jnp.zeros(10)
        else:
            model, args, kwargs = load(name)[:3]
            tgt = from_model(jax.random.PRNGKey(0), model, args, kwargs)
            pot, x0 = tgt.potential_fn, tgt.x0
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            line = gaussians(pot, x0)
        print(f"{name}: dim {x0.shape[0]}, {line}", flush=True)


if __name__ == "__main__":
    main()
