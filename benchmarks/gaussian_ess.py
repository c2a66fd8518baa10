"""How far from Gaussian is each target? The importance-sampling ESS of ``N(0, I)`` in the default
warm start's whitened coordinates (the Gaussian of its SMC draws) as a proposal, on 4,096 draws.

``PINNSampler(base="auto")`` switches a one-mode target to the draws mixture when this (on 2,048
draws) is below ``numpyro_pinn.bases.FAR_FROM_GAUSSIAN_ESS`` (0.1) and the mixture's lower bound is
higher. Neal's funnel (d = 10) and the sixteen posteriordb posteriors:

    python benchmarks/gaussian_ess.py > benchmarks/out/gaussian_ess.txt
"""
import datetime
import os
import platform
import sys
import warnings

import jax
import jax.numpy as jnp

sys.path.insert(0, os.path.dirname(__file__))
from dps import funnel  # noqa: E402

from numpyro_pinn import posteriordb  # noqa: E402
from numpyro_pinn.bases import FAR_FROM_GAUSSIAN_ESS  # noqa: E402
from numpyro_pinn.core import make_warm_start  # noqa: E402
from numpyro_pinn.diagnostics import ess  # noqa: E402
from numpyro_pinn.bases import proposal_log_weights  # noqa: E402
from numpyro_pinn.target import from_model  # noqa: E402


def gaussian_ess(potential_fn, x0) -> float:
    ws = make_warm_start(jax.random.PRNGKey(0), potential_fn, x0)
    return ess(proposal_log_weights(potential_fn, ws.mean, ws.chol, None, jax.random.PRNGKey(5), 4096))


def main():
    jax.config.update("jax_enable_x64", True)
    print(f"{datetime.date.today()}, {platform.machine()} {jax.devices()[0].device_kind}, jax {jax.__version__}; "
          f"threshold {FAR_FROM_GAUSSIAN_ESS}")
    print(f"Funnel (d=10): dim 10, Gaussian proposal ESS {gaussian_ess(funnel().potential, jnp.zeros(10)):.4f}",
          flush=True)
    for name in posteriordb.NAMES:
        post = posteriordb.load(name)
        tgt = from_model(jax.random.PRNGKey(0), post.model, post.args, post.kwargs)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            e = gaussian_ess(tgt.potential_fn, tgt.x0)
        print(f"{name}: dim {tgt.x0.shape[0]}, Gaussian proposal ESS {e:.4f}", flush=True)


if __name__ == "__main__":
    main()
