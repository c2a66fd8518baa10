"""Systematic resampling of weighted particles, on the host."""
from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

__all__ = ["systematic_resample"]


def systematic_resample(key: jax.Array, log_weights, num: int) -> np.ndarray:
    """``num`` indices drawn by systematic resampling with probabilities ``softmax(log_weights)``
    (a ``-inf`` or NaN log weight is never drawn), in random order: equal-weight draws from
    weighted particles, with less resampling noise than multinomial draws.

    It runs with NumPy on the host, its randomness derived from the JAX key ``key`` (the same key
    gives the same indices): for a few thousand weights a compiled program takes a hundred times
    longer to compile than to run."""
    lw = np.asarray(log_weights, np.float64)
    lw = np.where(np.isnan(lw), -np.inf, lw)
    if not np.isfinite(lw).any():
        raise ValueError("systematic_resample: every log weight is -inf or NaN.")
    w = np.exp(lw - np.max(lw))
    rng = _host_rng(key)
    u = (rng.uniform() + np.arange(num)) / num
    idx = np.clip(np.searchsorted(np.cumsum(w / np.sum(w)), u), 0, w.shape[0] - 1)
    return rng.permutation(idx)


def _host_rng(key: jax.Array) -> np.random.Generator:
    """A NumPy generator seeded by the bits of the JAX PRNG key ``key``."""
    if jnp.issubdtype(key.dtype, jax.dtypes.prng_key):
        key = jax.random.key_data(key)
    return np.random.default_rng(np.asarray(key, np.uint32).ravel().tolist())
