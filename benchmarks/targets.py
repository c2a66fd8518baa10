"""Synthetic benchmark targets with known log Z and mode weights (PINN paper, appendix D.1)."""
from __future__ import annotations

import itertools
from typing import Callable, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from scipy import integrate


class Synthetic(NamedTuple):
    name: str
    potential: Callable  # U(x) = -log q(x), flat x of shape (d,)
    dim: int
    log_Z: float
    modes: np.ndarray  # (k, d) mode centres, for mode-weight errors
    weights: np.ndarray  # (k,) true mode weights


def gmm9() -> Synthetic:
    mus = jnp.array([[a, b] for a in (-5.0, 0.0, 5.0) for b in (-5.0, 0.0, 5.0)])

    def potential(x):
        lp = -0.5 * jnp.sum((x - mus) ** 2, -1) / 0.3 - jnp.log(2 * jnp.pi * 0.3)
        return -(jax.scipy.special.logsumexp(lp) - jnp.log(9.0))

    return Synthetic("GMM-9 (d=2)", potential, 2, 0.0, np.asarray(mus), np.full(9, 1 / 9))


def many_well(d: int = 5, m: int = 5, delta: float = 4.0) -> Synthetic:
    """q(x) = exp(-sum_{i<=m} (x_i^2 - delta)^2 - 1/2 sum_{i>m} x_i^2); log Z by 1-D quadrature."""

    def potential(x):
        return jnp.sum((x[:m] ** 2 - delta) ** 2) + 0.5 * jnp.sum(x[m:] ** 2)

    z1, _ = integrate.quad(lambda t: np.exp(-((t**2 - delta) ** 2)), -np.inf, np.inf, epsabs=1e-14, epsrel=1e-13)
    log_z = m * np.log(z1) + 0.5 * (d - m) * np.log(2 * np.pi)
    r = np.sqrt(delta)
    modes = np.array([list(s) + [0.0] * (d - m) for s in itertools.product((-r, r), repeat=m)])
    return Synthetic(f"Many-Well (d={d}, m={m}, delta={delta:g})", potential, d, float(log_z), modes,
                     np.full(len(modes), 1 / len(modes)))


def funnel(d: int = 10) -> Synthetic:
    """Neal's funnel: x_0 ~ N(0, 3^2), x_i | x_0 ~ N(0, e^{x_0}); normalised, so log Z = 0."""

    def potential(x):
        lp0 = -0.5 * x[0] ** 2 / 9.0 - 0.5 * jnp.log(2 * jnp.pi * 9.0)
        lpi = -0.5 * jnp.sum(x[1:] ** 2) * jnp.exp(-x[0]) - 0.5 * (d - 1) * (x[0] + jnp.log(2 * jnp.pi))
        return -(lp0 + lpi)

    return Synthetic(f"Funnel (d={d})", potential, d, 0.0, np.zeros((0, d)), np.zeros(0))


def mode_weights(t: Synthetic, x, w=None) -> np.ndarray:
    """Weights of the draws ``x`` (optionally weighted) by nearest mode centre."""
    x = np.asarray(x)
    w = np.full(len(x), 1 / len(x)) if w is None else np.asarray(w) / np.sum(w)
    idx = np.argmin(((x[:, None, :] - t.modes[None]) ** 2).sum(-1), 1)
    return np.bincount(idx, weights=w, minlength=len(t.modes))
