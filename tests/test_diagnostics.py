"""numpyro_pinn.diagnostics: ESS, log Z, Pareto k-hat and the weights' warnings against hand-computed values."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy.special import logsumexp

from numpyro_pinn import diagnostics


def test_ess_and_log_evidence_hand_values():
    assert diagnostics.ess(np.zeros(10)) == pytest.approx(1.0)
    lw = np.log([1.0, 3.0])  # (1+3)^2 / (2 (1 + 9)) = 0.8
    assert diagnostics.ess(lw) == pytest.approx(0.8)
    # zero weights (-inf) and failed particles (NaN) count in n: (1+3)^2 / (4 (1 + 9)) = 0.4
    assert diagnostics.ess(np.r_[lw, -np.inf, np.nan]) == pytest.approx(0.4)
    assert diagnostics.log_evidence(lw) == pytest.approx(np.log(2.0))
    assert diagnostics.log_evidence_lower_bound(lw) == pytest.approx(np.mean(lw))
    assert diagnostics.log_evidence_se(np.zeros(100)) == pytest.approx(0.0)


def test_non_finite_log_weights_become_zero_weights():
    """NaN (a failed particle) and +-inf get log weight -inf, as float64; finite ones stay."""
    lw = diagnostics.finite_log_weights(np.array([0.5, np.nan, np.inf, -np.inf, -2.0], np.float32))
    assert lw.dtype == np.float64
    np.testing.assert_array_equal(lw, [0.5, -np.inf, -np.inf, -np.inf, -2.0])
    np.testing.assert_allclose(diagnostics.normalised_weights([0.0, np.nan, 0.0]), [0.5, 0.0, 0.5])


def test_pareto_k_separates_light_and_heavy_tails():
    rng = np.random.default_rng(0)
    light = rng.normal(0, 0.1, 4000)  # lognormal weights with small sigma: k well below 0.5
    heavy = np.log(rng.pareto(1.0 / 0.9, 4000) + 1.0)  # Pareto tail index 0.9 > 0.7
    assert diagnostics.pareto_k(light) < 0.5
    assert diagnostics.pareto_k(heavy) > 0.7


def test_logsumexp_matches_scipy():
    lw = np.array([-1.0, 2.0, 0.5])
    assert diagnostics.log_evidence(lw) == pytest.approx(logsumexp(lw) - np.log(3))


def test_pareto_k_above_threshold_warns_and_resampling_follows_weights():
    from numpyro_pinn.resampling import systematic_resample

    rng = np.random.default_rng(0)
    x = jnp.asarray(rng.normal(size=(4000, 1)))
    heavy = np.log(rng.pareto(1.0 / 0.9, 4000) + 1.0)
    summary = diagnostics.summarize(heavy)
    messages = " ".join(diagnostics.weight_warnings(summary))
    assert "Pareto k-hat" in messages and "ESS is" in messages  # a few huge weights: both flags
    assert summary["pareto_k"] > 0.7
    assert "resampled draws, ESS and log Z) are unreliable" in messages
    moved = " ".join(diagnostics.weight_warnings(summary, rejuvenated=100))
    assert "ESS and log Z) are unreliable" in moved and "moved by 100 HMC steps" in moved
    light = jnp.where(x[:, 0] > 0, jnp.log(3.0), 0.0)  # positive half weighted 3:1
    assert diagnostics.weight_warnings(diagnostics.summarize(light)) == []
    z = x[systematic_resample(jax.random.PRNGKey(1), light, 2000)]
    frac = float(jnp.mean(z[:, 0] > 0))
    assert abs(frac - 0.75) < 5 * np.sqrt(0.75 * 0.25 / 2000)
    # A few particles carry all the weight (ESS 0.025, 100 effective draws of 4000): flagged.
    few = np.where(np.arange(4000) < 100, 0.0, -30.0)
    (message,) = diagnostics.weight_warnings(diagnostics.summarize(few))
    assert "ESS is 0.025: the 4000 particles hold about 100 independent" in message
    (message,) = diagnostics.weight_warnings(diagnostics.summarize(few), rejuvenated=100)
    assert "ESS is 0.025" in message and "moved by 100 HMC steps" in message
    # Failed particles (NaN) are counted, flagged and get weight 0.
    failed = diagnostics.summarize(np.where(np.arange(4000) < 3, np.nan, 0.0))
    assert failed["num_failed_particles"] == 3 and failed["ess"] == pytest.approx(3997 / 4000)
    assert "3 of 4000 particles have no importance weight" in diagnostics.weight_warnings(failed)[0]


def test_a_run_warns_where_the_user_looks(monkeypatch):
    """The sampler issues every weight warning as a RuntimeWarning (through its public draw path:
    a proposal whose weights are degenerate)."""
    import numpyro_pinn.sampler as sampler_mod
    from numpyro_pinn import PINNSampler

    monkeypatch.setattr(sampler_mod.diagnostics, "weight_warnings", lambda summary, **kw: ["flagged"])
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
    # A Gaussian base matching a Gaussian posterior up to its estimation error: log weights that
    # differ by less than a millionth of a nat, whatever the shape of their spread, have no tail
    # that matters; the same shape spread over 1e-5 nats or more is a real heavy tail.
    heavy = np.random.default_rng(1).pareto(1.0 / 0.9, 1024)
    heavy /= heavy.max()
    assert pareto_k(-3.0 + 5e-7 * heavy) == 0.0
    assert pareto_k(-3.0 + 1e-5 * heavy) > 0.7
    assert pareto_k(-3.0 + heavy) > 0.7


def test_pareto_k_equals_arviz_psis():
    """The k-hat computed here (without importing ArviZ) is ArviZ's PSIS k-hat, for light, heavy,
    tied and small weight sets."""
    import arviz as az

    from numpyro_pinn.diagnostics import pareto_k

    try:
        psis = lambda lw: float(np.asarray(az.psislw(lw, reff=1.0)[1]))
    except AttributeError:  # arviz >= 1
        from arviz_stats.base import array_stats

        psis = lambda lw: float(np.asarray(array_stats.psislw(lw, r_eff=1.0)[1]))
    rng = np.random.default_rng(3)
    cases = [rng.normal(size=8000) * 0.1, rng.normal(size=8000) * 2.0 + 500.0, np.log(rng.pareto(1.5, 4000) + 1.0),
             np.log(rng.pareto(0.6, 300) + 1.0), rng.standard_t(3, size=1000), np.round(rng.normal(size=2000), 1)]
    for lw in cases:
        assert pareto_k(lw) == pytest.approx(psis(lw.copy()), rel=1e-9, abs=1e-12)
