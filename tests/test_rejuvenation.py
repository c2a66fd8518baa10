"""Rejuvenation: HMC moves that carry biased resampled draws to the posterior."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from numpyro_pinn.rejuvenation import Rejuvenation, lag_correlation, rejuvenate

MU = jnp.array([1.0, -2.0, 0.5])
A = jnp.array([[1.0, 0.0, 0.0], [0.8, 0.6, 0.0], [0.2, -0.5, 0.3]])  # Sigma = A A^T
SIGMA = A @ A.T
PREC = jnp.linalg.inv(SIGMA)


def potential(x):
    r = x - MU
    return 0.5 * r @ PREC @ r


def test_moves_carry_biased_duplicates_to_the_posterior():
    """Start from 100 distinct points of a wrong distribution (shifted by 1.5 sds, a third as
    wide), each repeated 20 times, as resampling from poor weights leaves them; after 100 moves the
    2,000 draws' means and sds are within Monte Carlo error of the Gaussian's (5 standard errors
    for 2,000 independent draws: 0.11 sd for a mean, 8% for an sd) and the duplicates are spread
    (lag correlation small, about 100 distinct draws became 2,000). Mutations: targeting
    ``-potential`` (a sign flipped) or no moves fail it."""
    rng = np.random.default_rng(0)
    sd = np.sqrt(np.diag(SIGMA))
    parents = np.asarray(MU) + 1.5 * sd + (rng.normal(size=(100, 3)) @ np.asarray(A).T) / 3
    x = jnp.asarray(np.repeat(parents, 20, axis=0))
    out = rejuvenate(jax.random.PRNGKey(0), potential, x, num_moves=100)
    z = np.asarray(out.x)
    assert z.shape == x.shape and np.all(np.isfinite(z))
    np.testing.assert_array_less(np.abs(z.mean(0) - np.asarray(MU)) / sd, 0.11)
    np.testing.assert_array_less(np.abs(z.std(0) / sd - 1.0), 0.08)
    assert len(np.unique(z[:, 0])) == 2000
    assert out.lag_correlation < 0.15 and 0.5 < out.acceptance <= 1.0
    assert out.num_moves == 100 and out.target_evals == 2000 * (100 * 8 + 1) and out.seconds > 0
    assert set(out.info()) == {"num_moves", "acceptance", "step_size", "lag_correlation", "target_evals", "seconds",
                               "budget_reached"}
    assert out.budget_reached is False


def test_lag_correlation_sees_kept_positions_and_kept_distances():
    rng = np.random.default_rng(1)
    a = rng.normal(size=(4000, 2))
    assert lag_correlation(a, rng.normal(size=(4000, 2))) < 3 / np.sqrt(4000) * 1.5
    assert lag_correlation(a, a) == pytest.approx(1.0)
    # The sign flipped in one coordinate: uncorrelated values, the same distances from the centre.
    assert lag_correlation(a, a * np.array([1.0, -1.0])) == pytest.approx(1.0)
    assert lag_correlation(a, np.abs(a) * rng.choice([-1.0, 1.0], size=a.shape)) > 0.9


def test_option_applies_on_untrusted_weights_and_checks_arguments():
    r = Rejuvenation()
    good = {"pareto_k": 0.5, "ess": 0.9, "num_particles": 4000}
    assert not r.applies(good) and r.applies({**good, "pareto_k": 0.8})
    assert not r.applies({**good, "pareto_k": float("nan")})
    assert r.applies({**good, "ess": 0.05})  # 200 effective draws: duplicates
    assert r.applies({**good, "ess": 0.25, "num_particles": 10000})  # a poor proposal, however many draws
    assert not r.applies({**good, "ess": 0.35})
    assert Rejuvenation(always=True).applies({**good, "pareto_k": 0.1})
    assert Rejuvenation.from_dict(Rejuvenation(num_moves=7).to_dict()) == Rejuvenation(num_moves=7)
    with pytest.raises(ValueError, match="num_moves"):
        Rejuvenation(num_moves=0)
    with pytest.raises(ValueError, match="always"):
        Rejuvenation(always="yes")
    with pytest.raises(ValueError, match="num_integration_steps"):
        rejuvenate(jax.random.PRNGKey(0), potential, jnp.zeros((10, 3)), num_integration_steps=0)
    for bad in (0, -1.0, "60", True):
        with pytest.raises(ValueError, match="max_seconds"):
            Rejuvenation(max_seconds=bad)
        with pytest.raises(ValueError, match="max_seconds"):
            rejuvenate(jax.random.PRNGKey(0), potential, jnp.zeros((10, 3)), max_seconds=bad)
    assert Rejuvenation.from_dict(Rejuvenation(max_seconds=None).to_dict()).max_seconds is None
    with pytest.raises(ValueError, match="`x` must be"):
        rejuvenate(jax.random.PRNGKey(0), potential, jnp.zeros(3))


@pytest.mark.parametrize("bad", [np.inf, np.nan])
def test_moves_never_enter_where_the_potential_is_not_finite(bad):
    """A potential that is infinite or NaN beyond ``x_0 = 1``: no draw moves there (a NaN log
    density counts as -inf, so the move is rejected). Mutation: passing NaN through fails the NaN
    case (draws cross the boundary)."""
    pot = lambda x: 0.5 * jnp.sum(x**2) + jnp.where(x[0] > 1.0, bad, 0.0)
    x = jax.random.normal(jax.random.PRNGKey(0), (2000, 2)) * 0.3
    out = rejuvenate(jax.random.PRNGKey(1), pot, x, num_moves=50)
    z = np.asarray(out.x)
    assert np.all(np.isfinite(z)) and z[:, 0].max() <= 1.0
    assert abs(z[:, 1].std() - 1.0) < 0.1  # the unconstrained coordinate still spreads to its sd


def test_moves_stop_at_the_time_budget_and_say_so():
    """A budget shorter than one block of moves: the first block runs, no other starts, and the
    result counts the moves and gradients made and says the budget was reached. A budget that is
    not reached changes nothing: the same moves as without one. Mutation: ignoring
    ``max_seconds`` fails it (100 moves)."""
    x = jax.random.normal(jax.random.PRNGKey(0), (200, 3))
    short = rejuvenate(jax.random.PRNGKey(1), potential, x, num_moves=100, block=10, max_seconds=1e-6)
    assert short.num_moves == 10 and short.budget_reached
    assert short.target_evals == 200 * (10 * 8 + 1) and short.info()["budget_reached"] is True
    long = rejuvenate(jax.random.PRNGKey(1), potential, x, num_moves=30, block=10, max_seconds=1e6)
    free = rejuvenate(jax.random.PRNGKey(1), potential, x, num_moves=30, block=10)
    assert long.num_moves == 30 and not long.budget_reached
    np.testing.assert_array_equal(np.asarray(long.x), np.asarray(free.x))
