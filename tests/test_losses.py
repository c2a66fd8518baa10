"""numpyro_pinn.transports.losses: the divergence estimators against exact values."""

import jax
import jax.numpy as jnp
import pytest

from numpyro_pinn.transports.losses import divergence


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


def test_divergence_with_several_probes_gives_each_probes_estimate():
    a = jnp.array([[1.0, 2.0, 0.0], [0.5, -3.0, 1.0], [0.0, 4.0, 0.7]])
    f = lambda y: jnp.tanh(a @ y)
    y = jnp.array([0.3, -1.0, 0.2])
    eps = jax.random.rademacher(jax.random.PRNGKey(1), (4, 3), dtype=jnp.float32)
    one_by_one = jnp.stack([divergence(f, y, e) for e in eps])
    assert jnp.allclose(divergence(f, y, eps), one_by_one, atol=1e-6)


def _sgd():
    import optax

    return optax.sgd(1e-3)


def _losses(probes, keys, exact=False, method="ode"):
    """The ODE transport's training loss on a 4-d Gaussian target, at random (non-zero) network
    parameters, for each key: exact divergences, or Hutchinson's with ``probes`` probes per point
    (the key draws the same points either way)."""
    from numpyro_pinn.transports.ode import ODETransport

    config = ODETransport(method=method, hidden=(16, 16), hutchinson_above=100 if exact else 2, hutchinson_probes=probes)
    return _config_losses(config, 4, keys)


def _config_losses(config, d, keys):
    """``config``'s training loss on a ``d``-dimensional Gaussian target at random network
    parameters, for each key (the same points for every configuration)."""
    from numpyro_pinn.sample import whitened_target
    from numpyro_pinn.training.collocation import CollocationPool
    from numpyro_pinn.transports.ode import init, training_loss

    params = init(jax.random.PRNGKey(0), d, config, _sgd()).params
    leaves, tree = jax.tree_util.tree_flatten(params)
    noise = jax.random.split(jax.random.PRNGKey(1), len(leaves))
    params = jax.tree_util.tree_unflatten(
        tree, [p + 0.5 * jax.random.normal(k, jnp.shape(p), jnp.float32) for p, k in zip(leaves, noise)])
    target = whitened_target(lambda x: 0.5 * jnp.sum(x**2), jnp.zeros(d), jnp.eye(d), 0.0)
    box = jnp.full(d, 2.0, jnp.float32)
    pool = CollocationPool(-box, box, -box, box, jnp.zeros((2, d), jnp.float32), jnp.zeros((1, 2, d), jnp.float32))
    loss = training_loss(config, target, (64, 0, 0))
    return jax.jit(jax.vmap(loss, in_axes=(None, 0, None)))(params, keys, pool)


@pytest.mark.slow
@pytest.mark.parametrize("method", ["ode", "sde"])
def test_two_probe_loss_is_unbiased_and_one_probe_is_not(method):
    # Squaring one probe's residual adds the estimator's variance to the loss (a penalty on the
    # drift's Jacobian); products of two independent probes' residuals estimate the squared
    # residual itself. Same points per key: the differences carry only the probes' noise. "sde"
    # also estimates the Laplacians of v and log q with the probes.
    keys = jax.random.split(jax.random.PRNGKey(2), 300)
    exact = _losses(1, keys, exact=True, method=method)
    for probes, biased in ((2, False), (1, True)):
        diff = _losses(probes, keys, method=method) - exact
        mean, se = float(jnp.mean(diff)), float(jnp.std(diff) / jnp.sqrt(diff.shape[0]))
        if biased:
            assert mean > 5 * se
        else:
            assert abs(mean) < 4 * se, (probes, mean, se)
    assert float(jnp.mean(exact)) > 0  # the parameters are off the solution: there is a residual


@pytest.mark.parametrize("above, d, exact", [(16, 16, True), (16, 17, False), (32, 32, True), (32, 33, False)])
def test_the_loss_takes_exact_divergences_up_to_hutchinson_above(above, d, exact):
    """The loss equals the exact-divergence loss on the same points up to ``hutchinson_above``
    dimensions (default 16) and is Hutchinson's estimate above. Mutation: ``>=`` for ``>`` in
    the comparison fails it."""
    from numpyro_pinn.transports.ode import ODETransport

    keys = jax.random.split(jax.random.PRNGKey(3), 4)
    default = _config_losses(ODETransport(hidden=(16, 16), hutchinson_above=above), d, keys)
    exact_loss = _config_losses(ODETransport(hidden=(16, 16), hutchinson_above=100), d, keys)
    same = bool(jnp.allclose(default, exact_loss, rtol=1e-5))
    assert same == exact, (default, exact_loss)


@pytest.mark.parametrize("d, probes", [(20, 2), (33, 1)])
def test_the_default_loss_takes_two_probes_up_to_32_dimensions(d, probes):
    """``ODETransport()``'s loss (Hutchinson's estimate above 16 dimensions) is the one with two
    probes per point up to 32 dimensions and with one above, on the same points and probes.
    Mutation: one probe everywhere fails it."""
    from numpyro_pinn.transports.ode import ODETransport

    keys = jax.random.split(jax.random.PRNGKey(4), 4)
    default = _config_losses(ODETransport(hidden=(16, 16)), d, keys)
    for k in (1, 2):
        given = _config_losses(ODETransport(hidden=(16, 16), hutchinson_probes=k), d, keys)
        assert bool(jnp.allclose(default, given, rtol=1e-5)) == (k == probes), (k, default, given)
