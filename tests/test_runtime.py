"""Process-level behaviour, each case in a fresh interpreter without the test suite's conftest
(which switches float64 on for every other test): the sampler leaves JAX's global precision as
it found it, and the vectorised mode climbs on a Gaussian-process potential finish."""
import os
import subprocess
import sys
import textwrap

import pytest


ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _run(code: str, timeout: float):
    env = dict(os.environ, PYTHONPATH=ROOT)
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True,
                          timeout=timeout, env=env, cwd=ROOT)


PRECISION = """
import warnings
import jax, jax.numpy as jnp, numpyro, numpyro.distributions as dist
from numpyro_pinn import PINNSampler

def model(y):
    mu = numpyro.sample("mu", dist.Normal(0, 10))
    numpyro.sample("y", dist.Normal(mu, 1), obs=y)

opts = dict(warm_start="laplace", num_steps=10, num_samples=100, progress_bar=False)
assert not jax.config.jax_enable_x64
m = PINNSampler(model, **opts).run(jax.random.PRNGKey(0), jnp.ones(5))
assert m.get_samples()["mu"].dtype == jnp.float32          # handed back in the user's precision
assert m.diagnostics["log_Z_se"] < 1e-3                    # exact Laplace start: equal weights
m.sample(jax.random.PRNGKey(1), 10)
assert not jax.config.jax_enable_x64, "run() left jax_enable_x64 on"
assert jnp.array(1.0).dtype == jnp.float32 and jnp.arange(3).dtype == jnp.int32
with warnings.catch_warnings():
    warnings.simplefilter("error")                          # enable_x64=False must be quiet
    m32 = PINNSampler(model, enable_x64=False, **opts).run(jax.random.PRNGKey(0), jnp.ones(5))
assert m32.get_samples()["mu"].dtype == jnp.float32
print("OK")
"""


@pytest.mark.slow
def test_run_restores_the_users_precision_and_float32_is_quiet():
    """Mutation: calling ``jax.config.update("jax_enable_x64", True)`` in ``run`` (the old
    behaviour) fails the first assertion after ``run``."""
    out = _run(PRECISION, timeout=600)
    assert out.returncode == 0 and "OK" in out.stdout, out.stderr[-3000:]


CLIMBS = """
import faulthandler
faulthandler.dump_traceback_later({limit}, exit=True)
import jax
jax.config.update("jax_enable_x64", True)
from numpyro_pinn import core, posteriordb
from numpyro_pinn.bases import mode_mixture
from numpyro_pinn.target import from_model

p = posteriordb.load("gp_pois_regr-gp_regr")
t = from_model(jax.random.PRNGKey(0), p.model, p.args, p.kwargs)
ws = core.make_warm_start(jax.random.PRNGKey(0), t.potential_fn, t.x0, "smc")
mix, n = mode_mixture(t.potential_fn, ws.mean, ws.chol, ws.draws, return_evals=True{extra})
print("OK", n)
"""


@pytest.mark.slow
def test_mode_climbs_on_a_gaussian_process_finish():
    """The climbs of 1,024 SMC draws on posteriordb's GP regression (batched Hessians of a
    Cholesky factorisation). Mutation: ``climb_batch=1024`` (the old single vmap) wedged XLA's CPU runtime
    and this test failed at its time limit, idle in ``block_until_ready``."""
    out = _run(CLIMBS.format(limit=240, extra=""), timeout=300)
    assert out.returncode == 0 and "OK" in out.stdout, out.stderr[-3000:]
