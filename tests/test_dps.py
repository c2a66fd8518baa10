"""DPS (method="dps"): closed-form posterior, unequal mixture weights, the SDE path, and its pieces."""
import jax
import jax.numpy as jnp
import numpy as np
import numpyro
import numpyro.distributions as dist
import optax
import pytest

from numpyro_pinn import PINNSampler, Training
from numpyro_pinn.bases import GaussianMixture
from numpyro_pinn.sample import flow, whitened_target
from numpyro_pinn.transports import DPSTransport


def _two_component_mixture():
    chols = jnp.stack([0.5 * jnp.eye(2), jnp.array([[0.7, 0.0], [0.2, 0.4]])])
    return GaussianMixture(jnp.array([[-1.0, 0.0], [1.0, 0.5]]), chols, jnp.log(jnp.array([0.3, 0.7])),
                           jnp.zeros(1, jnp.int32), jnp.linalg.inv(chols))


@pytest.mark.slow
@pytest.mark.parametrize("control_variate", ["mixture", "kde"])
def test_score_at_time_zero_is_the_target_score(control_variate):
    """u(., 0) = log q exactly, with either control variate (both forms are exact at t = 0)."""
    cfg = DPSTransport()
    tgt = whitened_target(lambda x: 0.5 * jnp.sum(x**2) / 0.2 + jnp.sum(x**4), jnp.zeros(2), jnp.eye(2), 0.0)
    mix = _two_component_mixture() if control_variate == "mixture" else None
    st = cfg.init(jax.random.PRNGKey(0), 2, optax.adam(1e-3), jax.random.normal(jax.random.PRNGKey(1), (300, 2)),
                  mixture=mix)
    assert cfg.describe_control_variate(st.params).startswith("mixture") == (control_variate == "mixture")
    ys = jax.random.normal(jax.random.PRNGKey(2), (8, 2))
    s0 = jax.vmap(cfg.score_fn(st.params, tgt), in_axes=(0, None))(ys, 0.0)
    np.testing.assert_allclose(s0, jax.vmap(jax.grad(tgt.logq))(ys), rtol=1e-5, atol=1e-5)


@pytest.mark.slow
def test_plugin_control_variate_is_the_exact_marginal_when_the_mixture_is_the_target():
    """When m_0 is the target, r = log q - log m_0 is constant and the plug-in u is the exact
    noised marginal: the log-Fokker-Planck residual vanishes at every time (untrained network)."""
    mix = _two_component_mixture()
    cfg = DPSTransport()
    tgt = whitened_target(lambda x: -mix.log_prob(x.astype(jnp.float32)).astype(x.dtype) + 0.3, jnp.zeros(2),
                          jnp.eye(2), 0.0)
    st = cfg.init(jax.random.PRNGKey(0), 2, optax.adam(1e-3), mixture=mix)
    y = 1.5 * jax.random.normal(jax.random.PRNGKey(3), (64, 2))
    t = jax.random.uniform(jax.random.PRNGKey(4), (64,))
    r = cfg.plugin_residuals(st.params, tgt, y, t)
    scale = jax.vmap(lambda yy, tt: cfg.beta(tt) ** 2 * (2 + jnp.sum(cfg.score_fn(st.params, tgt)(yy, tt) ** 2)))(y, t)
    assert float(jnp.max(jnp.abs(r) / scale)) < 1e-4
    # A wrong mixture (weights swapped) leaves a clear residual: the check can fail.
    st_bad = cfg.init(jax.random.PRNGKey(0), 2, optax.adam(1e-3),
                      mixture=mix._replace(log_weights=mix.log_weights[::-1]))
    assert float(jnp.max(jnp.abs(cfg.plugin_residuals(st_bad.params, tgt, y, t)) / scale)) > 1e-2


def test_probability_flow_weights_exact_for_exact_log_density():
    """With u equal to the exact noised log density of N(0, s2), the probability-flow ODE draws
    have constant log weights equal to log Z."""
    s2, d = 0.2, 2
    cfg = DPSTransport()
    tgt = whitened_target(lambda x: 0.5 * jnp.sum(x**2) / s2, jnp.zeros(d), jnp.eye(d), 0.0)

    class Exact(DPSTransport):
        def score_fn(self, params, target):
            return lambda y, t: -y / (self.a(t) * s2 + 1 - self.a(t))

        def flow_field(self, params, dim, target):
            var = lambda t: self.a(t) * s2 + 1 - self.a(t)
            v = lambda y, t: -self.beta(t) * (y - y / var(t))
            div = lambda y, t: -self.beta(t) * (dim - dim / var(t))
            return v, div

    v, div = Exact().flow_field(None, d, tgt)
    fd = flow(jax.random.PRNGKey(0), v, div, tgt, 32, t0=1.0, t1=0.0)
    np.testing.assert_allclose(np.asarray(fd.log_weights), 0.5 * d * np.log(2 * np.pi * s2), atol=2e-3)
    assert cfg.a(1.0) < 1e-4  # the schedule forgets the target


@pytest.mark.slow
def test_dps_normal_normal_posterior():
    y = np.random.default_rng(3).normal(2.0, 1.0, 15)

    def model(y):
        mu = numpyro.sample("mu", dist.Normal(0.0, 3.0))
        numpyro.sample("y", dist.Normal(mu, 1.0), obs=y)

    prec = 1 / 9 + len(y)
    mean = y.sum() / prec
    s = PINNSampler(model, method="dps", num_steps=1000, training=Training(min_steps=500), progress_bar=False).run(
        jax.random.PRNGKey(0), y)
    x, lw = s.get_weighted_samples()
    w = np.asarray(jax.nn.softmax(lw))
    n_eff = 1 / np.sum(w**2)
    m = np.sum(w * np.asarray(x["mu"]))
    sd = np.sqrt(np.sum(w * (np.asarray(x["mu"]) - m) ** 2))
    assert abs(m - mean) < 5 * prec**-0.5 / np.sqrt(n_eff)
    assert abs(sd * np.sqrt(prec) - 1) < 5 / np.sqrt(2 * n_eff)
    assert s.diagnostics["ess"] > 0.5
    assert "probability-flow" in s.diagnostics["sample_source"]
    # One mode: the control variate is still a Gaussian mixture, fitted to the draws (not the KDE).
    assert s.diagnostics["control_variate"].startswith("mixture of ")


MUS = np.array([[-3.0, 0.0], [3.0, 0.0]])
W = np.array([0.3, 0.7])


def mixture(x):
    lp = -0.5 * jnp.sum((x - MUS) ** 2, -1) / 0.3 - jnp.log(2 * jnp.pi * 0.3)
    return -jax.scipy.special.logsumexp(lp + jnp.log(W))


@pytest.mark.slow
def test_dps_mixture_weights_ode_and_sde_paths():
    """One trained network, both samplers: weighted probability-flow particles recover the weights
    within their Monte Carlo error; the unweighted reverse-SDE draws within a looser bound."""
    s = PINNSampler(potential_fn=mixture, transport=DPSTransport(sampler="sde"), num_samples=2000, num_steps=1000,
                    training=Training(min_steps=1000), num_particles=4000, progress_bar=False).run(
        jax.random.PRNGKey(1), init_params=jnp.zeros(2))
    x, lw = s.get_weighted_samples()
    w = np.asarray(jax.nn.softmax(lw))
    n_eff = 1 / np.sum(w**2)
    right = float(np.sum(w * (np.asarray(x)[:, 0] > 0)))
    assert abs(right - 0.7) < 5 * np.sqrt(0.21 / n_eff)
    assert abs(s.diagnostics["log_Z"]) < 5 * s.diagnostics["log_Z_se"] + 0.01
    # The reverse SDE path: unweighted draws, flagged as such.
    assert "unweighted" in s.diagnostics["sample_source"]
    xs = np.asarray(s.get_samples())
    assert xs.shape == (2000, 2) and np.all(np.isnan(s.get_extra_fields()["log_weight"]))
    # SDE draws carry discretisation and score error besides the binomial sd of 2,000 draws (0.01).
    assert abs(float(np.mean(xs[:, 0] > 0)) - 0.7) < 0.045
    more = s.sample(jax.random.PRNGKey(2), 500)
    assert more.shape == (500, 2)


def test_dps_bad_arguments():
    with pytest.raises(ValueError, match="sampler"):
        DPSTransport(sampler="euler")
    with pytest.raises(ValueError, match="residual_weight"):
        DPSTransport(residual_weight="bogus")
    with pytest.raises(ValueError, match="control_variate"):
        DPSTransport(control_variate="bogus")
    with pytest.raises(ValueError, match="does not match"):
        PINNSampler(potential_fn=mixture, method="ode", transport=DPSTransport())


@pytest.mark.slow
def test_dps_with_a_laplace_warm_start_falls_back_to_the_kde():
    """warm_start="laplace" has one draw: too few to fit a mixture to, so DPS's control variate is
    the KDE (no error; the ODE side of this is tests/test_bases.py's auto-prior test)."""
    pot = lambda x: 0.5 * jnp.sum(x**2) + 0.1 * x[0] ** 4
    s = PINNSampler(potential_fn=pot, method="dps", warm_start="laplace", num_steps=250,
                    training=Training(min_steps=250),
                    num_particles=256, progress_bar=False).run(jax.random.PRNGKey(0), init_params=jnp.zeros(2))
    assert s.diagnostics["control_variate"] == "kde" and s.diagnostics["ess"] > 0.5
