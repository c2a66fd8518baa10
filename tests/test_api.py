"""The MCMC-like user surface, ArviZ conversion, determinism and precision."""
import arviz as az
import jax
import jax.numpy as jnp
import numpy as np
import numpyro
import numpyro.distributions as dist
import pytest

from numpyro_pinn import PINNSampler, Training
from numpyro_pinn.bases import Auto, Gaussian

pytestmark = pytest.mark.slow


def model(x, y=None):
    alpha = numpyro.sample("alpha", dist.Normal(0, 5))
    beta = numpyro.sample("beta", dist.Normal(0, 5))
    sigma = numpyro.sample("sigma", dist.HalfNormal(2))
    numpyro.deterministic("mean_at_zero", alpha)
    numpyro.sample("y", dist.Normal(alpha + beta * x, sigma), obs=y)


X = np.linspace(-1, 1, 30)
Y = 1.0 + 2.0 * X + np.random.default_rng(0).normal(0, 0.5, 30)
# fallback=False: these tests check the trained transport itself, not the base it starts from.
SETTINGS = dict(num_samples=1000, num_steps=1000, training=Training(min_steps=500), progress_bar=False,
                base=Auto(fallback=False))


@pytest.fixture(scope="module")
def fitted():
    return PINNSampler(model, **SETTINGS).run(jax.random.PRNGKey(0), X, y=Y)


def test_run_returns_self_and_samples_have_shapes(fitted):
    s = fitted.get_samples()
    assert set(s) == {"alpha", "beta", "sigma", "mean_at_zero"}
    assert s["alpha"].shape == (1000,)
    assert np.all(np.asarray(s["sigma"]) > 0)
    np.testing.assert_array_equal(s["alpha"], s["mean_at_zero"])
    g = fitted.get_samples(group_by_chain=True)
    assert g["beta"].shape == (1, 1000)


def test_warm_start_samples_are_constrained_and_near_the_draws(fitted):
    """``get_warm_start_samples``: the SMC particles in constrained space, their medians within
    0.1 posterior sd of the importance-resampled draws' (2,048 particles against 1,000 draws: a
    median's Monte Carlo error is under 0.05 sd). Mutation: returning the unconstrained draws
    fails it (no deterministic sites; log sigma where sigma should be)."""
    w, s = fitted.get_warm_start_samples(), fitted.get_samples()
    assert set(w) == set(s) and w["alpha"].shape == fitted._fitted.warm_start.draws.shape[:1]
    assert np.all(np.asarray(w["sigma"]) > 0)
    for k in ("alpha", "beta", "sigma"):
        assert abs(np.median(w[k]) - np.median(s[k])) < 0.1 * np.std(s[k]), k


def test_weighted_particles_and_extra_fields(fitted):
    samples, lw = fitted.get_weighted_samples()
    assert samples["alpha"].shape == lw.shape == (1000,)
    ef = fitted.get_extra_fields()
    assert set(ef) >= {"log_weight", "potential_energy"}
    assert ef["log_weight"].shape == (1000,)
    assert np.all(np.isfinite(ef["potential_energy"]))
    assert fitted.get_extra_fields(group_by_chain=True)["log_weight"].shape == (1, 1000)


def test_diagnostics_dict(fitted):
    d = fitted.diagnostics
    for k in ("ess", "log_Z", "log_Z_lower_bound", "pareto_k", "train_seconds", "sample_seconds", "target_evals"):
        assert k in d
    assert d["ess"] > 0.9
    # The warm start's tempered SMC estimates log Z independently (2,048 particles, se about 0.02 here).
    assert abs(d["log_Z"] - float(fitted.warm_start_result.log_Z)) < 0.15
    assert d["target_evals"] > d["num_train_steps"] * fitted._fitted.batch_size > 0


def test_print_summary(fitted, capsys):
    fitted.print_summary()
    out = capsys.readouterr().out
    assert "alpha" in out and "ESS" in out and "log Z" in out and "Pareto k" in out
    assert "r_hat" not in out and "n_eff" not in out  # resampled draws: not a Markov chain


def test_arviz_from_numpyro_and_to_inference_data(fitted):
    idata = az.from_numpyro(fitted)
    assert idata.posterior["alpha"].shape == (1, 1000)
    assert "y" in idata.log_likelihood
    assert "y" in idata.observed_data
    assert "log_weight" in idata.sample_stats
    idata2 = fitted.to_inference_data()
    assert idata2["sample_stats"].attrs["pinn_ess"] == pytest.approx(fitted.diagnostics["ess"])
    summ = az.summary(idata2, var_names=["alpha", "beta"])
    assert summ.shape[0] == 2


def test_predictive_loo_compare_and_plots(fitted):
    """The rest of the workflow on the draws: posterior predictive, PSIS-LOO, model comparison and
    ArviZ's plots. The predictive mean must follow the data (slope 2 in the simulation)."""
    import matplotlib

    matplotlib.use("Agg")
    from numpyro.infer import Predictive

    pred = Predictive(model, fitted.get_samples())(jax.random.PRNGKey(7), X)["y"]
    assert pred.shape == (1000, 30)
    slope = np.polyfit(X, np.asarray(pred).mean(0), 1)[0]
    assert abs(slope - np.polyfit(X, Y, 1)[0]) < 0.2
    idata = fitted.to_inference_data()
    loo = az.loo(idata)
    assert np.isfinite(loo.elpd_loo if hasattr(loo, "elpd_loo") else loo["elpd_loo"])

    def flat(x, y=None):  # no slope: must lose the comparison
        alpha = numpyro.sample("alpha", dist.Normal(0, 5))
        sigma = numpyro.sample("sigma", dist.HalfNormal(2))
        numpyro.sample("y", dist.Normal(alpha + 0 * x, sigma), obs=y)

    other = PINNSampler(flat, warm_start="laplace", num_samples=1000, progress_bar=False).run(
        jax.random.PRNGKey(1), X, y=Y)
    table = az.compare({"linear": idata, "flat": other.to_inference_data()})
    assert list(table.index)[0] == "linear"
    az.plot_trace(idata, var_names=["alpha"])
    az.plot_posterior(idata, var_names=["beta"])


def test_sample_more_without_retraining(fitted):
    more = fitted.sample(jax.random.PRNGKey(5), 300)
    assert more["alpha"].shape == (300,)
    before = np.asarray(fitted.get_samples()["alpha"])
    x, lw = fitted.sample(jax.random.PRNGKey(6), 200, weighted=True)
    assert lw.shape == (200,) and x["alpha"].shape == (200,)
    np.testing.assert_array_equal(fitted.get_samples()["alpha"], before)  # stored results unchanged


def test_same_key_same_result(fitted):
    again = PINNSampler(model, **SETTINGS).run(jax.random.PRNGKey(0), X, y=Y)
    np.testing.assert_array_equal(again.get_samples()["alpha"], fitted.get_samples()["alpha"])
    assert again.diagnostics["log_Z"] == fitted.diagnostics["log_Z"]


def test_potential_fn_with_pytree_params_and_arviz():
    def potential(p):
        return 0.5 * jnp.sum((p["a"] - 1.0) ** 2) + 0.5 * (p["b"] + 2.0) ** 2 / 4.0

    s = PINNSampler(potential_fn=potential, warm_start="laplace", **SETTINGS).run(
        jax.random.PRNGKey(1), init_params={"a": jnp.zeros(2), "b": jnp.array(0.0)})
    samples = s.get_samples()
    assert samples["a"].shape == (1000, 2) and samples["b"].shape == (1000,)
    idata = az.from_numpyro(s)
    assert idata.posterior["a"].shape[:2] == (1, 1000)
    # log Z of exp(-U): (2 pi)^{3/2} * 2
    assert s.diagnostics["log_Z"] == pytest.approx(1.5 * np.log(2 * np.pi) + np.log(2.0), abs=5e-3)


def test_large_potential_offset_is_handled_in_float64():
    """A potential of order 1e6: float32 would round it to 0.06; we evaluate the target in float64."""
    s = PINNSampler(potential_fn=lambda x: 0.5 * jnp.sum(x**2) + 1.0e6, warm_start="laplace",
                    **SETTINGS).run(jax.random.PRNGKey(2), init_params=jnp.zeros(2))
    assert s.flat_target().potential_fn(jnp.zeros(2)).dtype == jnp.float64
    assert s.diagnostics["ess"] > 0.99  # float32 would round the potential to steps of 0.06
    assert s.diagnostics["log_Z"] == pytest.approx(-1.0e6 + np.log(2 * np.pi), abs=2e-3)


def test_zero_steps_when_the_base_suffices_and_sampling_compiles_once(caplog, monkeypatch):
    """With the exact Laplace warm start of a Gaussian target the base distribution is exact: its
    own draws reach target_ess before training, so nothing is trained (``stopped_by="base"``) and
    the draws come from the base; every log weight equals log Z up to float64 rounding, so ESS and
    log Z are checked to rounding tolerances, not Monte Carlo ones. Mutation: without the base's
    check, the untrained transport is monitored and drawn from ("target_ess", "transport"). The
    base's draws go through the program that scored it before training
    (``bases.proposal_draws``), not a program of their own. Mutation: the draw function's own
    batch program (``sample.prior_draws``) fails it. A second ``sample`` call of the same size compiles
    nothing (JAX logs every compilation with ``jax_log_compiles``). Mutation: building a new
    draw function per call fails it ("Compiling jit(batch_fn)")."""
    import logging

    from numpyro_pinn import sample as sample_mod

    def own_program(*args, **kwargs):
        raise AssertionError("the base's draws compiled a program of their own")

    monkeypatch.setattr(sample_mod, "prior_draws", own_program)
    s = PINNSampler(potential_fn=lambda x: 0.5 * jnp.sum((x - 1.0) ** 2), warm_start="laplace",
                    num_samples=200, progress_bar=False).run(jax.random.PRNGKey(0), init_params=jnp.zeros(3))
    d = s.diagnostics
    assert d["num_train_steps"] == 0 and d["stopped_early"]
    assert d["stages"]["training"]["stopped_by"] == "base" and d["proposal"] == "base"
    # The base's own check is the base stage's cost; the stages add up to the run's.
    assert d["stages"]["training"]["target_evals"] == 0 and d["stages"]["base"]["target_evals"] >= 1024
    assert sum(st["target_evals"] for st in d["stages"].values()) == d["target_evals"]
    assert "transport_ess" not in d and d["base_ess"] == pytest.approx(d["ess"])
    assert "reached target_ess untrained" in s.summary_line()
    assert d["ess"] > 0.999 and abs(d["log_Z"] - 1.5 * np.log(2 * np.pi)) < 1e-3
    s.sample(jax.random.PRNGKey(1), 300)
    with jax.log_compiles(True), caplog.at_level(logging.DEBUG):
        caplog.clear()
        s.sample(jax.random.PRNGKey(2), 300)
    compiles = [r.getMessage() for r in caplog.records if "ompil" in r.getMessage()]
    assert not compiles, compiles[:3]


@pytest.mark.slow
def test_a_trained_transport_draws_through_its_monitors_compiled_solve(monkeypatch):
    """The training monitor's compiled ODE solve (``core.flow_batch``) also draws the run's
    particles and later ``sample`` calls, with the draws' own tolerance as an argument: one solve
    is traced in all. Mutation: a draw function compiling its own solve (``Fitted.solve`` left
    ``None``) traces a second."""
    from numpyro_pinn import core, sample as sample_mod

    traced = []
    flow = sample_mod.flow
    monkeypatch.setattr(sample_mod, "flow", lambda *a, **k: traced.append(1) or flow(*a, **k))
    s = PINNSampler(potential_fn=U_SHIFTED, warm_start="laplace", base=Gaussian(fallback=False), num_samples=200,
                    training=Training(min_steps=250), progress_bar=False).run(jax.random.PRNGKey(0),
                                                                               init_params=jnp.zeros(2))
    assert s.diagnostics["num_train_steps"] >= 250 and s.diagnostics["proposal"] == "transport"
    s.sample(jax.random.PRNGKey(1), 3000)
    assert len(traced) == 1 and s._fitted.solve is not None, traced
    # Its draws are the transport's, weighted: the target is N(1, I), log Z = log(2 pi).
    assert abs(s.diagnostics["log_Z"] - np.log(2 * np.pi)) < 5 * s.diagnostics["log_Z_se"] + 1e-3
    assert isinstance(core.MONITOR_TOL, float)


def U_SHIFTED(x):
    return 0.5 * jnp.sum((x - 1.0) ** 2)


def test_rejuvenated_draws_are_moved_reported_and_still_right(tmp_path):
    """``Rejuvenation(always=True)``: the resampled draws are moved by HMC steps (the exact base of
    a Gaussian target makes them right before and after: means within 5 standard errors of 1 and
    sds within 10% for 400 draws); the run reports the moves (diagnostics, stages, target
    evaluations, the summary line), the draws no longer carry a parent's log weight, and
    ``sample`` moves its draws the same way. Mutation: not moving the draws fails it (they equal
    the resampled particles)."""
    from numpyro_pinn import Rejuvenation

    s = PINNSampler(potential_fn=U_SHIFTED, warm_start="laplace", num_samples=400,
                    rejuvenation=Rejuvenation(num_moves=20, always=True), progress_bar=False
                    ).run(jax.random.PRNGKey(0), init_params=jnp.zeros(2))
    d = s.diagnostics
    r = d["rejuvenation"]
    assert r["num_moves"] == 20 and 0.4 < r["acceptance"] <= 1.0 and r["target_evals"] == 400 * (20 * 8 + 1)
    assert d["stages"]["rejuvenation"]["target_evals"] == r["target_evals"]
    assert d["target_evals"] >= r["target_evals"] and "20 HMC steps" in d["sample_source"]
    assert "rejuvenation" in s.summary_line()
    z = np.asarray(s.get_samples())
    x, _ = s.get_weighted_samples()
    assert not np.any(np.isin(z[:, 0], np.asarray(x)[:, 0]))  # every draw moved off its particle
    assert np.all(np.isnan(s._extra_fields()["log_weight"]))
    np.testing.assert_array_less(np.abs(z.mean(0) - 1.0), 5 / np.sqrt(400))
    np.testing.assert_array_less(np.abs(z.std(0) - 1.0), 0.1)
    new = np.asarray(s.sample(jax.random.PRNGKey(3), 300))
    x3, _ = s.sample(jax.random.PRNGKey(3), 300, weighted=True)
    assert new.shape == (300, 2) and not np.any(np.isin(new[:, 0], np.asarray(x3)[:, 0]))
    # Saved and loaded: the option and the report survive, and `sample` moves the same way.
    s.save(str(tmp_path / "s.npz"))
    t = PINNSampler.load(str(tmp_path / "s.npz"), potential_fn=U_SHIFTED, init_params=jnp.zeros(2))
    assert t.rejuvenation == s.rejuvenation and t.diagnostics["rejuvenation"] == r
    np.testing.assert_allclose(np.asarray(t.sample(jax.random.PRNGKey(3), 300)), new)
    # A time budget shorter than one block of ten moves: ten moves, and the run says so where the user looks.
    cut = PINNSampler(potential_fn=U_SHIFTED, warm_start="laplace", num_samples=400,
                      rejuvenation=Rejuvenation(num_moves=20, always=True, max_seconds=1e-6), progress_bar=False
                      ).run(jax.random.PRNGKey(0), init_params=jnp.zeros(2))
    rc = cut.diagnostics["rejuvenation"]
    assert rc["num_moves"] == 10 and rc["budget_reached"] and rc["target_evals"] == 400 * (10 * 8 + 1)
    assert "10 HMC steps" in cut.diagnostics["sample_source"] and "time budget" in cut.summary_line()
    assert not r["budget_reached"] and "time budget" not in s.summary_line()
    with pytest.raises(ValueError, match="rejuvenation"):
        PINNSampler(potential_fn=lambda x: x, rejuvenation="yes")
