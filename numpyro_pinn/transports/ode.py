"""The ODE (continuity-equation) PINN transport, BlackJAX style.

``init`` builds the parameters and optimiser state; ``build_kernel`` returns a
pure ``kernel(rng_key, state, pool) -> (state, info)`` that draws collocation
points, evaluates the target there and takes one optimiser step on the squared
residual of eq. (9). ``drift`` and ``divergence_fn`` expose the learned field to
the samplers in :mod:`numpyro_pinn.sample`.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, NamedTuple, Sequence

import jax
import jax.numpy as jnp
import optax

from numpyro_pinn.collocation import CollocationPool, linear_bridge, sample_points
from numpyro_pinn.losses import TargetValues, divergence, ode_residual
from numpyro_pinn.networks import FourierMLP

__all__ = ["ODETransport", "TrainState", "TrainInfo", "init", "build_kernel", "batch_residual_fn", "drift",
           "divergence_fn"]


@dataclass(frozen=True)
class ODETransport:
    """Configuration of the ODE transport's networks.

    Attributes
    ----------
    hidden
        Hidden widths of both networks ``w`` and ``mu``.
    num_freqs
        Fourier frequencies of the time embedding.
    hutchinson_above
        Use Hutchinson's divergence estimate in the training loss when the
        dimension exceeds this (exact forward-mode divergence costs ``d`` JVPs
        per point). Sampling always uses the exact divergence, because the
        importance weights must not carry estimator noise.
    """

    hidden: Sequence[int] = (64, 64, 64)
    num_freqs: int = 8
    hutchinson_above: int = 16
    name: str = field(default="ode", init=False)

    #: the prior sits at ``t_span[0]``, the target at ``t_span[1]``
    t_span = (0.0, 1.0)
    bridge = staticmethod(linear_bridge)

    def networks(self, dim: int) -> tuple[FourierMLP, FourierMLP]:
        return (
            FourierMLP(1, tuple(self.hidden), self.num_freqs),
            FourierMLP(dim, tuple(self.hidden), self.num_freqs),
        )

    # The transport interface used by :mod:`numpyro_pinn.core` (shared with DPS).
    def init(self, rng_key, dim: int, optimizer, draws=None) -> "TrainState":
        return init(rng_key, dim, self, optimizer)

    def build_kernel(self, target, optimizer, counts) -> Callable:
        return build_kernel(self, target.values, optimizer, counts, target.prior)

    def residual_fn(self, target, counts) -> Callable:
        """``(params, rng_key, pool) -> residuals`` at one collocation batch (see :func:`batch_residual_fn`)."""
        return batch_residual_fn(self, target.values, counts, target.prior)

    def flow_field(self, params, dim: int, target=None):
        """``(v, div v)`` of the ODE that carries the prior to the target (exact divergence)."""
        return drift(self, params, dim), divergence_fn(self, params, dim)

    def path_field(self, params, dim: int, target=None):
        """Velocity for the cheap collocation trajectories."""
        return drift(self, params, dim)


class TrainState(NamedTuple):
    """Parameters ``{"w", "mu", "log_z"}``, optimiser state, step counter."""

    params: Any
    opt_state: Any
    step: jax.Array


class TrainInfo(NamedTuple):
    loss: jax.Array
    grad_norm: jax.Array


def init(rng_key: jax.Array, dim: int, config: ODETransport, optimizer: optax.GradientTransformation) -> TrainState:
    """Initial parameters (zero last layers, ``log z = 0``) and optimiser state."""
    w_net, mu_net = config.networks(dim)
    k1, k2 = jax.random.split(rng_key)
    y = jnp.zeros((dim,), jnp.float32)
    t = jnp.zeros((), jnp.float32)
    params = {"w": w_net.init(k1, y, t), "mu": mu_net.init(k2, y, t), "log_z": jnp.zeros((), jnp.float32)}
    return TrainState(params, optimizer.init(params), jnp.zeros((), jnp.int32))


def _fns(config: ODETransport, params, dim: int):
    w_net, mu_net = config.networks(dim)

    def w_fn(y, t):
        return w_net.apply(params["w"], y, t)[0]

    def mu_fn(y, t):
        return mu_net.apply(params["mu"], y, t)

    return w_fn, mu_fn


def drift(config: ODETransport, params, dim: int) -> Callable[[jax.Array, jax.Array], jax.Array]:
    """The learned velocity field ``mu(y, t)`` (one point)."""
    return _fns(config, params, dim)[1]


def divergence_fn(config: ODETransport, params, dim: int) -> Callable[[jax.Array, jax.Array], jax.Array]:
    """Exact ``div mu(y, t)`` (one point)."""
    mu_fn = drift(config, params, dim)
    return lambda y, t: divergence(lambda z: mu_fn(z, t), y, None)


def residuals(config: ODETransport, params, y, t, tv: TargetValues, eps=None, prior=None) -> jax.Array:
    """Residuals of eq. (9) at a batch of points (``y`` ``(B, d)``, ``t`` ``(B,)``)."""
    dim = y.shape[-1]
    w_fn, mu_fn = _fns(config, params, dim)
    f = lambda yy, tt, tvv, ee: ode_residual(w_fn, mu_fn, params["log_z"], yy, tt, tvv, ee, prior)
    if eps is None:
        return jax.vmap(lambda a, b, c: f(a, b, c, None))(y, t, tv)
    return jax.vmap(f)(y, t, tv, eps)


def batch_residual_fn(
    config: ODETransport,
    target_values: Callable[[jax.Array], TargetValues],
    counts: tuple[int, int, int],
    prior=None,
) -> Callable:
    """``residual_fn(params, rng_key, pool) -> r`` of shape ``(B,)``: residuals of eq. (9) at the
    collocation batch drawn with ``rng_key`` (points where the target is not finite give 0), scaled
    so that the training loss is ``mean(r**2)``. Shared by the Adam kernel and Gauss-Newton."""

    def residual_fn(params, rng_key, pool):
        k1, k2 = jax.random.split(rng_key)
        y, t = sample_points(k1, pool, counts, prior=prior)
        tv = jax.tree_util.tree_map(jax.lax.stop_gradient, target_values(y))
        dim = y.shape[-1]
        eps = jax.random.rademacher(k2, y.shape, dtype=jnp.float32) if dim > config.hutchinson_above else None
        r = residuals(config, params, y, t, tv, eps, prior)
        ok = jnp.isfinite(tv.logq) & jnp.all(jnp.isfinite(tv.grad_logq), axis=-1)
        r = jnp.where(ok, r, 0.0)
        return r * jnp.sqrt(r.shape[0] / jnp.maximum(jnp.sum(ok), 1))

    return residual_fn


def build_kernel(
    config: ODETransport,
    target_values: Callable[[jax.Array], TargetValues],
    optimizer: optax.GradientTransformation,
    counts: tuple[int, int, int],
    prior=None,
) -> Callable:
    """One training step: sample collocation points, evaluate the target, Adam step.

    Parameters
    ----------
    target_values
        Batched ``y (B, d) -> TargetValues`` in whitened, centred coordinates.
    counts
        Number of uniform, bridge and trajectory points per batch.
    """

    residual_fn = batch_residual_fn(config, target_values, counts, prior)

    def kernel(rng_key: jax.Array, state: TrainState, pool: CollocationPool) -> tuple[TrainState, TrainInfo]:
        loss_fn = lambda params: jnp.mean(residual_fn(params, rng_key, pool) ** 2)
        loss, grads = jax.value_and_grad(loss_fn)(state.params)
        updates, opt_state = optimizer.update(grads, state.opt_state, state.params)
        params = optax.apply_updates(state.params, updates)
        return TrainState(params, opt_state, state.step + 1), TrainInfo(loss, optax.tree.norm(grads))

    return kernel
