import atexit
import os
import shutil
import tempfile

# One persistent compilation cache for the whole session, this process and the scripts it starts
# (examples, killed and resumed runs): a sampler compiles its programs anew for each model and
# run, and many tests build the same model on the same data, so without it XLA compiles the same
# programs again and again. Set before JAX is imported, so that JAX reads them and the
# subprocesses inherit them; a directory of the caller's own is kept as it is.
if "JAX_COMPILATION_CACHE_DIR" not in os.environ:
    _cache = tempfile.mkdtemp(prefix="numpyro-pinn-tests-")
    atexit.register(shutil.rmtree, _cache, ignore_errors=True)
    os.environ.update(JAX_COMPILATION_CACHE_DIR=_cache, JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS="0",
                      JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES="-1")

import jax  # noqa: E402

jax.config.update("jax_enable_x64", True)


import numpy as np  # noqa: E402
import numpyro  # noqa: E402
import numpyro.distributions as dist  # noqa: E402
import pytest  # noqa: E402
from scipy.stats import multivariate_normal  # noqa: E402


class ConjugateNormal:
    """``mu ~ N(0, tau^2)``, ``y_i ~ N(mu, 1)``: closed-form posterior ``N(mean, sd^2)`` and evidence."""

    y = np.array([0.9, 1.7, 0.4, 1.3, 2.1, 0.8])

    def __init__(self, tau: float = 1.0):
        self.tau = tau
        prec = len(self.y) + 1.0 / tau ** 2
        self.mean, self.sd = float(self.y.sum() / prec), float(prec ** -0.5)
        n = len(self.y)
        self.log_Z = float(multivariate_normal(np.zeros(n), np.eye(n) + tau ** 2).logpdf(self.y))

    def model(self, y):
        mu = numpyro.sample("mu", dist.Normal(0, self.tau))
        numpyro.sample("y", dist.Normal(mu, 1.0), obs=y)


@pytest.fixture(scope="session")
def conjugate_normal():
    return ConjugateNormal
