"""Bad input gets an early, clear error naming the site or argument; failed training stops loudly."""
import jax
import jax.numpy as jnp
import numpy as np
import numpyro
import numpyro.distributions as dist
import optax
import pytest

from numpyro_pinn import PINNSampler, Training, TrainingError
from numpyro_pinn.bases import Auto, DrawsMixture, ModeMixture
from numpyro_pinn.transports import DPSTransport

KEY = jax.random.PRNGKey(0)


def test_discrete_latent_site_is_named():
    def model():
        numpyro.sample("mu", dist.Normal(0, 1))
        numpyro.sample("k", dist.Poisson(3.0))

    with pytest.raises(ValueError, match="'k' is discrete"):
        PINNSampler(model, progress_bar=False).run(KEY)


def test_model_without_latent_sites():
    def model(y):
        numpyro.sample("y", dist.Normal(0, 1), obs=y)

    with pytest.raises(ValueError, match="no latent sample sites"):
        PINNSampler(model, progress_bar=False).run(KEY, jnp.ones(3))


def test_nonfinite_potential_at_init_is_named():
    def model():
        mu = numpyro.sample("mu", dist.Normal(0, 1))
        numpyro.factor("broken", jnp.where(mu > -100, -jnp.inf, 0.0))

    with pytest.raises(ValueError, match="not finite"):
        PINNSampler(model, progress_bar=False).run(KEY)


def test_potential_fn_errors():
    with pytest.raises(ValueError, match="exactly one"):
        PINNSampler()
    with pytest.raises(ValueError, match="init_params"):
        PINNSampler(potential_fn=lambda x: jnp.sum(x**2), progress_bar=False).run(KEY)
    with pytest.raises(ValueError, match="scalar"):
        PINNSampler(potential_fn=lambda x: x**2, progress_bar=False).run(KEY, init_params=jnp.zeros(2))
    with pytest.raises(ValueError, match="not finite"):
        PINNSampler(potential_fn=lambda x: jnp.sum(jnp.log(x)), progress_bar=False).run(
            KEY, init_params=-jnp.ones(2))
    with pytest.raises(ValueError, match="no elements"):
        PINNSampler(potential_fn=lambda x: 0.0, progress_bar=False).run(KEY, init_params=jnp.zeros(0))


@pytest.mark.parametrize(
    "kwargs, match",
    [({"num_samples": 0}, "num_samples"), ({"method": "sde2"}, "method"), ({"target_ess": 1.5}, "target_ess"),
     ({"num_particles": 600.5}, "num_particles"), ({"num_samples": 2.7}, "num_samples"),
     ({"num_steps": True}, "num_steps"), ({"base": "kde"}, "base"), ({"training": {"min_steps": 5}}, "training"),
     ({"transport": DPSTransport()}, "does not match method='ode'")],
)
def test_bad_arguments_are_named(kwargs, match):
    if "transport" in kwargs:
        kwargs = dict(kwargs, method="ode")
    with pytest.raises(ValueError, match=match):
        PINNSampler(potential_fn=lambda x: jnp.sum(x**2), **kwargs)


@pytest.mark.parametrize(
    "make, match",
    [(lambda: Training(batch_size=-3), "batch_size"), (lambda: Training(learning_rate=0.0), "learning_rate"),
     (lambda: Training(min_steps=-100), "min_steps"), (lambda: Training(gn_steps=0), "gn_steps"),
     (lambda: Training(domain_scale=0.0), "domain_scale"), (lambda: Training(finetune="lbfgs"), "finetune"),
     (lambda: Training(max_seconds=-1.0), "max_seconds"), (lambda: Auto(fallback="yes"), "fallback"),
     (lambda: DrawsMixture(skew="yes"), "skew"), (lambda: DPSTransport(sampler="euler"), "sampler"),
     (lambda: Auto(patience=0), "patience")],
)
def test_bad_options_are_named(make, match):
    with pytest.raises(ValueError, match=match):
        make()


def test_deprecated_arguments_still_work_and_say_where_they_moved():
    """The arguments that moved onto option objects keep working for one release, with a warning
    naming the replacement; a misspelt argument is still a TypeError."""
    with pytest.warns(FutureWarning, match="`prior_fallback` -> base=.*`min_steps` -> training="):
        s = PINNSampler(potential_fn=lambda x: jnp.sum(x**2), prior="mixture", prior_skew="weights",
                        prior_fallback=False, min_steps=7, batch_size=512)
    assert s.base == ModeMixture(skew="weights", fallback=False)
    assert s.training == Training(min_steps=7, batch_size=512)
    assert s.settings.min_steps == 7 and s.settings.batch_size == 512
    with pytest.warns(FutureWarning), pytest.raises(ValueError, match="dps_sampler"):
        PINNSampler(potential_fn=lambda x: jnp.sum(x**2), method="dps", dps_sampler="euler")
    with pytest.warns(FutureWarning):
        d = PINNSampler(potential_fn=lambda x: jnp.sum(x**2), method="dps", dps_sampler="sde")
    assert d.transport.sampler == "sde"
    with pytest.raises(TypeError, match="num_stepz"):
        PINNSampler(potential_fn=lambda x: jnp.sum(x**2), num_stepz=3)


def test_wrong_warm_start_shape():
    with pytest.raises(ValueError, match="dimension"):
        PINNSampler(potential_fn=lambda x: jnp.sum(x**2), warm_start=np.random.default_rng(0).normal(size=(50, 3)),
                    progress_bar=False).run(KEY, init_params=jnp.zeros(2))


def test_getters_before_run_raise():
    s = PINNSampler(potential_fn=lambda x: jnp.sum(x**2))
    with pytest.raises(RuntimeError, match="run"):
        s.get_samples()


@pytest.mark.slow
def test_nan_loss_stops_with_advice_and_keeps_last_good_params():
    def nan_after(n):
        def init(params):
            return jnp.zeros((), jnp.int32)

        def update(updates, count, params=None):
            scale = jnp.where(count >= n, jnp.nan, 1e-4)
            return jax.tree_util.tree_map(lambda u: scale * u, updates), count + 1

        return optax.GradientTransformation(init, update)

    s = PINNSampler(potential_fn=lambda x: 0.5 * jnp.sum(x**2), training=Training(optimizer=nan_after(300)),
                    num_steps=1000,
                    target_ess=None,  # all steps: the exact Laplace start would otherwise train 0
                    warm_start="laplace", progress_bar=False)
    with pytest.raises(TrainingError, match="smaller learning rate") as err:
        s.run(KEY, init_params=jnp.zeros(2))
    good = err.value.last_good_state.params
    assert all(bool(jnp.all(jnp.isfinite(leaf))) for leaf in jax.tree_util.tree_leaves(good))
    assert err.value.step >= 300


def _gaussian_fit(**kwargs):
    opts = dict(warm_start="laplace", num_steps=10, num_samples=50, progress_bar=False)
    opts.update(kwargs)
    return PINNSampler(potential_fn=lambda x: 0.5 * jnp.sum(x**2), **opts).run(KEY, init_params=jnp.zeros(2))


@pytest.mark.slow
def test_sample_counts_are_validated_and_one_draw_works():
    s = _gaussian_fit(num_samples=1)
    assert s.get_samples().shape == (1, 2)
    assert s.diagnostics["num_particles"] == 100 and np.isfinite(s.diagnostics["pareto_k"])
    for bad in (0, 2.7, -1, True):
        with pytest.raises(ValueError, match="num"):
            s.sample(KEY, bad)


@pytest.mark.slow
def test_too_few_particles_for_khat_say_so():
    s = _gaussian_fit(num_particles=10)
    assert np.isnan(s.diagnostics["pareto_k"])
    assert "not enough particles" in s.summary_line()


@pytest.mark.slow
def test_stopped_early_only_before_num_steps():
    """The target ESS of 1.0 is reached (ESS 1 - 1e-12) only at the end of all 10 steps, or
    not at all: either way training was not stopped early."""
    s = _gaussian_fit(target_ess=1.0, training=Training(min_steps=5))
    assert s.diagnostics["num_train_steps"] == 10
    assert not s.diagnostics["stopped_early"]


@pytest.mark.slow
def test_improper_posteriors_are_refused_in_the_warm_start():
    """A flat prior with no data, and a scale with an improper flat prior and one observation (the
    posterior of log sigma tends to a constant as sigma grows): both refused by the warm start, in
    seconds, naming the site. Proper heavy tails (a Cauchy likelihood) and wide priors pass the check
    (as do the 16 posteriordb posteriors, checked when the check was written)."""
    from numpyro.distributions import constraints

    from numpyro_pinn.target import from_model
    from numpyro_pinn.warmstart import flat_direction, laplace

    def flat():
        numpyro.sample("a", dist.ImproperUniform(constraints.real, (), ()))

    def scale_only(y):
        s = numpyro.sample("sigma", dist.ImproperUniform(constraints.positive, (), ()))
        numpyro.sample("y", dist.Normal(0.0, s), obs=y)

    with pytest.raises(ValueError, match="improper.*'a'"):
        PINNSampler(flat, progress_bar=False).run(KEY)
    with pytest.raises(ValueError, match="improper.*'sigma'"):
        PINNSampler(scale_only, progress_bar=False).run(KEY, jnp.array(0.7))

    def proper(y):
        m = numpyro.sample("m", dist.Normal(0.0, 1000.0))
        c = numpyro.sample("c", dist.Cauchy(0.0, 1.0))
        numpyro.sample("y", dist.Cauchy(m + 0.0 * c, 1.0), obs=y)

    t = from_model(KEY, proper, (jnp.array([0.5]),))
    lap = laplace(t.potential_fn, t.x0)
    assert flat_direction(t.potential_fn, lap.mean, lap.chol) is None
