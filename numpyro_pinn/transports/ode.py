"""The log-density PINN transports (the ODE method and its loss family), BlackJAX style.

``init`` builds the parameters and optimiser state; ``build_kernel`` returns a
pure ``kernel(rng_key, state, pool) -> (state, info)`` that draws collocation
points, evaluates the target there and takes one optimiser step on the squared
residual of eq. (9) (eq. 5 and the HJB penalty for the other methods of :data:`METHODS`). ``drift`` and
``divergence_fn`` expose the learned field to
the samplers in :mod:`numpyro_pinn.sample`.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, Callable, NamedTuple, Optional, Sequence

import jax
import jax.numpy as jnp
import optax

from numpyro_pinn.compiling import jit_once
from numpyro_pinn.training.collocation import CollocationPool, linear_bridge, sample_points
from numpyro_pinn.transports.losses import TargetValues, divergence, fp_residual, hjb_residual, laplacian, log_prior
from numpyro_pinn.transports.networks import FourierMLP, TimeMLP
from numpyro_pinn.validation import check_count
from numpyro_pinn.bases import local_scale, scale_spread

SQRT2 = 2.0 ** 0.5

__all__ = ["METHODS", "BATCH_SIZE", "EXACT_BATCH_SIZE", "EXACT_BATCH_ABOVE", "TWO_PROBES_UP_TO", "ODETransport",
           "TrainState", "TrainInfo", "init", "build_kernel", "training_loss", "batch_residual_fn", "drift",
           "divergence_fn", "residuals", "point_residual"]


#: The loss family of the paper's Table 1 (eqs. 18-21): name -> (sigma, learn w, drift, log z(t)).
#: ``drift_scale="auto"`` scales the drift by the prior's local width when its components' scales
#: differ by more than this factor.
DRIFT_SCALE_SPREAD = 100.0

#: Collocation points per training step (``Training(batch_size=None)``): :data:`BATCH_SIZE`
#: divided by the Hutchinson probes per point, or :data:`EXACT_BATCH_SIZE` where the loss takes
#: exact divergences in more than :data:`EXACT_BATCH_ABOVE` dimensions, each point then costing
#: ``d`` forward-mode passes.
BATCH_SIZE = 1024
EXACT_BATCH_SIZE = 256
EXACT_BATCH_ABOVE = 16
#: ``hutchinson_probes=None`` takes two probes per point up to this many dimensions, one above.
TWO_PROBES_UP_TO = 32

METHODS = {
    "ode": (0.0, True, "net", False),
    "sde": (SQRT2, True, "net", False),
    "anneal": (0.0, False, "net", True),
    "sde_diffusion": (SQRT2, True, "diffusion", False),
    "ot": (0.0, True, "potential", False),
    "sb": (SQRT2, True, "potential", False),
}


@dataclass(frozen=True)
class ODETransport:
    """Configuration of the log-density PINN transport: the workshop paper's loss family.

    All methods share the parametrisation ``v = t (log q - log z(t)) + (1 - t) log p + t (1 - t) w``
    (eq. 6) and the residual :func:`numpyro_pinn.transports.losses.fp_residual`; they differ in a few terms:

    - ``"ode"`` (default): ``sigma = 0``, networks ``w`` and ``mu``, constant ``log z`` (eq. 18);
    - ``"sde"``: the same with ``sigma = sqrt(2)`` (eq. 18);
    - ``"anneal"``: ``sigma = 0``, ``w = 0``, drift network, time-dependent ``log z(t)`` (eq. 19);
    - ``"sde_diffusion"``: ``sigma = sqrt(2)``, drift ``mu = sigma^2 grad v - f`` with the VP drift
      ``f(y) = -sigma^2 y / 2`` (eq. 20/14, no drift network);
    - ``"ot"`` / ``"sb"``: ``sigma = 0`` / ``sqrt(2)``, drift ``grad Phi`` with the HJB penalty of
      weight ``hjb_weight`` (eq. 21).

    Only ``"ode"`` is recommended; the other methods are **experimental**: at the default budget
    none beats it on the benchmarks (BENCHMARKS.md, the PINN paper's Table 1), and the SDE-type ones
    can diverge. They are here to reproduce the paper's comparison.

    Methods with ``sigma > 0`` are sampled (and weighted) through their probability-flow ODE
    ``dy/dt = mu - sigma^2 / 2 grad v`` (eq. 35), whose exact divergence needs the target's
    Laplacian (``d`` Hessian-vector products per solver stage); their residual needs ``Delta v``,
    including ``Delta log q``, exact up to ``hutchinson_above`` dimensions and estimated above.

    Attributes
    ----------
    method
        One of :data:`METHODS`.
    hidden
        Hidden widths of the networks (``w`` and ``mu`` or ``Phi``).
    num_freqs
        Fourier frequencies of the time embedding.
    hutchinson_above
        Use Hutchinson's divergence/Laplacian estimates (Rademacher probes) in the training loss
        when the dimension exceeds this (exact forward-mode divergence costs ``d`` JVPs per
        point). Sampling always uses exact divergences, because the importance weights must not
        carry estimator noise. The estimate's noise can limit how close training gets to a
        posterior whose whitened coordinates stay correlated (a logistic regression): where the
        ESS stops short of ``target_ess`` on such a posterior in 17 to 32 dimensions, try
        ``hutchinson_above=32``, with which ``Training(batch_size=None)`` takes 256 points per
        step above 16 dimensions (:meth:`default_batch_size`), each step then costing somewhat
        more than the default's. Hierarchical models with many-component bases gain nothing
        from it.
    hutchinson_probes
        Independent probes per collocation point for those estimates. With one, the loss squares
        its residual, whose expectation is the squared residual plus the estimator's variance: a
        penalty on the drift's Jacobian off its diagonal, which acts as a regulariser where the
        whitened coordinates are nearly independent (Many-Well in 50 dimensions) and holds the
        flow back from correlations that the whitening leaves. With two or more the loss
        averages products of residuals from different probes, an unbiased estimate of the
        squared residual; ``Training(batch_size=None)`` then takes ``1024 / k`` points per step,
        which keeps a step's cost. ``None`` (default): two up to :data:`TWO_PROBES_UP_TO`
        dimensions, where the unbiased loss trains regressions and hierarchical models in less
        time, and one above (:meth:`probes`). Gauss-Newton fine-tuning
        uses the residual averaged over the probes.
    sigma
        Diffusion coefficient (``sigma I``); ``None``: the method's default (0, or sqrt(2) as in the
        paper's appendix D).
    hjb_weight
        ``lambda`` of the HJB penalty (eq. 21) for ``"ot"`` and ``"sb"``.
    drift_scale
        ``"prior"``: the drift network's output is multiplied by the prior mixture's local scale,
        ``mu(y, t) = L(y) m(y, t)`` (:func:`numpyro_pinn.bases.local_scale`: the components'
        Cholesky factors averaged by responsibility, over their typical size), so that a network
        of unit-size outputs moves a point by a fraction of its own component's width. Where the
        components differ in width by orders of magnitude (a funnel's neck against its mouth) an
        unscaled drift of a size that matters in the mouth throws points out of the neck after a
        single Adam step. It makes every training step and every drawn path costlier (the
        components' responsibilities and their derivatives at every point), which pays only there.
        ``"none"``: ``mu = m``. ``"auto"`` (default): ``"prior"`` when the prior's component
        scales differ by more than a factor :data:`DRIFT_SCALE_SPREAD`, else
        ``"none"`` (resolved when training starts; ``N(0, I)`` and equal-sized components keep the
        plain drift). Only the methods with a drift network (``"ode"``, ``"sde"``, ``"anneal"``).
    """

    method: str = "ode"
    hidden: Sequence[int] = (64, 64, 64)
    num_freqs: int = 8
    hutchinson_above: int = 16
    hutchinson_probes: Optional[int] = None
    sigma: Optional[float] = None
    hjb_weight: float = 1.0
    drift_scale: str = "auto"

    #: the prior sits at ``t_span[0]``, the target at ``t_span[1]``
    t_span = (0.0, 1.0)
    bridge = staticmethod(linear_bridge)

    def __post_init__(self):
        if self.drift_scale not in ("auto", "prior", "none"):
            raise ValueError(f"drift_scale must be 'auto', 'prior' or 'none'; got {self.drift_scale!r}.")
        if self.method not in METHODS:
            raise ValueError(f"Unknown method {self.method!r}; available: {', '.join(map(repr, METHODS))}.")
        if self.sigma is not None and not (self.sigma >= 0 and (self.sigma > 0) == (METHODS[self.method][0] > 0)):
            kind = "positive" if METHODS[self.method][0] else "0"
            raise ValueError(f"sigma={self.sigma!r} does not suit method={self.method!r} (must be {kind}).")
        if not self.hjb_weight >= 0:
            raise ValueError(f"hjb_weight must be >= 0; got {self.hjb_weight!r}.")
        if self.hutchinson_probes is not None:
            check_count("hutchinson_probes", self.hutchinson_probes, 1)

    def for_prior(self, prior) -> "ODETransport":
        """This configuration with ``drift_scale="auto"`` resolved for the given prior mixture
        (``None``: ``N(0, I)``)."""
        if self.drift_scale != "auto":
            return self
        return replace(self, drift_scale="prior" if scale_spread(prior) > DRIFT_SCALE_SPREAD else "none")

    @property
    def name(self) -> str:
        return self.method

    #: The transport's base distribution is a proposal of its own: when its ESS is higher than the
    #: trained transport's, the sampler may draw from it instead (``prior_fallback``).
    base_fallback = True

    @property
    def starts_at_base(self) -> bool:
        """The drift (or potential) network starts at 0 and, without diffusion, so does the
        velocity: the untrained flow leaves every particle where the base drew it."""
        return not self.sigma2 and self.drift_kind in ("net", "potential")

    def describe_control_variate(self, params) -> Optional[str]:
        """The known part of the field, for ``diagnostics``: none in the ODE family."""
        return None

    def probes(self, dim: int) -> int:
        """Hutchinson probes per collocation point in ``dim`` dimensions (used only above
        ``hutchinson_above``): ``hutchinson_probes``, or with ``None`` two up to
        :data:`TWO_PROBES_UP_TO` dimensions and one above."""
        if self.hutchinson_probes is not None:
            return self.hutchinson_probes
        return 2 if dim <= TWO_PROBES_UP_TO else 1

    def default_batch_size(self, dim: int) -> int:
        """Collocation points per step for ``Training(batch_size=None)``: :data:`EXACT_BATCH_SIZE`
        where the loss takes exact divergences in more than :data:`EXACT_BATCH_ABOVE` dimensions
        (``d`` forward-mode passes per point), :data:`BATCH_SIZE` where it takes them in fewer,
        and :data:`BATCH_SIZE` divided by the probes per point (:meth:`probes`) where it
        estimates them: a step's cost stays about that of one probe on 1,024 points."""
        if dim <= self.hutchinson_above:
            return EXACT_BATCH_SIZE if dim > EXACT_BATCH_ABOVE else BATCH_SIZE
        return max(BATCH_SIZE // self.probes(dim), 1)

    @property
    def particles(self) -> str:
        """What the drawn particles are, for ``diagnostics["sample_source"]``."""
        return f"{'probability-flow ' if self.sigma2 else ''}ODE particles"

    @property
    def sigma2(self) -> float:
        s = METHODS[self.method][0] if self.sigma is None else self.sigma
        return float(s) ** 2

    @property
    def mixture_role(self) -> Optional[str]:
        """What the warm start's Gaussian mode mixture is to this transport: ``"prior"`` (the base
        distribution at ``t = 0``), or ``None`` for ``"sde_diffusion"``, whose prior is its noising
        diffusion's ``N(0, I)``."""
        return None if self.drift_kind == "diffusion" else "prior"

    @property
    def drift_kind(self) -> str:
        """``"net"``, ``"potential"`` (``grad Phi``) or ``"diffusion"``."""
        return METHODS[self.method][2]

    def networks(self, dim: int) -> dict:
        """The flax modules by parameter name (``w``, ``mu`` or ``phi``, ``log_z_t``)."""
        _, learn_w, kind, time_log_z = METHODS[self.method]
        nets = {}
        if learn_w:
            nets["w"] = FourierMLP(1, tuple(self.hidden), self.num_freqs)
        if kind == "net":
            nets["mu"] = FourierMLP(dim, tuple(self.hidden), self.num_freqs)
        elif kind == "potential":
            nets["phi"] = FourierMLP(1, tuple(self.hidden), self.num_freqs)
        if time_log_z:
            nets["log_z_t"] = TimeMLP(num_freqs=self.num_freqs)
        return nets

    # The transport interface used by :mod:`numpyro_pinn.core` (shared with DPS).
    def init(self, rng_key, dim: int, optimizer, draws=None, mixture=None) -> "TrainState":
        """Initial state; ``draws`` and ``mixture`` are unused (the mixture enters as the prior)."""
        return init(rng_key, dim, self, optimizer)

    def build_kernel(self, target, optimizer, counts) -> Callable:
        return build_kernel(self, target, optimizer, counts)

    def residual_fn(self, target, counts) -> Callable:
        """``(params, rng_key, pool) -> residuals`` ``(B,)`` at one collocation batch (see
        :func:`batch_residual_fn`), averaged over the Hutchinson probes when there are several."""
        residual_fn = batch_residual_fn(self, target, counts)
        return lambda params, rng_key, pool: _per_point(residual_fn(params, rng_key, pool))

    def flow_field(self, params, dim: int, target=None):
        """``(v, div v)`` of the ODE that carries the prior to the target (exact divergence); for
        ``sigma > 0`` the probability-flow ODE."""
        return drift(self, params, dim, target), divergence_fn(self, params, dim, target)

    def path_field(self, params, dim: int, target=None):
        """Drift of the collocation trajectories: the model's own process ``dy = mu dt + sigma dB``
        (noise :attr:`path_noise`), not its probability-flow ODE."""
        parts = _parts(self, params, dim, None if target is None else target.prior)
        kind = self.drift_kind
        if kind == "net":
            return parts.mu
        if kind == "potential":
            return jax.grad(parts.phi)
        grad_v = _grad_v(parts, target)
        return lambda y, t: self.sigma2 * (grad_v(y, t) + 0.5 * y)

    @property
    def path_noise(self) -> float:
        return self.sigma2 ** 0.5


class TrainState(NamedTuple):
    """Parameters (``{"w", "mu", "log_z"}`` for the ODE method), optimiser state, step counter."""

    params: Any
    opt_state: Any
    step: jax.Array


class TrainInfo(NamedTuple):
    loss: jax.Array
    grad_norm: jax.Array


def init(rng_key: jax.Array, dim: int, config: ODETransport, optimizer: optax.GradientTransformation) -> TrainState:
    """Initial parameters (zero last layers, ``log z = 0``) and optimiser state."""
    nets = config.networks(dim)
    keys = jax.random.split(rng_key, len(nets))
    y = jnp.zeros((dim,), jnp.float32)
    t = jnp.zeros((), jnp.float32)
    # One compiled initialisation, not an eager compile per layer and shape.
    params = jit_once(lambda ks: {name: (net.init(k, t) if name == "log_z_t" else net.init(k, y, t))
                                 for k, (name, net) in zip(ks, nets.items())})(keys)
    params["log_z"] = jnp.zeros((), jnp.float32)
    return TrainState(params, optimizer.init(params), jnp.zeros((), jnp.int32))


class _Parts(NamedTuple):
    """The learned pieces at one point: ``v_rest(y, t)`` (all of ``v`` but ``t log q``), and the
    drift network ``mu(y, t)`` or potential ``Phi(y, t)`` (``None`` when the method has none)."""

    v_rest: Callable
    mu: Optional[Callable]
    phi: Optional[Callable]


def _parts(config: ODETransport, params, dim: int, prior=None) -> _Parts:
    nets = config.networks(dim)
    lp = log_prior if prior is None else prior.log_prob

    def w(y, t):
        return nets["w"].apply(params["w"], y, t)[0] if "w" in nets else 0.0

    def log_z(t):
        if "log_z_t" in nets:  # z(1) = exp(log_z) is the normaliser; z(t) is free before
            return params["log_z"] + (1.0 - t) * nets["log_z_t"].apply(params["log_z_t"], t)
        return params["log_z"]

    def v_rest(y, t):
        return (1.0 - t) * lp(y) + t * (1.0 - t) * w(y, t) - t * log_z(t)

    mu = (lambda y, t: nets["mu"].apply(params["mu"], y, t)) if "mu" in nets else None
    if mu is not None and prior is not None and config.drift_scale == "prior":
        scale, net_mu = local_scale(prior), mu
        mu = lambda y, t: scale(y) @ net_mu(y, t)
    phi = (lambda y, t: nets["phi"].apply(params["phi"], y, t)[0]) if "phi" in nets else None
    return _Parts(v_rest, mu, phi)


def point_residual(config: ODETransport, parts: _Parts, y, t, tv: TargetValues, eps=None):
    """``(R_FP, R_HJB)`` at one point; ``R_HJB`` is ``None`` unless the drift is ``grad Phi``."""
    sig2 = config.sigma2
    _, (g_rest, dt_rest) = jax.value_and_grad(parts.v_rest, argnums=(0, 1))(y, t)
    dt_v = tv.logq + dt_rest
    grad_v = t * tv.grad_logq + g_rest
    lap_v = t * tv.lap_logq + laplacian(lambda z: parts.v_rest(z, t), y, eps) if sig2 else None
    kind = config.drift_kind
    if kind == "net":
        mu, div = parts.mu(y, t), divergence(lambda z: parts.mu(z, t), y, eps)
    elif kind == "potential":
        mu, dt_phi = jax.grad(parts.phi, argnums=(0, 1))(y, t)
        div = laplacian(lambda z: parts.phi(z, t), y, eps)
    else:  # diffusion: mu = sigma^2 grad v - f with the VP drift f = -sigma^2 y / 2 (eq. 14)
        mu, div = sig2 * grad_v + 0.5 * sig2 * y, sig2 * lap_v + 0.5 * sig2 * y.shape[-1]
    r = fp_residual(dt_v, grad_v, lap_v, mu, div, sig2)
    return r, (hjb_residual(dt_phi, mu, div, sig2) if kind == "potential" else None)


def _grad_v(parts: _Parts, target):
    def g(y, t):
        gq = jax.grad(target.logq)(y.astype(target.chol.dtype)).astype(jnp.float32)
        return t * gq + jax.grad(parts.v_rest)(y, t)

    return g


def drift(config: ODETransport, params, dim: int, target=None) -> Callable[[jax.Array, jax.Array], jax.Array]:
    """The velocity that carries the prior to the target (one point): the learned drift for
    ``sigma = 0``, the probability-flow velocity ``mu - sigma^2 / 2 grad v`` otherwise (which
    evaluates the target's gradient)."""
    parts = _parts(config, params, dim, None if target is None else target.prior)
    sig2, kind = config.sigma2, config.drift_kind
    mu = parts.mu if kind == "net" else (jax.grad(parts.phi) if kind == "potential" else None)
    if not sig2:
        return mu
    if target is None:
        raise ValueError(f"method={config.method!r} needs the target to build its probability-flow velocity.")
    grad_v = _grad_v(parts, target)
    if kind == "diffusion":
        return lambda y, t: 0.5 * sig2 * (grad_v(y, t) + y)
    return lambda y, t: mu(y, t) - 0.5 * sig2 * grad_v(y, t)


def divergence_fn(config: ODETransport, params, dim: int, target=None) -> Callable[[jax.Array, jax.Array], jax.Array]:
    """Exact divergence of :func:`drift` (one point)."""
    parts = _parts(config, params, dim, None if target is None else target.prior)
    sig2, kind = config.sigma2, config.drift_kind
    if kind == "net":
        div_mu = lambda y, t: divergence(lambda z: parts.mu(z, t), y, None)
    elif kind == "potential":
        div_mu = lambda y, t: laplacian(lambda z: parts.phi(z, t), y, None)
    if not sig2:
        return div_mu

    def lap_v(y, t):
        return t * target.laplacian(y).astype(jnp.float32) + laplacian(lambda z: parts.v_rest(z, t), y, None)

    if kind == "diffusion":
        return lambda y, t: 0.5 * sig2 * (lap_v(y, t) + dim)
    return lambda y, t: div_mu(y, t) - 0.5 * sig2 * lap_v(y, t)


def residuals(config: ODETransport, params, y, t, tv: TargetValues, eps=None, prior=None):
    """Residuals at a batch of points (``y`` ``(B, d)``, ``t`` ``(B,)``): ``R_FP`` ``(B,)``, or for
    OT/SB the pair ``(R_FP, R_HJB)``."""
    parts = _parts(config, params, y.shape[-1], prior)
    f = lambda yy, tt, tvv, ee: point_residual(config, parts, yy, tt, tvv, ee)
    if eps is None:
        r, h = jax.vmap(lambda a, b, c: f(a, b, c, None))(y, t, tv)
    else:
        r, h = jax.vmap(f)(y, t, tv, eps)
    return r if h is None else (r, h)


def batch_residual_fn(config: ODETransport, target, counts: tuple[int, int, int]) -> Callable:
    """``residual_fn(params, rng_key, pool) -> r``: residuals at the collocation batch drawn with
    ``rng_key`` (points where the target is not finite give 0), scaled so that the training loss is
    ``mean(r**2)`` (for OT/SB ``r`` stacks ``R_FP`` and ``sqrt(lambda) R_HJB``, so the loss is
    ``(L_FP + lambda L_HJB) / 2``). ``r`` is ``(B,)``, or ``(B, k)`` with ``k`` Hutchinson probes
    per point (``config.probes(d)`` of two or more): :func:`mean_square` then estimates
    the loss without the probes' variance. Shared by the Adam kernel and Gauss-Newton."""
    prior = target.prior

    def residual_fn(params, rng_key, pool):
        k1, k2 = jax.random.split(rng_key)
        y, t = sample_points(k1, pool, counts, prior=prior)
        y, t = target.shard(y), target.shard(t)
        dim = y.shape[-1]
        eps = None
        if dim > config.hutchinson_above:
            k = config.probes(dim)
            shape = y.shape if k == 1 else (y.shape[0], k, dim)
            eps = jax.random.rademacher(k2, shape, dtype=jnp.float32)
        tv = target.values(y)
        if config.sigma2:
            lap = jax.vmap(target.laplacian)(y) if eps is None else jax.vmap(target.laplacian)(y, eps)
            tv = tv._replace(lap_logq=lap.astype(jnp.float32))
        tv = jax.tree_util.tree_map(jax.lax.stop_gradient, tv)
        out = residuals(config, params, y, t, tv, eps, prior)
        ok = jnp.isfinite(tv.logq) & jnp.all(jnp.isfinite(tv.grad_logq), axis=-1)
        if config.sigma2:
            ok = ok & jnp.all(jnp.isfinite(tv.lap_logq.reshape(ok.shape + (-1,))), axis=-1)
        scale = jnp.sqrt(y.shape[0] / jnp.maximum(jnp.sum(ok), 1))
        if isinstance(out, tuple):
            r, h = out
            r = jnp.concatenate([r, jnp.sqrt(config.hjb_weight) * h])
            ok = jnp.concatenate([ok, ok])
        else:
            r = out
        return jnp.where(ok.reshape(ok.shape + (1,) * (r.ndim - 1)), r, 0.0) * scale

    return residual_fn


def mean_square(r: jax.Array) -> jax.Array:
    """The training loss from :func:`batch_residual_fn`'s residuals: ``mean(r**2)`` for ``r``
    ``(B,)``; for ``(B, k)`` residuals of ``k >= 2`` independent probes per point, the mean of
    the products ``r_i r_j`` over pairs of different probes, whose expectation is the squared
    residual itself (the probes' noise is independent between them)."""
    if r.ndim == 1:
        return jnp.mean(r**2)
    k = r.shape[1]
    total = jnp.sum(r, axis=1)
    return jnp.mean((total**2 - jnp.sum(r**2, axis=1)) / (k * (k - 1)))


def _per_point(r: jax.Array) -> jax.Array:
    """One residual per point: ``r`` itself, or its mean over the probes."""
    return r if r.ndim == 1 else jnp.mean(r, axis=1)


def training_loss(config: ODETransport, target, counts: tuple[int, int, int]) -> Callable:
    """``loss(params, rng_key, pool)``: the mean squared residual over the collocation batch drawn
    with ``rng_key`` (:func:`mean_square`)."""
    residual_fn = batch_residual_fn(config, target, counts)

    def loss_fn(params, rng_key, pool):
        return mean_square(residual_fn(params, rng_key, pool))

    return loss_fn


def build_kernel(
    config: ODETransport,
    target,
    optimizer: optax.GradientTransformation,
    counts: tuple[int, int, int],
) -> Callable:
    """One training step: sample collocation points, evaluate the target, optimiser step.

    Parameters
    ----------
    target
        The whitened target (:class:`numpyro_pinn.sample.WhitenedTarget`): its batched values
        (and Laplacian for ``sigma > 0``) and its prior.
    counts
        Number of uniform, bridge and trajectory points per batch.
    """

    loss_fn = training_loss(config, target, counts)

    def kernel(rng_key: jax.Array, state: TrainState, pool: CollocationPool) -> tuple[TrainState, TrainInfo]:
        loss_fn_ = lambda params: loss_fn(params, rng_key, pool)
        loss, grads = jax.value_and_grad(loss_fn_)(state.params)
        updates, opt_state = optimizer.update(grads, state.opt_state, state.params)
        params = optax.apply_updates(state.params, updates)
        return TrainState(params, opt_state, state.step + 1), TrainInfo(loss, optax.tree.norm(grads))

    return kernel
