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

from numpyro_pinn.gaussian import probe_directions
from numpyro_pinn.target import potentials

__all__ = ["TailCheck", "tail_check", "describe_drop", "EXTENT_QUANTILE", "FAR", "MIN_DROP", "with_heavy_tail",
           "without_heavy_tail"]

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


def describe_drop(drop: float) -> str:
    """How a warning words a :class:`TailCheck`'s ``drop``: "falls by only 2.1 nats", or, where
    the density is higher far out than at the proposal's farthest particles (a funnel's neck, a
    density that rises without bound), "rises by 4.4e+02 nats"."""
    return f"falls by only {drop:.2g} nats" if drop >= 0 else f"rises by {-drop:.2g} nats"


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
    dirs = probe_directions(np.cov(x.T))
    proj = (x - centre) @ dirs.T  # (n, 4d)
    extent = np.quantile(proj, EXTENT_QUANTILE, axis=0)
    good = extent > 0
    dirs, extent = dirs[good], extent[good]
    if not len(dirs):
        return None
    pts = np.concatenate([centre + extent[:, None] * dirs, centre + FAR * extent[:, None] * dirs])
    u = np.asarray(potentials(potential_fn, jnp.asarray(pts)))
    drop = u[len(dirs):] - u[: len(dirs)]  # U rises by the density's log drop
    drop = np.where(np.isfinite(drop), drop, np.inf)  # non-finite far out: no mass there
    k = int(np.argmin(drop))
    return TailCheck(dirs[k], float(extent[k]), float(drop[k]), bool(drop[k] < MIN_DROP))


#: The heavy-tailed component added by :func:`with_heavy_tail`: its weight in the base
#: distribution, its degrees of freedom (1: Cauchy tails, heavier than any posterior with a finite
#: mean, so the weights stay bounded) and its scale in whitened units. The weight bounds the
#: proposal's ESS: where the posterior's tails are lighter than the component's, its draws get
#: almost no weight and the ESS cannot exceed about ``1 - HEAVY_WEIGHT``, which must leave room
#: for the training's ``target_ess`` (0.9 by default); the weights stay bounded by
#: ``1 / HEAVY_WEIGHT`` times the target's ratio to the component, however small the weight.
HEAVY_WEIGHT = 0.03
HEAVY_DF = 1.0
HEAVY_SCALE = 1.0


def base_tail_check(rng_key, potential_fn: Callable, mean, chol, base, num: int = 4096) -> Optional[TailCheck]:
    """:func:`tail_check` for a base distribution before training: ``num`` draws of ``base``
    (a :class:`~numpyro_pinn.bases.GaussianMixture` or ``None`` for ``N(0, I)``, in the whitened
    coordinates ``x = mean + chol y``), with equal weights. Costs ``8 d`` target evaluations."""
    from numpyro_pinn import bases

    d = mean.shape[0]
    y = np.asarray(bases.sample(base, rng_key, num, d), np.asarray(mean).dtype)
    x = np.asarray(mean) + y @ np.asarray(chol).T
    return tail_check(potential_fn, x, np.zeros(num))


def with_heavy_tail(base, dim: int, num_draws: int, weight: float = HEAVY_WEIGHT, df: float = HEAVY_DF,
                    scale: float = HEAVY_SCALE):
    """``base`` (a :class:`~numpyro_pinn.bases.GaussianMixture`, or ``None`` for ``N(0, I)`` with
    ``num_draws`` warm-start draws, all in its one component) with a
    Student-t component (``df`` degrees of freedom, centre 0, scale ``scale * I``) of weight
    ``weight`` added: a defensive component whose tails are heavier than the posterior's, so the
    transport's proposal reaches the tails and the importance weights there stay bounded."""
    from numpyro_pinn.bases.mixture import standard

    f32 = lambda a: jnp.asarray(a, jnp.float32)
    if base is None:
        base = standard(dim)._replace(labels=jnp.zeros(num_draws, jnp.int32))
    k = base.means.shape[0]
    chol = scale * jnp.eye(dim, dtype=jnp.float32)[None]
    dfs = jnp.full((k,), jnp.inf, jnp.float32) if base.dfs is None else f32(base.dfs)
    skews = None if base.skews is None else jnp.concatenate([f32(base.skews), jnp.zeros((1, dim), jnp.float32)])
    return base._replace(
        means=jnp.concatenate([f32(base.means), jnp.zeros((1, dim), jnp.float32)]),
        chols=jnp.concatenate([f32(base.chols), chol]),
        inv_chols=jnp.concatenate([f32(base.inv_chols), chol / scale**2]),
        log_weights=jnp.concatenate([f32(base.log_weights) + jnp.log1p(-weight), jnp.log(f32([weight]))]),
        skews=skews, dfs=jnp.concatenate([dfs, f32([df])]))


def without_heavy_tail(base):
    """``base`` with its Student-t components (:func:`with_heavy_tail`'s) given weight 0 and the
    others renormalised: where training starts its collocation paths from the base's draws, and the
    proposal whose lower bound ``diagnostics["log_Z_lower_bound_core"]`` reports. A defensive
    component's far draws (a Cauchy's, hundreds of standard deviations out) are where the transport
    has nothing to learn, and their residuals there can overflow the loss."""
    if base is None or base.dfs is None:
        return base
    dfs = jnp.asarray(base.dfs)
    lw = jnp.where(jnp.isfinite(dfs), -jnp.inf, jnp.asarray(base.log_weights))
    return base._replace(log_weights=lw - jax.scipy.special.logsumexp(lw))

