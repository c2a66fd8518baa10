"""The mixture prior: modes, weights and density of the base distribution, and its use."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from numpyro_pinn import PINNSampler, Training
from numpyro_pinn.bases import Gaussian, ModeMixture
from numpyro_pinn.diagnostics import ess, log_evidence
from numpyro_pinn.gaussian import gaussian_log_pdf
from numpyro_pinn.bases import (make_mixture, draw_mixture, log_prob, mode_mixture, path_components,
                                 proposal_log_weights, refine, sample)

MUS = jnp.array([[-4.0, 0.0], [4.0, 1.0]])
W = jnp.array([0.25, 0.75])
SD = jnp.array([0.5, 0.3])


def two_modes(x):
    lp = -0.5 * jnp.sum(((x - MUS) / SD[:, None]) ** 2, -1) - 2 * jnp.log(SD) - jnp.log(2 * jnp.pi)
    return -jax.scipy.special.logsumexp(lp + jnp.log(W))


@pytest.mark.slow
def test_mode_mixture_finds_modes_weights_and_scales():
    rng = np.random.default_rng(0)
    # Draws with the WRONG mode weights (half and half): the evidences must correct them.
    draws = np.concatenate([np.asarray(MUS[0]) + 0.5 * rng.normal(size=(300, 2)),
                            np.asarray(MUS[1]) + 0.3 * rng.normal(size=(300, 2))])
    mean, chol = jnp.asarray(draws.mean(0)), jnp.asarray(np.linalg.cholesky(np.cov(draws.T)))
    pr = mode_mixture(two_modes, mean, chol, jnp.asarray(draws), rng_key=jax.random.PRNGKey(0))
    assert pr is not None and pr.means.shape == (2, 2)
    order = np.argsort(np.asarray(pr.means[:, 0]))
    w = np.exp(np.asarray(pr.log_weights))[order]
    np.testing.assert_allclose(w, [0.25, 0.75], atol=0.02)
    # Component scales in x space match the modes' sds (empirical covariance of 300 draws: ~4% error).
    for k, j in enumerate(order):
        cov_x = chol @ pr.chols[j] @ pr.chols[j].T @ chol.T
        np.testing.assert_allclose(np.sqrt(np.diag(cov_x)), [SD[k], SD[k]], rtol=0.15)
    assert set(np.unique(np.asarray(pr.labels))) == {0, 1}
    # The density integrates to one and matches its own draws (Monte Carlo check of log_prob vs sample).
    ys = sample(pr, jax.random.PRNGKey(1), 20000, 2)
    g = jnp.linspace(-8, 8, 401)
    gx, gy = jnp.meshgrid(g, g)
    dens = jnp.exp(jax.vmap(lambda y: log_prob(pr, y))(jnp.stack([gx.ravel(), gy.ravel()], 1)))
    assert abs(float(dens.sum() * (g[1] - g[0]) ** 2) - 1) < 1e-3
    frac = float(jnp.mean(jnp.argmin(jnp.sum((ys[:, None] - pr.means[None]) ** 2, -1), 1) == order[1]))
    assert abs(frac - 0.75) < 5 * np.sqrt(0.75 * 0.25 / 20000)


def test_the_mode_climbs_reuse_the_laplace_fits_compiled_newton_loop(monkeypatch, caplog):
    """On a CPU the base's mode climbs go one point at a time through the Newton program the
    Laplace warm start compiled (:func:`numpyro_pinn.warmstart.compiled_find_mode`): after
    ``laplace``, climbing from 40 draws compiles no Newton loop anew, and both modes are found;
    nor does the draws mixture's climb to the mode (:func:`path_components`). Mutation: climbing
    through a program of their own (``lax.map``) never calls it."""
    from numpyro_pinn.bases import modes
    from numpyro_pinn.warmstart import compiled_find_mode, laplace

    if jax.default_backend() != "cpu":
        pytest.skip("climbs are batched off the CPU")
    import logging

    laplace(two_modes, jnp.array([3.0, 0.5]), max_iter=200)
    calls = []
    monkeypatch.setattr(modes, "compiled_find_mode", lambda *a: calls.append(1) or compiled_find_mode(*a))
    rng = np.random.default_rng(1)
    draws = np.concatenate([np.asarray(MUS[0]) + 0.5 * rng.normal(size=(10, 2)),
                            np.asarray(MUS[1]) + 0.3 * rng.normal(size=(30, 2))])
    with jax.log_compiles(True), caplog.at_level(logging.DEBUG):
        caplog.clear()
        pr = mode_mixture(two_modes, jnp.zeros(2), jnp.eye(2), jnp.asarray(draws), rng_key=jax.random.PRNGKey(0))
    compiles = [r.getMessage() for r in caplog.records if "Compiling" in r.getMessage()]
    assert len(calls) == 40 and not [c for c in compiles if "compiled_find_mode" in c], compiles
    assert pr is not None and pr.means.shape == (2, 2)
    # The draws mixture's path components climb to the mode through the same program. Mutation:
    # leaving its max_iter to the default compiles it anew.
    with jax.log_compiles(True), caplog.at_level(logging.DEBUG):
        caplog.clear()
        path_components(two_modes, jnp.zeros(2), jnp.eye(2), jnp.array([3.0, 0.5]), max_points=2)
    compiles = [r.getMessage() for r in caplog.records if "Compiling" in r.getMessage()]
    assert not [c for c in compiles if "compiled_find_mode" in c], compiles


def _neck(z):
    """A funnel without a finite mode: ``v ~ Logistic(0, 1)`` (linear tails), ``x | v ~ N(0, e^v I_3)``.
    Down the neck (``v -> -inf`` at ``x = 0``) the density rises without bound, as baseball's does
    as ``kappa`` grows: Newton climbs from the bulk run off."""
    v, x = z[0], z[1:]
    return v + 2.0 * jax.nn.softplus(-v) + 0.5 * jnp.sum(x**2) * jnp.exp(-v) + 1.5 * v


@pytest.fixture
def climbed(monkeypatch):
    """The number of climbs of each mode search the test makes (a spy on ``modes._climb``)."""
    from numpyro_pinn.bases import modes

    counts = []
    climb = modes._climb

    def spy(*args, **kwargs):
        out = climb(*args, **kwargs)
        counts.append(len(out[0]))
        return out

    monkeypatch.setattr(modes, "_climb", spy)
    return counts


@pytest.mark.slow
def test_climbs_that_run_off_stop_early_and_count_as_a_continuum(climbed):
    """Where the climbs run off far beyond the draws to scattered points (no finite mode), the mode
    search stops after two blocks (128 of 1,024 climbs) and treats them as a continuum: no mode
    mixture (``continuum="none"``), the draws mixture with ``continuum="draws"``. Climbs that end at
    one shared far mode (a Gaussian's mode placed far from the draws) are no run-off: all climb;
    nor is a single climb (a Laplace warm start's one draw). Mutation: without the stop all 1,024
    climb."""
    rng = np.random.default_rng(0)
    v = rng.normal(size=2000)  # the warm start's draws: the bulk, not the neck
    draws = np.concatenate([v[:, None], rng.normal(size=(2000, 3)) * np.exp(v / 2)[:, None]], 1)
    mean, chol = jnp.asarray(draws.mean(0)), jnp.asarray(np.linalg.cholesky(np.cov(draws.T)))
    mix, evals, kind = mode_mixture(_neck, mean, chol, jnp.asarray(draws), return_evals=True, return_kind=True)
    assert climbed == [128] and mix is None and kind is None
    mix, _, kind = mode_mixture(_neck, mean, chol, jnp.asarray(draws), continuum="draws", return_evals=True,
                                return_kind=True, draw_options={"num_components": 2, "path_points": 0})
    assert kind == "draws" and mix.means.shape[0] == 2
    far = lambda z: 0.5 * jnp.sum((z - 40.0) ** 2)  # one mode, far beyond the draws: every climb ends there
    climbed.clear()
    assert mode_mixture(far, mean, chol, jnp.asarray(draws), patience=None) is None and climbed == [1024]
    # One draw (a Laplace warm start's mode) is no run-off: its climb gives the Laplace component.
    one = mode_mixture(_neck, mean, chol, jnp.asarray(draws[:1]), continuum="draws", one_mode="laplace")
    assert one.means.shape[0] == 1


def test_unimodal_draws_keep_the_standard_normal():
    draws = jax.random.normal(jax.random.PRNGKey(0), (500, 3))
    pot = lambda x: 0.5 * jnp.sum(x**2)
    assert mode_mixture(pot, jnp.zeros(3), jnp.eye(3), draws) is None


@pytest.mark.slow
def test_the_climbs_stop_once_patience_climbs_find_no_new_mode(climbed):
    """With one mode the climbs stop after ``patience`` climbs in a row end where earlier ones did
    (256 of 1,024: the check comes after each block of 64), and the result is the same; a second
    mode holding a tenth of the draws is still found. :func:`_settled` itself: a new end point in
    the last ``patience`` climbs keeps them going, non-finite ends count as nothing new. Mutation:
    with the check never stopping, all 1,024 climb; counting the window's own first end as
    seen, the new mode in it is missed."""
    from numpyro_pinn.bases import modes

    draws = jax.random.normal(jax.random.PRNGKey(0), (2000, 2))
    pot = lambda x: 0.5 * jnp.sum(x**2)
    assert mode_mixture(pot, jnp.zeros(2), jnp.eye(2), draws, one_mode="laplace").means.shape[0] == 1
    assert climbed == [256]
    climbed.clear()
    rng = np.random.default_rng(1)
    two = np.concatenate([np.asarray(MUS[0]) + 0.5 * rng.normal(size=(1800, 2)),
                          np.asarray(MUS[1]) + 0.3 * rng.normal(size=(200, 2))])
    mix = mode_mixture(two_modes, jnp.zeros(2), 3.0 * jnp.eye(2), jnp.asarray(two), rng_key=jax.random.PRNGKey(0))
    assert mix.means.shape[0] == 2 and climbed[0] < 1024
    ends = np.zeros((10, 2))
    assert modes._settled(ends, 0.05, 4) and not modes._settled(ends, 0.05, 10)
    assert not modes._settled(np.concatenate([ends, [[1.0, 0.0]], ends[:3]]), 0.05, 4)
    assert modes._settled(np.concatenate([ends, [[np.nan, 0.0]], ends[:3]]), 0.05, 4)


@pytest.mark.slow
def test_mixture_prior_sampler_recovers_weights_and_log_z():
    s = PINNSampler(potential_fn=two_modes, base=ModeMixture(fallback=False), num_steps=1000,
                    training=Training(min_steps=500), num_samples=4000, progress_bar=False).run(jax.random.PRNGKey(0), init_params=jnp.zeros(2))
    d = s.diagnostics
    x, lw = s.get_weighted_samples()
    w = np.asarray(jax.nn.softmax(lw))
    n_eff = 1 / np.sum(w**2)
    right = float(np.sum(w * (np.asarray(x)[:, 0] > 0)))
    assert abs(right - 0.75) < 5 * np.sqrt(0.75 * 0.25 / n_eff)
    assert abs(d["log_Z"]) < 5 * d["log_Z_se"] + 0.01  # normalised target
    assert d["ess"] > 0.9
    # The prior's climbs and refinement are target evaluations too: more than the rest of the count.
    rest = s.warm_start_result.num_evals + d["stages"]["training"]["target_evals"] + s.num_particles
    assert d["base_components"] == 2 and d["target_evals"] > rest, (d["target_evals"], rest)


def test_mixture_prior_is_refused_where_the_prior_is_fixed():
    """sde_diffusion's base is its noising diffusion's N(0, I) (for DPS the mixture is the control
    variate, so it is accepted there)."""
    with pytest.raises(ValueError, match="base='mixture'"):
        PINNSampler(potential_fn=two_modes, method="sde_diffusion", base="mixture")
    PINNSampler(potential_fn=two_modes, method="dps", base="mixture")
    with pytest.raises(ValueError, match="base"):
        PINNSampler(potential_fn=two_modes, base="kde")


def test_the_climbs_stop_once_they_end_at_more_points_than_components(climbed):
    """On a ring of maxima the climbs end at as many points as there are climbs; once more than
    ``max_components`` are distinct (after a block from the second on) the result is a continuum
    whatever the other climbs do, so they stop: 128 of the 400 draws climb, and the result is the
    same, no mode mixture. Mutation: without that stop all 400 climb."""
    from numpyro_pinn.bases import modes

    ring = lambda x: 0.5 * (jnp.sqrt(jnp.sum(x**2)) - 2.0) ** 2 / 0.1**2
    ang = jax.random.uniform(jax.random.PRNGKey(0), (400,)) * 2 * jnp.pi
    draws = 2.0 * jnp.stack([jnp.cos(ang), jnp.sin(ang)], 1) + 0.05 * jax.random.normal(jax.random.PRNGKey(1), (400, 2))
    assert mode_mixture(ring, jnp.zeros(2), 1.4 * jnp.eye(2), draws, max_components=64) is None
    assert climbed == [128]
    points, labels = modes._end_points(np.array([[0.0, 0.0], [0.01, 0.0], [np.nan, 0.0], [1.0, 0.0]]), 0.05)
    assert len(points) == 2 and labels.tolist() == [0, 0, -1, 1]


@pytest.mark.slow
def test_modes_on_a_ring_or_ridge_are_one_mode():
    """A ring of maxima (and a ridge) gives no mixture: points along it are not separate modes."""
    ring = lambda x: 0.5 * (jnp.sqrt(jnp.sum(x**2)) - 2.0) ** 2 / 0.1**2
    ang = jax.random.uniform(jax.random.PRNGKey(0), (400,)) * 2 * jnp.pi
    draws = 2.0 * jnp.stack([jnp.cos(ang), jnp.sin(ang)], 1) + 0.05 * jax.random.normal(jax.random.PRNGKey(1), (400, 2))
    assert mode_mixture(ring, jnp.zeros(2), 1.4 * jnp.eye(2), draws) is None
    # base="auto" asks for the draws mixture on such a continuum (here at most 4 components).
    mix = mode_mixture(ring, jnp.zeros(2), 1.4 * jnp.eye(2), draws, continuum="draws", max_components=4)
    assert mix is not None and 2 <= mix.means.shape[0] <= 4, mix
    # The draws mixture's own options reach it (Auto(draw_options=...) passes them this way).
    one = mode_mixture(ring, jnp.zeros(2), 1.4 * jnp.eye(2), draws, continuum="draws", max_components=4,
                       draw_options={"num_components": 1, "path_points": 0})
    assert one.means.shape[0] == 1
    with pytest.raises(ValueError, match="continuum"):
        mode_mixture(ring, jnp.zeros(2), 1.4 * jnp.eye(2), draws, continuum="kde")
    ridge = lambda x: 0.5 * (x[0] + x[1]) ** 2 / 0.01 + 0.5 * ((x[0] - x[1]) / 10.0) ** 4
    draws = jnp.stack([jnp.linspace(-3, 3, 300), -jnp.linspace(-3, 3, 300)], 1)
    assert mode_mixture(ridge, jnp.zeros(2), jnp.eye(2), draws) is None


def test_refine_fits_a_gaussian_mixture_target():
    # The target is itself a two-component mixture: importance-sampling EM started from wrong means,
    # scales and weights must recover it. Tolerances: each component gets ~512 draws with ESS near 1
    # after the first steps, so means carry ~sd/sqrt(512) ~ 0.05 sd of error and weights ~0.02.
    w_true = np.array([0.3, 0.7])
    mu_true = np.array([[-3.0, 0.0], [3.0, 1.0]])
    cov_true = np.array([[[0.25, 0.0], [0.0, 2.25]], [[1.0, 0.6], [0.6, 1.0]]])
    chol_true = jnp.asarray(np.linalg.cholesky(cov_true))
    log_q = lambda y: jax.scipy.special.logsumexp(
        gaussian_log_pdf(jnp.asarray(mu_true), chol_true, y) + jnp.log(jnp.asarray(w_true)), axis=1)
    means0 = jnp.asarray(mu_true + 0.4)
    chols0 = jnp.stack([jnp.eye(2), jnp.eye(2)])
    m, c, lw = refine(log_q, means0, chols0, jnp.log(jnp.array([0.5, 0.5])), jax.random.PRNGKey(3))
    np.testing.assert_allclose(np.exp(lw), w_true, atol=0.03)
    np.testing.assert_allclose(m, mu_true, atol=0.15)
    cov = np.asarray(c @ np.swapaxes(c, 1, 2))
    for k in range(2):  # ~6% sd per variance with ~500 effective draws
        np.testing.assert_allclose(cov[k], cov_true[k], atol=0.2 * cov_true[k].max())


def test_refine_fixes_mode_weights_in_high_dimension():
    # d = 40, two exact unit-covariance components with wrong weights (0.35 / 0.65, truth 0.5 / 0.5,
    # KL 0.05): a covariance update from ~800 draws per component (d (d + 1) / 2 = 820 entries each)
    # costs more KL than that, so the full update never beats the initial mixture; the
    # weights-only candidate fixes the weights. Each
    # weight estimate uses ~800 draws per component with ESS near 1: sd ~ 0.5 / sqrt(1600) ~ 0.013.
    d = 40
    mu = jnp.zeros((2, d)).at[0, 0].set(-3.0).at[1, 0].set(3.0)
    chols = jnp.stack([jnp.eye(d), jnp.eye(d)])
    log_q = lambda y: jax.scipy.special.logsumexp(gaussian_log_pdf(mu, chols, y), axis=1)
    _, _, lw = refine(log_q, mu, chols, jnp.log(jnp.array([0.35, 0.65])), jax.random.PRNGKey(0))
    np.testing.assert_allclose(np.exp(lw), [0.5, 0.5], atol=0.05)


def test_refine_stops_once_its_score_stops_rising_and_not_while_it_rises():
    """With ``min_gain`` the refinement stops once the mean score of the last REFINE_WINDOW
    iterations is not ``min_gain`` above the window's before: started at the target itself it stops
    after about 2 windows; started far off (means 3 sd away, weights and scales wrong) it runs until the
    fit is close (score within 0.05 nat of log Z = 0: KL about 0.05 at most, while the start's KL
    is 4.5) and stops well before ``iters``. Mutations: never stopping (the count stays at
    ``iters``); stopping while the score rises (the far start's score stays low)."""
    from numpyro_pinn.bases.draws import REFINE_WINDOW, refine_steps

    mu, chols = jnp.array([[-3.0, 0.0], [3.0, 1.0]]), jnp.stack([jnp.eye(2), jnp.eye(2) * 0.5])
    lw_true = jnp.log(jnp.array([0.3, 0.7]))
    log_q = lambda y: jax.scipy.special.logsumexp(gaussian_log_pdf(mu, chols, y) + lw_true, axis=1)
    per_step, iters = 2 * 512, 40
    _, score, n = refine_steps(log_q, mu, chols, lw_true, jax.random.PRNGKey(0), iters=iters, min_gain=0.02)
    # Each iteration scores two candidates; the first check comes after 2 windows less the start.
    assert (1 + 2 * (2 * REFINE_WINDOW - 1)) * per_step <= n <= (1 + 2 * 4 * REFINE_WINDOW) * per_step
    assert abs(score) < 0.02
    _, _, n_all = refine_steps(log_q, mu, chols, lw_true, jax.random.PRNGKey(0), iters=iters)
    assert n_all == (1 + 2 * iters) * per_step
    start = (mu + 3.0, jnp.stack([jnp.eye(2) * 2.0, jnp.eye(2) * 2.0]), jnp.log(jnp.array([0.8, 0.2])))
    _, score0, _ = refine_steps(log_q, *start, jax.random.PRNGKey(1), iters=0)
    assert score0 < -1.0
    _, score, n = refine_steps(log_q, *start, jax.random.PRNGKey(1), iters=iters, min_gain=0.02)
    assert score > -0.05 and n < n_all
    for bad in (-0.1, "0.02"):
        with pytest.raises(ValueError, match="refine_min_gain"):
            draw_mixture(two_modes, jnp.zeros(2), jnp.eye(2), jnp.zeros((64, 2)), refine_min_gain=bad)


def _funnel2(x):
    v = x[0]
    return 0.5 * v**2 / 9.0 + 0.5 * x[1] ** 2 * jnp.exp(-v) + 0.5 * v + jnp.log(2 * jnp.pi * 3.0)  # log Z = 0


def _is_ess_and_log_z(prior, mean, chol, potential, n=4000):
    lw = proposal_log_weights(potential, mean, chol, prior, jax.random.PRNGKey(5), n)
    return ess(lw), log_evidence(lw)


@pytest.mark.slow
def test_draw_mixture_beats_one_gaussian_on_a_funnel():
    """prior='draws': a mixture fitted to (exact) draws of a 2-D funnel is a far better importance
    sampler of it than the draws' own Gaussian (N(0, I) in whitened coordinates), and its log Z is
    right."""
    rng = np.random.default_rng(0)
    v = 3.0 * rng.standard_normal(2000)
    draws = jnp.asarray(np.stack([v, np.exp(v / 2) * rng.standard_normal(2000)], 1))
    mean = jnp.mean(draws, 0)
    chol = jnp.linalg.cholesky(jnp.cov(draws.T))
    mix = draw_mixture(_funnel2, mean, chol, draws, num_components=4, rng_key=jax.random.PRNGKey(1), path_points=0)
    assert mix.means.shape == (4, 2) and mix.labels.shape == (2000,)
    assert int(mix.labels.min()) >= 0 and int(mix.labels.max()) < 4
    ess_mix, log_z = _is_ess_and_log_z(mix, mean, chol, _funnel2)
    ess_one, _ = _is_ess_and_log_z(None, mean, chol, _funnel2)
    # Measured over draw seeds 0-4: mixture 0.25-0.79, one Gaussian 0.03-0.09.
    assert ess_mix > 0.15 and ess_mix > 2.5 * ess_one, (ess_mix, ess_one)
    assert abs(log_z) < 5 / np.sqrt(ess_mix * 4000)  # ~5 se of the IS estimate
    with pytest.raises(ValueError, match="draws"):
        draw_mixture(_funnel2, mean, chol, draws[:5])
    with pytest.raises(ValueError, match="num_components"):
        draw_mixture(_funnel2, mean, chol, draws, num_components=0)
    with pytest.raises(ValueError, match="path_weight"):
        draw_mixture(_funnel2, mean, chol, draws, path_weight=1.0)
    with pytest.raises(ValueError, match="path_points"):
        draw_mixture(_funnel2, mean, chol, draws, path_points=-1)
    with pytest.raises(ValueError, match="path_beyond"):
        draw_mixture(_funnel2, mean, chol, draws, path_beyond=-1)
    with pytest.raises(ValueError, match="path_spacing"):
        draw_mixture(_funnel2, mean, chol, draws, path_spacing=0.0)
    with pytest.raises(ValueError, match="base='draws'"):
        PINNSampler(potential_fn=two_modes, method="sde_diffusion", base="draws")


def _ring(x):
    r = jnp.sqrt(jnp.sum(x**2) + 1e-12)
    return 0.5 * (r - 2.0) ** 2 / 0.15**2 + jnp.log(2 * jnp.pi * 2.0 * 0.15 * jnp.sqrt(2 * jnp.pi))  # log Z ~ 0


@pytest.mark.slow
def test_draw_mixture_chooses_more_components_for_a_ring():
    """num_components='auto': a ring of maxima needs many components; the search, scored against the
    target, must find more than 4 and a far better importance sampler than 4, with the right log Z."""
    rng = np.random.default_rng(0)
    phi, r = rng.uniform(0, 2 * np.pi, 2000), 2.0 + 0.15 * rng.standard_normal(2000)
    draws = jnp.asarray(np.stack([r * np.cos(phi), r * np.sin(phi)], 1))
    mean, chol = jnp.mean(draws, 0), jnp.linalg.cholesky(jnp.cov(draws.T))
    auto = draw_mixture(_ring, mean, chol, draws, rng_key=jax.random.PRNGKey(1), max_components=8, refine_iters=4, search_iters=2)
    four, evals = draw_mixture(_ring, mean, chol, draws, num_components=4, rng_key=jax.random.PRNGKey(1),
                               refine_iters=4, path_points=0, return_evals=True)
    assert evals == (1 + 4 * 2) * 4 * 512  # the initial score, then two candidates per step, 512 draws each
    ess_auto, log_z = _is_ess_and_log_z(auto, mean, chol, _ring)
    ess_four, _ = _is_ess_and_log_z(four, mean, chol, _ring)
    assert auto.means.shape[0] > 4, auto.means.shape
    assert ess_auto > 0.5 and ess_auto > ess_four + 0.2, (ess_auto, ess_four)
    assert abs(log_z) < 5 / np.sqrt(ess_auto * 4000)  # ~5 se of the IS estimate


@pytest.mark.slow
def test_the_draws_mixtures_search_and_final_refinement_share_compiled_steps(caplog):
    """The search over component counts fits the counts up to :data:`SEARCH_PAD` (8) padded to it,
    with one compiled EM and one compiled refinement step for them all, and one more of each for
    16; the final refinement of the best count (16) reuses that count's step. The padding leaves
    the fit right: the 8 components' padded fit matches the ring's mass as the unpadded one of 16
    does (scores within a few hundredths of a nat). Mutation: without the padding, five EM and five
    refinement programs; not keeping the compiled steps (``compiled=None``) compiles one more."""
    import logging

    from numpyro_pinn.bases.draws import SEARCH_PAD

    assert SEARCH_PAD == 8
    rng = np.random.default_rng(0)
    phi, r = rng.uniform(0, 2 * np.pi, 400), 2.0 + 0.15 * rng.standard_normal(400)
    draws = jnp.asarray(np.stack([r * np.cos(phi), r * np.sin(phi)], 1))
    mean, chol = jnp.mean(draws, 0), jnp.linalg.cholesky(jnp.cov(draws.T))
    with jax.log_compiles(True), caplog.at_level(logging.DEBUG):
        caplog.clear()
        mix = draw_mixture(_ring, mean, chol, draws, rng_key=jax.random.PRNGKey(1), max_components=16,
                           search_iters=1, refine_iters=2, refine_draws=64, path_points=0, min_gain=-np.inf)
    messages = [r.getMessage() for r in caplog.records]
    steps = [m for m in messages if "Compiling jit(step)" in m]
    ems = [m for m in messages if "Compiling jit(_em)" in m]
    assert mix.means.shape[0] == 16 and len(steps) == 2 and len(ems) == 2, (steps, ems)


def test_a_padded_refinement_draws_only_from_its_weighted_components():
    """The search's padded refinement (components of log weight ``-inf`` are padding): every draw
    at which it evaluates the target comes from the weighted component, its score is the unpadded
    one's within Monte Carlo error, the padding keeps no weight and the target evaluations count
    every draw. Mutation: drawing from the padding too puts three in four draws 28 units away."""
    from numpyro_pinn.bases.draws import refine_steps

    d, seen = 2, []

    def log_q(y):  # N(1, I) (log Z = 0), recording where it is evaluated
        jax.debug.callback(lambda a: seen.append(np.asarray(a)), y)
        return -0.5 * jnp.sum((y - 1.0) ** 2, -1) - np.log(2 * np.pi)

    mu = jnp.array([[1.0, 1.0], [21.0, 21.0], [-19.0, 21.0], [21.0, -19.0]])
    chols = jnp.broadcast_to(jnp.eye(d), (4, d, d))
    lw = jnp.array([0.0, -jnp.inf, -jnp.inf, -jnp.inf])
    best, score, n = refine_steps(log_q, mu, chols, lw, jax.random.PRNGKey(0), iters=2, padded=True)
    y = np.concatenate(seen)
    assert len(y) == n == 5 * 4 * 512 and np.max(np.linalg.norm(y - 1.0, axis=1)) < 7.0
    assert abs(score) < 0.02, score  # the exact fit: log Z - KL = 0
    assert np.isneginf(np.asarray(best[2][1:])).all()
    _, one, _ = refine_steps(log_q, mu[:1], chols[:1], lw[:1], jax.random.PRNGKey(0), iters=2)
    assert abs(one - score) < 0.02


def _funnel4_normalised(x):
    v = x[0]
    return (0.5 * v**2 / 9.0 + jnp.sum(0.5 * x[1:] ** 2 * jnp.exp(-v) + 0.5 * v)
            + 0.5 * jnp.log(2 * jnp.pi * 9.0) + 1.5 * jnp.log(2 * jnp.pi))  # log Z = 0


@pytest.mark.slow
def test_path_components_cover_a_funnel_neck_the_draws_miss():
    """A 4-d funnel whose draws all have v > 0 (as the SMC warm start's miss the neck): the mixture
    fitted to them puts too little mass at v < -2 (truth 0.2525) and biases log Z; with Laplace
    components along the way to the mode (deep in the neck) the weighted mass there and log Z are
    right within Monte Carlo error. A target whose mode is within a standard deviation of the start
    gets no path components, one further away gets them on both sides of the start."""
    rng = np.random.default_rng(0)
    v = 3.0 * rng.standard_normal(6000)
    x = np.concatenate([v[:, None], np.exp(v / 2)[:, None] * rng.standard_normal((6000, 3))], 1)
    draws = jnp.asarray(x[v > 0.0][:2000])
    mean, chol = jnp.mean(draws, 0), jnp.linalg.cholesky(jnp.cov(draws.T))
    n, p_neck = 8000, 0.2525  # P(v < -2) for v ~ N(0, 9)
    out = {}
    for pp in (0, 32):
        mix = draw_mixture(_funnel4_normalised, mean, chol, draws, num_components=4, rng_key=jax.random.PRNGKey(0),
                           path_points=pp)
        lw = proposal_log_weights(_funnel4_normalised, mean, chol, mix, jax.random.PRNGKey(9), n)
        xs = np.asarray(mean + sample(mix, jax.random.PRNGKey(9), n, 4).astype(chol.dtype) @ chol.T)
        w = np.exp(lw - lw.max())
        w /= w.sum()
        out[pp] = (ess(lw), log_evidence(lw), float(w[xs[:, 0] < -2].sum()), mix.means.shape[0])
    # Measured (draw seeds 0-2): without path components ESS 0.03-0.19, log Z -0.14 to -0.23, mass at
    # v < -2 0.06-0.14; with them ESS 0.85-0.87, log Z within 0.005, mass 0.239-0.252 (21-39 components).
    (ess0, z0, m0, k0), (ess1, z1, m1, k1) = out[0], out[32]
    assert k0 == 4 and k1 > 4
    se = lambda e: 1 / np.sqrt(e * n)
    assert z0 < -5 * se(ess0) and m0 < p_neck - 0.05, out
    assert abs(z1) < 5 * se(ess1), out
    assert abs(m1 - p_neck) < 5 * np.sqrt(p_neck * (1 - p_neck) / (ess1 * n)), out
    assert ess1 > 2 * ess0, out
    gauss = lambda z: 0.5 * jnp.sum(z**2)
    assert path_components(gauss, jnp.zeros(3), jnp.eye(3), jnp.full(3, 0.5)) is None
    # 3.46 sd from the mode: 3 points towards it, 3 beyond the start, one sd apart on the line, exact covariances.
    means, chols = path_components(gauss, jnp.zeros(3), jnp.eye(3), jnp.full(3, 2.0))
    r = np.asarray(means) @ np.ones(3) / np.sqrt(3)
    np.testing.assert_allclose(np.sort(r), np.sqrt(12) + np.array([-3, -2, -1, 1, 2, 3]), atol=1e-5)
    assert np.allclose(np.asarray(chols), np.eye(3), atol=1e-6)
    assert path_components(gauss, jnp.zeros(3), jnp.eye(3), jnp.full(3, 2.0), beyond=0)[0].shape == (3, 3)


@pytest.mark.slow
def test_path_components_share_the_room_between_both_sides(monkeypatch):
    """A Gaussian 3.46 sd from the start: three points on the way to the mode, three past the
    start. ``max_total`` bounds both sides together, the way to the mode first; and
    :func:`draw_mixture`, where ``max_components`` leaves too little room for ``path_points +
    path_beyond``, shares it between the sides in proportion to them: handing all of it to the way
    to the mode left baseball's hierarchical posterior without components past the draws (a base
    ESS of 0.67-0.78 against 0.88-0.89 with its share). Mutations: the far side ignoring
    ``max_total``, or ``draw_mixture`` handing the whole room to the way to the mode, each fail it."""
    import numpyro_pinn.bases.draws as draws_module

    gauss = lambda z: 0.5 * jnp.sum(z**2)
    start = jnp.full(3, 2.0)
    means, _ = path_components(gauss, jnp.zeros(3), jnp.eye(3), start, max_total=4)
    with pytest.raises(ValueError, match="max_total"):
        path_components(gauss, jnp.zeros(3), jnp.eye(3), start, max_total=-1)
    radius = np.sort(np.asarray(means) @ np.ones(3) / np.sqrt(3))
    np.testing.assert_allclose(radius, np.sqrt(12) + np.array([-3, -2, -1, 1]), atol=1e-5)

    seen = []
    real = draws_module.path_components

    def recording(*args, **kwargs):
        seen.append((args[4], kwargs["beyond"], kwargs["max_total"]))
        return real(*args, **kwargs)

    monkeypatch.setattr(draws_module, "path_components", recording)
    draws = jnp.asarray(np.random.default_rng(0).standard_normal((400, 3)))
    for max_components in (26, 14):
        draw_mixture(lambda x: gauss(x - 4.0), jnp.zeros(3), jnp.eye(3), draws, num_components=2,
                     rng_key=jax.random.PRNGKey(0), refine_iters=2, max_components=max_components, path_points=16,
                     path_beyond=8)
    # Room 24: no binding. Room 12: two thirds of it towards the mode, the rest past the start.
    assert seen == [(16, 8, 24), (8, 8, 12)], seen


def _funnel4(x):
    v = x[0]
    return 0.5 * v**2 / 9.0 + jnp.sum(0.5 * x[1:] ** 2 * jnp.exp(-v) + 0.5 * v)


@pytest.mark.slow
def test_auto_prior_leaves_gaussian_targets_alone_and_refits_a_funnel():
    """base='auto' with one mode: N(0, I) stays for a Gaussian target (proposal ESS ~1, only the check's
    2,048 evaluations spent); for a 4-d funnel (ESS ~0.001 < FAR_FROM_GAUSSIAN_ESS) the draws mixture
    replaces it, with a higher lower bound and a far higher ESS on fresh draws."""
    from numpyro_pinn.bases import FAR_FROM_GAUSSIAN_ESS, Auto
    from numpyro_pinn.warmstart import from_draws

    rng = np.random.default_rng(0)
    cov = np.array([[1.0, 0.8], [0.8, 2.0]])
    gauss = lambda x: 0.5 * x @ jnp.linalg.solve(jnp.asarray(cov), x)
    ws = from_draws(rng.multivariate_normal(np.zeros(2), cov, 2000))
    assert Auto().one_mode_mixture(jax.random.PRNGKey(0), gauss, ws, "prior") == (None, 2048)

    v = 3.0 * rng.standard_normal(2000)
    ws = from_draws(np.concatenate([v[:, None], np.exp(v / 2)[:, None] * rng.standard_normal((2000, 3))], 1))
    mix, evals = Auto().one_mode_mixture(jax.random.PRNGKey(0), _funnel4, ws, "prior")
    assert mix is not None and evals > 2 * 2048
    lw0, lw1 = (proposal_log_weights(_funnel4, ws.mean, ws.chol, p, jax.random.PRNGKey(9), 8192) for p in (None, mix))
    # Measured (seed 0): ESS 0.0025 -> 0.34 (16 components), lower bound -7897 -> 4.66.
    assert ess(lw0) < FAR_FROM_GAUSSIAN_ESS and ess(lw1) > 5 * ess(lw0)
    assert np.mean(lw1) > np.mean(lw0) + 100
    # A warm start with too few draws to fit (warm_start="laplace": one) keeps N(0, I), without an error.
    assert Auto().one_mode_mixture(jax.random.PRNGKey(0), _funnel4, ws._replace(draws=ws.draws[:1]), "prior") == (None, 0)


def test_auto_prefers_the_laplace_component_where_it_is_the_better_proposal():
    """With one mode, base='auto' scores the Laplace fit at the mode against the warm-start draws'
    Gaussian: on a correlated 20-d Gaussian (draws' covariance from 300 draws: ESS well under 1)
    the Laplace component is exact and is kept; on a flat-topped posterior it is far too broad
    and is not."""
    from numpyro_pinn.bases import Auto
    from numpyro_pinn.warmstart import from_draws

    d = 20
    rng = np.random.default_rng(1)
    a = rng.normal(size=(d, d))
    cov = a @ a.T / d + 0.1 * np.eye(d)
    prec = jnp.asarray(np.linalg.inv(cov))
    mu = jnp.asarray(rng.normal(size=d))
    gauss = lambda x: 0.5 * (x - mu) @ prec @ (x - mu)
    ws = from_draws(rng.multivariate_normal(np.asarray(mu), cov, 300))
    lap = mode_mixture(gauss, ws.mean, ws.chol, ws.draws, max_draws=8, one_mode="laplace")
    assert lap is not None and lap.means.shape == (1, d)
    assert mode_mixture(gauss, ws.mean, ws.chol, ws.draws, max_draws=8) is None  # the default: None for one mode
    mix, evals = Auto().one_mode_mixture(jax.random.PRNGKey(0), gauss, ws, "prior", laplace=lap)
    assert mix is lap and evals == 2 * 2048
    lw0, lw1 = (proposal_log_weights(gauss, ws.mean, ws.chol, p, jax.random.PRNGKey(9), 4096) for p in (None, mix))
    assert ess(lw0) < 0.8 and ess(lw1) > 0.999
    # The component is the exact posterior: log Z = log((2 pi)^(d/2) |cov|^(1/2)) to MC error (~0).
    log_z = 0.5 * d * np.log(2 * np.pi) + 0.5 * np.linalg.slogdet(cov)[1]
    np.testing.assert_allclose(log_evidence(jnp.asarray(lw1)), log_z, atol=1e-6)

    # A flat-topped posterior (U = sum x^4 / 4): no curvature at the mode, so the Laplace fit is
    # far too broad; the draws' Gaussian is kept. Its ESS is below 0.9, so a refit is tried (2,048
    # more evaluations); no Gaussian follows a flat top better, and it is not kept.
    quartic = lambda x: 0.25 * jnp.sum(x**4)
    ws = from_draws(0.8 * rng.standard_normal((2000, 2)))
    lap = mode_mixture(quartic, ws.mean, ws.chol, ws.draws, max_draws=8, one_mode="laplace")
    assert lap is not None and lap.means.shape == (1, 2)
    no_quick = Auto(quick_components=None)
    assert no_quick.one_mode_mixture(jax.random.PRNGKey(0), quartic, ws, "prior", laplace=lap) == (None, 3 * 2048)
    # The quick draws mixture follows the flat top (ESS 0.89 -> 0.99 measured) and is kept.
    mix, _ = Auto().one_mode_mixture(jax.random.PRNGKey(0), quartic, ws, "prior", laplace=lap)
    assert mix is not None and mix is not lap and mix.means.shape[0] > 1
    assert ess(proposal_log_weights(quartic, ws.mean, ws.chol, mix, jax.random.PRNGKey(9), 4096)) > 0.95


def _correlated_target():
    """A 3-d Gaussian with correlation 0.999 between its first two coordinates (a regression on an
    uncentred covariate), its exact log Z, and a warm start whose draws have correlation 0.99
    there (10 times too wide along the narrow direction)."""
    from numpyro_pinn.warmstart import from_draws

    mu = np.array([1.0, -2.0, 0.5])
    def cov_with(rho):
        return np.array([[1.0, rho, 0.0], [rho, 1.0, 0.0], [0.0, 0.0, 4.0]])
    cov = cov_with(0.999)
    prec = jnp.asarray(np.linalg.inv(cov))
    potential = lambda x: 0.5 * (x - mu) @ prec @ (x - mu)
    log_z = 1.5 * np.log(2 * np.pi) + 0.5 * np.linalg.slogdet(cov)[1]
    draws = np.random.default_rng(3).multivariate_normal(mu, cov_with(0.99), 2000)
    return potential, mu, cov, log_z, from_draws(draws)


def test_refit_gaussian_corrects_a_warm_start_too_wide_along_a_narrow_direction():
    """The cross-entropy refit of N(0, I) whose covariance is 10 times too wide along the target's
    narrow direction (ESS ~0.45): the refitted Gaussian has the target's mean and covariance to
    Monte Carlo error, its weights an ESS above 0.9 and log Z the exact one to within 4 standard
    errors; Auto keeps it ("refit") at 2,048 evaluations per refit tried."""
    from numpyro_pinn.bases import Auto, proposal_draws, refit_gaussian
    from numpyro_pinn.diagnostics import log_evidence_se

    potential, mu, cov, log_z, ws = _correlated_target()
    x, lw = proposal_draws(potential, ws.mean, ws.chol, None, jax.random.PRNGKey(0))
    assert 0.3 < ess(lw) < 0.6
    mix, lw_fit, evals = refit_gaussian(potential, ws.mean, ws.chol, x, lw, jax.random.PRNGKey(1), 2000)
    assert mix is not None and mix.means.shape == (2, 3) and evals % 2048 == 0 and evals >= 2048
    assert ess(lw_fit) > 0.9
    assert abs(log_evidence(lw_fit) - log_z) < 4 * log_evidence_se(lw_fit) + 1e-3
    chol = np.asarray(ws.chol)
    m_fit = np.asarray(ws.mean) + chol @ np.asarray(mix.means[0], np.float64)
    l_fit = chol @ np.asarray(mix.chols[0], np.float64)
    # About 900 effective draws: standard errors about 0.035 sd for the mean and 5% for a variance.
    z = np.linalg.solve(np.linalg.cholesky(cov), m_fit - mu)
    assert np.max(np.abs(z)) < 0.12
    white = np.linalg.solve(np.linalg.cholesky(cov), l_fit)
    eig = np.linalg.eigvalsh(white @ white.T)
    assert 0.82 < eig.min() and eig.max() < 1.18

    kept, evals, kind = Auto(heavy_tail=False).one_mode_mixture(jax.random.PRNGKey(2), potential, ws, "prior",
                                                                 return_kind=True)
    assert kind == "refit" and kept.means.shape == (2, 3) and evals % 2048 == 0 and evals > 2048
    lw = proposal_log_weights(potential, ws.mean, ws.chol, kept, jax.random.PRNGKey(9), 4096)
    assert ess(lw) > 0.9
    # refit_below=0: never refitted; the warm start's Gaussian stays.
    assert Auto(refit_below=0.0).one_mode_mixture(jax.random.PRNGKey(2), potential, ws, "prior") == (None, 2048)
    with pytest.raises(ValueError, match="refit_below"):
        Auto(refit_below=1.5)
    with pytest.raises(ValueError, match="refit_below"):
        Auto(refit_below=True)


@pytest.mark.slow
def test_auto_fits_a_quick_draws_mixture_where_a_gaussian_would_not_end_training():
    """A mildly skewed posterior (log of a Gamma(1) scale, and a regression on it) whose Gaussian
    proposal has ESS ~0.86, which no Gaussian refit raises: Auto keeps the quick 16-component
    draws mixture, whose weights have ESS above 0.9, Pareto k under 0.5 and the exact log Z to
    within 4 standard errors; with quick_components=None the Gaussian stays."""
    from scipy.special import gammaln

    from numpyro_pinn.bases import QUICK_COMPONENTS, Auto
    from numpyro_pinn.bases.options import QUICK_REFINE_ITERS
    from numpyro_pinn.diagnostics import log_evidence_se, pareto_k
    from numpyro_pinn.warmstart import from_draws

    potential = lambda x: jnp.exp(x[0]) - x[0] + 0.5 * (x[1] - 0.5 * x[0]) ** 2
    log_z = gammaln(1.0) + 0.5 * np.log(2 * np.pi)
    rng = np.random.default_rng(0)
    y = np.log(rng.gamma(1.0, size=2000))
    ws = from_draws(np.stack([y, 0.5 * y + rng.standard_normal(2000)], 1))
    lw0 = proposal_log_weights(potential, ws.mean, ws.chol, None, jax.random.PRNGKey(9), 4096)
    assert 0.8 < ess(lw0) < 0.9
    mix, evals_quick, kind = Auto(heavy_tail=False).one_mode_mixture(jax.random.PRNGKey(0), potential, ws, "prior",
                                                                      return_kind=True)
    assert kind == "refit" and mix.means.shape == (QUICK_COMPONENTS, 2)
    lw = proposal_log_weights(potential, ws.mean, ws.chol, mix, jax.random.PRNGKey(9), 4096)
    assert ess(lw) > 0.95 and pareto_k(lw) < 0.5
    assert abs(log_evidence(lw) - log_z) < 4 * log_evidence_se(lw) + 1e-3
    kept, evals, kind = Auto(heavy_tail=False, quick_components=None).one_mode_mixture(
        jax.random.PRNGKey(0), potential, ws, "prior", return_kind=True)
    assert kept is None and kind is None and evals == 2 * 2048  # the Gaussian, after a refit not kept
    # The quick mixture's reported cost is its refinement's: a first score and two candidates scored
    # per step, 512 draws per component each, and its own 2,048-draw score.
    assert evals_quick - evals == (2 * QUICK_REFINE_ITERS + 1) * QUICK_COMPONENTS * 512 + 2048
    # Where no proposal can end training (refit_below=1), the quick mixture is still kept as the
    # better importance sampler, for training to start from.
    better, _, kind = Auto(heavy_tail=False, refit_below=1.0).one_mode_mixture(
        jax.random.PRNGKey(0), potential, ws, "prior", return_kind=True)
    assert kind == "refit" and better.means.shape == (QUICK_COMPONENTS, 2)
    with pytest.raises(ValueError, match="quick_components"):
        Auto(quick_components=0)
    # With fewer draws than its components' covariances have entries (40 < 16 x 3), no quick mixture.
    few = from_draws(np.asarray(ws.draws)[:40])
    _, evals_few = Auto(heavy_tail=False).one_mode_mixture(jax.random.PRNGKey(0), potential, few, "prior")
    assert evals_few < QUICK_COMPONENTS * 512


def test_the_quick_mixture_needs_a_covariances_entries_in_draws_per_component():
    """``Auto.quick_fits``: 16 components need 16 d (d + 1) / 2 warm-start draws: 2,048 fit up to
    15 dimensions, and four components fit 31. Mutation: a rule on the components alone passes
    every dimension."""
    from numpyro_pinn.bases import Auto
    from numpyro_pinn.warmstart import WarmStart

    ws = lambda d, n: WarmStart(jnp.zeros(d), jnp.eye(d), jnp.zeros(()), jnp.zeros((n, d)), "draws")
    assert Auto().quick_fits(ws(15, 2048)) and not Auto().quick_fits(ws(16, 2048))
    assert Auto(quick_components=4).quick_fits(ws(31, 2048)) and not Auto().quick_fits(ws(31, 2048))


@pytest.mark.slow
def test_skewed_mixture_density_matches_its_draws():
    """A skewed component's log_prob integrates to one and has the mean of its own draws."""
    from numpyro_pinn.bases import make_mixture

    mix = make_mixture(np.array([[-1.0], [2.0]]), np.array([[[0.5]], [[0.8]]]), np.log([0.3, 0.7]), np.zeros(1),
                   skews=np.array([[0.6], [-0.4]]))
    g = jnp.linspace(-12.0, 14.0, 20001)
    dens = np.exp(np.asarray(jax.vmap(mix.log_prob)(g[:, None])))
    dx = float(g[1] - g[0])
    assert abs(dens.sum() * dx - 1.0) < 1e-4
    ys = np.asarray(sample(mix, jax.random.PRNGKey(0), 200000, 1))[:, 0]
    mean_quad = float((np.asarray(g) * dens).sum() * dx)
    assert abs(ys.mean() - mean_quad) < 4 * ys.std() / np.sqrt(len(ys))
    # and the skew moves mass as the map says: component 1 (skew +0.6) is right-skewed
    from scipy.stats import skew
    z = np.asarray(mix.sample_components(jax.random.PRNGKey(1), jnp.zeros(50000, jnp.int32)))[:, 0]
    assert skew(z) > 0.5


@pytest.mark.slow
@pytest.mark.parametrize("full", [True, False])
def test_fit_skew_improves_a_double_well_prior_and_keeps_log_z_exact(full):
    """Four modes of exp(-sum (x_i^2 - 3)^2), each steeper towards the barrier: the skewed prior's
    importance-sampling ESS beats the Gaussian mixture's, and its log Z (a check that its density is
    the law of its draws) is right within Monte Carlo error; log Z by 1-D quadrature. Both
    parametrisations: refitted Cholesky factors, and (``full=False``, the one for high dimension)
    the start's factors with a scale per axis, which must keep the start's axes."""
    from scipy import integrate

    from numpyro_pinn.bases import fit_skew

    delta = 3.0
    pot = lambda x: jnp.sum((x**2 - delta) ** 2)
    z1, _ = integrate.quad(lambda t: np.exp(-((t**2 - delta) ** 2)), -np.inf, np.inf, epsabs=1e-13)
    log_z = 2 * np.log(z1)
    rng = np.random.default_rng(0)
    modes = np.sqrt(delta) * np.array([[s1, s2] for s1 in (-1, 1) for s2 in (-1, 1)])
    draws = np.concatenate([m + rng.normal(size=(150, 2)) / np.sqrt(8 * delta) for m in modes])
    mean, chol = jnp.zeros(2), jnp.eye(2)
    gauss = mode_mixture(pot, mean, chol, jnp.asarray(draws), rng_key=jax.random.PRNGKey(0))
    assert gauss is not None and gauss.means.shape[0] == 4 and gauss.skews is None
    skewed = fit_skew(pot, mean, chol, gauss, jax.random.PRNGKey(1), full=full)
    assert skewed.skews is not None
    if not full:  # chols_k diag(s_k): the same columns up to positive scales
        g, c = np.asarray(gauss.chols), np.asarray(skewed.chols)
        scale = np.diagonal(c, axis1=1, axis2=2) / np.diagonal(g, axis1=1, axis2=2)
        assert np.all(scale > 0) and np.any(np.abs(scale - 1) > 1e-3)
        np.testing.assert_allclose(c, g * scale[:, None, :], rtol=1e-5, atol=1e-7)
    lw_g = proposal_log_weights(pot, mean, chol, gauss, jax.random.PRNGKey(2), 40000)
    lw_s = proposal_log_weights(pot, mean, chol, skewed, jax.random.PRNGKey(3), 40000)
    assert ess(lw_s) > ess(lw_g) + 0.02, (ess(lw_g), ess(lw_s))
    assert np.mean(lw_s) > np.mean(lw_g)  # the lower bound rose
    w = np.exp(lw_s - lw_s.max())
    se = np.std(w) / np.mean(w) / np.sqrt(len(w))
    assert abs(log_evidence(lw_s) - log_z) < 4 * se + 1e-4, (log_evidence(lw_s) - log_z, se)


@pytest.mark.slow
def test_reweight_recovers_mode_weights():
    """Two Gaussian modes of mass 0.25 / 0.75 (d = 3, 8 standard deviations apart) and a mixture
    with the right components but weights 0.5 / 0.5: reweighting finds 0.25 / 0.75. With the modes
    this far apart each draw's responsibility is 0 or 1 and the stratified estimate of a weight is
    ``0.5 r_1 / (0.5 r_1 + 0.5 r_2)`` with ``r_k = q / prop`` constant on each mode: exact up to the
    float32 overlap, hence the tight tolerance. Weights that are already right are not changed by
    more than Monte Carlo error, and the step raises the importance-sampling ESS."""
    from numpyro_pinn.bases import make_mixture, reweight

    d = 3
    mu = np.zeros((2, d))
    mu[1, 0] = 8.0
    chols = np.broadcast_to(np.eye(d), (2, d, d)).copy()
    lse = jax.scipy.special.logsumexp

    def pot(x):
        lc = jnp.stack([-0.5 * jnp.sum((x - mu[0]) ** 2), -0.5 * jnp.sum((x - mu[1]) ** 2)])
        return -lse(lc + jnp.log(jnp.array([0.25, 0.75])))

    mean, chol = jnp.zeros(d), jnp.eye(d)
    wrong = make_mixture(mu, chols, np.log([0.5, 0.5]), np.zeros(1))
    fixed = reweight(pot, mean, chol, wrong, jax.random.PRNGKey(0))
    w = np.exp(np.asarray(fixed.log_weights))
    np.testing.assert_allclose(w, [0.25, 0.75], atol=1e-3)
    lw_before = proposal_log_weights(pot, mean, chol, wrong, jax.random.PRNGKey(1), 20000)
    lw_after = proposal_log_weights(pot, mean, chol, fixed, jax.random.PRNGKey(1), 20000)
    # ESS of the wrong weights: 1 / (0.25^2 / 0.5 + 0.75^2 / 0.5) = 0.8
    assert ess(lw_before) < 0.85 and ess(lw_after) > 0.999, (ess(lw_before), ess(lw_after))
    again = reweight(pot, mean, chol, fixed, jax.random.PRNGKey(2))
    np.testing.assert_allclose(np.exp(np.asarray(again.log_weights)), w, atol=1e-3)


@pytest.mark.slow
def test_skew_weights_keeps_gaussian_components_with_reweighted_weights():
    """``skew="weights"``: the skewed fit only re-estimates the mixture's weights; the prior the
    transport starts from has Gaussian components (``diagnostics["base_skewed"]`` is False) and the
    re-estimated weights, which must match the target's mode masses 0.25 / 0.75 (the modes are far
    apart, so the estimate is near-exact; tolerance 0.01)."""
    with pytest.raises(ValueError, match="skew"):
        ModeMixture(skew="yes")
    s = PINNSampler(potential_fn=two_modes, base=ModeMixture(skew="weights"), num_steps=250,
                    training=Training(min_steps=250), num_samples=2000, progress_bar=False).run(
        jax.random.PRNGKey(0), init_params=jnp.zeros(2))
    pr = s.base_distribution
    assert s.diagnostics["base_skewed"] is False and pr.skews is None
    w = np.sort(np.exp(np.asarray(pr.log_weights)))
    np.testing.assert_allclose(w, [0.25, 0.75], atol=0.01)


def test_drift_scale_follows_the_component_widths():
    """``local_scale`` is a component's Cholesky factor over the typical scale where that component
    is responsible; ``drift_scale="auto"`` turns it on only for components of very different sizes."""
    from numpyro_pinn.bases import local_scale, scale_spread
    from numpyro_pinn.transports.ode import DRIFT_SCALE_SPREAD, ODETransport

    means = jnp.array([[-3.0, 0.0], [3.0, 0.0]])
    chols = jnp.stack([0.001 * jnp.eye(2), jnp.eye(2)])
    mix = make_mixture(means, chols, jnp.log(jnp.array([0.5, 0.5])), jnp.zeros(1, jnp.int32))
    typical = 0.001 ** 0.5  # exp(0.5 log 0.001 + 0.5 log 1)
    scale = local_scale(mix)
    np.testing.assert_allclose(np.asarray(scale(means[0])), 0.001 / typical * np.eye(2), rtol=1e-4)
    np.testing.assert_allclose(np.asarray(scale(means[1])), 1.0 / typical * np.eye(2), rtol=1e-4)
    assert scale_spread(mix) == pytest.approx(1000.0, rel=1e-4) and scale_spread(None) == 1.0
    assert 10.0 < DRIFT_SCALE_SPREAD < 1000.0
    assert ODETransport().for_prior(mix).drift_scale == "prior"
    for ratio in (2.0, 30.0):  # equal-sized components, and a spread like baseball's base (34)
        unequal = mix._replace(chols=jnp.stack([jnp.eye(2), ratio * jnp.eye(2)]))
        assert ODETransport().for_prior(unequal).drift_scale == "none"
    assert ODETransport().for_prior(None).drift_scale == "none"
    assert ODETransport(drift_scale="none").for_prior(mix).drift_scale == "none"
    with pytest.raises(ValueError, match="drift_scale"):
        ODETransport(drift_scale="local")


@pytest.mark.slow
def test_fallback_keeps_the_better_proposal():
    """A Gaussian target with the exact Laplace warm start: the prior alone has equal weights (ESS 1),
    a briefly trained transport does not, so the prior's draws are kept (exact log Z, ESS 1), and
    ``sample`` draws from it too; with ``fallback=False`` the transport's are."""
    pot = lambda x: 0.5 * jnp.sum((x - 1.0) ** 2 / jnp.array([0.5, 2.0]))
    log_z = float(np.log(2 * np.pi) + 0.5 * np.log(0.5 * 2.0))
    kw = dict(potential_fn=pot, warm_start="laplace", num_steps=60, training=Training(min_steps=60), target_ess=None,
              num_samples=1000, progress_bar=False)
    s = PINNSampler(**kw, base="gaussian").run(jax.random.PRNGKey(0), init_params=jnp.zeros(2))
    d = s.diagnostics
    assert d["proposal"] == "base" and d["base_ess"] > d["transport_ess"], d
    assert d["ess"] == pytest.approx(1.0, abs=1e-9) and d["log_Z"] == pytest.approx(log_z, abs=1e-6)
    _, lw = s.sample(jax.random.PRNGKey(1), 500, weighted=True)
    assert np.ptp(np.asarray(lw)) < 1e-5  # prior draws again: equal weights up to the base's float32 density
    assert "the transport's base distribution" in s.summary_line()
    t = PINNSampler(**kw, base=Gaussian(fallback=False)).run(jax.random.PRNGKey(0), init_params=jnp.zeros(2))
    assert t.diagnostics["proposal"] == "transport" and "base_ess" not in t.diagnostics
    assert t.diagnostics["ess"] < 1.0


def test_climb_batch_is_validated():
    with pytest.raises(ValueError, match="climb_batch"):
        mode_mixture(lambda x: 0.5 * jnp.sum(x**2), jnp.zeros(2), jnp.eye(2), jnp.zeros((4, 2)), climb_batch=0)


@pytest.mark.slow
def test_base_options_build_what_they_say_and_report_their_cost():
    """The option objects: ``Gaussian`` builds ``N(0, I)`` for free; ``ModeMixture`` one component
    per mode with weights fitted to the target (0.25 / 0.75 from half-and-half draws) and counts
    its target evaluations; a transport with a fixed base (role ``None``) gets nothing; ``Auto``
    makes the same choice here. Names resolve to objects and round-trip through plain data."""
    import json

    from numpyro_pinn import bases
    from numpyro_pinn.warmstart import from_draws

    rng = np.random.default_rng(0)
    draws = np.concatenate([np.asarray(MUS[0]) + 0.5 * rng.normal(size=(300, 2)),
                            np.asarray(MUS[1]) + 0.3 * rng.normal(size=(300, 2))])
    ws = from_draws(jnp.asarray(draws))
    key = jax.random.PRNGKey(0)
    g = bases.Gaussian().build(key, two_modes, ws, "prior")
    assert g.prior is None and g.mixture is None and g.info["target_evals"] == 0
    m = bases.ModeMixture(skew=False).build(key, two_modes, ws, "prior")
    assert m.prior is m.mixture and m.prior.means.shape == (2, 2) and m.info["target_evals"] > 0
    assert m.info["seconds"] > 0
    w = np.sort(np.exp(np.asarray(m.prior.log_weights)))
    np.testing.assert_allclose(w, [0.25, 0.75], atol=0.02)
    assert bases.ModeMixture().build(key, two_modes, ws, None)[:2] == (None, None)
    a = bases.Auto(skew=False, heavy_tail=False).build(key, two_modes, ws, "prior")
    np.testing.assert_array_equal(np.asarray(a.prior.means), np.asarray(m.prior.means))
    for name, cls in (("auto", bases.Auto), ("gaussian", bases.Gaussian), ("mixture", bases.ModeMixture),
                      ("draws", bases.DrawsMixture)):
        assert isinstance(bases.resolve(name), cls)
    for opt in (bases.Auto(skew="weights", draw_options={"path_spacing": 0.25}), bases.Gaussian(fallback=False),
                bases.DrawsMixture(skew_steps=10)):
        assert bases.from_dict(json.loads(json.dumps(bases.to_dict(opt)))) == opt


@pytest.mark.slow
def test_a_draws_mixture_keeps_its_fitted_weights_and_is_skewed_only_with_skew_draws():
    """``DrawsMixture`` (as ``Auto`` for one mode far from Gaussian): its Gaussians fitted to the
    draws of a 2-d funnel and then to the target keep their components and the weights that fit
    gave by default (no reweighting: the refinement fitted them to the target), while
    ``skew_draws=True`` skews them (the skew fit raises the lower bound on a funnel, so it is kept)
    and reweights them, and ``ModeMixture`` still skews its separated modes' components
    (``test_skew_weights...``, ``test_fit_skew...``). Mutations: ignoring ``skew_draws`` (skewing
    every draws mixture), or reweighting the unskewed one, fail it."""
    from numpyro_pinn.bases import DrawsMixture
    from numpyro_pinn.warmstart import from_draws

    with pytest.raises(ValueError, match="skew_draws"):
        DrawsMixture(skew_draws="yes")

    def pot(x):  # x_0 ~ N(0, 1.5^2), x_1 | x_0 ~ N(0, e^x_0)
        return x[0] ** 2 / 4.5 + 0.5 * x[1] ** 2 * jnp.exp(-x[0]) + 0.5 * x[0]

    rng = np.random.default_rng(0)
    x0 = 1.5 * rng.standard_normal(3000)
    ws = from_draws(np.column_stack([x0, np.exp(x0 / 2) * rng.standard_normal(3000)]))
    opts = dict(skew_steps=50, draw_options={"num_components": 4, "path_points": 0})
    plain = DrawsMixture(**opts).build(jax.random.PRNGKey(0), pot, ws, "prior")
    assert plain.prior.means.shape[0] == 4 and plain.prior.skews is None
    fitted, evals = draw_mixture(pot, ws.mean, ws.chol, ws.draws, rng_key=jax.random.fold_in(jax.random.PRNGKey(0), 1),
                                 return_evals=True, **opts["draw_options"])
    np.testing.assert_array_equal(np.asarray(plain.prior.log_weights), np.asarray(fitted.log_weights))
    assert plain.info["target_evals"] == evals
    skewed = DrawsMixture(skew_draws=True, **opts).build(jax.random.PRNGKey(0), pot, ws, "prior")
    assert skewed.prior.skews is not None
    assert plain.info["target_evals"] < skewed.info["target_evals"]
