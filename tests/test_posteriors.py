"""Statistical tests against closed-form posteriors, known mixture weights and known log Z.

Tolerances come from Monte Carlo error: a weighted mean with normalised ESS ``e`` over
``n`` particles has standard error ``sd / sqrt(e n)``; we allow 5 standard errors
(two-sided false-alarm probability < 1e-6 per check), and 5 standard errors of the
sample sd (relative se ``1 / sqrt(2 e n)``).
"""
import jax
import jax.numpy as jnp
import numpy as np
import numpyro
import numpyro.distributions as dist
import pytest

from numpyro_pinn import PINNSampler, Training
from numpyro_pinn.bases import Auto, Gaussian

pytestmark = pytest.mark.slow
# fallback=False: the trained transport itself is under test, not its base distribution.
FAST = dict(num_steps=1500, training=Training(min_steps=500), progress_bar=False, base=Auto(fallback=False))


def weighted_moments(sampler, name):
    samples, lw = sampler.get_weighted_samples()
    w = np.asarray(jax.nn.softmax(lw))
    x = np.asarray(samples[name])
    mean = np.sum(w * x)
    sd = np.sqrt(np.sum(w * (x - mean) ** 2))
    n_eff = 1.0 / np.sum(w**2)
    return mean, sd, n_eff


def check_mean_sd(sampler, name, true_mean, true_sd):
    mean, sd, n_eff = weighted_moments(sampler, name)
    assert abs(mean - true_mean) < 5 * true_sd / np.sqrt(n_eff), (name, mean, true_mean)
    assert abs(sd / true_sd - 1) < 5 / np.sqrt(2 * n_eff), (name, sd, true_sd)


def test_normal_normal_conjugate():
    rng = np.random.default_rng(1)
    y = rng.normal(3.0, 2.0, size=25)
    prior_mu, prior_sd, sigma = 0.0, 5.0, 2.0

    def model(y):
        mu = numpyro.sample("mu", dist.Normal(prior_mu, prior_sd))
        numpyro.sample("y", dist.Normal(mu, sigma), obs=y)

    post_prec = 1 / prior_sd**2 + len(y) / sigma**2
    post_mean = (prior_mu / prior_sd**2 + y.sum() / sigma**2) / post_prec
    s = PINNSampler(model, **FAST).run(jax.random.PRNGKey(0), y)
    check_mean_sd(s, "mu", post_mean, post_prec**-0.5)
    # log Z in closed form: y ~ N(prior_mu 1, sigma^2 I + prior_sd^2 11^T).
    cov = sigma**2 * np.eye(len(y)) + prior_sd**2
    true_log_z = float(dist.MultivariateNormal(jnp.full(len(y), prior_mu), jnp.asarray(cov)).log_prob(y))
    d = s.diagnostics
    assert d["ess"] > 0.9
    assert abs(d["log_Z"] - true_log_z) < 5 * d["log_Z_se"] + 1e-3
    # Equal-weight draws agree with the weighted moments.
    draws = np.asarray(s.get_samples()["mu"])
    assert abs(draws.mean() - post_mean) < 5 * post_prec**-0.5 / np.sqrt(s.num_samples * d["ess"] / 2)


def test_linear_regression_conjugate_correlated():
    """Known noise, Gaussian prior: the posterior is Gaussian with a badly centred covariate
    (strong intercept-slope correlation), as in kidiq / kilpisjarvi."""
    rng = np.random.default_rng(2)
    n = 60
    x = rng.normal(100.0, 15.0, n)
    X = np.stack([np.ones(n), x], 1)
    y = X @ np.array([20.0, 0.6]) + rng.normal(0, 5.0, n)
    prior_sd, sigma = 100.0, 5.0

    def model(x, y):
        b = numpyro.sample("b", dist.Normal(0.0, prior_sd).expand([2]).to_event(1))
        numpyro.sample("y", dist.Normal(b[0] + b[1] * x, sigma), obs=y)

    prec = X.T @ X / sigma**2 + np.eye(2) / prior_sd**2
    cov = np.linalg.inv(prec)
    mean = cov @ (X.T @ y / sigma**2)
    s = PINNSampler(model, **FAST).run(jax.random.PRNGKey(1), x, y)
    samples, lw = s.get_weighted_samples()
    w = np.asarray(jax.nn.softmax(lw))
    b = np.asarray(samples["b"])
    n_eff = 1.0 / np.sum(w**2)
    for i in range(2):
        m_i = np.sum(w * b[:, i])
        sd_i = np.sqrt(np.sum(w * (b[:, i] - m_i) ** 2))
        assert abs(m_i - mean[i]) < 5 * np.sqrt(cov[i, i] / n_eff)
        assert abs(sd_i / np.sqrt(cov[i, i]) - 1) < 5 / np.sqrt(2 * n_eff)
    corr = np.sum(w * (b[:, 0] - b[:, 0] @ w) * (b[:, 1] - b[:, 1] @ w)) / np.prod(np.sqrt(np.diag(np.cov(b.T, aweights=w))))
    true_corr = cov[0, 1] / np.sqrt(cov[0, 0] * cov[1, 1])
    assert abs(corr - true_corr) < 5 * (1 - true_corr**2) / np.sqrt(n_eff)
    assert s.diagnostics["ess"] > 0.9
    # Evidence in closed form: y ~ N(0, sigma^2 I + prior_sd^2 X X^T).
    from scipy.stats import multivariate_normal

    true_log_z = multivariate_normal(np.zeros(n), sigma**2 * np.eye(n) + prior_sd**2 * X @ X.T).logpdf(y)
    d = s.diagnostics
    assert abs(d["log_Z"] - true_log_z) < 5 * d["log_Z_se"] + 2e-3, (d["log_Z"], true_log_z)


def test_beta_bernoulli_constrained_site():
    y = np.array([1, 0, 1, 1, 1, 0, 1, 1, 0, 1, 1, 1], dtype=np.float64)
    a, b = 2.0, 2.0

    def model(y):
        p = numpyro.sample("p", dist.Beta(a, b))
        numpyro.deterministic("logit_p", jnp.log(p) - jnp.log1p(-p))
        numpyro.sample("y", dist.Bernoulli(p), obs=y)

    a_post, b_post = a + y.sum(), b + len(y) - y.sum()
    true_mean = a_post / (a_post + b_post)
    true_sd = np.sqrt(a_post * b_post / ((a_post + b_post) ** 2 * (a_post + b_post + 1)))
    s = PINNSampler(model, **FAST).run(jax.random.PRNGKey(2), y)
    p = np.asarray(s.get_samples()["p"])
    assert np.all((p > 0) & (p < 1))
    assert "logit_p" in s.get_samples()
    check_mean_sd(s, "p", true_mean, true_sd)
    # Evidence in closed form, B(a + k, b + n - k) / B(a, b); mutation tried: log weights x 20
    # (log Z then -8.34 against -7.83) fails here.
    from scipy.special import betaln

    d = s.diagnostics
    true_log_z = betaln(a_post, b_post) - betaln(a, b)
    assert abs(d["log_Z"] - true_log_z) < 5 * d["log_Z_se"] + 2e-3, (d["log_Z"], true_log_z)
    assert d["ess"] > 0.9


def _poor_start(cn, steps, seed=0, n=4000):
    """The conjugate normal model from a base shifted by one posterior sd and 1.6 times too wide
    (whitening by these draws), trained ``steps`` steps: a proposal the weights must correct. The
    draws are the resampled particles (``rejuvenation=None``: the warm start disagrees with the
    result by design, which would otherwise move them)."""
    rng = np.random.default_rng(seed)
    draws = (cn.mean + cn.sd + 1.6 * cn.sd * rng.standard_normal(4000))[:, None]
    return PINNSampler(cn.model, warm_start=draws, num_steps=steps, training=Training(min_steps=steps),
                       target_ess=None, base=Gaussian(fallback=False), num_samples=n, rejuvenation=None,
                       progress_bar=False).run(
        jax.random.PRNGKey(seed), cn.y)


def test_weights_and_resampling_correct_a_poor_proposal(conjugate_normal):
    """One training step: the proposal is still poor (ESS about 0.6), so the weights carry the
    answer. Weighted moments, resampled draws and log Z against the closed form. Mutations tried,
    each fails here: resampling that ignores the weights (draws' mean 1.39 against 1.03); log
    weights x 20 (ESS 0.15)."""
    cn = conjugate_normal(1.0)
    s = _poor_start(cn, 1)
    d = s.diagnostics
    assert 0.3 < d["ess"] < 0.9, d["ess"]  # the weights matter here
    check_mean_sd(s, "mu", cn.mean, cn.sd)
    draws = np.asarray(s.get_samples()["mu"])
    n_eff = d["ess"] * s.num_samples / 2  # resampled draws repeat particles: a conservative count
    assert abs(draws.mean() - cn.mean) < 5 * cn.sd / np.sqrt(n_eff), (draws.mean(), cn.mean)
    assert abs(draws.std() / cn.sd - 1) < 5 / np.sqrt(2 * n_eff), (draws.std(), cn.sd)
    assert abs(d["log_Z"] - cn.log_Z) < 5 * d["log_Z_se"] + 1e-3, (d["log_Z"], cn.log_Z)


def test_training_improves_a_poor_start_and_keeps_log_z(conjugate_normal):
    """300 steps from the same poor start: the transport must learn the shift and the contraction
    (ESS above 0.97, 0.9999 measured; guards the training loss: with ``div mu`` dropped from the
    residual the ESS is 0.76 and this fails), and its change-of-variables log density must make
    log Z and the moments right (with the divergence dropped from the sampling ODE, log Z is
    -7.62 against -8.08 and this fails)."""
    cn = conjugate_normal(1.0)
    s = _poor_start(cn, 300)
    d = s.diagnostics
    assert d["ess"] > 0.97, d["ess"]
    check_mean_sd(s, "mu", cn.mean, cn.sd)
    assert abs(d["log_Z"] - cn.log_Z) < 5 * d["log_Z_se"] + 1e-3, (d["log_Z"], cn.log_Z)


MIX_MUS = np.array([[-4.0, -4.0], [4.0, 4.0], [4.0, -4.0]])
MIX_W = np.array([0.2, 0.5, 0.3])


def mixture_potential(x):
    lp = -0.5 * jnp.sum((x - MIX_MUS) ** 2, -1) / 0.5 - jnp.log(2 * jnp.pi * 0.5)
    return -jax.scipy.special.logsumexp(lp + jnp.log(MIX_W))


def test_mixture_weights_and_log_z_of_normalised_target():
    s = PINNSampler(potential_fn=mixture_potential, num_steps=3000, training=Training(min_steps=1000),
                    num_particles=8000,
                    progress_bar=False).run(jax.random.PRNGKey(3), init_params=jnp.zeros(2))
    x, lw = s.get_weighted_samples()
    w = np.asarray(jax.nn.softmax(lw))
    comp = np.argmin(((np.asarray(x)[:, None, :] - MIX_MUS[None]) ** 2).sum(-1), 1)
    est = np.bincount(comp, weights=w, minlength=3)
    n_eff = 1.0 / np.sum(w**2)
    se = np.sqrt(MIX_W * (1 - MIX_W) / n_eff)
    assert np.all(np.abs(est - MIX_W) < 5 * se), (est, MIX_W)
    d = s.diagnostics
    assert d["ess"] > 0.8
    assert abs(d["log_Z"]) < 5 * d["log_Z_se"] + 2e-3  # the target is normalised: log Z = 0
