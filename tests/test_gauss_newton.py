"""Gauss-Newton fine-tuning: the step solves linear least squares; on a PINN it lowers the
held-out residual and does not lower the ESS."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from numpyro_pinn.training.gauss_newton import gauss_newton


def test_gauss_newton_solves_linear_least_squares():
    rng = np.random.default_rng(0)
    a = jnp.asarray(rng.normal(size=(200, 5)), jnp.float32)
    b = jnp.asarray(rng.normal(size=200), jnp.float32)
    # A pytree of parameters, residuals independent of the key: one step with tiny damping
    # lands on the normal-equations solution.
    residual_fn = lambda p, key, pool: a @ jnp.concatenate([p["u"], p["v"]]) - b
    p0 = {"u": jnp.zeros(2, jnp.float32), "v": jnp.zeros(3, jnp.float32)}
    p, info = gauss_newton(jax.random.PRNGKey(0), residual_fn, p0, None, num_steps=1, damping=1e-7, cg_iters=20)
    exact = np.linalg.lstsq(np.asarray(a), np.asarray(b), rcond=None)[0]
    np.testing.assert_allclose(np.concatenate([p["u"], p["v"]]), exact, rtol=1e-3, atol=1e-4)
    assert bool(info.accepted[0]) and info.loss_after[0] < info.loss_before[0]


def test_gauss_newton_rejects_steps_that_do_not_help():
    residual_fn = lambda p, key, pool: p["x"] - 1.0  # already at the optimum
    p, info = gauss_newton(jax.random.PRNGKey(0), residual_fn, {"x": jnp.ones(3)}, None, num_steps=3)
    np.testing.assert_array_equal(p["x"], np.ones(3))
    assert not np.any(np.asarray(info.accepted))
    assert np.all(np.diff(np.asarray(info.damping)) > 0)  # damping grows after each rejection


@pytest.mark.slow
def test_gauss_newton_after_adam_lowers_residual_on_a_pinn():
    from numpyro_pinn import PINNSampler, Training
    from numpyro_pinn.bases import Auto

    pot = lambda x: 0.5 * jnp.sum((x - 1.0) ** 2 / jnp.array([0.5, 2.0]))
    s = PINNSampler(potential_fn=pot, num_steps=500, target_ess=None, warm_start="laplace",
                    training=Training(min_steps=500, finetune="gauss_newton", gn_steps=8), num_samples=1000,
                    progress_bar=False, base=Auto(fallback=False)).run(
        jax.random.PRNGKey(0), init_params=jnp.zeros(2))
    ft = s.diagnostics["finetune"]
    assert ft["accepted_steps"] >= 1
    assert ft["loss_after"] < 0.9 * ft["loss_before"]
    assert ft["kept"] == (ft["ess_after"] >= ft["ess_before"])  # the keep rule
    assert s.diagnostics["ess"] > 0.95
    assert s.diagnostics["target_evals"] > 3 * 8 * 4096


def test_finetune_argument_is_checked():
    from numpyro_pinn import Training

    with pytest.raises(ValueError, match="finetune"):
        Training(finetune="lbfgs")
