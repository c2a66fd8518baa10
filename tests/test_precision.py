"""Float32 evaluation of a float64 target (numpyro_pinn.precision): the SMC warm start's float32
run, whose draws are corrected to the float64 target or replaced by a float64 run
(numpyro_pinn.warmstart.precision), and the training loss's float32 target values."""
import jax
import jax.numpy as jnp
import numpy as np
import numpyro
import numpyro.distributions as dist
import pytest

from numpyro_pinn import SMC
from numpyro_pinn.warmstart import laplace
from numpyro_pinn.precision import SINGLE_FLOPS, float32_twin, runs_in_float32, traces_in_float32
from numpyro_pinn.warmstart.precision import MIN_CORRECTION_ESS

D = 2
LOG_Z = D / 2 * np.log(2 * np.pi)  # of exp(-|x|^2 / 2)


def shifted(shift):
    """``N(0, I)``'s potential in float64; in float32 the first coordinate's density is tilted by
    ``exp(-shift x_0)`` (its mean moves to ``-shift``): a float32 rounding that is wrong on purpose."""
    def potential(x):
        tilt = shift * x[0] if x.dtype == jnp.float32 else 0.0
        return 0.5 * jnp.sum(x**2) + tilt

    return potential


def warm_start(potential, precision="float32", seed=0):
    with jax.enable_x64(True):
        x0 = jnp.full(D, 0.3, jnp.float64)
        lap = laplace(potential, x0)
        ws = SMC(precision=precision, screen=None).build(jax.random.PRNGKey(seed), potential, x0, lap)
        return ws, np.asarray(ws.draws), float(ws.log_Z)


def test_the_float32_runs_draws_follow_the_float64_target_and_its_evidence():
    """The float32 target is ``N(-0.6, 1)`` along ``x_0``, the float64 one ``N(0, 1)``; the
    correction weights ``exp(-0.6 x_0)`` have ESS about ``exp(-0.36) = 0.70``, above the minimum, so
    the float32 run is kept: its resampled draws' mean is the float64 target's (0, within 5 of
    its Monte Carlo standard errors), and ``log Z`` is the float64 one (the float32 target's
    is 0.18 nats higher). Mutation: without the weights (uniform resampling), the mean is -0.6
    and ``log Z`` 0.18 too high, and the test fails."""
    assert np.exp(-0.36) > MIN_CORRECTION_ESS
    ws, x, log_z = warm_start(shifted(0.6))
    assert "in float32 (correction ESS" in ws.method
    assert ws.draws.dtype == jnp.float64
    se = 1.0 / np.sqrt(x.shape[0] * 0.7)
    assert abs(x[:, 0].mean()) < 5 * se, x[:, 0].mean()
    assert abs(x[:, 1].mean()) < 5 * se
    assert abs(log_z - LOG_Z) < 0.08, (log_z, LOG_Z)


def test_a_float32_run_whose_correction_is_too_uneven_is_replaced_by_a_float64_one():
    """Tilted by ``exp(-3 x_0)`` in float32, the correction weights' ESS is about ``exp(-9)``: the
    float32 run is discarded and a float64 run gives the float64 target's draws, and the method
    says so. Mutation: keeping the float32 run whatever its correction ESS (0.01 here) fails it."""
    ws, x, log_z = warm_start(shifted(3.0))
    assert "float32 run discarded" in ws.method
    assert abs(x[:, 0].mean()) < 0.15
    assert abs(log_z - LOG_Z) < 0.08


def test_float64_precision_never_runs_in_float32():
    ws, x, _ = warm_start(shifted(3.0), precision="float64")
    assert "float32" not in ws.method
    assert abs(x[:, 0].mean()) < 0.15


def test_auto_runs_in_float32_only_on_costly_float64_targets_that_trace_in_float32():
    """``"auto"``: a potential of a few operations stays in float64; a matrix product of
    :data:`SINGLE_FLOPS` order goes to float32, unless the potential holds a float64 JAX array of
    its own (as a model built with float64 on does) or JAX's float64 is off."""
    n = int(SINGLE_FLOPS / 4) + 10  # value and gradient: about 4 flops per matrix entry
    with jax.enable_x64(True):
        a = np.ones((n, 1)) / n
        x = jnp.zeros(1, jnp.float64)
        costly = lambda x: 0.5 * jnp.sum((a @ x) ** 2) + 0.5 * jnp.sum(x**2)  # noqa: E731
        assert runs_in_float32("auto", costly, x)
        assert not runs_in_float32("auto", lambda x: 0.5 * jnp.sum(x**2), x)
        assert runs_in_float32("float32", lambda x: 0.5 * jnp.sum(x**2), x)
        assert not runs_in_float32("float64", costly, x)
        held = jnp.asarray(a)  # float64, held by the potential

        def holding(x):
            return 0.5 * jnp.sum(jax.lax.mul(held[:, 0], jnp.broadcast_to(x, (n,)))) + 0.5 * jnp.sum(x**2)

        assert not traces_in_float32(holding, x)
        assert not runs_in_float32("auto", holding, x)
    assert not runs_in_float32("float32", costly, jnp.zeros(1, jnp.float32))
    with pytest.raises(ValueError, match="precision"):
        SMC(precision="half")


def test_a_models_costly_potential_runs_its_warm_start_in_float32_and_stays_right():
    """A conjugate Bayesian linear regression (2,000 rows, 8 coefficients, known noise): the default
    warm start runs in float32 and its draws' mean and ``log Z`` are the closed form's (within 5
    Monte Carlo standard errors, and 0.3 nats: SMC's own ``log Z`` scatters by about 0.1 nats here,
    in float64 as in float32, over three seeds each)."""
    from numpyro_pinn.core import make_warm_start
    from numpyro_pinn.target import from_model

    rng = np.random.default_rng(0)
    n, p, sigma = 2000, 8, 1.0
    X = rng.normal(size=(n, p))
    y = X @ rng.normal(size=p) + sigma * rng.normal(size=n)

    def model(X, y):
        beta = numpyro.sample("beta", dist.Normal(jnp.zeros(p), 1.0))
        numpyro.sample("y", dist.Normal(X @ beta, sigma), obs=y)

    prec = np.eye(p) + X.T @ X / sigma**2
    cov = np.linalg.inv(prec)
    mean = cov @ X.T @ y / sigma**2
    marg = sigma**2 * np.eye(n) + X @ X.T
    _, logdet = np.linalg.slogdet(2 * np.pi * marg)
    log_z = -0.5 * logdet - 0.5 * y @ np.linalg.solve(marg, y)
    with jax.enable_x64(True):
        t = from_model(jax.random.PRNGKey(0), model, (X, y))
        ws = make_warm_start(jax.random.PRNGKey(1), t.potential_fn, t.x0, SMC(screen=None))
    assert "in float32" in ws.method
    x = np.asarray(ws.draws)
    se = np.sqrt(np.diag(cov) / x.shape[0])
    assert np.all(np.abs(x.mean(0) - mean) < 5 * se), (x.mean(0) - mean) / se
    assert abs(float(ws.log_Z) - log_z) < 0.3, (float(ws.log_Z), log_z)


def test_a_float32_run_that_fails_is_replaced_by_a_float64_one(monkeypatch):
    """Float32 can break what float64 does not (the Cholesky factor of the particles' covariance on
    a latent Gaussian process with a jitter of 1e-9 did): an exception in the float32 run gives a
    float64 run, right, and the method says so. Mutation: without the guard the exception reaches
    the caller."""
    import importlib

    smc_module = importlib.import_module("numpyro_pinn.warmstart.smc")  # the package exports the function `smc`
    real = smc_module.smc

    def fragile(*args, **kwargs):
        if not jax.config.jax_enable_x64:
            raise ValueError("warm-start draws have a singular covariance")
        return real(*args, **kwargs)

    monkeypatch.setattr(smc_module, "smc", fragile)
    ws, x, log_z = warm_start(shifted(0.0))
    assert "its float32 run failed" in ws.method
    assert abs(x[:, 0].mean()) < 0.15
    assert abs(log_z - LOG_Z) < 0.08


def test_the_float32_twin_stays_in_float32_inside_a_float64_program():
    """``float32_twin`` of a regression's potential, called inside a program traced with float64
    on, computes in float32 and agrees with the float64 potential to float32's precision; the
    whitened target's training values through it agree with the float64 ones. Mutation: a twin
    traced with float64 on comes out in float64."""
    from numpyro_pinn.sample import whitened_target

    rng = np.random.default_rng(0)
    with jax.enable_x64(True):
        X, y = jnp.asarray(rng.normal(size=(500, 6))), jnp.asarray(rng.normal(size=500))  # as from_model holds them
        potential = lambda b: 0.5 * jnp.sum((y - X @ b) ** 2) + 0.5 * jnp.sum(b**2)
        twin = float32_twin(potential, 6)
        b = jnp.asarray(rng.normal(size=6))
        u, g = jax.jit(lambda b: twin(b.astype(jnp.float32)))(b)
        assert u.dtype == g.dtype == jnp.float32
        np.testing.assert_allclose(u, potential(b), rtol=1e-5)
        np.testing.assert_allclose(g, jax.grad(potential)(b), rtol=1e-4, atol=1e-3)
        t = whitened_target(potential, jnp.zeros(6), 0.1 * jnp.eye(6), jnp.asarray(-300.0))
        ys = jnp.asarray(rng.normal(size=(64, 6)), jnp.float32)
        v64, v32 = jax.jit(t.values)(ys), jax.jit(t._replace(single=twin).values)(ys)
        np.testing.assert_allclose(v32.logq, v64.logq, atol=3e-4)  # float32 rounding of a potential near 300
        np.testing.assert_allclose(v32.grad_logq, v64.grad_logq, rtol=1e-4, atol=1e-4)
    with pytest.raises(ValueError, match="precision"):
        numpyro_pinn_training(precision="half")


def numpyro_pinn_training(**kw):
    from numpyro_pinn import Training

    return Training(**kw)


@pytest.mark.slow
def test_training_on_float32_values_still_weights_by_the_float64_target():
    """Trained on float32 target values tilted on purpose (``N(-0.6, 1)`` along ``x_0`` in float32,
    ``N(0, 1)`` in float64), the transport learns the float32 target: its importance ESS against
    the float64 target is about ``exp(-0.36) = 0.70``; the weights, in float64, still give the
    float64 target's mean (0, within 5 Monte Carlo standard errors). Mutation: with the float64
    values in training (``precision="float64"``) the transport learns the float64 target and its
    ESS is near 1, failing the first bound."""
    from numpyro_pinn import PINNSampler, Training
    from numpyro_pinn.bases import Gaussian

    with jax.enable_x64(True):
        s = PINNSampler(potential_fn=shifted(0.6), num_steps=500, base=Gaussian(fallback=False),
                        training=Training(min_steps=500, precision="float32"), progress_bar=False)
        s.run(jax.random.PRNGKey(0), init_params=jnp.full(D, 0.3, jnp.float64))
    e = s.diagnostics["ess"]
    assert 0.55 < e < 0.85, e
    x = np.asarray(s.unconstrained_draws())
    se = 1.0 / np.sqrt(x.shape[0] * e)
    assert abs(x[:, 0].mean()) < 5 * se, x[:, 0].mean()
