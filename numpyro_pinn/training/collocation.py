"""Collocation points ``(y, t)`` for the PDE residual (paper section 2 and appendix F.1).

A batch mixes three sources (fractions are user-settable):

* ``uniform``: ``t ~ U[0, 1]``, ``y ~ U(K(t))`` — the paper's default with a time-dependent box
  (its section 2 allows ``K`` to depend on ``t``), explores the domain;
* ``bridge``: ``y = (1 - t) z + t x`` with ``z ~ N(0, I)`` and ``x`` a warm-start draw (for DPS
  the forward-noising marginal ``sqrt(a_t) x + sqrt(1 - a_t) z``) — covers where the transport
  must move mass, including every mode the warm start found;
* ``trajectory``: points on ODE trajectories of the current model (F.1, detached),
  refreshed between training chunks — exploits what has been learned.
"""
from __future__ import annotations

from typing import Callable, NamedTuple

import jax
import jax.numpy as jnp

__all__ = ["CollocationPool", "Collocation", "bridge_paths", "linear_bridge", "sample_points"]


class CollocationPool(NamedTuple):
    """Data the collocation sampler draws from (all in whitened coordinates).

    Attributes
    ----------
    lower, upper
        The box ``K(t)`` for uniform points at ``t = 0`` (covering the prior), shape ``(d,)``.
    lower1, upper1
        The box at ``t = 1`` (covering the warm-start draws); ``K(t)`` interpolates linearly,
        so uniform points never land in the target's far tails, where ``log q`` is extreme.
    draws
        Warm-start posterior draws, shape ``(n, d)``.
    paths
        Trajectories saved on a uniform time grid, shape ``(m, K + 1, d)``.
    """

    lower: jax.Array
    upper: jax.Array
    lower1: jax.Array
    upper1: jax.Array
    draws: jax.Array
    paths: jax.Array


class Collocation(NamedTuple):
    """Mixture fractions of the collocation batch (normalised internally).

    The default uses no uniform points: fitting the PDE in regions the flow never visits costs
    capacity (BENCHMARKS.md measures it on the 9-mode mixture).
    """

    uniform: float = 0.0
    bridge: float = 0.3
    trajectory: float = 0.7

    def counts(self, batch_size: int) -> tuple[int, int, int]:
        tot = self.uniform + self.bridge + self.trajectory
        if tot <= 0 or min(self) < 0:
            raise ValueError(f"collocation fractions must be >= 0 with a positive sum; got {self}.")
        n_u = int(round(batch_size * self.uniform / tot))
        n_b = int(round(batch_size * self.bridge / tot))
        return n_u, n_b, batch_size - n_u - n_b


def linear_bridge(t: jax.Array, z: jax.Array, x: jax.Array) -> jax.Array:
    """``(1 - t) z + t x``: prior at ``t = 0``, target at ``t = 1`` (the ODE transport)."""
    return (1.0 - t) * z + t * x


def _prior_points(key, idx, d, prior):
    """Prior draws paired with the warm-start draws ``idx``: ``N(0, I)``, or, for a mixture prior,
    the component of each draw (so that bridges stay within a mode)."""
    if prior is None:
        return jax.random.normal(key, (idx.shape[0], d), dtype=jnp.float32)
    return prior.sample_components(key, prior.labels[idx])


def bridge_paths(key: jax.Array, draws: jax.Array, num_paths: int, num_times: int,
                 bridge: Callable = linear_bridge, prior=None) -> jax.Array:
    """Bridge paths between the prior (default ``N(0, I)``) and warm-start draws on the grid
    ``t_j = j / (num_times - 1)`` (the initial trajectory pool)."""
    k1, k2 = jax.random.split(key)
    d = draws.shape[1]
    idx = jax.random.randint(k2, (num_paths,), 0, draws.shape[0])
    z = _prior_points(k1, idx, d, prior)
    x = draws[idx].astype(jnp.float32)
    ts = jnp.linspace(0.0, 1.0, num_times, dtype=jnp.float32)[None, :, None]
    return bridge(ts, z[:, None, :], x[:, None, :])


def sample_points(key: jax.Array, pool: CollocationPool, counts: tuple[int, int, int],
                  bridge: Callable = linear_bridge, prior=None):
    """Draw a batch ``(y, t)``: ``y`` float32 ``(B, d)``, ``t`` float32 ``(B,)``."""
    n_u, n_b, n_t = counts
    d = pool.lower.shape[0]
    ku, kb, kt = jax.random.split(key, 3)
    parts_y, parts_t = [], []
    if n_u:
        k1, k2 = jax.random.split(ku)
        t = jax.random.uniform(k1, (n_u,))[:, None]
        lo = (1.0 - t) * pool.lower + t * pool.lower1
        hi = (1.0 - t) * pool.upper + t * pool.upper1
        parts_t.append(t[:, 0])
        parts_y.append(lo + (hi - lo) * jax.random.uniform(k2, (n_u, d)))
    if n_b:
        k1, k2, k3 = jax.random.split(kb, 3)
        t = jax.random.uniform(k1, (n_b,))
        idx = jax.random.randint(k3, (n_b,), 0, pool.draws.shape[0])
        z = jax.random.normal(k2, (n_b, d)) if prior is None else _prior_points(k2, idx, d, prior)
        x = pool.draws[idx]
        parts_t.append(t)
        parts_y.append(bridge(t[:, None], z, x))
    if n_t:
        k1, k2 = jax.random.split(kt)
        m, kk = pool.paths.shape[0], pool.paths.shape[1] - 1
        t = jax.random.uniform(k1, (n_t,))
        i = jax.random.randint(k2, (n_t,), 0, m)
        s = t * kk
        j = jnp.clip(jnp.floor(s).astype(jnp.int32), 0, kk - 1)
        frac = (s - j)[:, None]
        y = (1.0 - frac) * pool.paths[i, j] + frac * pool.paths[i, j + 1]
        parts_t.append(t)
        parts_y.append(y)
    y = jnp.concatenate(parts_y).astype(jnp.float32)
    t = jnp.concatenate(parts_t).astype(jnp.float32)
    return y, t
