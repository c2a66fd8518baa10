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


@pytest.mark.parametrize("method", ["ode", "anneal", "ot", "sde", "sb", "sde_diffusion"])
def test_starts_at_base_says_whether_the_untrained_flow_moves_nothing(method):
    """``starts_at_base`` (the plateau then compares with the base's own ESS): true for the
    methods without diffusion, whose untrained velocity is 0 at every point and time. Mutation:
    a drift network that does not start at 0 fails it."""
    import jax
    import jax.numpy as jnp
    import optax

    config = ODETransport(method=method)
    assert config.starts_at_base == (method in ("ode", "anneal", "ot"))
    assert not DPSTransport().starts_at_base
    if config.starts_at_base:
        state = config.init(jax.random.PRNGKey(0), 3, optax.adam(1e-3))
        v, div = config.flow_field(state.params, 3)
        y = jax.random.normal(jax.random.PRNGKey(1), (5, 3))
        for t in (0.0, 0.3, 1.0):
            assert jnp.all(jax.vmap(lambda p: v(p, t))(y) == 0) and jnp.all(jax.vmap(lambda p: div(p, t))(y) == 0)
