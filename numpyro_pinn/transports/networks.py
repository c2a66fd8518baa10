"""Flax networks of the PINN: Fourier-feature MLPs in ``(x, t)``.

Following the paper's appendix E (and PIS), time enters through Fourier
features ``[sin(2 pi k t), cos(2 pi k t)]``; the spatial input enters linearly.
Networks run in float32 whatever the global precision (targets run in float64).
"""
from __future__ import annotations

from typing import Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp

__all__ = ["FourierMLP", "TimeMLP", "fourier_features"]


def fourier_features(t: jax.Array, num_freqs: int) -> jax.Array:
    """``[t, sin(2 pi k t), cos(2 pi k t)]`` for ``k = 1..num_freqs``; ``t`` scalar."""
    k = jnp.arange(1, num_freqs + 1, dtype=jnp.float32)
    ang = 2.0 * jnp.pi * k * t
    return jnp.concatenate([jnp.atleast_1d(t), jnp.sin(ang), jnp.cos(ang)])


class FourierMLP(nn.Module):
    """MLP on ``concat(x, FourierFeatures(t))`` with smooth (``tanh``-like) activations.

    Attributes
    ----------
    out_dim
        Output dimension (1 for ``w``, ``d`` for the drift).
    hidden
        Hidden layer widths.
    num_freqs
        Number of Fourier frequencies of the time embedding.
    zero_init
        Zero the last layer so the network starts at 0 (the transport starts
        as the plain interpolation of eq. (6) and a zero drift).
    """

    out_dim: int
    hidden: Sequence[int] = (64, 64, 64)
    num_freqs: int = 8
    zero_init: bool = True

    @nn.compact
    def __call__(self, x: jax.Array, t: jax.Array) -> jax.Array:
        x = x.astype(jnp.float32)
        t = jnp.asarray(t, jnp.float32)
        tf = fourier_features(t, self.num_freqs)
        h = nn.Dense(self.hidden[0], param_dtype=jnp.float32)(x) + nn.Dense(self.hidden[0], param_dtype=jnp.float32)(tf)
        h = nn.silu(h)
        for width in self.hidden[1:]:
            h = nn.silu(nn.Dense(width, param_dtype=jnp.float32)(h))
        kernel_init = nn.initializers.zeros if self.zero_init else nn.initializers.lecun_normal()
        return nn.Dense(self.out_dim, kernel_init=kernel_init, param_dtype=jnp.float32)(h)


class TimeMLP(nn.Module):
    """A scalar function of time alone (Fourier features in ``t``), e.g. the time-dependent
    ``log z(t)`` of the annealed loss. Zero-initialised last layer."""

    hidden: Sequence[int] = (32, 32)
    num_freqs: int = 8

    @nn.compact
    def __call__(self, t: jax.Array) -> jax.Array:
        h = fourier_features(jnp.asarray(t, jnp.float32), self.num_freqs)
        for width in self.hidden:
            h = nn.silu(nn.Dense(width, param_dtype=jnp.float32)(h))
        return nn.Dense(1, kernel_init=nn.initializers.zeros, param_dtype=jnp.float32)(h)[0]
