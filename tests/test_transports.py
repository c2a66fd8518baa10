"""The transport interface (numpyro_pinn.transports.base.Transport) that core and the sampler use."""
import pytest

from numpyro_pinn.transports import DPSTransport, ODETransport, Transport


@pytest.mark.parametrize("config", [ODETransport(), ODETransport(method="sb"), DPSTransport(),
                                    DPSTransport(control_variate="kde")])
def test_each_transport_implements_the_interface(config):
    assert isinstance(config, Transport)
    assert config.for_prior(None).name == config.name
    assert config.mixture_role in ("prior", "control_variate", None)
    assert config.base_fallback == isinstance(config, ODETransport)
    assert config.particles.endswith("ODE particles")
    assert config.path_noise >= 0.0


def test_the_sde_diffusion_transport_has_no_base_of_its_own():
    assert ODETransport(method="sde_diffusion").mixture_role is None
    assert ODETransport().describe_control_variate({}) is None


@pytest.mark.parametrize("bad", [0, -1, 1.5, "2"])
def test_hutchinson_probes_is_checked(bad):
    with pytest.raises(ValueError, match="hutchinson_probes"):
        ODETransport(hutchinson_probes=bad)
