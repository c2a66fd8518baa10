"""Tail diagnostic: does the target have mass beyond where the proposal puts particles?

Importance weights cannot see regions the proposal never reaches: a light-tailed proposal for a
heavy-tailed posterior gives a high ESS and a low k-hat while its tails, sd and tail probabilities
are far too small. This check looks where the weights cannot: along each principal direction of
the particles (and each coordinate axis), both ways, it takes the proposal's extent ``r`` (the
``EXTENT_QUANTILE`` quantile of the particles' distances from their weighted mean) and evaluates the
target there and at ``FAR * r``. A posterior whose density falls by less than ``MIN_DROP`` nats over
that stretch still has mass well beyond every particle: its tail is heavier than the proposal's.
"""
from __future__ import annotations

from typing import Callable, NamedTuple, Optional

import jax
import jax.numpy as jnp
import numpy as np

__all__ = ["TailCheck", "tail_check", "EXTENT_QUANTILE", "FAR", "MIN_DROP"]

#: The proposal's extent along a direction: this quantile of the particles' projections.
EXTENT_QUANTILE = 0.999
#: The target is evaluated at the extent and at this multiple of it.
FAR = 4.0
#: A drop of the target's log density smaller than this (nats; 1/1000) from the extent to ``FAR``
#: times it flags a heavier tail. A Cauchy tail drops ``2 log 4 = 2.8``, a Student-t with 3 degrees
#: of freedom ``4 log 4 = 5.5``; a Gaussian tail beyond 3 sd drops more than 60.
MIN_DROP = float(np.log(1000.0))


class TailCheck(NamedTuple):
    """The flattest direction found: ``direction`` (unit, unconstrained space), ``extent`` (the
    proposal's, from the weighted mean) and ``drop`` (the target's log-density drop from there to
    ``FAR * extent``); ``heavier`` when ``drop < MIN_DROP``."""

    direction: np.ndarray
    extent: float
    drop: float
    heavier: bool


def tail_check(potential_fn: Callable, x, log_weights) -> Optional[TailCheck]:
    """Compare the target's tail with the particles' along principal and coordinate directions.

    ``x``: particles ``(n, d)`` in unconstrained space; ``log_weights``: their importance log
    weights (non-finite ones are ignored). Returns the direction with the smallest drop, or
    ``None`` when there are too few particles (fewer than 100) to locate an extent.
    """
    x = np.asarray(x, dtype=np.float64)
    lw = np.asarray(log_weights, dtype=np.float64)
    ok = np.isfinite(lw) & np.all(np.isfinite(x), axis=1)
    x, lw = x[ok], lw[ok]
    if x.shape[0] < 100:
        return None
    w = np.exp(lw - lw.max())
    w /= w.sum()
    centre = w @ x
    d = x.shape[1]
    cov = np.atleast_2d(np.cov(x.T))
    _, vecs = np.linalg.eigh(cov)
    dirs = np.concatenate([vecs.T, -vecs.T, np.eye(d), -np.eye(d)])
    proj = (x - centre) @ dirs.T  # (n, 4d)
    extent = np.quantile(proj, EXTENT_QUANTILE, axis=0)
    good = extent > 0
    dirs, extent = dirs[good], extent[good]
    if not len(dirs):
        return None
    pts = np.concatenate([centre + extent[:, None] * dirs, centre + FAR * extent[:, None] * dirs])
    u = np.asarray(jax.jit(jax.vmap(potential_fn))(jnp.asarray(pts)))
    drop = u[len(dirs):] - u[: len(dirs)]  # U rises by the density's log drop
    drop = np.where(np.isfinite(drop), drop, np.inf)  # non-finite far out: no mass there
    k = int(np.argmin(drop))
    return TailCheck(dirs[k], float(extent[k]), float(drop[k]), bool(drop[k] < MIN_DROP))
