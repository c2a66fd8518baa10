"""Functional core: a flat potential in, a trained transport and weighted draws out.

No NumPyro import here; :class:`numpyro_pinn.PINNSampler` is the NumPyro-facing shell.
"""
from __future__ import annotations

import time
from typing import Any, Callable, NamedTuple, Optional, Union

import jax
import jax.numpy as jnp
import numpy as np
import optax

from numpyro_pinn import sample as sample_mod
from numpyro_pinn import stages, tails
from numpyro_pinn.compiling import jit
from numpyro_pinn.training.collocation import Collocation, CollocationPool, bridge_paths, linear_bridge
from numpyro_pinn.diagnostics import ess, pareto_k
from numpyro_pinn.gaussian import whiten
from numpyro_pinn.bases.mixture import PROPOSAL_DRAWS, proposal_draws, proposal_log_weights
from numpyro_pinn.bases.options import Auto, BaseOption
from numpyro_pinn.precision import float32_twin, runs_in_float32
from numpyro_pinn.sharding import data_sharding, num_shards
from numpyro_pinn.training.loop import TrainResult, fit, good_enough
from numpyro_pinn.training.options import Plateau
from numpyro_pinn.transports import ode
from numpyro_pinn.validation import all_finite
from numpyro_pinn.warmstart import (MODE_PROBE_STEP, PROPRIETY_RADII, PT, SMC, Laplace, WarmStart, around_initial_point,
                                    flat_direction, from_draws, is_mode, laplace, with_log_Z)

__all__ = ["Settings", "Fitted", "make_warm_start", "make_pool", "build_base", "fit_transport", "draw",
           "draw_function", "proposal_function"]


class Settings(NamedTuple):
    """The functional core's settings: :class:`~numpyro_pinn.training.Training`'s fields, plus
    ``num_steps``, ``target_ess``, ``base`` (a :mod:`numpyro_pinn.bases` option), ``devices``
    and the collocation paths' and Gauss-Newton's sizes (see :class:`numpyro_pinn.PINNSampler`)."""

    num_steps: int = 6000
    min_steps: int = 0
    chunk_size: int = 250
    batch_size: Optional[int] = None  # None: the transport's default_batch_size(d)
    learning_rate: float = 2e-3
    optimizer: Optional[optax.GradientTransformation] = None
    target_ess: Optional[float] = 0.9
    max_pareto_k: Optional[float] = 0.5  # the early stop also needs the monitor's k-hat at most this
    monitor_size: int = 1024
    collocation: Collocation = Collocation()
    num_paths: int = 1024
    num_times: int = 33
    domain_scale: float = 1.25
    finetune: Optional[str] = None
    base: BaseOption = Auto()
    gn_steps: int = 10
    gn_batch_size: int = 4096
    gn_cg_iters: int = 50
    devices: Any = None
    train_max_seconds: Optional[float] = None  # training's wall-clock budget (None: only num_steps bounds it)
    plateau: Optional[Plateau] = Plateau()  # stop when the monitor's ESS stops improving (None: off)
    train_precision: str = "auto"  # the training loss's target values (numpyro_pinn.precision)


class Fitted(NamedTuple):
    """A trained transport and everything needed to draw from it."""

    config: Any  # the transport (ODETransport or DPSTransport)
    params: Any  # None when nothing was trained (the base alone reached target_ess)
    target: sample_mod.WhitenedTarget
    warm_start: WarmStart
    train: TrainResult
    pool: CollocationPool
    finetune: Optional[dict] = None
    prior_evals: int = 0  # target evaluations spent building the mixture prior / control variate
    prior_seconds: float = 0.0  # seconds spent building it
    solve: Optional[Callable] = None  # the monitor's compiled solve (flow_batch), which the draws reuse
    batch_size: int = 0  # collocation points per training step (Settings.batch_size resolved)


def default_optimizer(s: Settings) -> optax.GradientTransformation:
    """Adam with gradient clipping and a cosine decay from ``learning_rate`` to 1% of it."""
    sched = optax.cosine_decay_schedule(s.learning_rate, s.num_steps, alpha=0.01)
    return optax.chain(optax.clip_by_global_norm(10.0), optax.adam(sched))


def make_warm_start(
    rng_key, potential_fn: Callable, x0: jax.Array, warm_start: Union[str, WarmStart, Any] = "smc",
    smc_particles: int = 2048, smc_scale: float = 10.0, describe: Optional[Callable] = None,
) -> WarmStart:
    """Build the warm start: ``"smc"`` (default), ``"pt"``, ``"laplace"`` or their configuration objects
    (:class:`~numpyro_pinn.warmstart.SMC`, :class:`~numpyro_pinn.warmstart.PT`,
    :class:`~numpyro_pinn.warmstart.Laplace`), a :class:`WarmStart`, a fitted sampler of this package
    (its draws and log Z), or unconstrained draws ``(n, d)``.

    The string and object warm starts first check that the posterior is proper along every principal and
    coordinate direction (:func:`numpyro_pinn.warmstart.flat_direction`) and raise a ``ValueError``
    otherwise; ``describe(direction)`` names the sites a direction mostly lies in."""
    if isinstance(warm_start, WarmStart):
        return warm_start
    t0 = time.perf_counter()
    ws = _build_warm_start(rng_key, potential_fn, x0, warm_start, smc_particles, smc_scale, describe)
    jax.block_until_ready(ws.draws)
    return ws._replace(seconds=time.perf_counter() - t0)


def _build_warm_start(rng_key, potential_fn, x0, warm_start, smc_particles, smc_scale, describe) -> WarmStart:
    if isinstance(warm_start, str):
        named = {"smc": SMC(num_particles=smc_particles, scale=smc_scale), "pt": PT(scale=smc_scale),
                 "laplace": Laplace()}
        if warm_start not in named:
            raise ValueError(f"warm_start must be 'smc', 'pt', 'laplace', a WarmStart, a fitted sampler or draws; "
                             f"got {warm_start!r}.")
        warm_start = named[warm_start]
    if isinstance(warm_start, (SMC, PT, Laplace)):
        lap = laplace(potential_fn, x0, warm_start.max_iter if isinstance(warm_start, Laplace) else 200)
        finite = all_finite(lap.chol)
        if isinstance(warm_start, Laplace) and not finite:
            raise ValueError("warm_start='laplace' failed (non-finite Hessian at the mode); use the default "
                             "warm_start='smc' or pass posterior draws.")
        probe = lap if finite else around_initial_point(x0, lap)
        flat = flat_direction(potential_fn, probe.mean, probe.chol)
        if flat is not None:
            v, rise = flat
            where = describe(v) if describe is not None else f"coordinate {int(np.argmax(np.abs(v)))}"
            raise ValueError(
                f"The posterior looks improper (not integrable): along a direction mostly in {where}, the "
                f"potential changes by less than the log of the distance ratio between each of the distances "
                f"{', '.join(f'{r:g}' for r in PROPRIETY_RADII)} from the mode where it is finite (by {rise:.3g} "
                "between the last two), so the density does not fall faster than 1/distance. Check for flat or "
                "improper priors (e.g. ImproperUniform) on "
                "parameters the data do not constrain.")
        if isinstance(warm_start, Laplace) and not is_mode(lap):
            g = lap.chol @ (lap.chol.T @ jax.grad(potential_fn)(lap.mean))
            where = describe(g) if describe is not None else f"coordinate {int(np.argmax(np.abs(g)))}"
            why = ("the potential still falls there: along a direction without curvature, or to a point "
                   f"{MODE_PROBE_STEP:g} unit away along a coordinate, so no Gaussian describes it"
                   if np.isinf(lap.mode_gap) else
                   f"a Newton step predicts {lap.mode_gap / 2:.3g} nats more")
            raise ValueError(
                f"warm_start='laplace' found no mode: Newton stopped where the density still rises ({why}), "
                f"along a direction mostly in {where}. Hierarchical models whose density is unbounded down a "
                "funnel's neck (a heavy-tailed concentration or scale hyperprior, a shrinkage prior such as the "
                "horseshoe) have no mode; use the default warm_start='smc', which then starts from the model's "
                "initial point.")
        return warm_start.build(rng_key, potential_fn, x0, lap)
    if hasattr(warm_start, "unconstrained_draws"):
        diag = warm_start.diagnostics
        ws = from_draws(warm_start.unconstrained_draws(), log_Z=diag.get("log_Z"), method=type(warm_start).__name__)
        return ws if diag.get("log_Z") is not None else with_log_Z(rng_key, potential_fn, ws)
    ws = from_draws(jnp.asarray(warm_start))
    if ws.mean.shape != x0.shape:
        raise ValueError(f"warm start has dimension {ws.mean.shape[0]}, the target {x0.shape[0]}.")
    return with_log_Z(rng_key, potential_fn, ws)


def make_pool(rng_key, ws: WarmStart, s: Settings, bridge=None, prior=None) -> CollocationPool:
    """Whitened warm-start draws, the uniform box, and the initial (straight-line) path pool."""
    d = ws.mean.shape[0]
    draws_y = whiten(ws.mean, ws.chol, ws.draws)
    draws_y = draws_y.astype(jnp.float32)
    # The prior N(0, I) is covered at t = 0 (|y_i| <= 4), every warm-start draw at t = 1.
    f32 = lambda a: jnp.asarray(a, jnp.float32)
    reach0 = 4.0 * s.domain_scale * jnp.ones(d)
    lo, hi = jnp.min(draws_y, axis=0), jnp.max(draws_y, axis=0)
    centre, half = 0.5 * (lo + hi), 0.5 * (hi - lo) * s.domain_scale + 0.1
    paths = bridge_paths(rng_key, draws_y, s.num_paths, s.num_times, bridge or linear_bridge, prior)
    return CollocationPool(f32(-reach0), f32(reach0), f32(centre - half), f32(centre + half), draws_y, paths)


def fit_transport(
    rng_key, potential_fn: Callable, ws: WarmStart, settings: Settings = Settings(),
    config: Any = ode.ODETransport(), progress_bar: bool = True, checkpoint: Optional[str] = None,
) -> Fitted:
    """Train a transport (``ODETransport`` or ``DPSTransport``) for the target ``exp(-potential_fn)``
    whitened by ``ws``."""
    d = ws.mean.shape[0]
    s = settings
    opt = s.optimizer if s.optimizer is not None else default_optimizer(s)
    k_init, k_pool, k_fit = jax.random.split(rng_key, 3)
    t_prior = time.perf_counter()
    with stages.progress("Base distribution", progress_bar and (config.mixture_role is not None)):
        prior, mixture, prior_evals = build_base(k_pool, potential_fn, ws, s, config)
    config = config.for_prior(prior)
    if s.batch_size is None:
        s = s._replace(batch_size=config.default_batch_size(d))
    sharding = data_sharding(s.devices)
    n_dev = num_shards(sharding)
    for name in ("batch_size", "monitor_size", "gn_batch_size"):
        if getattr(s, name) % n_dev:
            raise ValueError(f"`{name}` ({getattr(s, name)}) must be a multiple of the number of devices ({n_dev}).")
    target = sample_mod.whitened_target(potential_fn, ws.mean, ws.chol, ws.log_Z, prior, sharding)
    check = _base_check(jax.random.fold_in(k_fit, 11), potential_fn, ws, prior, s, config)
    prior_evals += 0 if check is None else check.target_evals
    t_prior = time.perf_counter() - t_prior  # the base distribution's check included
    if check is not None and good_enough(s.target_ess, s.max_pareto_k, check.ess, check.pareto_k):
        # The base distribution alone reaches target_ess: no training (no network, pool or kernel is
        # built; the parameters are None) and the draws come from the base.
        res = TrainResult(None, np.zeros(0), [(0, check.ess)], 0, 0.0, True, None, False, "base")
        return Fitted(config, None, target, ws, res, None, None, prior_evals, t_prior)
    pool = make_pool(k_pool, ws, s, config.bridge, prior)
    state = config.init(k_init, d, opt, pool.draws, mixture=mixture)
    # The loss's target values in float32 on a costly target; the monitor's and the draws' weights
    # keep `target`, in its own precision.
    values_target = target
    if runs_in_float32(s.train_precision, potential_fn, ws.mean):
        values_target = target._replace(single=float32_twin(potential_fn, d))
    kernel = config.build_kernel(values_target, opt, s.collocation.counts(s.batch_size))
    t0, t1 = config.t_span

    path_prior = tails.without_heavy_tail(target.prior)

    @jit
    def refresh(key, params):
        return sample_mod.paths(key, config.path_field(params, d, target), s.num_paths, d, s.num_times, t0, t1,
                                path_prior, config.path_noise)

    uses_paths = s.collocation.counts(s.batch_size)[2] > 0

    solve = flow_batch(config, target, s.monitor_size)

    def monitor_lw(key, params):
        return solve(key, params, jnp.asarray(MONITOR_TOL, target.chol.dtype), target.prior)[1]

    monitor = None
    if s.target_ess is not None:
        def monitor(key, params):
            lw = np.asarray(monitor_lw(key, params))
            return ess(lw), pareto_k(lw)
    res = fit(k_fit, kernel, state, pool, s.num_steps, s.chunk_size,
              refresh_paths=refresh if uses_paths else None, monitor=monitor, target_ess=s.target_ess,
              min_steps=s.min_steps, progress_bar=progress_bar, checkpoint=checkpoint,
              max_seconds=s.train_max_seconds, plateau=s.plateau, max_pareto_k=s.max_pareto_k,
              base_ess=check.all_ess if check is not None and config.starts_at_base else None)
    params, ft = res.state.params, None
    if s.finetune == "gauss_newton" and not res.interrupted:
        params, ft = _gauss_newton(jax.random.fold_in(k_fit, 7), config, target, s, res, monitor_lw)
    return Fitted(config, params, target, ws, res, pool, ft, prior_evals, t_prior, solve, s.batch_size)


#: The ODE solver's relative and absolute tolerance for the training monitor's particles.
MONITOR_TOL = 1e-4


def flow_batch(config, target, num: int) -> Callable:
    """One compiled ``f(rng_key, params, tol, start) -> (y, log_weights)``: ``num`` whitened
    particles of the transport ``config`` with parameters ``params`` for ``target``, started from
    the base distribution ``start`` (``target.prior``, or another of its structure), solved with
    relative and absolute tolerance ``tol`` (a scalar array), and their log weights relative to
    ``target.log_Z0``. The training monitor calls it with :data:`MONITOR_TOL`; the run's draws
    call the same program with their own tolerance, in batches of ``num``, instead of compiling a
    solve of their own."""
    d = target.mean.shape[0]
    t0, t1 = config.t_span

    @jit
    def solve(rng_key, params, tol, start):
        v, div = config.flow_field(params, d, target)
        fd = sample_mod.flow(rng_key, v, div, target._replace(prior=start), num, rtol=tol, atol=tol, t0=t0, t1=t1)
        return fd.y, fd.log_weights

    return solve


class _BaseCheck(NamedTuple):
    """The base distribution's own check before training (:func:`_base_check`)."""

    ess: float
    pareto_k: float
    target_evals: int
    all_ess: float  # over every draw of the check's batch, not only the first monitor_size


def _base_check(key, potential_fn: Callable, ws: WarmStart, prior, s: Settings,
                config) -> Optional[_BaseCheck]:
    """The ESS, Pareto k-hat and target evaluations of ``monitor_size`` draws of the base
    distribution itself as a proposal (no ODE solve), when it may replace training: an early stop
    on ``target_ess`` with ``min_steps=0``, and a transport and base option that allow drawing from
    the base (``fallback``). ``None`` otherwise. The draws are the first ``monitor_size`` of a batch
    of at least :data:`~numpyro_pinn.bases.PROPOSAL_DRAWS`, the size the base options score their
    candidates with, whose compiled evaluation this reuses when the base is one of them."""
    if s.target_ess is None or s.min_steps > 0 or not (config.base_fallback and s.base.fallback):
        return None
    n = max(s.monitor_size, PROPOSAL_DRAWS)
    lw = proposal_log_weights(potential_fn, ws.mean, ws.chol, prior, key, n)
    return _BaseCheck(ess(lw[: s.monitor_size]), pareto_k(lw[: s.monitor_size]), n, ess(lw))


def build_base(key, potential_fn: Callable, ws: WarmStart, s: Settings, config) -> tuple:
    """The transport's base distribution from the warm start ``ws``, as ``settings.base`` (a
    :mod:`numpyro_pinn.bases` option) builds it: ``(prior, mixture, target evaluations)``. ``prior``
    is the base (``None``: ``N(0, I)``); ``mixture`` the Gaussian mixture handed to the transport
    (DPS: its control variate)."""
    built = s.base.build(key, potential_fn, ws, config.mixture_role)
    return built.prior, built.mixture, built.info["target_evals"]


def _gauss_newton(key, config, target, s: Settings, res: TrainResult, monitor_lw):
    """Gauss-Newton fine-tuning after Adam (:mod:`numpyro_pinn.training.gauss_newton`); the fine-tuned
    parameters are kept only if the monitor batch's ESS does not fall."""
    from numpyro_pinn.training.gauss_newton import gauss_newton

    k_gn, k_mon = jax.random.split(key)
    t0 = time.perf_counter()
    residual_fn = config.residual_fn(target, s.collocation.counts(s.gn_batch_size))
    new, info = gauss_newton(k_gn, residual_fn, res.state.params, res.pool, s.gn_steps, cg_iters=s.gn_cg_iters)
    ess_before = ess(np.asarray(monitor_lw(k_mon, res.state.params)))
    ess_after = ess(np.asarray(monitor_lw(k_mon, new)))
    keep = bool(np.isfinite(ess_after) and ess_after >= ess_before)
    info = jax.tree_util.tree_map(np.asarray, info)
    ft = {"method": "gauss_newton", "steps": s.gn_steps, "accepted_steps": int(info.accepted.sum()),
          "loss_before": float(info.loss_before[0]), "loss_after": float(info.loss_after[-1]),
          "ess_before": ess_before, "ess_after": ess_after, "kept": keep,
          "target_evals": 3 * s.gn_steps * s.gn_batch_size + 2 * s.monitor_size,
          "seconds": time.perf_counter() - t0}
    return (new if keep else res.state.params), ft


#: ``proposal_function``'s and ``draw_function``'s default start: the fitted base distribution.
_FITTED = object()


def proposal_function(fitted: Fitted, through_prior: bool = False, rtol: float = 1e-5,
                      atol: float = 1e-5, dtype=None, potential_fn: Optional[Callable] = None) -> Callable:
    """A pure, jittable ``f(rng_key, num) -> (x, log_weights)`` (``num`` static) drawing ``num``
    weighted particles from a fitted transport in one batch (see :func:`draw`); what
    :func:`draw_function` and :class:`numpyro_pinn.PINNKernel` build on. ``f(rng_key, num, base)``
    starts the same transport from another base distribution ``base`` (a mixture, or ``None`` for
    ``N(0, I)``) instead of the fitted one.

    The target is evaluated in the whitening's dtype (float64 after a run with x64), or in
    ``dtype`` when given (e.g. float32, to trace it where x64 is off); ``potential_fn`` replaces
    the fitted target's potential (the same one rebuilt in another precision)."""
    d = fitted.warm_start.mean.shape[0]
    t = fitted.target
    if dtype is not None:
        t = t._replace(mean=t.mean.astype(dtype), chol=t.chol.astype(dtype), centring=t.centring.astype(dtype))
    if potential_fn is not None:
        t = t._replace(potential_fn=potential_fn)
    fitted = fitted._replace(target=t)
    if through_prior:
        one = lambda k, n, start: sample_mod.prior_draws(k, start, n)
    else:
        if fitted.params is None:
            raise ValueError("No transport was trained (the base distribution alone reached target_ess): "
                             "draw from the base with through_prior=True.")
        mu, div = fitted.config.flow_field(fitted.params, d, fitted.target)
        t0, t1 = fitted.config.t_span
        one = lambda k, n, start: sample_mod.flow(k, mu, div, start, n, rtol=rtol, atol=atol, t0=t0, t1=t1)

    def f(key, n, base=_FITTED):
        start = fitted.target if base is _FITTED else fitted.target._replace(prior=base)
        fd = one(key, n, start)
        return fitted.target.to_x(fd.y), fd.log_weights + fitted.target.log_Z0

    return f


def draw_function(fitted: Fitted, through_prior: bool = False, rtol: float = 1e-5, atol: float = 1e-5,
                  batch: int = 8192) -> Callable:
    """A compiled ``f(rng_key, num) -> (x, log_weights)`` drawing ``num`` weighted particles from
    a fitted transport (see :func:`draw`); ``f(rng_key, num, base)`` starts it from another base
    distribution (as :func:`proposal_function`'s).

    Particles are drawn in equal batches of at most ``batch``, each rounded up to a multiple of
    256 (the surplus is cut), so calls whose ``num`` rounds alike reuse one compiled solve: keep
    the function to draw again without recompiling. A transport trained in this session
    (``fitted.solve`` set) draws through the training monitor's compiled solve instead, in its
    batches of ``monitor_size`` particles (``batch`` is then not used; ``rtol`` and ``atol`` must
    be equal), so that no solve is compiled for drawing. Likewise ``through_prior=True`` draws
    through the compiled program that scored the base before training
    (:func:`~numpyro_pinn.bases.proposal_draws`), in batches of
    :data:`~numpyro_pinn.bases.PROPOSAL_DRAWS` (on one device; ``batch`` is then not used).
    """
    if not through_prior and fitted.solve is not None and rtol == atol:
        return _batched_draws(fitted, rtol)
    if through_prior and fitted.target.sharding is None:
        return _base_draws(fitted)
    batch_fn = jit(proposal_function(fitted, through_prior, rtol, atol), static_argnums=1)

    def f(rng_key, num: int, base=_FITTED):
        chunks = -(-num // batch)
        n = -(-num // (chunks * 256)) * 256
        # The base is an argument of the compiled solve: another base of the same structure (such
        # as the fitted one without its Student-t component) reuses it.
        base = fitted.target.prior if base is _FITTED else base
        return _in_batches(lambda key: batch_fn(key, n, base), rng_key, num)

    return f


def _in_batches(one: Callable, rng_key, num: int) -> tuple:
    """``one(key) -> (a, b)``, a batch of particles per call, called with
    ``fold_in(rng_key, i)`` for ``i = 0, 1, ...`` until ``num`` particles are drawn; the batches
    concatenated and cut to ``num``."""
    out, got = [], 0
    while got < num:
        out.append(one(jax.random.fold_in(rng_key, len(out))))
        got += out[-1][0].shape[0]
    return tuple(jnp.concatenate(parts)[:num] for parts in zip(*out))


def _batched_draws(fitted: Fitted, tol: float) -> Callable:
    """:func:`draw_function` through the run's own compiled solve (:func:`flow_batch`), in its
    batches: ``f(rng_key, num, base)``."""
    t = fitted.target
    tol = jnp.asarray(tol, t.chol.dtype)
    finish = jit(lambda y, lw: (t.to_x(y), lw + t.log_Z0))

    def f(rng_key, num: int, base=_FITTED):
        start = t.prior if base is _FITTED else base
        return finish(*_in_batches(lambda key: fitted.solve(key, fitted.params, tol, start), rng_key, num))

    return f


def _base_draws(fitted: Fitted) -> Callable:
    """:func:`draw_function` of the base distribution itself, through
    :func:`~numpyro_pinn.bases.proposal_draws`'s program: ``f(rng_key, num, base)``."""
    t = fitted.target

    def f(rng_key, num: int, base=_FITTED):
        start = t.prior if base is _FITTED else base
        return _in_batches(lambda key: proposal_draws(t.potential_fn, t.mean, t.chol, start, key, PROPOSAL_DRAWS),
                           rng_key, num)

    return f


def draw(rng_key, fitted: Fitted, num: int, rtol: float = 1e-5, atol: float = 1e-5, batch: int = 8192,
         through_prior: bool = False):
    """``num`` weighted particles from a fitted transport: ``(x, log_weights)`` with ``log_weights``
    relative to the true normaliser (so ``logmeanexp(log_weights)`` estimates ``log Z``).
    ``through_prior=True``: draws of the transport's prior itself, weighted against the target.
    Each call compiles anew: to draw repeatedly, keep a :func:`draw_function`."""
    return draw_function(fitted, through_prior, rtol, atol, batch)(rng_key, num)
