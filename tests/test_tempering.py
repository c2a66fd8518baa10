"""Parallel tempering on BlackJAX kernels: mode weights, swaps, ladder, evaluation counts, warm starts."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from numpyro.infer import MCMC, NUTS

from numpyro_pinn import ParallelTempering, PINNSampler, Training
from numpyro_pinn.bases import Auto
from numpyro_pinn.tempering import adapt_ladder, evals_per_step, stepping_stones

MUS = jnp.array([[-5.0, 0.0], [5.0, 0.0]])
W = jnp.array([0.25, 0.75])


def potential(x):
    lp = -0.5 * jnp.sum((x - MUS) ** 2, -1) / 0.25 - jnp.log(2 * jnp.pi * 0.25)
    return -jax.scipy.special.logsumexp(lp + jnp.log(W))


def test_adapt_ladder_equalises_rejection():
    betas = jnp.array([1.0, 0.5, 0.25, 0.0])
    new = adapt_ladder(betas, jnp.array([0.6, 0.1, 0.1]))  # the cold pair is the bottleneck
    assert float(new[0]) == 1.0 and float(new[-1]) == 0.0
    assert np.all(np.diff(np.asarray(new)) < 0)
    assert float(new[1]) > 0.5  # a temperature moves towards the bottleneck


def test_stepping_stones_on_gaussian_family():
    """Target N(0, s^2) with log q = log N(0, s^2) + c in reference N(0, 1) coordinates: exact
    stepping stones with exact draws from each tempered Gaussian give log Z = c."""
    s, c = 0.3, 1.7
    betas = jnp.linspace(1.0, 0.0, 30)
    prec = betas / s**2 + (1 - betas)  # tempered precisions
    draws = jax.random.normal(jax.random.PRNGKey(0), (20000, 30)) / jnp.sqrt(prec)
    ell = (-0.5 * draws**2 / s**2 - jnp.log(s) + c) - (-0.5 * draws**2)
    assert float(stepping_stones(betas, ell)) == pytest.approx(c, abs=0.02)


@pytest.mark.slow
def test_pt_recovers_unequal_mode_weights_where_nuts_does_not():
    pt = ParallelTempering(potential_fn=potential, num_temperatures=8, num_warmup=500, num_samples=1500,
                           num_chains=4).run(jax.random.PRNGKey(0), init_params=jnp.array([-5.0, 0.0]))
    x = np.asarray(pt.get_samples())
    frac_right = float(np.mean(x[:, 0] > 0))
    d = pt.diagnostics
    n_eff = d["ess"] * x.shape[0]
    assert abs(frac_right - 0.75) < 5 * np.sqrt(0.75 * 0.25 / n_eff) + 0.01
    assert np.all((d["swap_acceptance"] > 0) & (d["swap_acceptance"] < 1))
    assert d["round_trips"] > 10
    assert abs(d["log_Z"]) < 0.1  # normalised target
    # Evaluation count matches the configuration: Laplace + chains x steps x replicas x (L + 2).
    per_step = evals_per_step("hmc", 8, 8)
    assert per_step == 8 * (8 + 2)
    pt_evals = d["target_evals"] - 4 * (500 + 1500) * per_step
    assert 0 < pt_evals < 2000  # the Laplace fit's few Newton steps
    assert pt.get_samples(group_by_chain=True).shape == (4, 1500, 2)
    # A single NUTS chain started in the left mode never leaves it.
    nuts = MCMC(NUTS(potential_fn=potential), num_warmup=300, num_samples=1000, progress_bar=False)
    nuts.run(jax.random.PRNGKey(1), init_params=jnp.array([-5.0, 0.0]))
    assert float(np.mean(np.asarray(nuts.get_samples())[:, 0] > 0)) < 0.05


@pytest.mark.slow
def test_pinn_warm_started_from_pt_result_and_pt_string():
    pt = ParallelTempering(potential_fn=potential, num_temperatures=8, num_warmup=300, num_samples=500,
                           num_chains=2).run(jax.random.PRNGKey(2), init_params=jnp.zeros(2))
    s = PINNSampler(potential_fn=potential, warm_start=pt, num_steps=1500, training=Training(min_steps=500),
                    progress_bar=False, base=Auto(fallback=False))
    s.run(jax.random.PRNGKey(3), init_params=jnp.zeros(2))
    assert s.diagnostics["warm_start"] == "ParallelTempering"
    x, lw = s.get_weighted_samples()
    w = np.asarray(jax.nn.softmax(lw))
    n_eff = 1 / np.sum(w**2)
    assert abs(float(np.sum(w * (np.asarray(x)[:, 0] > 0))) - 0.75) < 5 * np.sqrt(0.1875 / n_eff)
    s2 = PINNSampler(potential_fn=potential, warm_start="pt", num_steps=1000, training=Training(min_steps=500),
                     progress_bar=False, base=Auto(fallback=False))
    s2.run(jax.random.PRNGKey(4), init_params=jnp.zeros(2))
    assert s2.diagnostics["warm_start"] == "pt"
    assert s2.warm_start_result.draws.shape[1] == 2
    assert s2.diagnostics["target_evals"] > s2.warm_start_result.num_evals > 0


def test_pt_bad_arguments():
    with pytest.raises(ValueError, match="kernel"):
        ParallelTempering(potential_fn=potential, kernel="nuts")
    with pytest.raises(ValueError, match="num_temperatures"):
        ParallelTempering(potential_fn=potential, num_temperatures=1)
    with pytest.raises(ValueError, match="num_chains"):
        ParallelTempering(potential_fn=potential, num_chains=0)
    for bad in ({"num_samples": 2.5}, {"thinning": True}, {"num_integration_steps": 0}, {"reference_scale": 0.0},
                {"reference_floor": -1.0}, {"num_warmup": -1}):
        with pytest.raises(ValueError, match=next(iter(bad))):
            ParallelTempering(potential_fn=potential, **bad)


@pytest.mark.slow
def test_pt_progress_bar_and_summary_columns(capsys):
    """The bar reaches every PT step and shows swap rates; one chain prints no R-hat, several do."""
    U = lambda x: 0.5 * jnp.sum(x["x"] ** 2)
    for chains in (1, 2):
        pt = ParallelTempering(potential_fn=U, num_temperatures=3, num_warmup=40, num_samples=60,
                               num_chains=chains).run(jax.random.PRNGKey(0), init_params={"x": jnp.zeros(1)})
        pt.print_summary()
        out, err = capsys.readouterr()
        assert "100/100" in err and "swap" in err
        assert ("r_hat" in out) == (chains > 1) and "n_eff" in out
