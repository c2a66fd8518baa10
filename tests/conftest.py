import jax

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
