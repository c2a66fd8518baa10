"""Unit tests of the pure pieces against hand-computed values (no training)."""
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy.special import logsumexp

from numpyro_pinn import diagnostics
from numpyro_pinn.transports.losses import divergence
from numpyro_pinn.sample import flow, whitened_target
from numpyro_pinn.warmstart import find_mode, from_draws, laplace, smc


def test_ess_and_log_evidence_hand_values():
    assert diagnostics.ess(np.zeros(10)) == pytest.approx(1.0)
    lw = np.log([1.0, 3.0])  # (1+3)^2 / (2 (1 + 9)) = 0.8
    assert diagnostics.ess(lw) == pytest.approx(0.8)
    # zero weights (-inf) and failed particles (NaN) count in n: (1+3)^2 / (4 (1 + 9)) = 0.4
    assert diagnostics.ess(np.r_[lw, -np.inf, np.nan]) == pytest.approx(0.4)
    assert diagnostics.log_evidence(lw) == pytest.approx(np.log(2.0))
    assert diagnostics.log_evidence_lower_bound(lw) == pytest.approx(np.mean(lw))
    assert diagnostics.log_evidence_se(np.zeros(100)) == pytest.approx(0.0)


def test_pareto_k_separates_light_and_heavy_tails():
    rng = np.random.default_rng(0)
    light = rng.normal(0, 0.1, 4000)  # lognormal weights with small sigma: k well below 0.5
    heavy = np.log(rng.pareto(1.0 / 0.9, 4000) + 1.0)  # Pareto tail index 0.9 > 0.7
    assert diagnostics.pareto_k(light) < 0.5
    assert diagnostics.pareto_k(heavy) > 0.7


def test_divergence_exact_and_hutchinson_on_linear_field():
    a = jnp.array([[1.0, 2.0, 0.0], [0.5, -3.0, 1.0], [0.0, 4.0, 0.7]])
    f = lambda y: a @ y
    y = jnp.array([0.3, -1.0, 2.0])
    assert float(divergence(f, y, None)) == pytest.approx(float(jnp.trace(a)), rel=1e-6)
    eps = jax.random.rademacher(jax.random.PRNGKey(0), (20000, 3), dtype=jnp.float64)
    est = jax.vmap(lambda e: divergence(f, y, e))(eps)
    # Rademacher probes: var = 2 sum_{i != j} a_ij^2 (symmetrised); 5 standard errors.
    sym = 0.5 * (a + a.T)
    var = 2 * (jnp.sum(sym**2) - jnp.sum(jnp.diag(sym) ** 2))
    assert abs(float(jnp.mean(est)) - float(jnp.trace(a))) < 5 * float(jnp.sqrt(var / 20000))


@pytest.mark.slow
def test_flow_log_density_on_linear_field_is_exact():
    """Change of variables through diffrax: y1 = e^a y0 and log p1 = log p0 - d a, so the
    importance weights of the target N(0, e^{2a}) are all exactly log Z."""
    a, d = 0.7, 3
    potential = lambda x: 0.5 * jnp.sum(x**2) * np.exp(-2 * a) - 1.234  # log Z = d a + d/2 log 2 pi + 1.234
    log_z = d * a + 0.5 * d * np.log(2 * np.pi) + 1.234
    tgt = whitened_target(potential, jnp.zeros(d), jnp.eye(d), 0.0)
    mu = lambda y, t: a * y
    div = lambda y, t: divergence(lambda z: mu(z, t), y, None)
    fd = flow(jax.random.PRNGKey(0), mu, div, tgt, 64)
    np.testing.assert_allclose(np.asarray(fd.log_weights), log_z, atol=1e-4)


def test_laplace_on_gaussian_is_exact():
    cov = jnp.array([[2.0, 1.9], [1.9, 2.0]])  # correlation 0.95
    prec = jnp.linalg.inv(cov)
    m = jnp.array([100.0, -3.0])
    potential = lambda x: 0.5 * (x - m) @ prec @ (x - m) + 1900.0
    ws = laplace(potential, jnp.zeros(2))
    np.testing.assert_allclose(ws.mean, m, atol=1e-6)
    np.testing.assert_allclose(ws.chol @ ws.chol.T, cov, rtol=1e-6)
    true_log_z = -1900.0 + np.log(2 * np.pi) + 0.5 * np.log(np.linalg.det(np.asarray(cov)))
    assert float(ws.log_Z) == pytest.approx(true_log_z, abs=1e-6)


def test_find_mode_on_near_collinear_logistic_regression():
    rng = np.random.default_rng(0)
    x = rng.normal(2000.0, 10.0, 200)  # like kilpisjarvi: large, badly centred covariate
    y = 0.3 + 0.01 * (x - 2000.0) + rng.normal(0, 0.5, 200)
    X = jnp.stack([jnp.ones(200), jnp.asarray(x)], 1)
    potential = lambda b: 0.5 * jnp.sum((y - X @ b) ** 2) / 0.25
    mode, h, _ = find_mode(potential, jnp.zeros(2))
    ols = np.linalg.lstsq(np.asarray(X), y, rcond=None)[0]
    np.testing.assert_allclose(mode, ols, rtol=1e-6)


@pytest.mark.slow
def test_smc_warm_start_covers_separated_modes_with_right_weights():
    mus = jnp.array([[-6.0, 0.0], [6.0, 0.0]])
    logw = jnp.log(jnp.array([0.3, 0.7]))

    def potential(x):
        lp = -0.5 * jnp.sum((x - mus) ** 2, -1) / 0.25 - jnp.log(2 * jnp.pi * 0.25)
        return -logsumexp_j(lp + logw)

    lap = laplace(potential, jnp.array([5.0, 0.5]))
    ws = smc(jax.random.PRNGKey(0), potential, lap, num_particles=2000, scale=20.0)
    frac_left = float(jnp.mean(ws.draws[:, 0] < 0))
    # SMC resampling noise is larger than iid binomial noise; allow 0.06 (about 4 binomial sds x 1.5).
    assert abs(frac_left - 0.3) < 0.06
    assert abs(float(ws.log_Z)) < 0.15  # the target is normalised


@pytest.mark.slow
def test_smc_defensive_component_rescues_a_useless_laplace_fit():
    # Neal's funnel (d = 10, normalised): its only mode is at v = -40.5, deep in the neck, with widths
    # of 1e-9 across it; a reference built on that Laplace fit alone never reaches the bulk (log Z
    # off by ~60). With the defensive N(x0, 10^2 I) component, SMC reaches it; its log Z is still
    # low by up to ~1.1 at 1,024 particles (seeds 0-3: -0.68, -1.14, -1.00, -0.02), as HMC misses
    # part of the neck, hence the loose bound; the two cases are 25 nats apart.
    def funnel(x):
        v = x[0]
        return 0.5 * v**2 / 9.0 + 0.5 * jnp.log(2 * jnp.pi * 9.0) + jnp.sum(
            0.5 * x[1:] ** 2 * jnp.exp(-v) + 0.5 * v + 0.5 * jnp.log(2 * jnp.pi))

    x0 = jnp.zeros(10)
    lap = laplace(funnel, x0)
    assert float(lap.mean[0]) < -40.0
    with_def = smc(jax.random.PRNGKey(0), funnel, lap, num_particles=1024, centre=x0)
    without = smc(jax.random.PRNGKey(0), funnel, lap, num_particles=1024)
    assert abs(float(with_def.log_Z)) < 2.5
    assert float(without.log_Z) < -20.0
    assert abs(float(jnp.mean(with_def.draws[:, 0]))) < 5.0  # in the bulk, not the neck's mode


def test_smc_rejects_bad_defensive_arguments():
    lap = laplace(lambda x: 0.5 * jnp.sum(x**2), jnp.ones(2))
    with pytest.raises(ValueError, match="`defensive` must be in"):
        smc(jax.random.PRNGKey(0), lambda x: 0.5 * jnp.sum(x**2), lap, centre=jnp.zeros(2), defensive=1.0)
    with pytest.raises(ValueError, match=r"`centre` must have shape \(2,\)"):
        smc(jax.random.PRNGKey(0), lambda x: 0.5 * jnp.sum(x**2), lap, centre=jnp.zeros(3))


def logsumexp_j(a):
    return jax.scipy.special.logsumexp(a)


def test_from_draws_rejects_bad_shapes():
    with pytest.raises(ValueError, match="shape"):
        from_draws(jnp.zeros(5))
    ws = from_draws(jax.random.normal(jax.random.PRNGKey(0), (500, 2)) * jnp.array([1.0, 3.0]))
    np.testing.assert_allclose(jnp.diag(ws.chol @ ws.chol.T), [1.0, 9.0], rtol=0.2)


def test_logsumexp_matches_scipy():
    lw = np.array([-1.0, 2.0, 0.5])
    assert diagnostics.log_evidence(lw) == pytest.approx(logsumexp(lw) - np.log(3))


def test_pareto_k_above_threshold_warns_and_resampling_follows_weights():
    from numpyro_pinn.sample import systematic_resample

    rng = np.random.default_rng(0)
    x = jnp.asarray(rng.normal(size=(4000, 1)))
    heavy = np.log(rng.pareto(1.0 / 0.9, 4000) + 1.0)
    summary = diagnostics.summarize(heavy)
    messages = " ".join(diagnostics.weight_warnings(summary))
    assert "Pareto k-hat" in messages and "ESS is" in messages  # a few huge weights: both flags
    assert summary["pareto_k"] > 0.7
    light = jnp.where(x[:, 0] > 0, jnp.log(3.0), 0.0)  # positive half weighted 3:1
    assert diagnostics.weight_warnings(diagnostics.summarize(light)) == []
    z = x[systematic_resample(jax.random.PRNGKey(1), light, 2000)]
    frac = float(jnp.mean(z[:, 0] > 0))
    assert abs(frac - 0.75) < 5 * np.sqrt(0.75 * 0.25 / 2000)
    # A few particles carry all the weight (ESS 0.025, 100 effective draws of 4000): flagged.
    few = np.where(np.arange(4000) < 100, 0.0, -30.0)
    (message,) = diagnostics.weight_warnings(diagnostics.summarize(few))
    assert "ESS is 0.025: the 4000 particles hold about 100 independent" in message
    # Failed particles (NaN) are counted, flagged and get weight 0.
    failed = diagnostics.summarize(np.where(np.arange(4000) < 3, np.nan, 0.0))
    assert failed["num_failed_particles"] == 3 and failed["ess"] == pytest.approx(3997 / 4000)
    assert "3 of 4000 particles have no importance weight" in diagnostics.weight_warnings(failed)[0]


def test_a_run_warns_where_the_user_looks(monkeypatch):
    """The sampler issues every weight warning as a RuntimeWarning (through its public draw path:
    a proposal whose weights are degenerate)."""
    import numpyro_pinn.sampler as sampler_mod
    from numpyro_pinn import PINNSampler

    monkeypatch.setattr(sampler_mod.diagnostics, "weight_warnings", lambda summary: ["flagged"])
    s = PINNSampler(potential_fn=lambda x: 0.5 * jnp.sum(x**2), warm_start="laplace", num_steps=1, target_ess=None,
                    num_samples=100, progress_bar=False)
    with pytest.warns(RuntimeWarning, match="flagged"):
        s.run(jax.random.PRNGKey(0), init_params=jnp.zeros(1))


def test_pareto_k_of_flat_topped_weights_is_not_a_false_alarm():
    from numpyro_pinn.diagnostics import pareto_k

    assert pareto_k(np.zeros(1000)) == 0.0  # exact transport: constant log weights
    rng = np.random.default_rng(1)
    assert pareto_k(rng.normal(size=4000) * 0.1) < 0.5
    assert pareto_k(np.log(rng.pareto(1.0 / 0.9, 4000) + 1.0)) > 0.7


def test_flow_marks_particles_whose_solve_stops_early():
    """A solve that hits max_steps returns its state at the time it reached, not at t1: such a
    particle must get a NaN log density (no weight), never a silently wrong one."""
    tgt = whitened_target(lambda x: 0.5 * jnp.sum(x**2), jnp.zeros(2), jnp.eye(2), 0.0)
    # dy/dt = -k y with k = 1 for y_0 > 0 and k = 2000 (stiff for an explicit solver) otherwise.
    rate = lambda y: jnp.where(y[0] > 0, 1.0, 2000.0)
    mu, div = (lambda y, t: -rate(y) * y), (lambda y, t: -2.0 * rate(y))
    fd = flow(jax.random.PRNGKey(0), mu, div, tgt, 64, max_steps=64)
    lp = np.asarray(fd.log_p)
    slow = np.isnan(lp)
    # exactly the stiff particles (y_0 > 0 keeps its sign along the flow) fail
    np.testing.assert_array_equal(slow, np.asarray(fd.y)[:, 0] <= 0)
    assert slow.any() and (~slow).any()
    assert np.all(np.isfinite(lp[~slow]))
    assert np.all(np.isnan(np.asarray(fd.log_weights)[slow]))


@pytest.mark.parametrize("num_steps, chunk_size, bar", [(300, 250, False), (7, 3, False), (250, 250, False),
                                                        (5, 10, False), (300, 250, True), (7, 3, True)])
def test_fit_takes_exactly_num_steps_in_equal_chunks(num_steps, chunk_size, bar, monkeypatch):
    """``fit`` takes exactly ``num_steps`` kernel steps (one compiled chunk length; the last chunk's
    extra steps are skipped and leave the state as it was), not a whole number of chunks; its bar,
    advanced from inside the chunks, ends at ``num_steps``."""
    from numpyro_pinn.training.loop import fit

    class Info(NamedTuple):
        loss: jax.Array

    kernel = lambda key, st, pool: (st + 1, Info(st.astype(jnp.float32)))  # the state counts the steps
    import tqdm.auto

    seen = []

    class Recording(tqdm.auto.tqdm):
        def update(self, n=1):
            out = super().update(n)
            seen.append(self.n)
            return out

    monkeypatch.setattr(tqdm.auto, "tqdm", Recording)
    res = fit(jax.random.PRNGKey(0), kernel, jnp.asarray(0), None, num_steps, chunk_size, progress_bar=bar)
    assert int(res.state) == num_steps and res.num_steps == num_steps
    np.testing.assert_array_equal(res.losses, np.arange(num_steps))
    if bar:
        assert len(seen) > 2 * -(-num_steps // chunk_size) - 1  # advanced within chunks, not only after
        assert seen[-1] == num_steps and max(seen) == num_steps


def test_warm_start_from_draws_estimates_log_z(conjugate_normal):
    """Draws carry no evidence; make_warm_start estimates log Z by importance sampling from the
    draws' Gaussian so the target is centred before training (left at 0, training from NUTS-like
    draws diverged: ESS 0.014 after 300 steps on this model)."""
    from numpyro_pinn import make_warm_start
    from numpyro_pinn.target import from_model

    cn = conjugate_normal(1.0)
    target = from_model(jax.random.PRNGKey(0), cn.model, (cn.y,))
    draws = cn.mean + 1.3 * cn.sd * np.random.default_rng(0).standard_normal((500, 1))
    ws = make_warm_start(jax.random.PRNGKey(1), target.potential_fn, target.x0, draws)
    assert abs(float(ws.log_Z) - cn.log_Z) < 0.05 and ws.num_evals == 2048
