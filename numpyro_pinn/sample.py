"""ODE solves (diffrax) and importance weights.

``flow`` integrates the learned velocity together with the change-of-variables
log density (paper eq. 33): ``d log p(X_t, t) / dt = -div mu(X_t, t)``, from
``X_0 ~ N(0, I)`` to ``t = 1``. Log weights are ``log q(X_1) - log p(X_1, 1)``.
"""
from __future__ import annotations

from typing import Any, Callable, NamedTuple

import diffrax
import jax
import jax.numpy as jnp
import lineax

from numpyro_pinn.compiling import jit_once
from numpyro_pinn import bases
from numpyro_pinn import sharding as sharding_mod
from numpyro_pinn.transports.losses import TargetValues

__all__ = ["WhitenedTarget", "whitened_target", "flow", "paths", "FlowDraws", "take"]


class WhitenedTarget(NamedTuple):
    """The target in whitened coordinates ``x = m + L y``, centred by ``log_Z0``.

    ``logq(y) = -U(m + L y) + log|det L| - log_Z0`` is evaluated in float64. ``prior`` is the
    transport's base distribution in these coordinates (``None``: ``N(0, I)``; see
    :mod:`numpyro_pinn.bases`). ``sharding`` splits batches of points across devices
    (:mod:`numpyro_pinn.sharding`; ``None``: one device). ``single``: a float32 value and gradient
    of the potential (:func:`numpyro_pinn.precision.float32_twin`) for :meth:`values`, the
    training loss's target values (``None``: in the target's precision).
    """

    potential_fn: Callable
    mean: jax.Array
    chol: jax.Array
    centring: jax.Array
    prior: Any = None
    sharding: Any = None
    single: Any = None

    @property
    def log_Z0(self) -> jax.Array:
        """The centring constant, kept as the one-element array :attr:`centring`: a program that
        closes over an array (not a scalar) can take it as an argument, so that with JAX's hoisted
        constants the same program serves new data (see the docs' Compilation section)."""
        return self.centring[0]

    def shard(self, x: jax.Array) -> jax.Array:
        """Split the batch axis of ``x`` across the devices of :attr:`sharding` (no-op without)."""
        return sharding_mod.shard(x, self.sharding)

    def to_x(self, y: jax.Array) -> jax.Array:
        return self.mean + y.astype(self.chol.dtype) @ self.chol.T

    def logq(self, y: jax.Array) -> jax.Array:
        """Centred log density at one point (float64)."""
        logdet = jnp.sum(jnp.log(jnp.abs(jnp.diag(self.chol))))
        return -self.potential_fn(self.to_x(y)) + logdet - self.log_Z0

    def values(self, y: jax.Array) -> TargetValues:
        """Batched ``log q`` and ``grad log q`` at float32 points, returned in float32 (computed in
        float32 with :attr:`single`)."""
        if self.single is not None:
            c = self.chol.astype(jnp.float32)
            u, gu = jax.vmap(self.single)(self.mean.astype(jnp.float32) + y.astype(jnp.float32) @ c.T)
            shift = (jnp.sum(jnp.log(jnp.abs(jnp.diag(self.chol)))) - self.log_Z0).astype(jnp.float32)
            return TargetValues(shift - u, -(gu @ c))
        yy = y.astype(self.chol.dtype)
        v, g = jax.vmap(jax.value_and_grad(self.logq))(yy)
        return TargetValues(v.astype(jnp.float32), g.astype(jnp.float32))

    def laplacian(self, y: jax.Array, eps: jax.Array | None = None) -> jax.Array:
        """``Delta log q`` at one point: exact (``d`` Hessian-vector products) or, given a probe
        ``eps`` ``(d,)``, Hutchinson's ``eps . H eps`` (one forward-over-reverse product); probes
        ``(k, d)`` give ``k`` independent estimates."""
        yy = y.astype(self.chol.dtype)
        g = jax.grad(self.logq)
        if eps is None:
            basis = jnp.eye(yy.shape[0], dtype=yy.dtype)
            return jnp.sum(jax.vmap(lambda e: jnp.dot(e, jax.jvp(g, (yy,), (e,))[1]))(basis))
        e = eps.astype(yy.dtype)
        if e.ndim == 2:
            return jax.vmap(lambda ek: jnp.dot(ek, jax.jvp(g, (yy,), (ek,))[1]))(e)
        return jnp.dot(e, jax.jvp(g, (yy,), (e,))[1])


def whitened_target(potential_fn, mean, chol, log_Z0, prior=None, sharding=None) -> WhitenedTarget:
    centring = jnp.reshape(jnp.asarray(log_Z0), (1,))
    return WhitenedTarget(potential_fn, jnp.asarray(mean), jnp.asarray(chol), centring, prior, sharding)


#: The most adaptive steps one particle's ODE solve may take. A trained transport's flow needs
#: tens of steps at the monitor's and the draws' tolerances; a stiff one (a drift that grew large
#: where training went wrong) would otherwise take thousands per particle, and a batch of particles
#: solved together waits for its slowest, so the bound is what keeps a training monitor or a batch
#: of draws to seconds. A particle that does not reach the target within it gets no weight (a NaN
#: log weight), which lowers the ESS and is counted and warned about in the run's diagnostics.
MAX_SOLVE_STEPS = 256


class FlowDraws(NamedTuple):
    """Endpoints of the flow: ``y`` (whitened), model log density ``log p``, and ``log q`` (centred)."""

    y: jax.Array
    log_p: jax.Array
    log_q: jax.Array

    @property
    def log_weights(self) -> jax.Array:
        return self.log_q - self.log_p


def flow(
    rng_key: jax.Array,
    mu_fn: Callable,
    div_fn: Callable,
    target: WhitenedTarget,
    num: int,
    rtol: float = 1e-5,
    atol: float = 1e-5,
    max_steps: int = MAX_SOLVE_STEPS,
    t0: float = 0.0,
    t1: float = 1.0,
) -> FlowDraws:
    """Draw ``num`` particles: solve the ODE with its log density (Tsit5, adaptive steps) from the
    prior (``target.prior``, default ``N(0, I)``) at ``t0`` to the target at ``t1`` (``t1 < t0``
    integrates backwards, as for the probability-flow ODE of a diffusion). A particle whose solve
    does not reach ``t1`` within ``max_steps`` (default :data:`MAX_SOLVE_STEPS`) gets
    ``log_p = NaN`` (so a NaN log weight)."""
    y0, lp0 = _start(rng_key, target, num)

    def vf(t, state, args):
        y, _ = state
        return mu_fn(y, t), -div_fn(y, t)

    term = diffrax.ODETerm(vf)
    solver = diffrax.Tsit5()
    ctrl = diffrax.PIDController(rtol=rtol, atol=atol)

    def one(y, lp):
        sol = diffrax.diffeqsolve(
            term, solver, t0, t1, 0.05 * (1.0 if t1 > t0 else -1.0), (y, lp), stepsize_controller=ctrl,
            max_steps=max_steps,
            throw=False,
        )
        # A solve that stops early (max_steps) returns its state at the time it reached, not at t1:
        # such a particle has no valid weight, so its log density becomes NaN (reported and dropped).
        ok = sol.result == diffrax.RESULTS.successful
        return sol.ys[0][-1], jnp.where(ok, sol.ys[1][-1], jnp.nan)

    return _scored(*jax.vmap(one)(y0, lp0), target)


def _start(rng_key: jax.Array, target: WhitenedTarget, num: int) -> tuple[jax.Array, jax.Array]:
    """``num`` draws of ``target.prior`` (sharded like the target) and their prior log densities."""
    y = target.shard(bases.sample(target.prior, rng_key, num, target.mean.shape[0]))
    return y, jax.vmap(lambda z: bases.log_prob(target.prior, z))(y)


def _scored(y: jax.Array, log_p: jax.Array, target: WhitenedTarget) -> FlowDraws:
    """End points with their proposal log density, scored against the target."""
    lq = jax.vmap(target.logq)(y.astype(target.chol.dtype))
    return FlowDraws(y, log_p.astype(lq.dtype), lq)


def prior_draws(rng_key: jax.Array, target: WhitenedTarget, num: int) -> FlowDraws:
    """``num`` draws of the prior itself (``target.prior``, default ``N(0, I)``) as an importance
    proposal for the target: the flow's endpoints with a zero drift."""
    return _scored(*_start(rng_key, target, num), target)


def paths(rng_key: jax.Array, mu_fn: Callable, num: int, dim: int, num_times: int, t0: float = 0.0,
          t1: float = 1.0, prior=None, sigma: float = 0.0) -> jax.Array:
    """Cheap trajectories for collocation from the prior (default ``N(0, I)``) at ``t0`` to ``t1``,
    returned ``(num, num_times, dim)`` on the increasing grid ``t_j = j / (num_times - 1)``: fixed-step
    Heun for the ODE ``dy = mu dt``, or for ``sigma > 0`` Euler-Maruyama for the SDE
    ``dy = mu dt + sigma dB`` (the model's own process: its probability-flow ODE is repelled from
    the modes while the drift is still untrained, and its cheap fixed-step paths fly off)."""
    k0, kb = jax.random.split(rng_key)
    y0 = bases.sample(prior, k0, num, dim)
    ts = jnp.linspace(t0, t1, num_times, dtype=jnp.float32)
    dt = (t1 - t0) / (num_times - 1)
    if sigma:
        def one(y, key):
            bm = diffrax.VirtualBrownianTree(min(t0, t1), max(t0, t1), tol=0.5 * abs(dt),
                                            shape=jax.ShapeDtypeStruct((dim,), y.dtype), key=key)
            diff = lambda t, yy, args: lineax.DiagonalLinearOperator(sigma * jnp.ones_like(yy))
            terms = diffrax.MultiTerm(diffrax.ODETerm(lambda t, yy, args: mu_fn(yy, t)), diffrax.ControlTerm(diff, bm))
            sol = diffrax.diffeqsolve(terms, diffrax.Euler(), t0, t1, dt, y, saveat=diffrax.SaveAt(ts=ts),
                                      max_steps=num_times + 1)
            return sol.ys

        ys = jax.vmap(one)(y0, jax.random.split(kb, num))
        return ys if t1 > t0 else ys[:, ::-1]
    term = diffrax.ODETerm(lambda t, y, args: jax.vmap(mu_fn, in_axes=(0, None))(y, t))
    sol = diffrax.diffeqsolve(
        term, diffrax.Heun(), t0, t1, dt, y0, saveat=diffrax.SaveAt(ts=ts),
        max_steps=num_times + 1,
    )
    ys = jnp.swapaxes(sol.ys, 0, 1)
    return ys if t1 > t0 else ys[:, ::-1]


@jit_once
def take(x, idx) -> jax.Array:
    """The rows ``x[idx]``, one compiled gather per shape instead of an eager compilation per
    operation of JAX's indexing."""
    return x[idx]
