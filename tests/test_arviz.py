"""ArviZ conversion of a run: posterior, per-draw log weights, and the PINN diagnostics as attributes."""
import jax
import numpy as np
import numpyro
import numpyro.distributions as dist
import pytest

from numpyro_pinn import PINNSampler
from numpyro_pinn.arviz import to_inference_data


@pytest.mark.slow
def test_a_run_converts_with_its_weights_and_diagnostics():
    def model(y):
        mu = numpyro.sample("mu", dist.Normal(0.0, 1.0))
        numpyro.sample("y", dist.Normal(mu, 1.0), obs=y)

    y = np.array([0.5, 1.5])
    s = PINNSampler(model, warm_start="laplace", base="gaussian", num_steps=1, target_ess=None, num_samples=200,
                    num_particles=256, progress_bar=False).run(jax.random.PRNGKey(0), y)
    idata = to_inference_data(s)
    assert idata.posterior["mu"].shape[:2] == (1, 200)
    np.testing.assert_allclose(np.asarray(idata.posterior["mu"]).ravel(), np.asarray(s.get_samples()["mu"]))
    assert np.asarray(idata.sample_stats["log_weight"]).shape[:2] == (1, 200)
    assert idata.sample_stats.attrs["pinn_ess"] == s.diagnostics["ess"]
    assert idata.sample_stats.attrs["pinn_warm_start"] == "laplace"
