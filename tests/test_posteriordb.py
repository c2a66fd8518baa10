"""Real posteriors with default settings against Stan's reference (posteriordb), and the NUTS comparison.

Floor (issue 3): for every parameter, |median - reference median| <= 0.1 reference sd and the
central 90% interval's width within 10% of the reference's. With ESS ~ 1 and 4,000 draws the
Monte Carlo sd of a median is about 1.25 sd / sqrt(4000) = 0.02 sd and of a 90% width about 2%,
so the floor is 5 Monte Carlo sds wide: a failure means bias, not noise.
"""
import jax
import jax.numpy as jnp
import numpy as np
import numpyro
import numpyro.distributions as dist
import pytest

from numpyro_pinn import PINNSampler, compare, plot_compare, posteriordb

@pytest.mark.slow
def test_models_load_and_have_finite_potentials():
    from numpyro_pinn.target import from_model

    jax.config.update("jax_enable_x64", True)
    for name in posteriordb.NAMES:
        post = posteriordb.load(name)
        tgt = from_model(jax.random.PRNGKey(0), post.model, post.args, post.kwargs)
        assert np.isfinite(float(tgt.potential_fn(tgt.x0))), name
    with pytest.raises(ValueError, match="Unknown posterior"):
        posteriordb.load("nope")


@pytest.mark.slow
@pytest.mark.parametrize("name", ["kidiq-kidscore_momiq", "garch-garch11"])
def test_default_settings_match_reference(name):
    post = posteriordb.load(name)
    s = PINNSampler(post.model, progress_bar=False).run(jax.random.PRNGKey(0), *post.args, **post.kwargs)
    cmp = posteriordb.compare_to_reference(s.get_samples(), post.reference)
    for p, r in cmp.items():
        assert abs(r["median_err_sd"]) <= 0.1, (p, r)
        assert abs(r["width_err"]) <= 0.1, (p, r)
    assert s.diagnostics["ess"] > 0.5


@pytest.mark.slow
def test_compare_with_nuts_table_and_plot(tmp_path):
    def model(y):
        mu = numpyro.sample("mu", dist.Normal(0.0, 5.0))
        sigma = numpyro.sample("sigma", dist.HalfNormal(2.0))
        numpyro.sample("y", dist.Normal(mu, sigma), obs=y)

    y = jnp.asarray(np.random.default_rng(0).normal(1.0, 1.0, 30))
    res = compare(model, key=jax.random.PRNGKey(0), num_warmup=300, num_samples=300, num_chains=2,
                  pinn_kwargs={"num_steps": 1000, "num_samples": 1000}, y=y)
    t = res.table
    assert set(t.index) == {"mu", "sigma"}
    for c in ("mean_pinn", "sd_pinn", "ess_pinn", "mean_nuts", "sd_nuts", "ess_nuts", "z_diff"):
        assert c in t.columns
    # Both samplers target the same posterior: means agree within 5 Monte Carlo standard errors.
    assert np.all(np.abs(t["z_diff"]) < 5)
    assert res.pinn_seconds > 0 and res.nuts_seconds > 0
    out = plot_compare(res, str(tmp_path / "cmp.png"))
    assert (tmp_path / "cmp.png").stat().st_size > 1000 and out.endswith("cmp.png")


def test_reference_scores_draws_and_names_map_to_numpyro():
    """``compare_to_reference`` scores draws against Stan's summary: draws from the reference's own
    normal approximation score near 0, a shift of half a reference sd scores 0.5; Stan's 1-based
    names map to NumPyro's 0-based ones."""
    post = posteriordb.load("eight_schools-eight_schools_noncentered")
    r = post.reference["theta[1]"]
    z = np.random.default_rng(0).standard_normal(20000)
    width = (r["q95"] - r["q05"]) / (2 * 1.6448536)
    theta = np.zeros((20000, 8))
    theta[:, 0] = r["q50"] + width * z
    err = posteriordb.compare_to_reference({"theta": theta}, {"theta[1]": r})["theta[1]"]
    assert abs(err["median_err_sd"]) < 0.05 and abs(err["width_err"]) < 0.03
    theta[:, 0] += 0.5 * r["sd"]
    shifted = posteriordb.compare_to_reference({"theta": theta}, {"theta[1]": r})["theta[1]"]
    assert shifted["median_err_sd"] == pytest.approx(err["median_err_sd"] + 0.5, abs=1e-9)
    assert posteriordb.numpyro_name("theta[1]") == "theta[0]" and posteriordb.numpyro_name("z[2,1]") == "z[1,0]"
    with pytest.raises(ValueError, match="Unknown posterior"):
        posteriordb.load("nope")
