"""The SMC warm start in float32 on a float64 target, its draws corrected to float64.

A run evaluates the target in float64 (``enable_x64=True``): the importance weights need it. The
SMC warm start does not: it moves particles by HMC and tempers them, and a potential's float32
rounding (``1e-5`` nats on a 31-coefficient logistic regression of 569 rows) changes neither. On
CPU a float32 evaluation of a costly potential (matrix products over the data, many ``log``s)
takes a third to a half of a float64 one.

So the SMC run is traced with JAX's float64 switched off (:func:`numpyro_pinn.precision.in_float32`;
:func:`numpyro_pinn.precision.runs_in_float32` decides when), and its draws are
then weighted by the ratio of the float64 target to the float32 one at each draw and resampled
(:func:`to_float64`): they follow the float64 target, and ``log Z`` is corrected by the weights'
mean. Where float32 rounds a potential badly (a difference of two large ``lgamma``\\ s), those
weights are uneven, their ESS falls below :data:`MIN_CORRECTION_ESS`, and the float32 run is
discarded for a float64 one; so it is when the float32 run fails (the Cholesky factor of a nearly
singular kernel matrix, or of the particles' covariance, that float32 cannot take).
"""
from __future__ import annotations

from typing import Callable, NamedTuple, Optional

import jax
import jax.numpy as jnp
import numpy as np

from numpyro_pinn.diagnostics import ess, log_evidence
from numpyro_pinn.resampling import systematic_resample
from numpyro_pinn.precision import in_float32
from numpyro_pinn.target import potentials
from numpyro_pinn.warmstart.base import WarmStart, from_draws

__all__ = ["to_float64", "Corrected", "MIN_CORRECTION_ESS"]

#: The float32 run's draws are kept when their correction weights have at least this ESS.
MIN_CORRECTION_ESS = 0.5


class Corrected(NamedTuple):
    """What :func:`to_float64` made of a float32 warm start: ``warm_start`` (``None`` when the
    correction weights' ESS is below the minimum), ``ess`` (that ESS) and ``num_evals`` (the
    target evaluations the correction spent, in both precisions)."""

    warm_start: Optional[WarmStart]
    ess: float
    num_evals: int


def to_float64(rng_key: jax.Array, potential_fn: Callable, ws: WarmStart) -> Corrected:
    """The float32 warm start ``ws`` corrected to the float64 target: each draw weighted by
    ``exp(U32(x) - U64(x))``, resampled by those weights (systematic), ``log Z`` plus the log of
    their mean. When their ESS is below :data:`MIN_CORRECTION_ESS`, ``warm_start`` is ``None``."""
    n = ws.draws.shape[0]
    x32 = jnp.asarray(ws.draws, jnp.float32)
    u32 = in_float32(potentials, potential_fn, x32)
    x = jnp.asarray(x32, jnp.float64)
    u64 = potentials(potential_fn, x)
    lw = np.asarray(u32, np.float64) - np.asarray(u64, np.float64)
    lw = np.where(np.isfinite(lw), lw, -np.inf)  # a draw either precision cannot evaluate: dropped
    e = ess(lw)
    if not e >= MIN_CORRECTION_ESS:
        return Corrected(None, e, 2 * n)
    idx = systematic_resample(rng_key, lw, n)
    log_z = float(ws.log_Z) + log_evidence(lw)
    out = from_draws(np.asarray(x)[idx], log_Z=log_z, method=ws.method)
    return Corrected(out._replace(num_evals=ws.num_evals), e, 2 * n)
