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


def test_the_default_batch_follows_the_divergence_the_loss_takes():
    """``Training(batch_size=None)``: 1,024 collocation points per step up to 16 dimensions (exact
    divergences) and above 32 (one Hutchinson probe per point), 512 in between (two probes); 256
    where the ODE family's loss takes exact divergences (``d`` forward-mode passes per point) in
    more than 16 dimensions (``hutchinson_above`` above 16). DPS: 1,024 everywhere."""
    config = ODETransport()
    assert [config.probes(d) for d in (17, 32, 33)] == [2, 2, 1]
    assert [config.default_batch_size(d) for d in (1, 16, 17, 32, 33, 200)] == [1024] * 2 + [512] * 2 + [1024] * 2
    assert ODETransport(hutchinson_probes=4).default_batch_size(50) == 256
    assert ODETransport(hutchinson_probes=1).default_batch_size(20) == 1024
    config = ODETransport(hutchinson_above=32)
    assert [config.default_batch_size(d) for d in (1, 16, 17, 31, 32, 33, 200)] == [1024] * 2 + [256] * 3 + [1024] * 2
    assert ODETransport(hutchinson_above=8).default_batch_size(12) == 512  # two probes
    assert ODETransport(hutchinson_above=64).default_batch_size(50) == 256
    assert DPSTransport().default_batch_size(20) == 1024


@pytest.mark.parametrize("d, above, batch", [(3, 32, 1024), (20, 16, 512), (20, 32, 256)])
def test_the_core_trains_on_the_transport_s_default_batch(d, above, batch):
    """The core resolves ``Settings(batch_size=None)`` with the transport for the posterior's
    dimension and the fitted result carries it (the sampler's evaluation counts use it:
    ``tests/test_api.py``). Mutation: a fixed 1,024 fails it."""
    import jax
    import jax.numpy as jnp

    from numpyro_pinn import core
    from numpyro_pinn.bases import Gaussian

    potential = lambda x: 0.5 * jnp.sum(x**2) + 0.1 * jnp.sum(x**4)
    ws = core.make_warm_start(jax.random.PRNGKey(0), potential, jnp.zeros(d), "laplace")
    s = core.Settings(num_steps=2, chunk_size=1, target_ess=None, base=Gaussian(), num_paths=64)
    assert s.batch_size is None
    f = core.fit_transport(jax.random.PRNGKey(1), potential, ws, s, ODETransport(hutchinson_above=above),
                           progress_bar=False)
    assert f.batch_size == batch and f.train.num_steps == 2
