"""Bayes factors from two fitted samplers against closed-form evidence (numpyro_pinn.evidence)."""
import jax
import numpy as np
import pytest

from numpyro_pinn import PINNSampler, bayes_factor


@pytest.mark.slow
def test_bayes_factor_of_two_conjugate_normal_models(conjugate_normal):
    """The exact Laplace start makes both evidences exact up to float error: the sign and
    arithmetic of the factor are what is tested (swapping a and b would be off by 3.2 nats)."""
    a, b = conjugate_normal(1.0), conjugate_normal(10.0)
    fit = lambda cn, k: PINNSampler(cn.model, warm_start="laplace", num_samples=200, progress_bar=False).run(
        jax.random.PRNGKey(k), cn.y)
    bf = bayes_factor(fit(a, 0), fit(b, 1))
    assert abs(bf.log_bf - (a.log_Z - b.log_Z)) < 1e-3 + 4 * bf.se
    assert bf.log_bf > 1.0 and np.isclose(bf.se, np.hypot(bf.se_a, bf.se_b))
    assert "log Bayes factor" in str(bf)


class _Fake:
    def __init__(self, **d):
        self.diagnostics = d


def test_bayes_factor_refuses_missing_evidence_and_warns_on_bad_weights():
    with pytest.raises(ValueError, match="Sampler `b`.*no finite log Z"):
        bayes_factor(_Fake(log_Z=-1.0, log_Z_se=0.1), _Fake(log_Z=float("nan"), log_Z_se=0.1))
    with pytest.raises(ValueError, match="Sampler `a`.*reports no evidence"):
        bayes_factor(_Fake(ess=1.0), _Fake(log_Z=-1.0, log_Z_se=0.1))
    with pytest.warns(RuntimeWarning, match="Sampler `a`'s importance weights have Pareto k-hat 0.90"):
        bf = bayes_factor(_Fake(log_Z=-1.0, log_Z_se=0.3, pareto_k=0.9), _Fake(log_Z=-2.0, log_Z_se=0.4))
    assert bf.log_bf == 1.0 and np.isclose(bf.se, 0.5)


@pytest.mark.slow
def test_bayes_factor_of_two_beta_bernoulli_models():
    """Non-Gaussian posteriors (logit space): trained transports, evidence by importance weights.
    Closed form: log B(a + k, b + n - k) - log B(a, b). Tolerance: 4 Monte Carlo se plus 0.02."""
    import numpyro
    import numpyro.distributions as dist
    from scipy.special import betaln

    y = np.array([1, 1, 1, 0, 1, 1, 1, 1, 0, 1, 1, 1], dtype=float)

    def make(a, b):
        def model(y):
            p = numpyro.sample("p", dist.Beta(a, b))
            numpyro.sample("y", dist.Bernoulli(p), obs=y)
        return model

    k, n = y.sum(), len(y)
    truth = lambda a, b: betaln(a + k, b + n - k) - betaln(a, b)
    fa = PINNSampler(make(1.0, 1.0), num_samples=2000, progress_bar=False).run(jax.random.PRNGKey(0), y)
    fb = PINNSampler(make(2.0, 8.0), num_samples=2000, progress_bar=False).run(jax.random.PRNGKey(1), y)
    bf = bayes_factor(fa, fb)
    assert abs(bf.log_bf - (truth(1, 1) - truth(2, 8))) < 0.02 + 4 * bf.se
    for s in (fa, fb):
        assert s.diagnostics["ess"] > 0.9
