"""Matrix-free Gauss-Newton (Levenberg-Marquardt) fine-tuning of a trained PINN.

After Adam, the journal version of the PINN-sampling paper takes a few Gauss-Newton steps on the
residual vector ``r(theta)`` of the PDE at a collocation batch:

    (J^T J / B + lambda I) delta = -J^T r / B,     J = dr / dtheta,   B = batch size,

solved by conjugate gradients with ``J v`` from ``jax.linearize`` and ``J^T u`` from its
transpose (no dense Jacobian: memory grows like one forward/backward pass, linearly in the
dimension of the target). The damping ``lambda`` follows Levenberg-Marquardt: a step is kept
when it lowers the mean squared residual on a *fresh* collocation batch (not the one it was
fitted on, so that fitting one batch's noise is rejected), and ``lambda`` shrinks after a kept
step and grows after a rejected one.

Pure functions over an explicit state, BlackJAX style: ``init`` and ``build_kernel``, with
:func:`gauss_newton` running ``num_steps`` of them in one jitted ``lax.scan``.
"""
from __future__ import annotations

from typing import Any, Callable, NamedTuple

import jax
import jax.numpy as jnp
import optax

from numpyro_pinn.compiling import jit

__all__ = ["GNState", "GNInfo", "init", "build_kernel", "gauss_newton"]


class GNState(NamedTuple):
    """Parameters and the Levenberg-Marquardt damping."""

    params: Any
    damping: jax.Array


class GNInfo(NamedTuple):
    """Per step: mean squared residual on the held-out batch before and after, and whether kept."""

    loss_before: jax.Array
    loss_after: jax.Array
    accepted: jax.Array
    damping: jax.Array


def init(params, damping: float = 1e-3) -> GNState:
    return GNState(params, jnp.asarray(damping, jnp.float32))


def build_kernel(residual_fn: Callable, pool, cg_iters: int = 50, shrink: float = 0.3, grow: float = 4.0) -> Callable:
    """One damped Gauss-Newton step.

    Parameters
    ----------
    residual_fn
        ``(params, rng_key, pool) -> r`` of shape ``(B,)``: the residuals at the collocation batch
        that ``rng_key`` draws (a transport's ``residual_fn``); the training loss is ``mean(r**2)``.
    pool
        The collocation pool the batches are drawn from.
    cg_iters
        Conjugate-gradient iterations per step (each costs one ``J v`` and one ``J^T u``).
    shrink, grow
        Factors applied to the damping after a kept and after a rejected step.
    """

    def kernel(rng_key: jax.Array, state: GNState) -> tuple[GNState, GNInfo]:
        k_fit, k_check = jax.random.split(rng_key)
        r_of = lambda p: residual_fn(p, k_fit, pool)
        r0, jvp = jax.linearize(r_of, state.params)
        vjp = jax.linear_transpose(jvp, state.params)
        n = r0.shape[0]
        rhs = jax.tree_util.tree_map(lambda g: -g / n, vjp(r0)[0])

        def matvec(v):
            jtjv = vjp(jvp(v))[0]
            return jax.tree_util.tree_map(lambda a, b: a / n + state.damping * b, jtjv, v)

        delta, _ = jax.scipy.sparse.linalg.cg(matvec, rhs, maxiter=cg_iters)
        new = optax.apply_updates(state.params, delta)
        check = lambda p: jnp.mean(residual_fn(p, k_check, pool) ** 2)
        before, after = check(state.params), check(new)
        ok = jnp.isfinite(after) & (after < before)
        params = jax.tree_util.tree_map(lambda a, b: jnp.where(ok, a, b), new, state.params)
        damping = jnp.where(ok, state.damping * shrink, state.damping * grow)
        return GNState(params, damping), GNInfo(before, jnp.where(ok, after, before), ok, state.damping)

    return kernel


def gauss_newton(rng_key: jax.Array, residual_fn: Callable, params, pool, num_steps: int = 10,
                 damping: float = 1e-3, cg_iters: int = 50) -> tuple[Any, GNInfo]:
    """``num_steps`` damped Gauss-Newton steps from ``params`` in one jitted scan.

    Returns the parameters and the per-step :class:`GNInfo` (stacked). Steps that do not lower
    the held-out mean squared residual are rejected, so the returned loss never rises.
    """
    kernel = build_kernel(residual_fn, pool, cg_iters)

    @jit
    def run(key, params):
        keys = jax.random.split(key, num_steps)
        state, info = jax.lax.scan(lambda s, k: kernel(k, s), init(params, damping), keys)
        return state.params, info

    return run(rng_key, params)
