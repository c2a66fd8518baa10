"""The chunked training loop (numpyro_pinn.training.loop): checkpoints, resuming, Ctrl-C; the Training options."""
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]

# A run of three 200-step chunks from a poor start (so that training is needed), whose first chunk
# is written to the checkpoint file `sys.argv[1]`; the draws of `sample(key, 500)` go to argv[2].
SCRIPT = """
import signal, sys, time, warnings
# A process started in the background by a non-interactive shell inherits SIGINT ignored: restore
# Python's handler so that the Ctrl-C test's SIGINT is a KeyboardInterrupt wherever the suite runs.
signal.signal(signal.SIGINT, signal.default_int_handler)
sys.path.insert(0, {tests!r})
import jax, numpy as np
jax.config.update("jax_enable_x64", True)
from conftest import ConjugateNormal
from numpyro_pinn import PINNSampler
cn = ConjugateNormal(1.0)
draws = (cn.mean + cn.sd + 1.6 * cn.sd * np.random.default_rng(0).standard_normal(4000))[:, None]
s = PINNSampler(cn.model, warm_start=draws, num_steps=600, target_ess=None, base="gaussian",
                num_samples=500, progress_bar=False)
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    s.run(jax.random.PRNGKey(0), cn.y, checkpoint=sys.argv[1] if sys.argv[1] != "-" else None)
np.save(sys.argv[2], np.asarray(s.sample(jax.random.PRNGKey(1), 500)["mu"]))
d = s.diagnostics
print("steps", d["num_train_steps"], "interrupted", d["interrupted"],
      "warned", any("interrupted" in str(w.message) for w in caught), flush=True)
"""


def _start(tmp_path, ckpt, out):
    script = tmp_path / "run.py"
    script.write_text(SCRIPT.format(tests=str(ROOT / "tests")))
    return subprocess.Popen([sys.executable, str(script), ckpt, str(out)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, cwd=tmp_path)


def _wait_for(path, proc, timeout=600):
    t0 = time.time()
    while not os.path.exists(path):
        assert proc.poll() is None, proc.communicate()[1][-2000:]
        assert time.time() - t0 < timeout
        time.sleep(0.2)


@pytest.mark.slow
def test_killed_run_resumes_from_its_checkpoint_to_the_same_result(tmp_path):
    """Killed (SIGKILL) after its first chunk's checkpoint, rerun with the same key: the same 600
    steps and the same draws as a run never interrupted."""
    ref = _start(tmp_path, "-", tmp_path / "ref.npy")
    out, err = ref.communicate(timeout=900)
    assert ref.returncode == 0, err[-2000:]
    ckpt = str(tmp_path / "train.ckpt")
    victim = _start(tmp_path, ckpt, tmp_path / "victim.npy")
    _wait_for(ckpt, victim)
    victim.kill()
    victim.wait()
    assert not (tmp_path / "victim.npy").exists()  # it really died before finishing
    resumed = _start(tmp_path, ckpt, tmp_path / "resumed.npy")
    out_r, err_r = resumed.communicate(timeout=900)
    assert resumed.returncode == 0, err_r[-2000:]
    assert "steps 600 interrupted False" in out_r
    np.testing.assert_array_equal(np.load(tmp_path / "resumed.npy"), np.load(tmp_path / "ref.npy"))


@pytest.mark.slow
def test_ctrl_c_during_training_returns_a_marked_partial_result(tmp_path):
    ckpt = str(tmp_path / "train.ckpt")
    proc = _start(tmp_path, ckpt, tmp_path / "partial.npy")
    _wait_for(ckpt, proc)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=900)
    assert proc.returncode == 0, err[-2000:]
    assert "interrupted True warned True" in out
    steps = int(out.split("steps ")[1].split()[0])
    assert 200 <= steps < 600
    assert np.isfinite(np.load(tmp_path / "partial.npy")).all()


def test_fit_resumes_from_a_checkpoint_and_refuses_another_runs(tmp_path):
    """A counting kernel: a fit resumed from the checkpoint of its first 2 chunks takes only the
    remaining steps and ends in the state of an uninterrupted fit; a checkpoint of a fit with other
    step counts is refused. Mutation tried: resuming with the caller's PRNG key instead of the
    saved one fails the state comparison."""
    from typing import NamedTuple

    import jax.numpy as jnp

    from numpyro_pinn.training.collocation import CollocationPool
    from numpyro_pinn.training.loop import fit

    class Info(NamedTuple):
        loss: jax.Array

    class State(NamedTuple):
        params: jax.Array

    def kernel(key, st, pool):
        x = st.params + jax.random.uniform(key)
        return State(x), Info(jnp.sum(x))

    pool = CollocationPool(*(jnp.zeros(1),) * 5, jnp.zeros((2, 3, 1)))
    s0, key = State(jnp.zeros(2)), jax.random.PRNGKey(0)
    full = fit(key, kernel, s0, pool, 40, 10, progress_bar=False)
    path = str(tmp_path / "ckpt")
    calls = []

    def stop_after_two(k, params):  # a monitor that interrupts the first attempt after 2 chunks
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return 0.0

    part = fit(key, kernel, s0, pool, 40, 10, monitor=stop_after_two, min_steps=10, progress_bar=False,
               checkpoint=path)
    assert part.interrupted and part.num_steps == 20
    resumed = fit(key, kernel, s0, pool, 40, 10, progress_bar=False, checkpoint=path)
    assert resumed.num_steps == 40 and not resumed.interrupted
    np.testing.assert_array_equal(resumed.state.params, full.state.params)
    np.testing.assert_array_equal(resumed.losses, full.losses)
    with pytest.raises(ValueError, match="another run"):
        fit(key, kernel, s0, pool, 50, 10, progress_bar=False, checkpoint=path)


def test_training_past_its_time_budget_stops_after_the_chunk_and_says_so():
    """A toy kernel (one parameter walking to 0); with a zero budget training stops after its first
    chunk, before num_steps, and says why; without one it runs every step."""
    from typing import NamedTuple

    import jax.numpy as jnp

    from numpyro_pinn.training.collocation import CollocationPool
    from numpyro_pinn.training.loop import fit

    class Info(NamedTuple):
        loss: jax.Array

    def kernel(key, state, pool):
        return state * 0.9, Info(state**2)

    pool = CollocationPool(*(jnp.zeros(1) for _ in range(6)))
    res = fit(jax.random.PRNGKey(0), kernel, jnp.ones(()), pool, 100, 10, progress_bar=False, max_seconds=0.0)
    assert res.num_steps == 10 and res.stopped_early and res.stopped_by == "time budget"
    res = fit(jax.random.PRNGKey(0), kernel, jnp.ones(()), pool, 100, 10, progress_bar=False)
    assert res.num_steps == 100 and not res.stopped_early and res.stopped_by == "num_steps"
    np.testing.assert_allclose(float(res.state), 0.9**100, rtol=1e-4)


def _monitored_fit(ess_of_step, num_steps=40, chunk_size=5, plateau=None, target_ess=0.997, max_pareto_k=None,
                   base_ess=None):
    """``fit`` of a toy kernel (the state counts the steps) whose monitor returns
    ``ess_of_step(steps done)``."""
    from typing import NamedTuple

    from numpyro_pinn.training.loop import fit

    class Info(NamedTuple):
        loss: jax.Array

    class State(NamedTuple):
        params: jax.Array

    kernel = lambda key, st, pool: (State(st.params + 1), Info(st.params.astype(jnp.float32)))
    monitor = lambda key, params: ess_of_step(int(params))
    return fit(jax.random.PRNGKey(0), kernel, State(jnp.asarray(0)), None, num_steps, chunk_size, monitor=monitor,
               target_ess=target_ess, progress_bar=False, plateau=plateau, max_pareto_k=max_pareto_k,
               base_ess=base_ess)


def test_the_early_stop_needs_the_ess_and_a_reliable_pareto_k():
    """A monitor of ``(ess, k)``: training stops at the first check (after 0 steps) whose ESS
    reaches ``target_ess`` and whose k-hat is at most ``max_pareto_k``; a high ESS with a heavy
    tail of weights (k 0.8) trains on until the k-hat falls; ``max_pareto_k=None`` lets the ESS
    alone decide, and so does an ESS of at least 0.99 (nearly equal weights, whose tail shape the
    k-hat estimates from noise). Mutations: ignoring the k-hat, stopping on a k-hat above the bound,
    or letting it hold back nearly equal weights, fail it."""
    from numpyro_pinn.training import Training, good_enough

    heavy_then_light = lambda step: (0.97, 0.8 if step < 15 else 0.3)
    res = _monitored_fit(heavy_then_light, target_ess=0.9, max_pareto_k=0.5)
    assert res.stopped_by == "target_ess" and res.num_steps == 15
    assert _monitored_fit(heavy_then_light, target_ess=0.9, max_pareto_k=None).num_steps == 0
    assert _monitored_fit(lambda step: (0.97, 0.8), target_ess=0.9, max_pareto_k=0.5).stopped_by == "num_steps"
    assert _monitored_fit(lambda step: (0.995, 0.8), target_ess=0.9, max_pareto_k=0.5).num_steps == 0
    assert good_enough(0.9, 0.5, 0.99, 0.8) and not good_enough(0.9, 0.5, 0.989, 0.8)
    assert _monitored_fit(lambda step: (0.5, 0.1), target_ess=0.9, max_pareto_k=0.5).stopped_by == "num_steps"
    assert good_enough(0.9, 0.5, 0.95, 0.5) and not good_enough(0.9, 0.5, 0.95, 0.51)
    assert good_enough(0.9, 0.5, 0.95, float("nan")) and not good_enough(0.9, 0.5, 0.95, float("inf"))
    assert not good_enough(0.9, 0.5, float("nan"), 0.1) and not good_enough(None, 0.5, 1.0, 0.0)
    with pytest.raises(ValueError, match="max_pareto_k"):
        Training(max_pareto_k=0.0)


def test_training_stops_on_a_plateau_of_the_monitor_only_above_min_ess():
    """``Plateau(window=10)``: with the monitor every 5 steps, the medians of the last two windows
    are compared from step 20 on. A flat ESS of 0.95, or of 0.1, stops training there
    ("plateau"); an ESS whose inefficiency keeps halving every 10 steps does not, nor does a low
    one that rises by half every 10 steps, nor a flat one below ``min_ess``; ``plateau=None``
    trains every step. An ESS that falls below the step-0 monitor's for a whole window stops
    after it. Mutations: comparing without ``min_ess``, without the rise in ESS, with the fall in
    inefficiency reversed, or without the comparison with step 0, fail it."""
    from numpyro_pinn.training import Plateau

    p = Plateau(window=10)
    res = _monitored_fit(lambda step: 0.95, plateau=p)
    assert res.stopped_by == "plateau" and res.stopped_early and res.num_steps == 20 and int(res.state.params) == 20
    assert [s for s, _ in res.ess_history] == [0, 5, 10, 15, 20]
    assert _monitored_fit(lambda step: 0.1, plateau=p).stopped_by == "plateau"
    assert _monitored_fit(lambda step: 0.5, plateau=Plateau(window=10, min_ess=0.9)).stopped_by == "num_steps"
    rising = _monitored_fit(lambda step: 0.01 * 1.5 ** (step / 10), plateau=p)  # 50% more ESS per window
    assert rising.stopped_by == "num_steps" and rising.num_steps == 40
    improving = _monitored_fit(lambda step: 1.0 - 0.1 * 0.5 ** (step / 10), plateau=p)
    assert improving.stopped_by == "num_steps" and improving.num_steps == 40
    slow = _monitored_fit(lambda step: 1.0 - 0.1 * 0.9 ** (step / 10), plateau=p)  # 10% gain per window
    assert slow.stopped_by == "plateau" and slow.num_steps == 20
    assert _monitored_fit(lambda step: 0.95, plateau=None).stopped_by == "num_steps"
    # A NaN monitor (a failed solve) counts as ESS 0, not as a plateau.
    assert _monitored_fit(lambda step: float("nan"), plateau=p).stopped_by == "num_steps"
    assert _monitored_fit(lambda step: 0.999, plateau=p).stopped_by == "target_ess"
    # Training that leaves the ESS below the untrained transport's (step 0) for a whole window
    # stops after that window; a dip that recovers to the start within it, or one below min_ess,
    # does not stop then.
    worse = _monitored_fit(lambda step: 0.4 if step == 0 else 0.2, plateau=p)
    assert worse.stopped_by == "plateau" and worse.num_steps == 10
    dip = _monitored_fit(lambda step: {0: 0.4, 5: 0.3}.get(step, 0.6), plateau=p)
    assert dip.num_steps > 10
    assert _monitored_fit(lambda step: 0.4 if step == 0 else 0.2,
                          plateau=Plateau(window=10, min_ess=0.3)).stopped_by == "num_steps"
    for bad in (dict(window=0), dict(min_ess=-0.1), dict(min_gain=1.0)):
        with pytest.raises(ValueError, match=list(bad)[0]):
            Plateau(**bad)


def test_the_plateau_compares_with_the_base_check_when_given():
    """With ``base_ess`` (the base distribution's ESS, which the caller measured on more draws than
    a monitor batch) the plateau's comparison with the untrained transport uses it instead of the
    step-0 monitor, which still runs and may still stop training at step 0. A step-0 monitor that
    read low by chance (0.01 here) no longer keeps a transport that training left below the base
    (0.2 against 0.4) training, and one that read high no longer stops a transport above the base.
    Mutations: ignoring ``base_ess``, or no longer running the step-0 monitor, fail it."""
    from numpyro_pinn.training import Plateau

    p = Plateau(window=10)
    unlucky = lambda step: 0.01 if step == 0 else 0.2  # a step-0 monitor that read 0.01
    res = _monitored_fit(unlucky, plateau=p, base_ess=0.4)
    assert res.stopped_by == "plateau" and res.num_steps == 10 and res.ess_history[0] == (0, 0.01)
    assert _monitored_fit(unlucky, plateau=p).num_steps > 10  # without it: trains on
    lucky = lambda step: 0.6 if step == 0 else 0.5  # the base really at 0.45, the transport above it
    assert _monitored_fit(lucky, plateau=p).num_steps == 10
    assert _monitored_fit(lucky, plateau=p, base_ess=0.45).num_steps == 20
    assert _monitored_fit(lambda step: 0.999 if step == 0 else 0.5, plateau=p, base_ess=0.45).num_steps == 0
    assert p.reached([(0, 0.9), (5, 0.5), (10, 0.5)], 10) and not p.reached([(0, 0.9), (5, 0.5), (10, 0.5)], 10, 0.45)


def test_training_options_round_trip_and_reach_the_core():
    """``Training`` goes into the core's settings field by field, and survives save/load as plain data."""
    import json

    from numpyro_pinn import Collocation, PINNSampler, Plateau, Training

    t = Training(min_steps=3, batch_size=512, learning_rate=1e-3, max_seconds=60.0, collocation=Collocation(0.1, 0.4, 0.5),
                 chunk_size=100, plateau=Plateau(window=500, min_ess=0.95))
    assert Training.from_dict(json.loads(json.dumps(t.to_dict()))) == t
    assert Training.from_dict(json.loads(json.dumps(Training(plateau=None).to_dict()))).plateau is None
    s = PINNSampler(potential_fn=lambda x: jnp.sum(x**2), training=t, num_steps=2)
    st = s.settings
    assert (st.min_steps, st.batch_size, st.learning_rate, st.train_max_seconds, st.chunk_size) == (2, 512, 1e-3, 60.0, 100)
    assert st.collocation == Collocation(0.1, 0.4, 0.5) and st.plateau == Plateau(window=500, min_ess=0.95)


@pytest.mark.parametrize("num_steps, chunk_size, bar", [(300, 250, False), (7, 3, False), (250, 250, False),
                                                        (5, 10, False), (300, 250, True), (7, 3, True)])
def test_fit_takes_exactly_num_steps_in_equal_chunks(num_steps, chunk_size, bar, monkeypatch):
    """``fit`` takes exactly ``num_steps`` kernel steps (one compiled chunk length; the last chunk's
    extra steps are skipped and leave the state as it was), not a whole number of chunks; its bar,
    advanced from inside the chunks, ends at ``num_steps``."""
    from typing import NamedTuple

    from numpyro_pinn.training.loop import fit

    class Info(NamedTuple):
        loss: jax.Array

    kernel = lambda key, st, pool: (st + 1, Info(st.astype(jnp.float32)))  # the state counts the steps
    import tqdm.auto

    seen = []

    class Recording(tqdm.auto.tqdm):
        def update(self, n=1):
            out = super().update(n)
            seen.append(self.n)
            return out

    monkeypatch.setattr(tqdm.auto, "tqdm", Recording)
    res = fit(jax.random.PRNGKey(0), kernel, jnp.asarray(0), None, num_steps, chunk_size, progress_bar=bar)
    assert int(res.state) == num_steps and res.num_steps == num_steps
    np.testing.assert_array_equal(res.losses, np.arange(num_steps))
    if bar:
        assert len(seen) > 2 * -(-num_steps // chunk_size) - 1  # advanced within chunks, not only after
        assert seen[-1] == num_steps and max(seen) == num_steps


@pytest.mark.slow
def test_training_stops_at_its_time_budget_and_says_so():
    """``Training(max_seconds=)``: training stops after the chunk that passes the budget, says so
    in a warning and in ``diagnostics["stages"]["training"]["stopped_by"]``, and the draws are
    still weighted (a conjugate normal from a poor start, so training has work left)."""
    from conftest import ConjugateNormal

    from numpyro_pinn import PINNSampler, Training

    cn = ConjugateNormal(1.0)
    draws = (cn.mean + cn.sd + 1.6 * cn.sd * np.random.default_rng(0).standard_normal(4000))[:, None]
    s = PINNSampler(cn.model, warm_start=draws, num_steps=40, target_ess=None, base="gaussian", num_samples=200,
                    training=Training(max_seconds=1e-6, chunk_size=10), progress_bar=False)
    with pytest.warns(RuntimeWarning, match=r"time budget \(Training\(max_seconds=1e-06\)\) after 10 of 40 steps"):
        s.run(jax.random.PRNGKey(0), cn.y)
    d = s.diagnostics
    assert d["num_train_steps"] == 10 and d["stages"]["training"]["stopped_by"] == "time budget"
    assert np.isfinite(d["log_Z"]) and d["ess"] > 0


@pytest.mark.slow
def test_training_with_a_heavy_tailed_base_stays_finite_past_the_path_refresh():
    """A base with a Student-t (Cauchy) component, as ``base="auto"`` adds for heavy tails:
    between chunks the collocation paths are refreshed from the base's draws, and a Cauchy's draws
    hundreds of units out made the loss non-finite on Neal's funnel a few steps after the first
    refresh (``TrainingError``); the paths now start from the base without its Student-t component
    (``tails.without_heavy_tail``). Mutation: starting them from the full base fails."""
    from dataclasses import dataclass

    from numpyro_pinn import PINNSampler, Training, bases
    from numpyro_pinn.tails import with_heavy_tail

    @dataclass(frozen=True)
    class HeavyTailed(bases.Gaussian):
        def _build(self, key, potential_fn, ws, role):
            prior = with_heavy_tail(None, ws.mean.shape[0], ws.draws.shape[0])
            return prior, prior, 0

    def funnel(x):  # Neal's funnel, d = 10: x_0 ~ N(0, 9), x_i | x_0 ~ N(0, e^x_0)
        return x[0] ** 2 / 18.0 + 0.5 * jnp.sum(x[1:] ** 2) * jnp.exp(-x[0]) + 4.5 * x[0]

    x0 = np.random.default_rng(0).normal(0.0, 3.0, 4000)
    draws = np.column_stack([x0] + [np.exp(x0 / 2) * np.random.default_rng(i).standard_normal(4000)
                                    for i in range(1, 10)])
    s = PINNSampler(potential_fn=funnel, warm_start=draws, base=HeavyTailed(), num_steps=300, target_ess=None,
                    num_particles=1024, num_samples=200, training=Training(chunk_size=100), progress_bar=False)
    s.run(jax.random.PRNGKey(0), init_params=jnp.zeros(10))
    assert s.diagnostics["num_train_steps"] == 300 and s.diagnostics["heavy_tail_component"]
    assert np.isfinite(s.diagnostics["final_loss"])
