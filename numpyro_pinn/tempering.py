"""Non-reversible parallel tempering (replica exchange) on BlackJAX kernels.

BlackJAX ships no parallel tempering; this builds it the way its maintainers sketch it:
``jax.vmap`` of a BlackJAX kernel's step over replicas with per-replica parameters (inverse
temperature, step size), plus a separate swap kernel. Swaps follow the deterministic even-odd
(DEO) scheme of Syed, Bouchard-Côté, Deligiannidis & Doucet (2021), "Non-reversible parallel
tempering: a scalable highly parallel MCMC scheme", and the ladder is adapted during warm-up
towards equal swap rejection rates (their Algorithm 4: equal spacing of the cumulative
communication barrier).

The tempered family interpolates between a Gaussian reference and the target,

    log pi_beta(z) = log ref(z) + beta * (log q(z) - log ref(z)),   beta in [0, 1],

in coordinates where the reference is ``N(0, I)`` (built from a Laplace fit as in
:func:`numpyro_pinn.warmstart.smc`), so every ``pi_beta`` is proper even with flat priors and
the hottest replica (``beta = 0``) is refreshed with exact independent reference draws.

The pure core is :func:`init` / :func:`build_kernel` over :class:`PTState`; :func:`run_pt`
adds warm-up (step sizes and ladder) and sampling; :class:`ParallelTempering` in
:mod:`numpyro_pinn.pt_sampler` is the NumPyro-facing shell.
"""
from __future__ import annotations

from typing import Callable, NamedTuple, Optional

import jax
import jax.numpy as jnp

from numpyro_pinn.gaussian import std_normal_log_prob

__all__ = ["PTState", "PTInfo", "PTResult", "init", "build_kernel", "adapt_ladder", "run_pt",
           "stepping_stones", "evals_per_step", "KERNELS"]

# Target acceptance rates for step-size adaptation.
KERNELS = {"hmc": 0.65, "mala": 0.57, "rmh": 0.234}


class PTState(NamedTuple):
    """State of one parallel-tempering chain; slot ``i`` holds inverse temperature ``betas[i]``.

    Attributes
    ----------
    position
        ``(R, d)`` replica positions by temperature slot (slot 0: ``beta = 1``, the target).
    ell
        ``(R,)`` ``log q - log ref`` at each position.
    betas
        ``(R,)`` decreasing inverse temperatures, ``betas[0] = 1``, ``betas[-1] = 0``.
    step_size
        ``(R,)`` per-temperature step sizes.
    label
        ``(R,)`` which replica sits in each slot (to follow replicas through swaps).
    last_end
        ``(R,)`` by replica: last ladder end visited (0 target, 1 reference, -1 none yet).
    round_trips
        Completed reference-to-target round trips.
    step
        Step counter (its parity picks the even or odd swap pairs).
    """

    position: jax.Array
    ell: jax.Array
    betas: jax.Array
    step_size: jax.Array
    label: jax.Array
    last_end: jax.Array
    round_trips: jax.Array
    step: jax.Array


class PTInfo(NamedTuple):
    """Per step: MCMC acceptance by slot, swap acceptance probability by adjacent pair
    (all pairs, Rao-Blackwellised, whether or not attempted), ``ell`` by slot after the step."""

    accept: jax.Array
    swap_prob: jax.Array
    ell: jax.Array


log_ref = std_normal_log_prob  # the reference: N(0, I) in the whitened coordinates


def init(rng_key: jax.Array, logq: Callable, betas: jax.Array, step_size: float, dim: int) -> PTState:
    """Start every replica from an independent reference draw."""
    r = betas.shape[0]
    z = jax.random.normal(rng_key, (r, dim))
    ell = jax.vmap(lambda x: logq(x) - log_ref(x))(z)
    return PTState(z, ell, betas, jnp.full((r,), step_size), jnp.arange(r), -jnp.ones(r, jnp.int32),
                   jnp.zeros((), jnp.int32), jnp.zeros((), jnp.int32))


def evals_per_step(kernel: str, num_temperatures: int, num_integration_steps: int = 8) -> int:
    """Target evaluations (points where log q or its gradient is computed) per PT step, all replicas:
    the move (HMC: ``L`` leapfrog gradients + 1 at re-initialisation; MALA / RMH: 2) plus one
    evaluation of ``log q`` for the swaps."""
    move = {"hmc": num_integration_steps + 1, "mala": 2, "rmh": 2}[kernel]
    return (move + 1) * num_temperatures


def _mcmc(kernel_name: str, num_integration_steps: int):
    import blackjax
    from blackjax.mcmc import random_walk

    if kernel_name == "hmc":
        k = blackjax.hmc.build_kernel()

        def move(key, x, logdens, step):
            st = blackjax.hmc.init(x, logdens)
            st, info = k(key, st, logdens, step, jnp.ones(x.shape[0]), num_integration_steps)
            return st.position, info.acceptance_rate

        evals = num_integration_steps + 1
    elif kernel_name == "mala":
        k = blackjax.mala.build_kernel()

        def move(key, x, logdens, step):
            st = blackjax.mala.init(x, logdens)
            st, info = k(key, st, logdens, step)
            return st.position, info.acceptance_rate

        evals = 2
    elif kernel_name == "rmh":
        k = random_walk.build_additive_step()

        def move(key, x, logdens, step):
            st = random_walk.init(x, logdens)
            st, info = k(key, st, logdens, random_walk.normal(step * jnp.ones(x.shape[0])))
            return st.position, info.acceptance_rate

        evals = 2
    else:
        raise ValueError(f"kernel must be one of {sorted(KERNELS)}; got {kernel_name!r}.")
    return move, evals


def build_kernel(logq: Callable, kernel: str = "hmc", num_integration_steps: int = 8,
                 adapt_step_size: bool = False) -> tuple[Callable, int]:
    """One PT step: a BlackJAX move at every temperature (vmapped), then DEO swaps.

    Returns
    -------
    step, evals_per_replica
        ``step(rng_key, state) -> (state, info)`` and the number of target evaluations
        (log density or gradient points) per replica per step.
    """
    move, evals = _mcmc(kernel, num_integration_steps)
    target_acc = KERNELS[kernel]

    def tempered(beta):
        return lambda x: log_ref(x) + beta * (logq(x) - log_ref(x))

    def step(rng_key, state: PTState):
        r, d = state.position.shape
        k_move, k_ref, k_swap = jax.random.split(rng_key, 3)
        keys = jax.random.split(k_move, r)
        pos, acc = jax.vmap(lambda k, x, b, s: move(k, x, tempered(b), s))(keys, state.position, state.betas,
                                                                             state.step_size)
        # The reference (beta = 0) is sampled exactly.
        pos = pos.at[-1].set(jnp.where(state.betas[-1] == 0.0, jax.random.normal(k_ref, (d,)), pos[-1]))
        ell = jax.vmap(lambda x: logq(x) - log_ref(x))(pos)
        ell = jnp.where(jnp.isfinite(ell), ell, -jnp.inf)
        step_size = state.step_size
        if adapt_step_size:
            step_size = step_size * jnp.exp(0.1 * (acc - target_acc))
        # Deterministic even-odd swaps between slots i and i + 1.
        log_alpha = (state.betas[:-1] - state.betas[1:]) * (ell[1:] - ell[:-1])
        swap_prob = jnp.exp(jnp.minimum(0.0, jnp.nan_to_num(log_alpha, nan=-jnp.inf)))
        pair = jnp.arange(r - 1)
        attempt = (pair % 2) == (state.step % 2)
        do = attempt & (jax.random.uniform(k_swap, (r - 1,)) < swap_prob)
        up = jnp.concatenate([do, jnp.array([False])])
        down = jnp.concatenate([jnp.array([False]), do])
        perm = jnp.arange(r) + up.astype(jnp.int32) - down.astype(jnp.int32)
        pos, ell, label = pos[perm], ell[perm], state.label[perm]
        # Round trips: a replica reaching the target slot after visiting the reference end.
        at_target, at_ref = label[0], label[-1]
        trips = state.round_trips + (state.last_end[at_target] == 1).astype(jnp.int32)
        last_end = state.last_end.at[at_target].set(0).at[at_ref].set(1)
        new = PTState(pos, ell, state.betas, step_size, label, last_end, trips, state.step + 1)
        return new, PTInfo(acc, swap_prob, ell)

    per_replica = evals + 1  # the move, plus one evaluation of ell for the swaps
    return step, per_replica


def adapt_ladder(betas: jax.Array, rejection: jax.Array) -> jax.Array:
    """New ladder with equal swap rejection between neighbours (Syed et al. 2021, Alg. 4).

    ``rejection[i]`` is the mean rejection rate between ``betas[i]`` and ``betas[i + 1]``; the
    cumulative barrier ``Lambda`` is interpolated linearly in beta and inverted at equal spacing.
    """
    b = betas[::-1]  # increasing from 0 to 1
    rej = jnp.clip(rejection[::-1], 1e-6, None)
    lam = jnp.concatenate([jnp.zeros(1), jnp.cumsum(rej)])
    targets = jnp.linspace(0.0, lam[-1], betas.shape[0])
    new = jnp.interp(targets, lam, b)
    new = new.at[0].set(0.0).at[-1].set(1.0)
    return new[::-1]


def stepping_stones(betas: jax.Array, ell: jax.Array) -> jax.Array:
    """``log Z`` (reference normalised) by stepping stones from ``ell`` draws ``(T, R)``.

    ``log Z = sum_k log E_{beta_{k+1}}[exp((beta_k - beta_{k+1}) ell)]``.
    """
    db = betas[:-1] - betas[1:]
    terms = db[None, :] * ell[:, 1:]
    return jnp.sum(jax.scipy.special.logsumexp(terms, axis=0) - jnp.log(ell.shape[0]))


class PTResult(NamedTuple):
    """Draws of the target slot ``(num_samples, d)`` (whitened), PT diagnostics, log Z."""

    draws: jax.Array
    betas: jax.Array
    swap_rate: jax.Array
    accept: jax.Array
    round_trips: jax.Array
    log_Z: jax.Array
    ell: jax.Array


def run_pt(rng_key: jax.Array, logq: Callable, dim: int, num_temperatures: int = 16, kernel: str = "hmc",
           num_warmup: int = 1000, num_samples: int = 1000, num_integration_steps: int = 8,
           thinning: int = 1, progress: Optional[Callable] = None, progress_every: int = 50):
    """Warm-up (step sizes every step; ladder after rounds of doubling length), then sampling.

    ``logq`` is the target log density in reference-whitened coordinates. Returns
    ``(PTResult, evals_per_step)`` where ``evals_per_step`` counts target evaluations of all replicas.
    ``progress``, a host function ``progress(step, mean_swap_rate, round_trips)``, is called through
    ``jax.debug.callback`` every ``progress_every`` PT steps (``step`` counts warm-up and sampling).
    """
    if num_temperatures < 2:
        raise ValueError(f"num_temperatures must be >= 2; got {num_temperatures}.")
    if kernel not in KERNELS:
        raise ValueError(f"kernel must be one of {sorted(KERNELS)}; got {kernel!r}.")
    r = num_temperatures
    betas0 = jnp.concatenate([jnp.geomspace(1.0, 1e-3, r - 1), jnp.zeros(1)])
    step_warm, per_rep = build_kernel(logq, kernel, num_integration_steps, adapt_step_size=True)
    step_samp, _ = build_kernel(logq, kernel, num_integration_steps, adapt_step_size=False)
    step0 = {"hmc": 0.5, "mala": 0.5, "rmh": 1.0}[kernel] / dim**0.25

    # Rounds of doubling length; the ladder is re-fit after each from its swap rejection rates.
    rounds, n = [], 32
    while sum(rounds) + n <= num_warmup:
        rounds.append(n)
        n *= 2
    if sum(rounds) < num_warmup:
        rounds.append(num_warmup - sum(rounds))

    def report(step, st, swap_prob):
        if progress is None:
            return
        jax.lax.cond(step % progress_every == 0,
                     lambda: jax.debug.callback(progress, step, jnp.mean(swap_prob), st.round_trips),
                     lambda: None)

    def scan_steps(step_fn, n_steps, first):
        def body(st, inp):
            k, i = inp
            st, info = step_fn(k, st)
            report(first + i, st, info.swap_prob)
            return st, info

        return lambda key, st: jax.lax.scan(body, st, (jax.random.split(key, n_steps), jnp.arange(n_steps)))

    k_init, key = jax.random.split(rng_key)
    state = init(k_init, logq, betas0, step0, dim)
    done = 0
    for n_round in rounds:
        key, sub = jax.random.split(key)
        state, info = scan_steps(step_warm, n_round, done)(sub, state)
        done += n_round
        betas = adapt_ladder(state.betas, 1.0 - jnp.mean(info.swap_prob, axis=0))
        state = state._replace(betas=betas, round_trips=jnp.zeros((), jnp.int32),
                               last_end=-jnp.ones(r, jnp.int32))
    key, sub = jax.random.split(key)

    def body(st, inp):
        k, i = inp

        def inner(s, kk):
            return step_samp(kk, s)

        st, info = jax.lax.scan(inner, st, jax.random.split(k, thinning))
        last = jax.tree_util.tree_map(lambda a: a[-1], info)
        report(num_warmup + (i + 1) * thinning - 1, st, last.swap_prob)
        return st, (st.position[0], last, jnp.mean(info.swap_prob, 0), jnp.mean(info.accept, 0))

    state, (draws, last, swap, acc) = jax.lax.scan(body, state, (jax.random.split(sub, num_samples),
                                                                 jnp.arange(num_samples)))
    log_z = stepping_stones(state.betas, last.ell)
    res = PTResult(draws, state.betas, jnp.mean(swap, 0), jnp.mean(acc, 0), state.round_trips, log_z, last.ell)
    return res, per_rep * r
