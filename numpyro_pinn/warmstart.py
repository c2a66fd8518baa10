"""Warm starts: where the posterior is and how big it is.

The PINN works in whitened coordinates ``y = L^{-1}(x - m)`` with the prior
``N(0, I)``. A warm start supplies ``m``, ``L``, a rough ``log Z`` (so the
learned ``log z`` is a small correction) and approximate posterior draws used
to place collocation points.

Default ("smc"): damped Newton to a mode, a Laplace fit there, then BlackJAX's
adaptive tempered SMC from a broad Gaussian ``N(mode, (scale * L_laplace)^2)``
to the posterior. The SMC particles see every mode within a few ``scale``
Laplace widths and the real tails (a Laplace fit alone shrinks onto one mode
and underestimates heavy tails, e.g. ``log tau`` in eight schools).
"""
from __future__ import annotations

import warnings
import dataclasses
from typing import Callable, NamedTuple, Optional

import jax
import jax.numpy as jnp
import numpy as np

from numpyro_pinn.gaussian import gaussian_log_pdf, probe_directions, psd_inverse_chol, std_normal_log_prob
from numpyro_pinn.stages import Deadline, report
from numpyro_pinn.target import float_dtype
from numpyro_pinn.validation import check_count, check_positive

__all__ = ["WarmStart", "Laplace", "SMC", "PT", "find_mode", "laplace", "is_mode", "around_initial_point", "smc",
           "pt", "from_draws", "with_log_Z", "reference", "flat_direction"]


class WarmStart(NamedTuple):
    """Affine whitening and posterior information from a warm start.

    Attributes
    ----------
    mean
        Whitening centre ``m``, shape ``(d,)``.
    chol
        Lower-triangular scale ``L``, shape ``(d, d)``; ``x = m + L y``.
    log_Z
        Estimate of ``log ∫ exp(-U(x)) dx`` used to centre the target.
    draws
        Approximate posterior draws ``(n, d)`` in ``x`` space (for collocation and the domain).
    method
        Which warm start produced it.
    num_evals
        Number of points at which the potential or its gradient was evaluated.
    mode_gap
        For a Laplace fit, the Newton decrement ``g^T Sigma g`` at ``mean`` (twice the drop in the
        potential a Newton step still predicts): about 0 at a mode, large where the density keeps
        rising, as along the neck of a hierarchical model whose density is unbounded (see
        :func:`is_mode`). 0 for other warm starts.
    """

    mean: jax.Array
    chol: jax.Array
    log_Z: jax.Array
    draws: jax.Array
    method: str
    num_evals: int = 0
    mode_gap: float = 0.0


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


def laplace(potential_fn: Callable, x0: jax.Array, max_iter: int = 200) -> WarmStart:
    """Laplace approximation at the mode found by :func:`find_mode` from ``x0``."""
    d = x0.shape[0]

    @jax.jit
    def run(x0):
        mode, h, it = find_mode(potential_fn, x0, max_iter)
        chol, logdet_h = psd_inverse_chol(h)
        log_z = -potential_fn(mode) + 0.5 * d * jnp.log(2 * jnp.pi) - 0.5 * logdet_h
        g = chol.T @ jax.grad(potential_fn)(mode)
        return mode, chol, log_z, it, jnp.sum(g * g)

    mode, chol, log_z, it, gap = run(x0)
    it, gap = int(it), float(gap)
    gap = gap if np.isfinite(gap) else float("inf")
    return WarmStart(mode, chol, log_z, mode[None, :], "laplace", num_evals=(2 + d) * (it + 2), mode_gap=gap)


#: Largest Newton decrement (:attr:`WarmStart.mode_gap`) at which a Laplace fit counts as a mode.
MODE_GAP_MAX = 0.01


def is_mode(start: WarmStart) -> bool:
    """Whether the Laplace fit ``start`` sits at a mode: a Newton step from it would lower the
    potential by less than ``MODE_GAP_MAX / 2`` nats (at a mode the decrement is at the level of
    rounding error).

    Hierarchical models with a heavy-tailed scale hyperprior (NumPyro's baseball example:
    ``kappa ~ Pareto(1, 1.5)``, ``phi ~ Beta(m kappa, (1 - m) kappa)``) have a density that rises
    without bound down the funnel's neck while its mass there vanishes; Newton then stops at the
    edge of floating point (``log kappa`` near 35 in float64) with the gradient still large, and a
    Gaussian there describes nothing of the posterior."""
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
    u = jax.jit(jax.vmap(lambda v: jax.vmap(lambda r: potential_fn(mode + r * v))(radii)))(dirs)
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


def from_draws(draws: jax.Array, log_Z: Optional[float] = None, method: str = "draws") -> WarmStart:
    """Whitening from posterior draws ``(n, d)`` (their mean and covariance).

    ``log_Z`` defaults to 0; :func:`with_log_Z` estimates it from the target (as
    :func:`numpyro_pinn.make_warm_start` does for draws).
    """
    draws = jnp.asarray(draws, dtype=float_dtype())
    if draws.ndim != 2 or draws.shape[0] < 2:
        raise ValueError(f"warm-start draws must have shape (n >= 2, d); got {draws.shape}.")
    mean = jnp.mean(draws, axis=0)
    cov = jnp.atleast_2d(jnp.cov(draws, rowvar=False))
    d = draws.shape[1]
    cov = cov + 1e-9 * jnp.trace(cov) / d * jnp.eye(d)
    chol = jnp.linalg.cholesky(cov)
    if not bool(jnp.all(jnp.isfinite(chol))):
        raise ValueError("warm-start draws have a singular covariance; pass more (or more spread) draws.")
    lz = jnp.asarray(0.0 if log_Z is None else log_Z, dtype=float_dtype())
    return WarmStart(mean, chol, lz, draws, method)


def with_log_Z(rng_key: jax.Array, potential_fn: Callable, ws: WarmStart, num: int = 2048) -> WarmStart:
    """``ws`` with ``log_Z`` estimated by importance sampling from its own Gaussian
    ``N(mean, chol chol^T)`` (``num`` target evaluations, counted in ``num_evals``).

    The target is centred by ``log_Z`` before training, so that the learned ``log z`` is a small
    correction: draws alone (e.g. from NUTS) carry no evidence, and a normaliser of -8 (or -1000 on
    real data) left to the optimiser is learnt far too slowly, while the networks absorb it.
    """
    d = ws.mean.shape[0]
    eps = jax.random.normal(rng_key, (num, d), dtype=ws.chol.dtype)
    x = ws.mean + eps @ ws.chol.T
    log_g = std_normal_log_prob(eps) - jnp.sum(jnp.log(jnp.abs(jnp.diag(ws.chol))))
    lw = -jax.vmap(potential_fn)(x) - log_g
    lw = jnp.where(jnp.isfinite(lw), lw, -jnp.inf)
    log_z = jax.scipy.special.logsumexp(lw) - jnp.log(num)
    if not bool(jnp.isfinite(log_z)):
        log_z = jnp.zeros((), ws.chol.dtype)
    return ws._replace(log_Z=log_z, num_evals=ws.num_evals + num)


def reference(potential_fn: Callable, start: WarmStart, scale: float = 10.0, floor: float = 0.0):
    """The broad Gaussian reference ``N(m, scale^2 Sigma + floor^2 I)`` around a Laplace fit.

    Returns ``(m, L, logq_z)``: the reference is ``N(0, I)`` in ``z`` with ``x = m + L z``, and
    ``logq_z(z) = -U(m + L z) + log|det L|`` is the target density in ``z``.
    """
    d = start.mean.shape[0]
    m = start.mean
    L = jnp.linalg.cholesky(scale**2 * (start.chol @ start.chol.T) + floor**2 * jnp.eye(d))
    logdet_l = jnp.sum(jnp.log(jnp.diag(L)))

    def logq_z(z):
        return -potential_fn(m + L @ z) + logdet_l

    return m, L, logq_z


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
) -> WarmStart:
    """Adaptive tempered SMC (BlackJAX) from a broad Gaussian reference to the target.

    The reference is ``N(start.mean, scale^2 Sigma + floor^2 I)`` with ``Sigma = L L^T`` the
    Laplace covariance: ``scale`` widens it along the posterior's own axes (other modes up to a few
    ``scale`` Laplace widths away are found). When ``centre`` is given (the model's initial point),
    a defensive component ``N(centre, scale^2 I)`` of weight ``defensive`` joins it (defensive
    importance sampling, Hesterberg 1995): a Laplace fit can be useless, as on Neal's funnel, whose
    only mode lies deep in the neck (``v = -40.5`` in d = 10) with widths of 1e-9 across it, so that
    a reference built on it alone never reaches the bulk (SMC's log Z was off by 56 there); the
    defensive particles do, and where the Laplace fit is good they are resampled away at the first
    tempering step.

    ``floor`` (in unconstrained units, default 0) widens the Laplace component isotropically, for a
    very sharp mode with a distant twin; it is off by default because on posteriors far narrower
    than 1 (sblrc-blr: sds of 0.001) a floor of 1 made the reference 1000x too wide and the SMC
    particles did not re-equilibrate (log Z off by 8, covariance 1.7x too wide). The inner kernel
    is HMC whose inverse mass matrix is the current particle covariance and whose step size is
    adapted towards 0.75 acceptance; it runs in ``x`` coordinates against the two-component
    reference, or, without ``centre``, in the whitened coordinates of the one Gaussian against
    ``N(0, I)`` (the same algorithm, without evaluating a mixture reference at every step).

    The tempering steps run in jitted blocks of ``block``; between blocks Ctrl-C is seen and the
    wall-clock budget ``max_seconds`` (``None``: none) is checked. When the budget or
    ``max_tempering_steps`` runs out before the posterior is reached, a ``RuntimeWarning`` says so
    and the warm start is the tempered particles' whitening (broader than the posterior, which the
    transport can still use) with ``log Z`` by importance sampling (:func:`with_log_Z`); its
    ``method`` says where SMC stopped.

    Returns
    -------
    WarmStart
        Whitening from the final particles' mean and covariance, ``log_Z`` from SMC.
    """
    deadline = Deadline.after(max_seconds)
    import blackjax
    from blackjax.smc import adaptive_tempered, resampling, tempered
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
        L_def = scale * jnp.eye(d, dtype=m.dtype)
        # The reference in x coordinates: the broad Laplace Gaussian and the defensive component.
        ref_means, ref_chols = jnp.stack([m, c_def]), jnp.stack([L, L_def])
        ref_log_w = jnp.log(jnp.asarray([1.0 - w_def, w_def], m.dtype))

        def logref(x):
            return jax.scipy.special.logsumexp(gaussian_log_pdf(ref_means, ref_chols, x[None])[0] + ref_log_w)

        def loglik(x):
            val = -potential_fn(x) - logref(x)
            return jnp.where(jnp.isfinite(val), val, -jnp.inf)

    kernel = adaptive_tempered.build_kernel(
        logref,
        loglik,
        blackjax.hmc.build_kernel(),
        blackjax.hmc.init,
        resampling.systematic,
        target_ess,
    )

    def params_from(particles, step_size):
        cov = jnp.atleast_2d(jnp.cov(particles, rowvar=False))
        cov = cov + 1e-10 * jnp.trace(cov) / d * jnp.eye(d)
        return extend_params(
            {"step_size": step_size, "inverse_mass_matrix": cov, "num_integration_steps": num_integration_steps}
        )

    @jax.jit
    def init(key):
        k0, k1, key = jax.random.split(key, 3)
        z0 = jax.random.normal(k0, (num_particles, d), dtype=m.dtype)
        if whitened:
            x0 = z0
        else:
            from_def = jax.random.uniform(k1, (num_particles, 1)) < w_def
            x0 = jnp.where(from_def, c_def + z0 @ L_def.T, m + z0 @ L.T)
        step0 = jnp.asarray(1.0 / d**0.25, z0.dtype)
        return adaptive_tempered.init(x0), key, step0, jnp.asarray(0.0, z0.dtype), jnp.asarray(0)

    @jax.jit
    def advance(carry):
        stop = jnp.minimum(carry[-1] + block, max_tempering_steps)

        def cond(c):
            state, _, _, _, it = c
            return (state.tempering_param < 1.0) & (it < stop)

        def body(c):
            state, key, step_size, log_z, it = c
            key, sub = jax.random.split(key)
            state, info = kernel(sub, state, num_mcmc_steps, params_from(state.particles, step_size))
            acc = jnp.mean(info.update_info.acceptance_rate)
            step_size = jnp.clip(step_size * jnp.exp(2.0 * (acc - 0.75)), 1e-4, 5.0)
            return state, key, step_size, log_z + info.log_likelihood_increment, it + 1

        return jax.lax.while_loop(cond, body, carry)

    # BlackJAX moves the particles under the previous tempered distribution and then weights them
    # towards the new one: the last step's particles follow the next-to-last distribution (broader
    # than the posterior) and only their weights reach the posterior. Resample by those weights
    # and move once more under the tempering parameter reached, so the draws follow it.
    settle_kernel = tempered.build_kernel(logref, loglik, blackjax.hmc.build_kernel(), blackjax.hmc.init,
                                          resampling.systematic)

    @jax.jit
    def settle(carry):
        state, key, step_size, _, _ = carry
        settled, _ = settle_kernel(jax.random.fold_in(key, 1), state, num_mcmc_steps, state.tempering_param,
                                   params_from(state.particles, step_size))
        return settled.particles

    carry = init(rng_key)
    while True:
        carry = advance(carry)
        beta, it = float(carry[0].tempering_param), int(carry[-1])
        report(smc_tempering=f"{beta:.3g}", steps=it)
        if beta >= 1.0 or it >= max_tempering_steps or deadline.passed():
            break
    z, log_z = settle(carry), carry[3]
    it_evals = it + 1  # the settling moves cost one tempering step's evaluations
    x = m + z @ L.T if whitened else z
    n_evals = it_evals * num_particles * (num_mcmc_steps * (num_integration_steps + 1) + 1)
    if beta >= 1.0:
        return from_draws(x, log_Z=float(log_z), method="smc")._replace(num_evals=start.num_evals + n_evals)
    why = (f"its time budget ({max_seconds:g} s)" if it < max_tempering_steps
           else f"its {max_tempering_steps} tempering steps")
    warnings.warn(
        f"The SMC warm start used up {why} at tempering parameter {beta:.3g} of 1 ({it} steps, "
        f"{deadline.elapsed():.0f} s): the warm start is the tempered particles' whitening, broader than the "
        "posterior, and training has more to learn. If the run ends with a low ESS, warm-start from posterior "
        "draws (e.g. NUTS's) or raise the budget (`PINNSampler(warm_start=numpyro_pinn.SMC(max_seconds=...))`).",
        RuntimeWarning, stacklevel=3)
    ws = from_draws(x, method=f"smc (stopped at tempering parameter {beta:.3g})")
    ws = with_log_Z(jax.random.fold_in(rng_key, 1), potential_fn, ws)
    return ws._replace(num_evals=start.num_evals + n_evals + ws.num_evals)


def pt(
    rng_key: jax.Array,
    potential_fn: Callable,
    start: WarmStart,
    num_temperatures: int = 16,
    num_warmup: int = 500,
    num_samples: int = 1000,
    kernel: str = "hmc",
    scale: float = 10.0,
    floor: float = 0.0,
) -> WarmStart:
    """Short non-reversible parallel-tempering run (:mod:`numpyro_pinn.tempering`) from the same
    broad reference as :func:`smc`; whitening from its target-temperature draws, ``log_Z`` by
    stepping stones."""
    from numpyro_pinn.tempering import evals_per_step, run_pt

    d = start.mean.shape[0]
    m, L, logq_z = reference(potential_fn, start, scale, floor)
    run = jax.jit(lambda k: run_pt(k, logq_z, d, num_temperatures, kernel, num_warmup, num_samples)[0])
    res = run(rng_key)
    draws = m + res.draws @ L.T
    ws = from_draws(draws, log_Z=float(res.log_Z), method="pt")
    n_evals = (num_warmup + num_samples) * evals_per_step(kernel, num_temperatures)
    return ws._replace(num_evals=start.num_evals + n_evals)


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


@dataclasses.dataclass(frozen=True)
class SMC:
    """Warm start (default): Laplace, then adaptive tempered SMC from a broad Gaussian around the
    mode mixed with a defensive one around the model's initial point (:func:`smc`).

    Finds the modes within a few ``scale`` Laplace widths and the real tails; costs
    ``num_particles`` times about 50 target gradients per tempering step. Main arguments:
    ``num_particles`` (more for many modes or high dimension), ``max_seconds`` (the wall-clock
    budget; when it or ``max_tempering_steps`` runs out, the run goes on from the tempered
    particles with a warning). Other arguments: ``scale`` (the reference's width in Laplace
    widths)."""

    num_particles: int = 2048
    scale: float = 10.0
    max_seconds: Optional[float] = 600.0
    max_tempering_steps: int = 500

    def __post_init__(self):
        check_count("num_particles", self.num_particles, 2)
        check_count("max_tempering_steps", self.max_tempering_steps, 1)
        check_positive("scale", self.scale)
        Deadline.after(self.max_seconds)  # checks it

    def build(self, rng_key, potential_fn: Callable, x0: jax.Array, start: WarmStart) -> WarmStart:
        """The warm start from the Laplace fit ``start`` and the model's initial point ``x0``.

        When ``start`` is not at a mode (:func:`is_mode`), the reference is ``N(x0, scale^2 I)``
        alone, and the result's ``method`` says so."""
        opts = dict(num_particles=self.num_particles, scale=self.scale, max_seconds=self.max_seconds,
                    max_tempering_steps=self.max_tempering_steps)
        if is_mode(start):
            return smc(rng_key, potential_fn, start, centre=x0, **opts)
        ws = smc(rng_key, potential_fn, around_initial_point(x0, start), **opts)
        return ws._replace(method=f"{ws.method}, from the initial point (no mode found)")


@dataclasses.dataclass(frozen=True)
class PT:
    """Warm start: Laplace, then a short non-reversible parallel-tempering run from the same broad
    reference as :class:`SMC` (:func:`pt`); ``log Z`` by stepping stones. An alternative to SMC
    for multimodal posteriors."""

    num_temperatures: int = 16
    num_warmup: int = 500
    num_samples: int = 1000
    scale: float = 10.0

    def __post_init__(self):
        check_count("num_temperatures", self.num_temperatures, 2)
        check_count("num_warmup", self.num_warmup, 0)
        check_count("num_samples", self.num_samples, 1)
        check_positive("scale", self.scale)

    def build(self, rng_key, potential_fn: Callable, x0: jax.Array, start: WarmStart) -> WarmStart:
        """The warm start from the Laplace fit ``start`` (from ``N(x0, scale^2 I)`` when ``start`` is
        not at a mode, :func:`is_mode`)."""
        ref = start if is_mode(start) else around_initial_point(x0, start)
        ws = pt(rng_key, potential_fn, ref, num_temperatures=self.num_temperatures, num_warmup=self.num_warmup,
                num_samples=self.num_samples, scale=self.scale)
        return ws if ref is start else ws._replace(method=f"{ws.method}, from the initial point (no mode found)")
