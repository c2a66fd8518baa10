"""Rejuvenation: resampled draws moved by Markov steps that leave the posterior invariant.

Importance resampling is exact only as far as the weights can be trusted. When they cannot (a
Pareto k-hat above 0.7: a few particles carry most of the weight, and regions the proposal
undersamples are missed), the resampled draws are duplicates of a few particles in the wrong
proportions. Moving every draw by Hamiltonian Monte Carlo steps that target the posterior (the
"move" of resample-move SMC, Gilks and Berzuini 2001) spreads the duplicates and, as the steps
mix, carries the draws towards the posterior from wherever the proposal left them. The draws are
then no longer independent: :class:`Rejuvenated` reports how far they still remember where they
started.
"""
from __future__ import annotations

import dataclasses
import functools
from typing import Callable, NamedTuple, Optional

import jax
import jax.numpy as jnp
import numpy as np

from numpyro_pinn.compiling import jit
from numpyro_pinn.diagnostics import PARETO_K_WARN
from numpyro_pinn.population import adapt_step_size, inverse_mass
from numpyro_pinn.stages import Deadline, report
from numpyro_pinn.validation import check_count, check_positive

__all__ = ["REJUVENATE_ESS", "Rejuvenation", "Rejuvenated", "rejuvenate", "lag_correlation"]


class Rejuvenated(NamedTuple):
    """What :func:`rejuvenate` returns.

    ``x``: the moved draws; ``num_moves``; ``acceptance``: the mean acceptance rate of the last
    block of moves; ``step_size``: the adapted leapfrog step (in units of the draws' covariance);
    ``lag_correlation``: :func:`lag_correlation` between the draws before and after the moves
    (near 0: the draws no longer remember the particles they were resampled from; as large as
    ``3 / sqrt(n)`` by chance alone); ``target_evals`` (gradient evaluations); ``seconds``;
    ``budget_reached``: the moves stopped before ``num_moves`` at the time budget (``num_moves``
    is then the number made)."""

    x: jax.Array
    num_moves: int
    acceptance: float
    step_size: float
    lag_correlation: float
    target_evals: int
    seconds: float
    budget_reached: bool = False

    def info(self) -> dict:
        """Plain data for ``diagnostics["rejuvenation"]``."""
        return {"num_moves": self.num_moves, "acceptance": self.acceptance, "step_size": self.step_size,
                "lag_correlation": self.lag_correlation, "target_evals": self.target_evals,
                "seconds": self.seconds, "budget_reached": self.budget_reached}


def lag_correlation(before, after) -> float:
    """The largest absolute correlation, over coordinates, between the draws ``before`` and
    ``after`` the moves, of their values and of their squared deviations from the mean (a
    draw that kept its position, or its distance from the centre, keeps them correlated)."""
    a, b = np.asarray(before, np.float64), np.asarray(after, np.float64)
    out = 0.0
    for u, v in ((a, b), ((a - a.mean(0)) ** 2, (b - b.mean(0)) ** 2)):
        u, v = u - u.mean(0), v - v.mean(0)
        den = np.sqrt((u * u).sum(0) * (v * v).sum(0))
        r = np.where(den > 0, (u * v).sum(0) / np.where(den > 0, den, 1.0), 0.0)
        out = max(out, float(np.max(np.abs(r))))
    return out


def rejuvenate(rng_key: jax.Array, potential_fn: Callable, x: jax.Array, num_moves: int = 100,
               num_integration_steps: int = 8, block: int = 10,
               max_seconds: Optional[float] = None) -> Rejuvenated:
    """Move each row of ``x`` (flat unconstrained draws, ``(n, d)``) by ``num_moves`` HMC steps
    targeting ``exp(-potential_fn)``.

    Each move is one HMC step of ``num_integration_steps`` leapfrog steps per draw, with the draws'
    current covariance as the inverse mass matrix and one step size for all, adapted after each
    move towards an acceptance rate of 0.75 (as the SMC warm start's moves are). Every move leaves
    the posterior invariant whatever the step size and the covariance; adapting them from the
    draws, as adaptive SMC does, biases the draws by little once they are spread over the
    posterior. The moves run in jitted blocks of ``block``, between which Ctrl-C is seen and the
    progress line is updated. Evaluations: ``n * (num_moves * num_integration_steps + 1)``
    gradients. ``max_seconds`` (``None``: none): a wall-clock budget; the first block always
    runs, and no block starts that would end past the budget at the pace of the last one (the
    result says ``budget_reached`` and how many moves were made)."""
    check_count("num_moves", num_moves, 0)
    check_count("num_integration_steps", num_integration_steps, 1)
    check_count("block", block, 1)
    if max_seconds is not None:
        check_positive("max_seconds", max_seconds)
    clock = Deadline.after(None if max_seconds is None else float(max_seconds))
    x = jnp.asarray(x)
    if x.ndim != 2 or x.shape[0] < 2:
        raise ValueError(f"`x` must be at least two flat unconstrained draws, shape (n, d); got shape {x.shape}.")
    d = x.shape[1]
    carry = (_init(potential_fn, x), jnp.asarray(1.0 / d**0.25, x.dtype))
    done, acc, over = 0, jnp.asarray(jnp.nan), False
    while done < num_moves:
        num = min(block, num_moves - done)
        started = clock.elapsed()
        carry, acc = _advance(potential_fn, num_integration_steps, num, carry, jax.random.fold_in(rng_key, done))
        acc = float(acc)  # waits for the block
        done += num
        report(rejuvenation_moves=f"{done}/{num_moves}", acceptance=f"{acc:.2f}")
        now = clock.elapsed()
        if done < num_moves and now + (now - started) > clock.seconds:  # the next block would pass it
            over = True
            break
    moved = carry[0].position
    jax.block_until_ready(moved)
    return Rejuvenated(moved, int(done), float(acc), float(carry[1]), lag_correlation(x, moved),
                       int(x.shape[0] * (done * num_integration_steps + 1)), clock.elapsed(), over)


def _log_density(potential_fn: Callable) -> Callable:
    """``-potential_fn`` with NaN as ``-inf``: a move into a NaN region is rejected."""
    def log_density(q):
        v = -potential_fn(q)
        return jnp.where(jnp.isnan(v), -jnp.inf, v)
    return log_density


@functools.partial(jit, static_argnums=0)
def _init(potential_fn, x):
    import blackjax

    return jax.vmap(lambda q: blackjax.hmc.init(q, _log_density(potential_fn)))(x)


@functools.partial(jit, static_argnums=(0, 1, 2))
def _advance(potential_fn, num_integration_steps, num, carry, key):
    """``num`` moves (one compiled program per potential and block length)."""
    import blackjax

    hmc = blackjax.hmc.build_kernel()
    logdensity = _log_density(potential_fn)

    def one_move(carry, key):
        states, step = carry
        n = states.position.shape[0]
        cov = inverse_mass(states.position)
        keys = jax.random.split(key, n)
        states, info = jax.vmap(lambda k, s: hmc(k, s, logdensity, step, cov, num_integration_steps))(keys, states)
        acc = jnp.mean(jnp.nan_to_num(info.acceptance_rate))
        step = adapt_step_size(step, acc)
        return (states, step), acc

    carry, acc = jax.lax.scan(one_move, carry, jax.random.split(key, num))
    return carry, jnp.mean(acc)


#: Below this normalised ESS the draws are rejuvenated although the weights do not warn: the
#: proposal is far enough from the posterior that mass it rarely proposes, which its weights
#: cannot show, may be missing.
REJUVENATE_ESS = 0.3


@dataclasses.dataclass(frozen=True)
class Rejuvenation:
    """Move the resampled draws by HMC steps targeting the posterior when the importance weights
    cannot be trusted or hold too few effective draws (:func:`rejuvenate`;
    ``PINNSampler(rejuvenation=...)``).

    A transport can end as a poor proposal (a Pareto k-hat above 0.7) on a posterior whose draws it
    still covers: its resampled draws are then biased, and a hundred cheap HMC moves from them
    correct much of it. The moved draws follow the posterior as far as the moves mix
    (``diagnostics["rejuvenation"]``: acceptance, lag correlation), and are not independent; the
    weights' ESS, log Z and k-hat still describe the proposal, and their warning stays. The moves
    are local: they do not carry mass between separated modes, whose proportions stay as the
    weights set them.

    Main arguments
    --------------
    num_moves
        HMC steps per draw; each costs ``num_integration_steps`` gradients per draw.
    always
        ``False`` (default): only when the run warns (:meth:`applies`: a Pareto k-hat above
        0.7, too few effective draws, or the warm start's draws disagreeing with the weighted
        particles) or an ESS below 0.3. ``True``: after every run.

    max_seconds
        A wall-clock budget for the moves (``None``: none). Each move costs a few gradients of
        the target per draw, so on a model with much data the hundred moves can take minutes;
        the moves run in blocks of ten, and none starts that would end past the budget
        (``diagnostics["rejuvenation"]``: ``budget_reached`` and ``num_moves``, the moves made).

    Other arguments
    ---------------
    num_integration_steps
        Leapfrog steps per HMC step.

    ``PINNSampler(rejuvenation=None)`` never moves the draws.
    """

    num_moves: int = 100
    always: bool = False
    num_integration_steps: int = 8
    max_seconds: Optional[float] = 30.0

    def __post_init__(self):
        if self.max_seconds is not None:
            check_positive("max_seconds", self.max_seconds)
        check_count("num_moves", self.num_moves, 1)
        check_count("num_integration_steps", self.num_integration_steps, 1)
        if not isinstance(self.always, (bool, np.bool_)):
            raise ValueError(f"`always` must be True or False; got {self.always!r}.")

    def applies(self, summary: dict) -> bool:
        """Whether the weights' diagnostics (:func:`numpyro_pinn.diagnostics.summarize`) call for
        it: ``always``, a Pareto k-hat above :data:`~numpyro_pinn.diagnostics.PARETO_K_WARN` (a
        NaN k-hat, from too few particles, does not count), an ESS below :data:`REJUVENATE_ESS`
        (which includes the warning's too few effective draws, whose resampled draws repeat a few
        particles), or the warm start's draws and the weighted particles disagreeing
        (``summary["stage_agreement"]``, :func:`numpyro_pinn.agreement.compare`)."""
        disagree = bool((summary.get("stage_agreement") or {}).get("disagrees"))
        poor = summary["ess"] < REJUVENATE_ESS
        return bool(self.always or summary["pareto_k"] > PARETO_K_WARN or poor or disagree)

    def __call__(self, rng_key: jax.Array, potential_fn: Callable, x: jax.Array) -> Rejuvenated:
        return rejuvenate(rng_key, potential_fn, x, self.num_moves, self.num_integration_steps,
                          max_seconds=self.max_seconds)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "Rejuvenation":
        return cls(**d)
