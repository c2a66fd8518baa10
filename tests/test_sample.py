"""numpyro_pinn.sample: the ODE solve's log density and its failure marks."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from numpyro_pinn.sample import MAX_SOLVE_STEPS, flow, whitened_target
from numpyro_pinn.transports.losses import divergence


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


def _stiff_where_negative(k: float):
    """A standard normal target and the flow ``dy/dt = -r y`` with its divergence: ``r = 1`` for
    ``y_0 > 0`` and ``r = k`` (stiff for an explicit solver when large) otherwise."""
    tgt = whitened_target(lambda x: 0.5 * jnp.sum(x**2), jnp.zeros(2), jnp.eye(2), 0.0)
    rate = lambda y: jnp.where(y[0] > 0, 1.0, k)
    return tgt, (lambda y, t: -rate(y) * y), (lambda y, t: -2.0 * rate(y))


def test_flow_marks_particles_whose_solve_stops_early():
    """A solve that hits max_steps returns its state at the time it reached, not at t1: such a
    particle must get a NaN log density (no weight), never a silently wrong one."""
    tgt, mu, div = _stiff_where_negative(2000.0)
    fd = flow(jax.random.PRNGKey(0), mu, div, tgt, 64, max_steps=64)
    lp = np.asarray(fd.log_p)
    slow = np.isnan(lp)
    # exactly the stiff particles (y_0 > 0 keeps its sign along the flow) fail
    np.testing.assert_array_equal(slow, np.asarray(fd.y)[:, 0] <= 0)
    assert slow.any() and (~slow).any()
    assert np.all(np.isfinite(lp[~slow]))
    assert np.all(np.isnan(np.asarray(fd.log_weights)[slow]))


def test_a_stiff_flow_stops_at_the_default_step_bound():
    """The default bound (MAX_SOLVE_STEPS) keeps a stiff flow's solve short: with rate 300 the
    solve needs more than a thousand steps over [0, 1], which a bound of thousands (a monitor of
    minutes on a real model) would pay; under the default those particles fail instead (NaN
    weight), while the mild ones (rate 1, a few steps) still reach the target."""
    tgt, mu, div = _stiff_where_negative(300.0)
    fd = flow(jax.random.PRNGKey(1), mu, div, tgt, 64)
    slow = np.isnan(np.asarray(fd.log_p))
    np.testing.assert_array_equal(slow, np.asarray(fd.y)[:, 0] <= 0)
    assert slow.any() and (~slow).any()
    # the same stiff particles do finish when given the steps
    long = flow(jax.random.PRNGKey(1), mu, div, tgt, 64, max_steps=16 * MAX_SOLVE_STEPS)
    assert np.all(np.isfinite(np.asarray(long.log_p)))
