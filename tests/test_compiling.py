"""Compiling the programs that run once (:mod:`numpyro_pinn.compiling`)."""
import functools

import jax
import jax.numpy as jnp
import numpy as np

from numpyro_pinn.compiling import (CHEAP_FLOPS, TRANSCENDENTAL_FLOPS, cheap_to_run, estimated_flops, jit_once,
                                    weighted_flops)


def test_jit_once_computes_what_jit_does_alone_nested_and_with_static_arguments():
    @functools.partial(jit_once, static_argnums=1)
    def f(x, n):
        return jnp.sin(x) * n

    x = jnp.linspace(-1.0, 1.0, 5)
    np.testing.assert_allclose(f(x, 3), jnp.sin(x) * 3, rtol=1e-6)
    np.testing.assert_allclose(jax.jit(lambda x: f(x, 2))(x), jnp.sin(x) * 2, rtol=1e-6)  # inside a jit
    np.testing.assert_allclose(jax.vmap(lambda x: f(x, 2))(x), jnp.sin(x) * 2, rtol=1e-6)
    np.testing.assert_allclose(jax.grad(lambda x: f(x, 2).sum())(x), 2 * jnp.cos(x), rtol=1e-6)


def test_jit_once_compiles_once_per_shape():
    traces = []

    @jit_once
    def f(x):
        traces.append(x.shape)
        return x + 1

    f(jnp.ones(3)), f(jnp.zeros(3)), f(jnp.ones(4))
    assert traces == [(3,), (4,)]


def test_cheap_to_run_follows_xlas_estimate():
    """A handful of operations is cheap; a matrix product of ``CHEAP_FLOPS`` order is not."""
    assert cheap_to_run(lambda x: jnp.sum(x**2), jnp.ones(3))
    n = int(np.sqrt(CHEAP_FLOPS)) + 10
    assert not cheap_to_run(lambda a: a @ a, jnp.ones((n, n)))


def test_estimated_flops_counts_a_matrix_products_operations():
    """XLA's estimate of an ``n x n`` matrix product is ``2 n^3`` operations and no transcendental;
    one ``exp`` per entry adds ``n^2`` transcendentals."""
    n = 16
    flops, trans = estimated_flops(lambda a: a @ a, jnp.ones((n, n)))
    assert flops == 2 * n**3 and trans == 0
    cost = estimated_flops(lambda a: jnp.exp(a @ a), jnp.ones((n, n)))
    assert cost[1] == n**2
    assert weighted_flops(cost) == cost[0] + TRANSCENDENTAL_FLOPS * n**2
    assert weighted_flops(None) == float("inf")  # no estimate: never cheap
