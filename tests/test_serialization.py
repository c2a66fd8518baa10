"""Save and load a trained sampler (numpyro_pinn.serialization, PINNSampler.save/load)."""
import json

import jax
import jax.numpy as jnp
import numpy as np
import numpyro
import numpyro.distributions as dist
import pytest

from numpyro_pinn import PINNSampler
from numpyro_pinn import serialization


def _assert_same_draws(a, b, key, n=300):
    da, db = a.sample(key, n), b.sample(key, n)
    assert set(da) == set(db)
    for k in da:
        np.testing.assert_array_equal(da[k], db[k])
    (xa, la), (xb, lb) = a.sample(key, n, weighted=True), b.sample(key, n, weighted=True)
    np.testing.assert_array_equal(la, lb)
    for k in xa:
        np.testing.assert_array_equal(xa[k], xb[k])


@pytest.mark.slow
def test_round_trip_gives_the_same_draws_and_results(tmp_path, conjugate_normal):
    cn = conjugate_normal(1.0)
    s = PINNSampler(cn.model, warm_start="laplace", num_samples=300, progress_bar=False).run(jax.random.PRNGKey(0), cn.y)
    path = str(tmp_path / "normal.pinn")
    s.save(path)
    t = PINNSampler.load(path, cn.model, cn.y)
    _assert_same_draws(s, t, jax.random.PRNGKey(3))
    np.testing.assert_array_equal(s.get_samples()["mu"], t.get_samples()["mu"])
    assert json.dumps(t.diagnostics, sort_keys=True) == json.dumps(s.diagnostics, sort_keys=True)  # NaN-aware
    assert t.num_samples == 300 and t.settings == s.settings and t.transport == s.transport


@pytest.mark.slow
def test_a_model_with_other_sites_or_shapes_is_refused(tmp_path, conjugate_normal):
    cn = conjugate_normal(1.0)
    s = PINNSampler(cn.model, warm_start="laplace", num_samples=100, progress_bar=False).run(jax.random.PRNGKey(0), cn.y)
    path = str(tmp_path / "normal.pinn")
    s.save(path)

    def renamed(y):
        m = numpyro.sample("m", dist.Normal(0, 1))
        numpyro.sample("y", dist.Normal(m, 1.0), obs=y)

    def reshaped(y):
        mu = numpyro.sample("mu", dist.Normal(0, 1).expand([2]))
        numpyro.sample("y", dist.Normal(mu.sum(), 1.0), obs=y)

    with pytest.raises(ValueError, match="saved but not in this model: mu; in this model but not saved: m"):
        PINNSampler.load(path, renamed, cn.y)
    with pytest.raises(ValueError, match=r"'mu' has shape \(2,\) here but \(\) in the saved"):
        PINNSampler.load(path, reshaped, cn.y)
    (tmp_path / "junk").write_bytes(b"\x80")
    with pytest.raises(ValueError, match="not a numpyro-pinn sampler file"):
        PINNSampler.load(str(tmp_path / "junk"), cn.model, cn.y)


@pytest.mark.slow
def test_round_trip_of_a_skewed_mixture_base_with_a_potential(tmp_path):
    """Two modes: the base is a skewed two-component mixture, whose arrays must round-trip too."""

    def U(x):
        z = x["x"]
        return -jnp.logaddexp(-0.5 * jnp.sum((z - 2.5) ** 2), -0.5 * jnp.sum((z + 2.5) ** 2))

    x0 = {"x": jnp.zeros(2)}
    s = PINNSampler(potential_fn=U, num_samples=200, num_steps=20, target_ess=None, base="mixture",
                    progress_bar=False).run(jax.random.PRNGKey(1), init_params=x0)
    assert s.diagnostics["base_components"] == 2 and s.diagnostics["base_skewed"]
    assert s.diagnostics["prior_components"] == 2  # the old name, for one release
    path = str(tmp_path / "bimodal.pinn")
    s.save(path)
    t = PINNSampler.load(path, potential_fn=U, init_params=x0)
    _assert_same_draws(s, t, jax.random.PRNGKey(4))
    with pytest.raises(ValueError, match=r"'x' has shape \(3,\)"):
        PINNSampler.load(path, potential_fn=U, init_params={"x": jnp.zeros(3)})


def test_transport_configuration_round_trips():
    from numpyro_pinn.transports import DPSTransport, ODETransport

    for cfg in (ODETransport(hidden=(32, 16), method="sb", hjb_weight=0.5), DPSTransport(beta_max=8.0)):
        assert serialization.transport_from_dict(serialization.transport_to_dict(cfg)) == cfg
