"""The SMC warm start's screen (numpyro_pinn.warmstart.screen): the Laplace fit's weighted draws
replace the full SMC run only on one near-Gaussian mode."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from numpyro_pinn import SMC
from numpyro_pinn.core import make_warm_start
from numpyro_pinn.warmstart import WarmStart, laplace, screen_laplace, screen_size

MEAN = jnp.array([1.0, -2.0, 0.5])
CHOL = jnp.array([[1.0, 0.0, 0.0], [0.6, 0.8, 0.0], [-0.3, 0.2, 0.5]])
LOG_Z = 2.0  # the Gaussian target below integrates to e^2


def gaussian(x):
    z = jax.scipy.linalg.solve_triangular(CHOL, x - MEAN, lower=True)
    return 0.5 * jnp.sum(z**2) + jnp.sum(jnp.log(jnp.diag(CHOL))) + 1.5 * jnp.log(2 * jnp.pi) - LOG_Z


def exact_draws(key, n):
    return MEAN + jax.random.normal(key, (n, 3)) @ CHOL.T


def test_screen_size_has_four_particles_per_dimension():
    assert screen_size(256, 3) == 256 and screen_size(256, 200) == 800


def test_the_far_allowance_keeps_a_gaussians_false_alarms_under_far_alarm_at_every_screen_size():
    """The far test's allowance grows with the particles: a Gaussian posterior's screen fails it
    with probability at most ``FAR_ALARM`` whatever its size, and one fewer allowed would exceed
    that (1 of 256, 3 of 800 in 200 dimensions, where a fixed 1 failed 19% of Gaussian screens).
    A screen of 800 with three far particles passes, with four fails. Mutation: a fixed allowance
    of 1 fails the 800-particle cases."""
    import scipy.stats

    from numpyro_pinn.warmstart.screen import FAR_ALARM, FAR_QUANTILE, max_far

    assert max_far(256) == 1 and max_far(800) == 3
    for n in (256, 400, 800, 2048, 4096):
        tail = lambda m: scipy.stats.binom.sf(m, n, 1.0 - FAR_QUANTILE)  # P(more than m far)
        assert tail(max_far(n)) <= FAR_ALARM < tail(max_far(n) - 1)
    start = WarmStart(MEAN, CHOL, jnp.zeros(()), MEAN[None], "laplace")
    inside = exact_draws(jax.random.PRNGKey(3), 800)
    assert int(jnp.sum(jnp.sum(jnp.linalg.solve(CHOL, (inside - MEAN).T) ** 2, axis=0) > 16.27)) == 0
    far = MEAN + 10 * CHOL[:, 0]
    assert screen_laplace(jax.random.PRNGKey(0), gaussian, start, inside.at[:3].set(far), 2048).warm_start is not None
    found = screen_laplace(jax.random.PRNGKey(0), gaussian, start, inside.at[:4].set(far), 2048)
    assert found.warm_start is None and "4 of 800 screen particles beyond" in found.reason


def test_a_gaussian_passes_and_its_weighted_draws_have_the_posteriors_moments():
    """A Laplace fit 0.3 sds off and 1.2 times too wide still passes (ESS about 0.8); the weighted
    moments, log Z and the resampled draws then match the exact posterior within Monte Carlo error
    (2,048 weighted draws: the mean to about 0.03 sd). Mutation: unweighted moments are 0.3 sds
    off and fail the mean's bound."""
    start = WarmStart(MEAN + 0.3 * CHOL[:, 0], 1.2 * CHOL, jnp.zeros(()), MEAN[None], "laplace")
    found = screen_laplace(jax.random.PRNGKey(0), gaussian, start, exact_draws(jax.random.PRNGKey(1), 256), 2048)
    ws = found.warm_start
    assert ws is not None and found.reason == "passed" and found.num_evals == 2048
    assert ws.method.startswith("screened laplace")
    z_mean = jax.scipy.linalg.solve_triangular(CHOL, ws.mean - MEAN, lower=True)
    assert float(jnp.max(jnp.abs(z_mean))) < 0.12
    np.testing.assert_allclose(ws.chol @ ws.chol.T, CHOL @ CHOL.T, atol=0.12)
    assert float(ws.log_Z) == pytest.approx(LOG_Z, abs=0.05)
    assert ws.draws.shape == (2048, 3)
    z = jax.scipy.linalg.solve_triangular(CHOL, (ws.draws - MEAN).T, lower=True)
    assert float(jnp.max(jnp.abs(jnp.mean(z, axis=1)))) < 0.12


def test_far_screen_particles_or_poor_weights_fail_the_screen():
    """Two screen particles beyond the 99.9% radius fail it (one does not: a Gaussian puts 0.26 of
    256 there on average). The weights come first, and when they fail and their refits too, the
    screen is not run: on a Student-t with 2 degrees of freedom the Gaussian of its curvature has
    Pareto k 0.66 and its refit 1.60; a Laplace fit half as wide as a Gaussian posterior and 1.5
    sds off has weights with k 1.04 (no finite mean: it misses mass altogether), and one 12 sds
    off has no effective draws, so neither is refitted. Mutations: without the far test the first
    screen passes; without the k-hat test the second does; refitting whatever the weights costs
    the last two 8,192 evaluations more (the first of them then passes the weights' test)."""
    start = WarmStart(MEAN, CHOL, jnp.zeros(()), MEAN[None], "laplace")
    inside = exact_draws(jax.random.PRNGKey(3), 256)  # none beyond the radius
    one = screen_laplace(jax.random.PRNGKey(0), gaussian, start, inside.at[0].set(MEAN + 10 * CHOL[:, 0]), 2048)
    assert one.warm_start is not None
    two = inside.at[:2].set(MEAN + 10 * CHOL[:, 0])
    found = screen_laplace(jax.random.PRNGKey(0), gaussian, start, two, 2048)
    assert found.warm_start is None and found.num_evals == 2048
    assert "2 of 256 screen particles beyond the 99.9% radius of the Laplace fit" in found.reason

    def not_run():
        raise AssertionError("the screen ran although the weights failed")

    nu = 2.0  # a Student-t with 2 degrees of freedom: no Gaussian, refitted or not, has bounded weights
    student = lambda x: 0.5 * (nu + 2) * jnp.log1p(jnp.sum(x**2) / nu)
    curvature = WarmStart(jnp.zeros(2), jnp.sqrt(nu / (nu + 2)) * jnp.eye(2), jnp.zeros(()), jnp.zeros((1, 2)),
                          "laplace")
    found = screen_laplace(jax.random.PRNGKey(1), student, curvature, not_run, 2048)
    assert found.warm_start is None and found.num_evals == 2048 + 2 * 8192
    # Weights without a finite mean (k >= 1): the Gaussian misses mass that no refit of it reaches.
    narrow = WarmStart(MEAN + 1.5 * CHOL[:, 0], 0.5 * CHOL, jnp.zeros(()), MEAN[None], "laplace")
    missing = screen_laplace(jax.random.PRNGKey(0), gaussian, narrow, not_run, 2048)
    assert missing.reason == "the Laplace fit's importance weights have Pareto k 1.04 and ESS 0.01"
    assert missing.num_evals == 2048
    # Weights too degenerate to refit a covariance to (fewer than d + 1 effective draws in 8,192): no refit.
    off = WarmStart(MEAN + 12 * CHOL[:, 0], 0.2 * CHOL, jnp.zeros(()), MEAN[None], "laplace")
    hopeless = screen_laplace(jax.random.PRNGKey(0), gaussian, off, not_run, 2048)
    assert hopeless.num_evals == 2048 and hopeless.reason.endswith("ESS 0.00")
    assert found.reason == ("the Laplace fit's importance weights have Pareto k 0.66 and ESS 0.30; refitted 1 time, "
                            "no better (Pareto k 1.60, ESS 0.10)")


def test_a_heavy_tail_that_a_refit_hides_from_its_weights_fails_the_screen():
    """On a Student-t with 2 degrees of freedom a refitted Gaussian's 8,192 weights can show a
    Pareto k below 0.5 (the tail is not reached): then the screen runs, its particles reach the
    tail beyond the refit's radius, and the full SMC run follows. Mutation: without the far test
    the warm start is the refit's weighted draws."""
    nu = 2.0
    student = lambda x: 0.5 * (nu + 2) * jnp.log1p(jnp.sum(x**2) / nu)
    ws = make_warm_start(jax.random.PRNGKey(0), student, jnp.full(2, 0.1), "smc")
    assert ws.method.startswith("smc") and "screen particles beyond the 99.9% radius of the Laplace fit refitted" in ws.method


def test_a_laplace_fit_of_the_wrong_width_is_refitted_and_its_weighted_draws_are_right():
    """A Laplace fit 1.6 times too wide or half as wide in 10 dimensions fails the first test (ESS
    0.11 at Pareto k 0.20 when too wide), is refitted by the cross-entropy method and passes; the
    warm start then has the standard normal posterior's moments and log Z (0) within Monte Carlo
    error of 8,192 weighted draws. Mutations: refitting to the unweighted draws keeps the proposal's
    width and fails the covariance's bound (or the test); no refit fails the screen."""
    d = 10
    std = lambda x: 0.5 * jnp.sum(x**2) + 0.5 * d * jnp.log(2 * jnp.pi)
    inside = jax.random.normal(jax.random.PRNGKey(1), (256, d))
    for scale, refits in ((1.6, 1), (0.5, 1)):
        start = WarmStart(jnp.zeros(d), scale * jnp.eye(d), jnp.zeros(()), jnp.zeros((1, d)), "laplace")
        found = screen_laplace(jax.random.PRNGKey(0), std, start, inside, 2048)
        ws = found.warm_start
        assert ws is not None and found.reason == "passed", found.reason
        assert ws.method.startswith(f"screened laplace refitted {refits} time")
        assert found.num_evals == 2048 + (refits + 1) * 8192
        assert float(jnp.max(jnp.abs(ws.mean))) < 0.1
        np.testing.assert_allclose(ws.chol @ ws.chol.T, jnp.eye(d), atol=0.15)
        assert float(ws.log_Z) == pytest.approx(0.0, abs=0.05)
        assert ws.draws.shape == (2048, d)
        assert float(jnp.max(jnp.abs(jnp.std(ws.draws, axis=0) - 1.0))) < 0.1


def test_the_far_radius_of_a_refit_is_its_proposals_one_in_a_thousand():
    """With the defensive twin the far radius is where the proposal, the Gaussian and its wider
    twin, sends one draw in a thousand: 1,000,000 draws of it land beyond it 1,000 +- 95 times (3
    sds). Mutation: with the Gaussian's own radius, about 5,500 (d = 2) and 66,000 (d = 31) draws lie beyond."""
    from numpyro_pinn.warmstart import DEFENSIVE_SCALE, DEFENSIVE_WEIGHT
    from numpyro_pinn.warmstart.screen import FAR_QUANTILE, far_radius2

    for d in (2, 31):
        n = 1_000_000
        k1, k2 = jax.random.split(jax.random.PRNGKey(d))
        r2 = jnp.sum(jax.random.normal(k1, (n, d)) ** 2, axis=1)
        r2 = jnp.where(jax.random.uniform(k2, (n,)) < DEFENSIVE_WEIGHT, DEFENSIVE_SCALE**2 * r2, r2)
        beyond = int(jnp.sum(r2 > far_radius2(d, defensive=True)))
        assert abs(beyond - n * (1 - FAR_QUANTILE)) < 95, beyond
        assert far_radius2(d) < far_radius2(d, defensive=True)


def test_the_default_warm_start_skips_the_full_smc_run_on_a_gaussian():
    """The default SMC warm start on a correlated Gaussian: the screen passes, so the warm start
    costs 2,048 weighted draws and the 256-particle run (under a third of the full run's
    evaluations) and its log Z and whitening are right. A screen that stops short of the
    posterior fails it."""
    ws = make_warm_start(jax.random.PRNGKey(0), gaussian, jnp.zeros(3), "smc")
    full = make_warm_start(jax.random.PRNGKey(0), gaussian, jnp.zeros(3), SMC(screen=None))
    assert ws.method.startswith("screened laplace") and full.method == "smc"
    assert ws.num_evals < full.num_evals / 3
    assert float(ws.log_Z) == pytest.approx(LOG_Z, abs=0.05)
    np.testing.assert_allclose(ws.chol @ ws.chol.T, CHOL @ CHOL.T, atol=0.12)
    with pytest.warns(RuntimeWarning, match=r"used up its time budget \(0 s\)"):
        out = make_warm_start(jax.random.PRNGKey(0), gaussian, jnp.zeros(3), SMC(max_seconds=0.0))
    assert out.method.startswith("smc (stopped at") and "screen: the screen did not reach the posterior" in out.method


def two_modes(x):
    """Two normalised Gaussian modes (sd 0.5) at x = -6 and 6, weights 0.3 and 0.7: log Z = 0."""
    mus = jnp.array([[-6.0, 0.0], [6.0, 0.0]])
    lp = -0.5 * jnp.sum((x - mus) ** 2, -1) / 0.25 - jnp.log(2 * jnp.pi * 0.25)
    return -jax.scipy.special.logsumexp(lp + jnp.log(jnp.array([0.3, 0.7])))


def test_a_second_mode_fails_the_screen_and_the_full_run_follows_unchanged():
    """Separated modes: the Laplace fit at one mode is an excellent importance sampler of that mode
    alone, but the screen's particles sit in both, so the full SMC run follows, with the same draws
    as without the screen (and so the right weights, 0.3 / 0.7), and its method names why.
    Mutation: without the far test the warm start is the one mode's Gaussian (left share 0)."""
    x0 = jnp.array([5.0, 0.5])
    lap = laplace(two_modes, x0)
    ws = SMC(scale=20.0).build(jax.random.PRNGKey(0), two_modes, x0, lap)
    full = SMC(scale=20.0, screen=None).build(jax.random.PRNGKey(0), two_modes, x0, lap)
    assert ws.method.startswith("smc (screen:") and "screen particles beyond" in ws.method
    np.testing.assert_array_equal(np.asarray(ws.draws), np.asarray(full.draws))
    assert ws.num_evals > full.num_evals
    assert abs(float(jnp.mean(ws.draws[:, 0] < 0)) - 0.3) < 0.06


def test_screen_argument_is_checked():
    with pytest.raises(ValueError, match="screen"):
        SMC(screen=1)
