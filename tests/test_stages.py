"""Stage budgets and Ctrl-C (numpyro_pinn.stages, and the stages that use it)."""
import _thread
import re
import signal
import time

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from numpyro_pinn import SMC
from numpyro_pinn.bases import mode_mixture
from numpyro_pinn.stages import Deadline, StageInterrupted, progress, report, stage
from numpyro_pinn.warmstart import laplace, smc


def test_stage_names_itself_in_a_keyboard_interrupt_and_deadlines_are_checked():
    with pytest.raises(StageInterrupted, match=r"during the warm start, after [0-9.]+ s\. Try less"):
        with stage("the warm start", "Try less."):
            raise KeyboardInterrupt
    with pytest.raises(StageInterrupted, match="during the inner stage"):  # the innermost stage names it
        with stage("the outer stage"), stage("the inner stage"):
            raise KeyboardInterrupt
    assert not Deadline.after(None).passed() and not Deadline.after(60).passed()
    d = Deadline.after(0.0)
    time.sleep(0.01)
    assert d.passed()
    with pytest.raises(ValueError, match="time budget"):
        Deadline.after(-1)


def test_progress_line_shows_what_the_stage_reports_and_nothing_when_off(capsys):
    with progress("Warm start"):
        report(smc_tempering="0.31", steps=4)
    err = capsys.readouterr().err
    assert "Warm start:" in err and "smc_tempering=0.31" in err and "steps=4" in err
    with progress("Warm start", enabled=False):
        report(smc_tempering="0.5")
    report(outside="yes")  # no line: nothing happens
    assert capsys.readouterr().err == ""


@pytest.mark.slow
def test_smc_past_its_time_budget_stops_and_says_so():
    """SMC from a reference 10 Laplace widths wide needs several tempering steps on a narrow
    Gaussian; with no time it stops after its first block, warns, and still returns a usable
    whitening (the tempered particles' Gaussian, wider than the target) with log Z by importance
    sampling."""
    pot = lambda x: 0.5 * jnp.sum((x - 1.0) ** 2 / 0.01)
    lap = laplace(pot, jnp.zeros(2))
    with pytest.warns(RuntimeWarning, match=r"SMC warm start used up its time budget \(0 s\)"):
        ws = smc(jax.random.PRNGKey(0), pot, lap, num_particles=256, max_seconds=0.0, block=1)
    assert ws.method.startswith("smc (stopped at tempering parameter")
    sd = np.sqrt(np.diag(np.asarray(ws.chol @ ws.chol.T)))
    assert np.all(np.isfinite(sd)) and np.all(sd > 0.1)  # broader than the posterior's 0.1
    np.testing.assert_allclose(float(ws.log_Z), np.log(2 * np.pi * 0.01), atol=0.5)
    full = smc(jax.random.PRNGKey(0), pot, lap, num_particles=256)
    sd_full = np.sqrt(np.diag(np.asarray(full.chol @ full.chol.T)))
    assert full.method == "smc" and np.all(sd_full < 0.15) and np.all(sd > 1.5 * sd_full)


@pytest.mark.slow
def test_mode_search_past_its_time_budget_uses_the_climbs_made():
    """Two modes at -3 and +3; with no time the climbs stop after one block of 64 draws (in a
    random order, so both modes are among them) and the mixture is built from those."""
    pot = lambda x: -jnp.logaddexp(-0.5 * jnp.sum((x - 3.0) ** 2), -0.5 * jnp.sum((x + 3.0) ** 2))
    draws = jnp.concatenate([jax.random.normal(jax.random.PRNGKey(1), (300, 1)) + s for s in (-3.0, 3.0)])
    mean, chol = jnp.zeros(1), 3.0 * jnp.eye(1)
    with pytest.warns(RuntimeWarning, match=r"mode search used up its time budget \(0 s\) after 64 of 600 climbs"):
        mix = mode_mixture(pot, mean, chol, draws, rng_key=jax.random.PRNGKey(2), max_seconds=0.0)
    assert mix is not None and mix.means.shape[0] == 2
    np.testing.assert_allclose(np.sort(np.asarray(mix.means[:, 0]) * 3.0), [-3.0, 3.0], atol=0.3)


def test_ctrl_c_in_the_warm_start_stops_the_run_naming_it():
    """Ctrl-C (here: ``_thread.interrupt_main`` as the warm start begins) stops ``run`` with a
    ``StageInterrupted`` that names the warm start and says what to do."""
    import numpyro
    import numpyro.distributions as dist

    from numpyro_pinn import PINNSampler

    class InterruptedSMC(SMC):
        def build(self, *args):
            _thread.interrupt_main()
            time.sleep(1.0)  # the interrupt arrives at the next bytecode of the main thread
            return super().build(*args)

    def model():
        numpyro.sample("mu", dist.Normal(0, 1))

    err = None
    # interrupt_main does nothing where SIGINT is ignored (a suite started in the background by a
    # non-interactive shell): install Python's handler for the test.
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:  # a bare KeyboardInterrupt would stop pytest itself: catch it to fail the test instead
        PINNSampler(model, warm_start=InterruptedSMC(), progress_bar=False).run(jax.random.PRNGKey(0))
    except KeyboardInterrupt as e:
        err = e
    finally:
        signal.signal(signal.SIGINT, previous)
    assert isinstance(err, StageInterrupted), repr(err)
    assert re.search(r"during the warm start.*warm_start='laplace'", str(err)), str(err)


def test_draws_mixture_search_past_its_time_budget_keeps_the_best_so_far():
    from numpyro_pinn.bases import draw_mixture

    pot = lambda x: 0.5 * jnp.sum(x**2)
    draws = jax.random.normal(jax.random.PRNGKey(0), (400, 2))
    with pytest.warns(RuntimeWarning, match=r"search used up its time budget \(0 s\) before trying 2 components"):
        mix = draw_mixture(pot, jnp.zeros(2), jnp.eye(2), draws, rng_key=jax.random.PRNGKey(1), max_seconds=0.0,
                           path_points=0)
    assert mix.means.shape[0] == 1


def test_skew_fit_past_its_time_budget_stops_after_a_block():
    from numpyro_pinn.bases import fit_skew

    pot = lambda x: -jnp.logaddexp(-0.5 * jnp.sum((x - 2.0) ** 2), -0.5 * jnp.sum((x + 2.0) ** 2))
    draws = jnp.concatenate([jax.random.normal(jax.random.PRNGKey(1), (300, 2)) + s for s in (-2.0, 2.0)])
    mix = mode_mixture(pot, jnp.zeros(2), 2.0 * jnp.eye(2), draws, rng_key=jax.random.PRNGKey(2))
    with pytest.warns(RuntimeWarning, match=r"skew fit used up its time budget \(0 s\) after 50 of 300 steps"):
        _, evals = fit_skew(pot, jnp.zeros(2), 2.0 * jnp.eye(2), mix, jax.random.PRNGKey(3), max_seconds=0.0,
                            return_evals=True)
    assert evals == 50 * 2 * 64 + 2 * 2 * 256


def test_bad_budgets_and_warm_start_settings_are_refused_naming_the_argument():
    from numpyro_pinn import PT, Laplace

    with pytest.raises(ValueError, match="`max_seconds`, a time budget"):
        SMC(max_seconds=-5)
    with pytest.raises(ValueError, match="`num_particles` must be an integer >= 2"):
        SMC(num_particles=1.5)
    with pytest.raises(ValueError, match="`scale` must be a positive number"):
        PT(scale=0)
    with pytest.raises(ValueError, match="`max_iter` must be an integer >= 1"):
        Laplace(max_iter=0)
    with pytest.raises(ValueError, match="`train_max_seconds`, a time budget"):
        from numpyro_pinn.training.loop import fit

        fit(jax.random.PRNGKey(0), None, None, None, 10, 10, progress_bar=False, max_seconds=-1)
