"""Damped Newton to a mode, the Laplace fit there, and the checks made at it: is it a mode
(:func:`is_mode`), is the posterior proper (:func:`flat_direction`)."""
from __future__ import annotations

import dataclasses
from functools import partial
from typing import Callable

import jax
import jax.numpy as jnp
import numpy as np

from numpyro_pinn.compiling import jit_once
from numpyro_pinn.gaussian import FLAT_CURVATURE, probe_directions, psd_inverse_chol
from numpyro_pinn.validation import check_count
from numpyro_pinn.warmstart.base import WarmStart

__all__ = ["find_mode", "compiled_find_mode", "laplace", "MODE_GAP_MAX", "MODE_PROBE_STEP", "MODE_PROBE_DROP",
           "is_mode", "around_initial_point", "PROPRIETY_RADII", "flat_direction", "Laplace"]


def find_mode(potential_fn: Callable, x0: jax.Array, max_iter: int = 200):
    """Saddle-free damped Newton (Levenberg-Marquardt on ``|eig(H)|``) from ``x0``.

    Adam and BFGS stall far from the mode on near-collinear posteriors; Newton with
    exact Hessians converges in a few steps there.

    Returns
    -------
    mode, hessian, num_iter
    """
    val_grad = jax.value_and_grad(potential_fn)
    hess = jax.hessian(potential_fn)

    def step_dir(g, h, lam):
        e, v = jnp.linalg.eigh(h)
        e = jnp.abs(e) + lam + 1e-12
        return -v @ ((v.T @ g) / e)

    def cond(c):
        x, u, g, lam, it, done = c
        return (it < max_iter) & (~done)

    def body(c):
        x, u, g, lam, it, _ = c
        h = hess(x)
        dx = step_dir(g, h, lam)
        x_new = x + dx
        u_new, g_new = val_grad(x_new)
        ok = jnp.isfinite(u_new) & (u_new <= u + 1e-12 * jnp.abs(u))
        x = jnp.where(ok, x_new, x)
        decrement = jnp.abs(u - u_new)
        u = jnp.where(ok, u_new, u)
        g = jnp.where(ok, g_new, g)
        lam = jnp.where(ok, lam / 4.0, lam * 8.0)
        done = (ok & (decrement < 1e-10 * (1.0 + jnp.abs(u)))) | (lam > 1e12)
        return x, u, g, lam, it + 1, done

    u0, g0 = val_grad(x0)
    x, u, g, lam, it, _ = jax.lax.while_loop(cond, body, (x0, u0, g0, jnp.asarray(1e-3, x0.dtype), 0, False))
    return x, hess(x), it


@partial(jit_once, static_argnums=0)
def compiled_find_mode(potential_fn: Callable, x0: jax.Array, max_iter=200):
    """:func:`find_mode` as one compiled program per ``potential_fn`` and shape of ``x0``
    (``max_iter`` is traced): the Laplace warm start and the base distribution's mode climbs share
    it instead of compiling a Newton loop each."""
    return find_mode(potential_fn, x0, max_iter)


def laplace(potential_fn: Callable, x0: jax.Array, max_iter: int = 200) -> WarmStart:
    """Laplace approximation at the mode found by :func:`find_mode` from ``x0``."""
    d = x0.shape[0]

    @jit_once
    def fit(mode, h):
        chol, logdet_h = psd_inverse_chol(h)
        u = potential_fn(mode)
        log_z = -u + 0.5 * d * jnp.log(2 * jnp.pi) - 0.5 * logdet_h
        grad = jax.grad(potential_fn)(mode)
        g = chol.T @ grad
        flat = jnp.min(jnp.abs(jnp.linalg.eigvalsh(h))) < FLAT_CURVATURE
        steps = jnp.concatenate([jnp.eye(d, dtype=mode.dtype), -jnp.eye(d, dtype=mode.dtype)]) * MODE_PROBE_STEP
        nearby = jax.vmap(potential_fn)(mode + steps)
        # Downhill by the gradient (a drop of at least MODE_PROBE_DROP predicted) and lower in fact.
        downhill = steps @ grad <= -MODE_PROBE_DROP
        falls = jnp.any(downhill & jnp.isfinite(nearby) & (nearby < u - MODE_PROBE_DROP))
        return chol, log_z, jnp.where(flat | falls, jnp.inf, jnp.sum(g * g))

    mode, h, it = compiled_find_mode(potential_fn, x0, max_iter)
    chol, log_z, gap = fit(mode, h)
    it, gap = int(it), float(gap)
    gap = gap if np.isfinite(gap) else float("inf")
    return WarmStart(mode, chol, log_z, mode[None, :], "laplace", num_evals=(2 + d) * (it + 2) + 2 * d, mode_gap=gap)


#: Largest Newton decrement (:attr:`WarmStart.mode_gap`) at which a Laplace fit counts as a mode.
MODE_GAP_MAX = 0.01

#: :func:`laplace` probes the potential this far (unconstrained units) from the mode along each
#: coordinate axis, both ways; a point there that the gradient predicts lower by at least
#: :data:`MODE_PROBE_DROP` nats and that is lower by that much makes the fit no mode (an infinite
#: ``mode_gap``). A stationary point that is no minimum (Many-Well's centre) is left to the
#: decrement: its gradient predicts no drop.
MODE_PROBE_STEP = 1.0
MODE_PROBE_DROP = 1.0


def is_mode(start: WarmStart) -> bool:
    """Whether the Laplace fit ``start`` sits at a mode: a Newton step from it would lower the
    potential by less than ``MODE_GAP_MAX / 2`` nats (at a mode the decrement is at the level of
    rounding error), the potential curves upwards in every direction there (a Hessian
    eigenvalue below :data:`~numpyro_pinn.gaussian.FLAT_CURVATURE` makes the gap infinite), and
    the gradient does not point down a coordinate axis to a point :data:`MODE_PROBE_STEP` away
    that is lower by more than :data:`MODE_PROBE_DROP` nats (such a point makes the gap infinite
    too).

    Hierarchical models with a heavy-tailed scale hyperprior (NumPyro's baseball example:
    ``kappa ~ Pareto(1, 1.5)``, ``phi ~ Beta(m kappa, (1 - m) kappa)``) have a density that rises
    without bound down the funnel's neck while its mass there vanishes; Newton then stops at the
    edge of floating point (``log kappa`` near 35 in float64) with the gradient still large, and a
    Gaussian there describes nothing of the posterior. Shrinkage priors (the horseshoe: ``beta_j ~
    N(0, tau lambda_j)`` with half-Cauchy ``tau`` and ``lambda_j``) do the same down ``tau -> 0``,
    where Newton stops with a small decrement but the local scales ``lambda_j`` of the shrunk
    coefficients have no curvature left: the flat directions tell that point from a mode. A
    random-effects scale (``u_j ~ N(0, sd)``) does it down ``sd -> 0``: there the ``u_j``'s
    curvature of order ``1 / sd^2`` swamps the Hessian (its small eigenvalues are lost to rounding)
    and hides the potential's fall along ``log sd``, which the probe one unit away sees."""
    return start.mode_gap <= MODE_GAP_MAX


def around_initial_point(x0: jax.Array, start: WarmStart) -> WarmStart:
    """The whitening ``N(x0, I)``: the reference :func:`smc` and :func:`pt` use (widened by their
    ``scale``) when the Laplace fit ``start`` is not at a mode."""
    return WarmStart(x0, jnp.eye(x0.shape[0], dtype=x0.dtype), jnp.zeros((), x0.dtype), x0[None, :],
                     "initial point", num_evals=start.num_evals)


#: Distances from the mode (unconstrained units) at which :func:`flat_direction` evaluates the potential.
PROPRIETY_RADII = (10.0, 100.0, 1e3, 1e4)


def flat_direction(potential_fn: Callable, mode: jax.Array, chol: jax.Array):
    """Look for a direction along which the density does not fall fast enough to be integrable.

    Along each principal axis of ``chol chol^T`` and each coordinate axis, both ways, the potential
    is evaluated at :data:`PROPRIETY_RADII` from ``mode``. A proper density must fall faster than
    ``1 / r`` in every direction, so between the two largest radii where the potential is finite
    it must rise by more than ``log(r2 / r1)``; a Cauchy tail rises by twice that, a flat direction
    (an improper prior the data do not constrain) by nothing. A direction is reported when the
    potential changes by less than that between every pair of consecutive radii where it is finite.

    Returns
    -------
    ``None``, or ``(direction, rise)`` for the flattest offending direction.
    """
    dirs = jnp.asarray(probe_directions(chol @ chol.T), mode.dtype)
    radii = jnp.asarray(PROPRIETY_RADII, mode.dtype)
    u = jit_once(jax.vmap(lambda v: jax.vmap(lambda r: potential_fn(mode + r * v))(radii)))(dirs)
    u = np.asarray(u)
    worst = None
    for k in range(dirs.shape[0]):
        ok = np.flatnonzero(np.isfinite(u[k]))
        if len(ok) < 2:
            continue
        rises = [float(u[k, j] - u[k, i]) for i, j in zip(ok[:-1], ok[1:])]
        bounds = [np.log(PROPRIETY_RADII[j] / PROPRIETY_RADII[i]) for i, j in zip(ok[:-1], ok[1:])]
        # Flat at every scale: |rise| below the 1/r rate between each pair of finite radii. (A
        # potential that swings by far more is numerically meaningless that far out, not flat.)
        if all(abs(r) < b for r, b in zip(rises, bounds)) and (worst is None or abs(rises[-1]) < abs(worst[1])):
            worst = (np.asarray(dirs[k]), rises[-1])
    return worst


@dataclasses.dataclass(frozen=True)
class Laplace:
    """Warm start: damped Newton to a mode and the Gaussian (Laplace) approximation there.

    The cheapest warm start (tens to hundreds of target evaluations), for unimodal posteriors
    with light tails; it sees one mode and underestimates heavy tails. ``max_iter`` bounds the
    Newton iterations."""

    max_iter: int = 200

    def __post_init__(self):
        check_count("max_iter", self.max_iter, 1)

    def build(self, rng_key, potential_fn: Callable, x0: jax.Array, start: WarmStart) -> WarmStart:
        """The warm start from ``start``, the Laplace fit at ``x0``'s mode (which it is)."""
        return start
