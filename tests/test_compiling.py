"""Compiling the programs that run once (:mod:`numpyro_pinn.compiling`)."""
import functools
import json
import os
import subprocess
import sys

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from numpyro_pinn import compiling
from numpyro_pinn.compiling import (CHEAP_FLOPS, CPU_OPTIONS, ONCE_OPTIONS, TRANSCENDENTAL_FLOPS, cheap_to_run,
                                    estimated_flops, jit, jit_once, weighted_flops)


@pytest.mark.parametrize("wrapper", [jit, jit_once])
def test_jit_and_jit_once_compute_what_jax_jit_does_alone_nested_and_with_static_arguments(wrapper):
    @functools.partial(wrapper, static_argnums=1)
    def f(x, n):
        return jnp.sin(x) * n

    x = jnp.linspace(-1.0, 1.0, 5)
    np.testing.assert_allclose(f(x, 3), jnp.sin(x) * 3, rtol=1e-6)
    np.testing.assert_allclose(jax.jit(lambda x: f(x, 2))(x), jnp.sin(x) * 2, rtol=1e-6)  # inside a jit
    np.testing.assert_allclose(jax.vmap(lambda x: f(x, 2))(x), jnp.sin(x) * 2, rtol=1e-6)
    np.testing.assert_allclose(jax.grad(lambda x: f(x, 2).sum())(x), 2 * jnp.cos(x), rtol=1e-6)


@pytest.mark.parametrize("wrapper", [jit, jit_once])
def test_jit_and_jit_once_compile_once_per_shape(wrapper):
    traces = []

    @wrapper
    def f(x):
        traces.append(x.shape)
        return x + 1

    f(jnp.ones(3)), f(jnp.zeros(3)), f(jnp.ones(4))
    assert traces == [(3,), (4,)]


def test_the_cpu_programs_get_their_xla_options_and_unknown_options_are_left_out(monkeypatch):
    """On CPU a program of :func:`jit` is compiled with :data:`CPU_OPTIONS` and one of
    :func:`jit_once` with :data:`ONCE_OPTIONS`; an option this XLA does not know is left out
    instead of failing the compilation. Mutations: compiling without the options, or passing an
    unknown one through, fail it."""
    if jax.default_backend() != "cpu":
        pytest.skip("the options are for CPU")
    seen, real = [], jax.jit
    # The first program of each kind probes which options this XLA takes (one trivial compilation
    # per option, through jax.jit); run both before recording, whatever this process ran before.
    jit(lambda x: x)(1.0), jit_once(lambda x: x)(1.0)

    def recording(fun, **kwargs):
        seen.append(kwargs.get("compiler_options"))
        return real(fun, **kwargs)

    monkeypatch.setattr(jax, "jit", recording)
    assert float(jit(lambda x: x + 1)(1.0)) == 2.0 and float(jit_once(lambda x: x + 2)(1.0)) == 3.0
    assert seen == [None, CPU_OPTIONS, None, ONCE_OPTIONS]  # each: the nested program, then the top one
    monkeypatch.setattr(jax, "jit", real)
    unknown = {**CPU_OPTIONS, "xla_no_such_option_anywhere": True}
    monkeypatch.setattr(compiling, "CPU_OPTIONS", unknown)
    assert float(compiling.jit(lambda x: x * 3)(2.0)) == 6.0


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


#: A run in a fresh process with JAX's hoisted constants and its persistent cache: a sampler on
#: data ``y``, then a new sampler on new data of the same shapes; prints the cache's new entries.
_TWO_RUNS = """
import json, os, sys
import jax
import numpy as np, numpyro, numpyro.distributions as dist
from numpyro_pinn import PINNSampler, Training
from numpyro_pinn.compiling import cache_compiled_programs

assert cache_compiled_programs(sys.argv[1])

def model(y, noise):
    mu = numpyro.sample("mu", dist.Normal(0.0, 3.0).expand([3]).to_event(1))
    numpyro.sample("y", dist.Normal(mu, noise).to_event(1), obs=y)

entries = []
for seed in (0, 1):
    noise = np.full(3, 1.0 + seed)  # new data, and a posterior of another width
    y = noise * np.random.default_rng(seed).normal(size=(20, 3)) + 2.0 * seed
    s = PINNSampler(model, num_steps=20, target_ess=None, progress_bar=False,
                    training=Training(chunk_size=10)).run(jax.random.PRNGKey(seed), y, noise)
    assert s.diagnostics["num_train_steps"] == 20
    s.get_samples()
    entries.append(sorted(os.listdir(sys.argv[1])))
print(json.dumps(sorted(set(entries[1]) - set(entries[0]))))
"""


@pytest.mark.slow
def test_a_sampler_on_new_data_reuses_the_compiled_training_and_solve_with_hoisted_constants(tmp_path):
    # With closed-over arrays hoisted into arguments (JAX's simplified constants), the programs
    # of the warm start, the training and the ODE solve do not depend on the data or the
    # whitening, so the persistent cache serves the second sampler's.
    if "jax_use_simplified_jaxpr_constants" not in jax.config.values:
        pytest.skip("this JAX has no `jax_use_simplified_jaxpr_constants`")
    env = dict(os.environ, **compiling.HOISTING_ENVIRONMENT, JAX_PLATFORMS="cpu")
    out = subprocess.run([sys.executable, "-c", _TWO_RUNS, str(tmp_path)], env=env, capture_output=True, text=True,
                         timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    new = json.loads(out.stdout.strip().splitlines()[-1])
    # Every program is reused here: the SMC warm start's, the training chunk and the solve.
    assert new == [], new


def test_the_cache_is_switched_on_and_hoisting_reported_as_it_is(tmp_path):
    # Unless this process was started with the hoisting variables, new data would not reuse the
    # cached programs, and the answer says so (the fresh-process test above checks True).
    expected = all(os.environ.get(k) == v for k, v in compiling.HOISTING_ENVIRONMENT.items())
    keys = ("jax_compilation_cache_dir", "jax_persistent_cache_min_compile_time_secs",
            "jax_persistent_cache_min_entry_size_bytes")
    before = {k: jax.config.values[k] for k in keys}
    try:
        assert compiling.cache_compiled_programs(tmp_path) is expected
        assert jax.config.values["jax_compilation_cache_dir"] == str(tmp_path)
        assert jax.config.values["jax_persistent_cache_min_compile_time_secs"] == 0.0
    finally:
        for k, v in before.items():
            jax.config.update(k, v)
    assert compiling.hoists_constants() is expected


@pytest.mark.parametrize("bad", [None, "", 3])
def test_a_cache_directory_that_is_not_a_path_is_refused_before_anything_is_set(bad):
    before = jax.config.values["jax_compilation_cache_dir"]
    with pytest.raises(ValueError, match="cache_dir"):
        compiling.cache_compiled_programs(bad)
    assert jax.config.values["jax_compilation_cache_dir"] == before
