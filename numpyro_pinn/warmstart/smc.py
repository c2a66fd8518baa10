"""The default warm start: adaptive tempered SMC (BlackJAX) from a broad Gaussian reference."""
from __future__ import annotations

import dataclasses
import warnings
from functools import partial
from typing import Any, Callable, NamedTuple, Optional

import jax
import jax.numpy as jnp
import numpy as np
import scipy.stats

from numpyro_pinn.compiling import CHEAP_FLOPS, estimated_flops, jit, jit_once, weighted_flops
from numpyro_pinn.gaussian import std_normal_log_prob
from numpyro_pinn.population import adapt_step_size, inverse_mass
from numpyro_pinn.stages import Deadline, report
from numpyro_pinn.validation import all_finite, check_count, check_positive
from numpyro_pinn.warmstart.base import WarmStart, from_draws, reference, with_log_Z
from numpyro_pinn.warmstart.laplace import around_initial_point, is_mode
from numpyro_pinn.precision import PRECISIONS, in_float32, runs_in_float32
from numpyro_pinn.warmstart.precision import to_float64
from numpyro_pinn.warmstart.screen import screen_laplace, screen_size

__all__ = ["smc", "SMC", "SMCFailed", "until_decorrelated"]


class SMCFailed(RuntimeError):
    """The tempered SMC run ended without a usable population: its particles or ``log Z`` became
    non-finite, or the particles collapsed onto a point (a reference built on a degenerate
    Laplace fit can do that). :class:`SMC` then runs again from the model's initial point, and
    raises it only when that run fails too. ``reason``: what went wrong; ``num_evals``: the
    target evaluations the failed run made."""

    def __init__(self, reason: str, num_evals: int = 0):
        super().__init__(f"The SMC warm start failed: {reason}. Warm-start from posterior draws (an array of "
                         "unconstrained draws, e.g. from NUTS) or with more particles "
                         "(warm_start=numpyro_pinn.SMC(num_particles=...)).")
        self.reason = reason
        self.num_evals = num_evals


def _population(x: jax.Array, log_z: Optional[float], method: str, num_evals: int) -> WarmStart:
    """The warm start from the final particles, or :class:`SMCFailed` when they are unusable."""
    if not all_finite(x) or (log_z is not None and not np.isfinite(log_z)):
        raise SMCFailed("its particles or log Z became non-finite", num_evals)
    try:
        ws = from_draws(x, log_Z=log_z, method=method)
    except ValueError:
        raise SMCFailed("its particles collapsed onto a point (their covariance is singular)", num_evals) from None
    return ws._replace(num_evals=num_evals)


# The phases of the tempering loop: tempering, one settling move requested, done.
_TEMPERING, _SETTLE, _SETTLED = 0, 1, 2


class _Carry(NamedTuple):
    state: Any  # BlackJAX's TemperedSMCState
    key: jax.Array
    step_size: jax.Array
    log_z: jax.Array
    steps: jax.Array  # tempering steps taken (the settling move is not one)
    phase: jax.Array
    moves: jax.Array  # HMC moves made, all steps together (the settling one included)


class _MoveInfo(NamedTuple):
    acceptance_rate: jax.Array  # (n,) each particle's mean acceptance over its moves
    num_moves: jax.Array  # moves made (the same for every particle)


#: The quantile of the particles' squared jumps that :func:`until_decorrelated` watches: nine in ten
#: particles must have moved that far, so that particles stuck in a funnel's neck keep the moves going.
QUANTILE = 0.1


def until_decorrelated(decorrelation: float) -> Callable:
    """A BlackJAX SMC update strategy: every particle makes the same number of MCMC moves, at least
    one and at most ``num_mcmc_steps``, stopping once the :data:`QUANTILE` quantile of the
    particles' squared jumps from their resampled start, in the metric of those starts' covariance,
    reaches ``decorrelation`` times its value between independent draws of a Gaussian (``2
    chi^2_d``). The ``k``-th move of a particle uses the key that BlackJAX's
    ``update_and_take_last`` gives its ``k``-th move."""

    def strategy(mcmc_init_fn, logposterior_fn, shared_mcmc_step_fn, num_mcmc_steps, n_particles, **_):
        def update(keys, particles, step_parameters):
            d = particles.shape[1]
            chol = jnp.linalg.cholesky(inverse_mass(particles))
            keys = jax.vmap(lambda k: jax.random.split(k, num_mcmc_steps))(keys)  # (n, moves, 2)
            init = jax.vmap(mcmc_init_fn, in_axes=(0, None))(particles, logposterior_fn)

            def one(key, state, params):
                return shared_mcmc_step_fn(key, state, logposterior_fn, **params)

            # Between independent draws of a Gaussian the squared jump is 2 chi^2_d.
            independent = 2.0 * float(scipy.stats.chi2.ppf(QUANTILE, d))

            def short_jump(x):
                z = jax.scipy.linalg.solve_triangular(chol, (x - particles).T, lower=True)
                return jnp.quantile(jnp.sum(z**2, axis=0), QUANTILE)

            def cond(c):
                state, n, _ = c
                far = short_jump(state.position) >= decorrelation * independent
                return (n < num_mcmc_steps) & ((n == 0) | ~far)

            def body(c):
                state, n, acc = c
                state, info = jax.vmap(one)(keys[:, n], state, step_parameters)
                return state, n + 1, acc + info.acceptance_rate

            state, n, acc = jax.lax.while_loop(
                cond, body, (init, jnp.zeros((), jnp.int32), jnp.zeros(particles.shape[0], particles.dtype)))
            return state.position, _MoveInfo(acc / n, n)

        return update, n_particles

    return strategy


def smc(
    rng_key: jax.Array,
    potential_fn: Callable,
    start: WarmStart,
    num_particles: int = 2048,
    scale: float = 10.0,
    floor: float = 0.0,
    num_mcmc_steps: int = 5,
    num_integration_steps: int = 8,
    target_ess: float = 0.5,
    max_tempering_steps: int = 500,
    centre: Optional[jax.Array] = None,
    defensive: float = 0.2,
    max_seconds: Optional[float] = 600.0,
    block: int = 4,
    waste_free: Optional[int] = None,
    decorrelation: Optional[float] = None,
    quick_compile: bool = False,
) -> WarmStart:
    """Adaptive tempered SMC (BlackJAX) from a broad Gaussian reference to the target.

    The reference is ``N(start.mean, scale^2 Sigma + floor^2 I)`` with ``Sigma = L L^T`` the
    Laplace covariance: ``scale`` widens it along the posterior's own axes (other modes up to a few
    ``scale`` Laplace widths away are found). When ``centre`` is given (the model's initial point),
    a defensive component ``N(centre, scale^2 I)`` of weight ``defensive`` joins it (defensive
    importance sampling, Hesterberg 1995): a Laplace fit can be useless, as on Neal's funnel, whose
    only mode lies deep in the neck with tiny widths across it, so that a reference built on it
    alone never reaches the bulk; the defensive particles do, and where the Laplace fit is good they
    are resampled away at the first tempering step.

    ``floor`` (in unconstrained units, default 0) widens the Laplace component isotropically, for a
    very sharp mode with a distant twin; leave it off for posteriors far narrower than 1, where it
    makes the reference far too wide for the particles to re-equilibrate. The inner kernel
    is HMC whose inverse mass matrix is the current particle covariance and whose step size is
    adapted towards 0.75 acceptance; it runs in ``x`` coordinates against the two-component
    reference, or, without ``centre``, in the whitened coordinates of the one Gaussian against
    ``N(0, I)`` (the same algorithm, without evaluating a mixture reference at every step).

    Each tempering step moves the particles by ``num_mcmc_steps`` HMC moves. With ``decorrelation``
    (default ``None``) it moves them by at most that many, fewer once they have moved far enough
    from where resampling put them (:func:`until_decorrelated`): nine in ten particles have jumped,
    in the metric of the particles' covariance, at least ``decorrelation`` times as far as
    independent draws would be apart. A near-Gaussian posterior then takes one or two moves;
    particles in separated modes (whose covariance spans the modes) or in a funnel's neck make all
    of them. It cuts the evaluations of unimodal posteriors, at the price of a less equilibrated
    population on hierarchical ones.

    ``waste_free=p`` (default ``None``) moves the particles as waste-free SMC does (Dau and
    Chopin, 2022; BlackJAX's ``waste_free_smc``): ``num_particles / p`` resampled particles each
    start a chain of ``p - 1`` HMC moves, and every state of every chain is kept, so a tempering
    step costs about ``(p - 1) / p`` gradient evaluations per particle and HMC move instead of
    ``num_mcmc_steps`` (which it replaces). ``num_particles`` must be a multiple of ``p``.

    The tempering steps run in jitted blocks of ``block``; between blocks Ctrl-C is seen and the
    wall-clock budget ``max_seconds`` (``None``: none) is checked. When the budget or
    ``max_tempering_steps`` runs out before the posterior is reached, a ``RuntimeWarning`` says so
    and the warm start is the tempered particles' whitening (broader than the posterior, which the
    transport can still use) with ``log Z`` by importance sampling (:func:`with_log_Z`); its
    ``method`` says where SMC stopped.

    ``quick_compile=True`` compiles the run as :func:`~numpyro_pinn.compiling.jit_once` does (less
    optimisation on CPU): for a short run on a cheap target (:func:`~numpyro_pinn.compiling.cheap_to_run`),
    such as :class:`SMC`'s screen, whose compilation costs more than its run.

    Returns
    -------
    WarmStart
        Whitening from the final particles' mean and covariance, ``log_Z`` from SMC.
    """
    deadline = Deadline.after(max_seconds)
    _check_moves(waste_free, decorrelation, num_particles)
    import blackjax
    from blackjax.smc import resampling, solver, tempered
    from blackjax.smc.ess import ess_solver
    from blackjax.smc.base import extend_params

    d = start.mean.shape[0]
    m, L, logq_z = reference(potential_fn, start, scale, floor)
    if not 0.0 <= defensive < 1.0:
        raise ValueError(f"`defensive` must be in [0, 1); got {defensive!r}.")
    c_def = m if centre is None else jnp.asarray(centre, m.dtype)
    if c_def.shape != m.shape:
        raise ValueError(f"`centre` must have shape {m.shape} (the target's dimension); got {c_def.shape}.")
    w_def = 0.0 if centre is None else float(defensive)
    whitened = w_def == 0.0
    if whitened:
        # One Gaussian reference: run in its whitened coordinates z (x = m + L z) against N(0, I),
        # which is the same algorithm at a fraction of the cost of a mixture reference in x.
        logref = std_normal_log_prob

        def loglik(z):
            val = logq_z(z) - logref(z)
            return jnp.where(jnp.isfinite(val), val, -jnp.inf)
    else:
        # The reference in x coordinates: the broad Laplace Gaussian, through its inverse factor
        # (one product per particle: a triangular solve batched over particles is several times
        # slower on CPU), and the isotropic defensive component.
        L_inv, log_w = _mixture_constants(L, w_def, scale)

        def logref(x):
            return jnp.logaddexp(std_normal_log_prob(L_inv @ (x - m)) + log_w[0],
                                 std_normal_log_prob((x - c_def) / scale) + log_w[1])

        def loglik(x):
            val = -potential_fn(x) - logref(x)
            return jnp.where(jnp.isfinite(val), val, -jnp.inf)

    # One compiled program does both the adaptive tempering steps and the final settling move.
    # BlackJAX moves the particles under the previous tempered distribution and then weights them
    # towards the new one: the last step's particles follow the next-to-last distribution (broader
    # than the posterior) and only their weights reach the posterior. The settling step resamples
    # by those weights and moves once more under the tempering parameter reached (an increment of
    # 0), so the draws follow it.
    update = {}
    if waste_free is not None:
        from blackjax.smc.waste_free import waste_free_smc

        update = {"update_strategy": waste_free_smc(num_particles, waste_free)}
    elif decorrelation is not None:
        update = {"update_strategy": until_decorrelated(float(decorrelation))}
    moves = None if waste_free is not None else num_mcmc_steps
    kernel = tempered.build_kernel(logref, loglik, blackjax.hmc.build_kernel(), blackjax.hmc.init,
                                   resampling.systematic, **update)
    batched_loglik = jax.vmap(loglik)

    def next_param(state):
        beta = state.tempering_param
        delta = ess_solver(batched_loglik, state.particles, target_ess, 1.0 - beta, solver.dichotomy)
        return beta + jnp.clip(jnp.nan_to_num(delta), 0.0, 1.0 - beta)

    def params_from(particles, step_size):
        return extend_params(
            {"step_size": step_size, "inverse_mass_matrix": inverse_mass(particles),
             "num_integration_steps": num_integration_steps}
        )

    compile_with = jit_once if quick_compile else jit

    @compile_with
    def init(key):
        k0, k1, key = jax.random.split(key, 3)
        z0 = jax.random.normal(k0, (num_particles, d), dtype=m.dtype)
        if whitened:
            x0 = z0
        else:
            from_def = jax.random.uniform(k1, (num_particles, 1)) < w_def
            x0 = jnp.where(from_def, c_def + scale * z0, m + z0 @ L.T)
        step0 = jnp.asarray(1.0 / d**0.25, z0.dtype)
        state = tempered.init(x0)
        # A strongly typed tempering parameter, as the kernel returns it: one compiled `advance`.
        state = state._replace(tempering_param=jnp.zeros((), z0.dtype))
        return _Carry(state, key, step0, jnp.asarray(0.0, z0.dtype), jnp.zeros((), jnp.int32),
                      jnp.full((), _TEMPERING, jnp.int32), jnp.zeros((), jnp.int32))

    @compile_with
    def advance(carry):
        stop = jnp.minimum(carry.steps + block, max_tempering_steps)

        def cond(c):
            return (c.phase == _SETTLE) | ((c.phase == _TEMPERING) & (c.steps < stop))

        def body(c):
            state, key, step_size, log_z, it, phase, made = c
            settling = (phase == _SETTLE) | (state.tempering_param >= 1.0)
            beta = jnp.where(settling, state.tempering_param, next_param(state))
            key, sub = jax.random.split(key)
            state, info = kernel(sub, state, moves, beta, params_from(state.particles, step_size))
            acc = jnp.mean(info.update_info.acceptance_rate)
            step_size = adapt_step_size(step_size, acc)
            n_moves = getattr(info.update_info, "num_moves", jnp.asarray(num_mcmc_steps, jnp.int32))
            return _Carry(state, key, step_size, log_z + info.log_likelihood_increment,
                          it + jnp.where(settling, 0, 1).astype(jnp.int32),
                          jnp.where(settling, _SETTLED, phase).astype(jnp.int32), made + n_moves)

        return jax.lax.while_loop(cond, body, carry)

    carry = init(rng_key)
    while True:
        carry = advance(carry)
        beta, it = float(carry.state.tempering_param), int(carry.steps)
        report(smc_tempering=f"{beta:.3g}", steps=it, particles=num_particles)
        if int(carry.phase) == _SETTLED:
            break
        if it >= max_tempering_steps or deadline.passed():
            carry = advance(carry._replace(phase=jnp.full((), _SETTLE, jnp.int32)))  # settle where the budget stopped
            break
    z, log_z = carry.state.particles, carry.log_z
    it_evals = it + 1  # the settling moves cost one tempering step's evaluations
    x = m + z @ L.T if whitened else z
    if waste_free is None:  # each step: the new weights, then each move's leapfrog steps and its start
        n_evals = num_particles * (int(carry.moves) * (num_integration_steps + 1) + it_evals)
    else:
        n_evals = it_evals * ((num_particles // waste_free) * (waste_free - 1) * (num_integration_steps + 1)
                              + num_particles)
    if beta >= 1.0:
        return _population(x, float(log_z), "smc", start.num_evals + n_evals)
    why = (f"its time budget ({max_seconds:g} s)" if it < max_tempering_steps
           else f"its {max_tempering_steps} tempering steps")
    warnings.warn(
        f"The SMC warm start used up {why} at tempering parameter {beta:.3g} of 1 ({it} steps, "
        f"{deadline.elapsed():.0f} s): the warm start is the tempered particles' whitening, broader than the "
        "posterior, and training has more to learn. If the run ends with a low ESS, warm-start from posterior "
        "draws (e.g. NUTS's) or raise the budget (`PINNSampler(warm_start=numpyro_pinn.SMC(max_seconds=...))`).",
        RuntimeWarning, stacklevel=3)
    ws = _population(x, None, f"smc (stopped at tempering parameter {beta:.3g})", start.num_evals + n_evals)
    return with_log_Z(jax.random.fold_in(rng_key, 1), potential_fn, ws)


@jit_once
def _mixture_constants(L, w_def, scale):
    """``L^-1`` and the two components' log weights with their normalisers, one array (a program
    closing over it can take it as an argument; docs, "Compilation")."""
    d = L.shape[0]
    L_inv = jax.scipy.linalg.solve_triangular(L, jnp.eye(d, dtype=L.dtype), lower=True)
    log_w_lap = jnp.log(1.0 - w_def) - jnp.sum(jnp.log(jnp.abs(jnp.diag(L))))
    return L_inv, jnp.stack([log_w_lap, jnp.log(w_def) - d * jnp.log(jnp.asarray(scale, L.dtype))])


def _check_moves(waste_free: Optional[int], decorrelation: Optional[float], num_particles: int) -> None:
    """Checks the options that choose how the particles are moved (each one names its argument)."""
    if waste_free is not None:
        check_count("waste_free", waste_free, 2)
        if num_particles % waste_free:
            raise ValueError(f"`num_particles` ({num_particles}) must be a multiple of `waste_free` ({waste_free}).")
    if decorrelation is not None:
        check_positive("decorrelation", decorrelation)
        if waste_free is not None:
            raise ValueError("`waste_free` and `decorrelation` are two ways of moving the particles: give one.")


@dataclasses.dataclass(frozen=True)
class SMC:
    """Warm start (default): Laplace, then adaptive tempered SMC from a broad Gaussian around the
    mode mixed with a defensive one around the model's initial point (:func:`smc`).

    Finds the modes within a few ``scale`` Laplace widths and the real tails; costs
    ``num_particles`` times about 50 target gradients per tempering step. Main arguments:
    ``num_particles`` (more for many modes or high dimension), ``max_seconds`` (the wall-clock
    budget; when it or ``max_tempering_steps`` runs out, the run goes on from the tempered
    particles with a warning). Other arguments: ``scale`` (the reference's width in Laplace
    widths), ``waste_free`` (``p``: waste-free moves, chains of ``p - 1`` HMC moves from
    ``num_particles / p`` resampled particles, keeping every state; a fraction of the gradient
    evaluations per tempering step, for posteriors whose target is costly to evaluate; see
    :func:`smc`), ``decorrelation`` (e.g. ``0.5``: a tempering step's moves, at most five, stop
    once nine in ten particles have moved at least this fraction of the distance between
    independent draws; fewer evaluations on unimodal posteriors, a less equilibrated population on
    hierarchical ones; ``None``, the default: always five moves), ``screen`` (the particles of a
    first, cheap SMC run, at least four per dimension: when the Laplace Gaussian, or its
    cross-entropy refit, is a reliable importance sampler of the posterior and the screen's
    particles all lie in its bulk
    (:func:`numpyro_pinn.warmstart.screen_laplace`), the warm start is that Gaussian's weighted
    draws and the full run is skipped; otherwise the full run follows, and the check cost 2,048
    evaluations (and 8,192 per refit tried), plus the screen's run when the weights passed. ``diagnostics["warm_start"]`` says
    which, and why. ``None``: always the full run), ``precision`` (``"auto"``, the default: on a
    float64 target whose evaluation is costly (:data:`~numpyro_pinn.precision.SINGLE_FLOPS`),
    the SMC runs, the screen's and the full one, are traced in float32 and the full run's draws
    are corrected to the float64 target by importance weights
    (:mod:`numpyro_pinn.warmstart.precision`), a float64 run replacing them when those weights are
    uneven; ``"float32"``: so on any target that traces in float32; ``"float64"``: never. The
    Laplace fit and its importance weights stay in the target's precision)."""

    num_particles: int = 2048
    scale: float = 10.0
    max_seconds: Optional[float] = 600.0
    max_tempering_steps: int = 500
    waste_free: Optional[int] = None
    decorrelation: Optional[float] = None
    screen: Optional[int] = 256
    precision: str = "auto"

    def __post_init__(self):
        if self.precision not in PRECISIONS:
            raise ValueError(f"`precision` must be one of {PRECISIONS}; got {self.precision!r}.")
        check_count("num_particles", self.num_particles, 2)
        if self.screen is not None:
            check_count("screen", self.screen, 2)
        check_count("max_tempering_steps", self.max_tempering_steps, 1)
        check_positive("scale", self.scale)
        Deadline.after(self.max_seconds)  # checks it
        _check_moves(self.waste_free, self.decorrelation, self.num_particles)

    def build(self, rng_key, potential_fn: Callable, x0: jax.Array, start: WarmStart) -> WarmStart:
        """The warm start from the Laplace fit ``start`` and the model's initial point ``x0``.

        When ``start`` is not at a mode (:func:`is_mode`), the reference is ``N(x0, scale^2 I)``
        alone, and the result's ``method`` says so."""
        opts = dict(num_particles=self.num_particles, scale=self.scale, max_seconds=self.max_seconds,
                    max_tempering_steps=self.max_tempering_steps, waste_free=self.waste_free,
                    decorrelation=self.decorrelation)
        cost = estimated_flops(jax.value_and_grad(potential_fn), x0)
        single = runs_in_float32(self.precision, potential_fn, x0, cost)
        run = partial(_run, potential_fn, single)
        if not is_mode(start):
            ws = run(rng_key, around_initial_point(x0, start), **opts)
            return ws._replace(method=f"{ws.method}, from the initial point (no mode found)")
        clock = Deadline.after(self.max_seconds)
        try:
            return self._from_mode(rng_key, potential_fn, x0, start, run, cost, single, opts)
        except SMCFailed as failed:
            left = None if self.max_seconds is None else max(self.max_seconds - clock.elapsed(), 0.0)
            ws = run(rng_key, around_initial_point(x0, start), **{**opts, "max_seconds": left})
            return ws._replace(method=f"{ws.method}, from the initial point (the run from the Laplace fit "
                                      f"failed: {failed.reason})", num_evals=ws.num_evals + failed.num_evals)

    def _from_mode(self, rng_key, potential_fn, x0, start, run, cost, single, opts) -> WarmStart:
        """:meth:`build` with the reference on the Laplace fit ``start``: the screen, then the full run."""
        n = None if self.screen is None else screen_size(self.screen, start.mean.shape[0])
        if n is None or n >= self.num_particles:
            return run(rng_key, start, centre=x0, **opts)
        clock = Deadline.after(self.max_seconds)
        ran = []

        def run_screen():
            quick = weighted_flops(cost) <= CHEAP_FLOPS  # as cheap_to_run decides
            args = (jax.random.fold_in(rng_key, 1), potential_fn, start)
            kwargs = {**opts, "num_particles": n, "waste_free": None, "quick_compile": quick, "centre": x0}
            with warnings.catch_warnings():
                # A screen that runs out of time is not the result: the full run says so if it does too.
                warnings.simplefilter("ignore", RuntimeWarning)
                screened = _float32_run(smc, *args, **kwargs) if single else None
                ran.append(smc(*args, **kwargs) if screened is None else screened)
            return None if "stopped at" in ran[0].method else ran[0].draws

        found = screen_laplace(jax.random.fold_in(rng_key, 2), potential_fn, start, run_screen, self.num_particles)
        spent = found.num_evals + (ran[0].num_evals - start.num_evals if ran else 0)
        if found.warm_start is not None:
            return found.warm_start._replace(num_evals=start.num_evals + spent)
        left = None if self.max_seconds is None else max(self.max_seconds - clock.elapsed(), 0.0)
        ws = run(rng_key, start, centre=x0, **{**opts, "max_seconds": left})
        return ws._replace(method=f"{ws.method} (screen: {found.reason})",
                           num_evals=ws.num_evals + spent)


def _float32_run(fun: Callable, *args, **kwargs):
    """``fun(*args, **kwargs)`` traced in float32 (:func:`~numpyro_pinn.precision.in_float32`),
    or ``None`` when that raised: float32 can break what float64 does not (a Cholesky factor of the
    particles' covariance, of a nearly singular kernel matrix)."""
    try:
        return in_float32(fun, *args, **kwargs)
    except Exception:  # noqa: BLE001 - the caller runs it in float64
        return None


def _run(potential_fn: Callable, single: bool, rng_key, start: WarmStart, **opts) -> WarmStart:
    """:func:`smc`, in float32 when ``single`` (:mod:`~numpyro_pinn.warmstart.precision`): its draws
    corrected to the target's precision, or, when the correction's weights are too uneven or the
    float32 run failed, a run in that precision with the time left (``method`` says which)."""
    if not single:
        return smc(rng_key, potential_fn, start, **opts)
    clock = Deadline.after(opts.get("max_seconds"))
    ws32 = _float32_run(smc, rng_key, potential_fn, start, **opts)
    if ws32 is None:
        why, spent = "its float32 run failed", 0
    else:
        fixed = to_float64(jax.random.fold_in(rng_key, 3), potential_fn, ws32)
        if fixed.warm_start is not None:
            ws = fixed.warm_start
            return ws._replace(method=f"{ws.method}, in float32 (correction ESS {fixed.ess:.2f})",
                               num_evals=ws.num_evals + fixed.num_evals)
        why = f"its float32 run discarded: correction ESS {fixed.ess:.2f}"
        spent = ws32.num_evals - start.num_evals + fixed.num_evals
    if opts.get("max_seconds") is not None:
        opts = {**opts, "max_seconds": max(opts["max_seconds"] - clock.elapsed(), 0.0)}
    ws = smc(rng_key, potential_fn, start, **opts)
    return ws._replace(method=f"{ws.method} ({why})", num_evals=ws.num_evals + spent)
