"""Chunked training: ``lax.scan`` over a chunk of kernel steps inside one ``jit``.

Between chunks (host side, once per chunk): NaN check, a refresh of the
trajectory collocation pool, an optional ESS monitor for early stopping, and the
progress bar.
"""
from __future__ import annotations

import json
import math
import os
import time
from typing import Callable, NamedTuple, Optional

import jax
import jax.numpy as jnp
import numpy as np

from numpyro_pinn.compiling import jit
from numpyro_pinn.training.collocation import CollocationPool

__all__ = ["TrainingError", "TrainResult", "fit", "good_enough"]


class TrainingError(RuntimeError):
    """Training produced a non-finite loss; ``last_good_state`` keeps the last finite parameters."""

    def __init__(self, msg: str, last_good_state=None, step: int = 0):
        super().__init__(msg)
        self.last_good_state = last_good_state
        self.step = step


class TrainResult(NamedTuple):
    state: object
    losses: np.ndarray
    ess_history: list
    num_steps: int
    seconds: float
    stopped_early: bool
    pool: object = None  # the collocation pool at the end (trajectory points refreshed)
    interrupted: bool = False  # stopped by KeyboardInterrupt: the parameters are the last finished chunk's
    stopped_by: str = "num_steps"  # "target_ess", "plateau", "num_steps", "time budget", "interrupted" or "base"


def fit(
    rng_key: jax.Array,
    kernel: Callable,
    state,
    pool: CollocationPool,
    num_steps: int,
    chunk_size: int,
    refresh_paths: Optional[Callable] = None,
    monitor: Optional[Callable] = None,
    target_ess: Optional[float] = None,
    min_steps: int = 0,
    progress_bar: bool = True,
    checkpoint: Optional[str] = None,
    max_seconds: Optional[float] = None,
    plateau=None,
    max_pareto_k: Optional[float] = None,
    base_ess: Optional[float] = None,
) -> TrainResult:
    """Run ``kernel`` for up to ``num_steps`` steps in jitted chunks.

    The steps are split into ``ceil(num_steps / chunk_size)`` chunks of equal length (at most
    ``chunk_size``), so that one compiled chunk serves them all; the last chunk skips the steps
    past ``num_steps`` (fewer than the number of chunks), so exactly ``num_steps`` steps are taken
    unless the monitor stops training early.

    Parameters
    ----------
    kernel
        ``kernel(rng_key, state, pool) -> (state, info)`` with ``info.loss``.
    refresh_paths
        ``refresh_paths(rng_key, params) -> paths`` for trajectory collocation.
    monitor
        ``monitor(rng_key, params) -> ess`` or ``-> (ess, pareto_k)``, evaluated after each chunk
        once ``min_steps`` are done (and before the first one when ``min_steps`` is 0); training
        stops when the ESS reaches ``target_ess`` and the Pareto k-hat (when given) is at most
        ``max_pareto_k`` (``None``: the ESS alone decides), after 0 steps if the untrained
        transport already does.
    checkpoint
        A file path: after every chunk the training state (parameters, optimiser state, PRNG key,
        collocation paths, losses, monitor history) is written there, and a call that finds a
        checkpoint of the same run (same step counts and parameter shapes) resumes from it, so
        that an interrupted run finishes as an uninterrupted one would with the same key.

    max_seconds
        A wall-clock budget (``None``: none), checked after each chunk: past it, training stops
        with ``stopped_by="time budget"``.
    plateau
        A :class:`~numpyro_pinn.training.Plateau` (``None``: off), checked after each monitor:
        when the monitor's ESS has stopped improving, training stops with ``stopped_by="plateau"``.
    base_ess
        The ESS of the untrained transport's proposal (its base distribution), measured by the
        caller before training on more draws than a monitor batch: what the plateau's comparison
        with the untrained transport uses (``None``: the step-0 monitor's ESS).

    A ``KeyboardInterrupt`` during a chunk stops training: the result keeps the last finished
    chunk's parameters and says ``interrupted=True``.
    """
    from numpyro_pinn.stages import Deadline

    deadline = Deadline.after(max_seconds, "train_max_seconds")

    n_chunks = max(1, math.ceil(num_steps / chunk_size))
    length = max(1, math.ceil(num_steps / n_chunks))

    # With a bar, the chunk reports to it ten times as it runs (a chunk can take minutes).
    tick_every = max(1, length // 10)
    ticked = [0]

    def tick(_):
        if bar is not None:
            bar.update(tick_every)
            ticked[0] += tick_every

    @jit
    def run_chunk(key, state, pool, first):
        def body(st, xs):
            k, i = xs
            new, info = kernel(k, st, pool)
            active = first + i < num_steps  # the last chunk's steps past num_steps are skipped
            st = jax.tree_util.tree_map(lambda a, b: jnp.where(active, a, b), new, st)
            if progress_bar:
                jax.lax.cond(active & (i % tick_every == tick_every - 1),
                             lambda: jax.debug.callback(tick, i), lambda: None)
            return st, info.loss

        return jax.lax.scan(body, state, (jax.random.split(key, length), jnp.arange(length)))

    losses, ess_hist = [], []
    bar = None
    if progress_bar:
        from tqdm.auto import tqdm

        bar = tqdm(total=num_steps, desc="PINN training", unit="step", leave=True)
    t0 = time.perf_counter()
    stopped = interrupted = timed_out = plateaued = False
    done = first_chunk = 0
    fingerprint = dict(num_steps=int(num_steps), chunk_size=int(chunk_size),
                       shapes=[list(np.shape(a)) for a in jax.tree_util.tree_leaves(state)])
    resumed = _read_checkpoint(checkpoint, fingerprint, state, pool, rng_key)
    try:
        if resumed is not None:
            state, pool, rng_key, losses, ess_hist, done, first_chunk = resumed
            if bar is not None:
                bar.update(done)
        elif monitor is not None and target_ess is not None and min_steps == 0:
            # The base distribution (the untrained transport) may already be good enough.
            rng_key, k_mon = jax.random.split(rng_key)
            e, k = _ess_and_k(monitor(k_mon, state.params))
            ess_hist.append((0, e))
            stopped = good_enough(target_ess, max_pareto_k, e, k)
        for c in range(first_chunk, 0 if stopped else n_chunks):
            rng_key, k_chunk, k_paths, k_mon = jax.random.split(rng_key, 4)
            new_state, chunk_losses = run_chunk(k_chunk, state, pool, done)
            chunk_losses = np.asarray(chunk_losses)[: num_steps - done]
            if not np.all(np.isfinite(chunk_losses)):
                bad = done + int(np.argmin(np.isfinite(chunk_losses)))
                raise TrainingError(
                    f"PINN training diverged: the loss became non-finite at step {bad}. "
                    "Try a smaller learning rate (e.g. `learning_rate=1e-4`), another warm start "
                    "(`warm_start='smc'`, or posterior draws, e.g. from NUTS), or a Gaussian base "
                    "(`base='gaussian'`). The last finite parameters are kept in `err.last_good_state`.",
                    last_good_state=state,
                    step=bad,
                )
            state = new_state
            done += len(chunk_losses)
            losses.append(chunk_losses)
            if refresh_paths is not None:
                pool = pool._replace(paths=refresh_paths(k_paths, state.params))
            msg = {"loss": f"{float(np.mean(chunk_losses[-max(1, length // 4):])):.3g}"}
            if monitor is not None and done >= min_steps:
                e, k = _ess_and_k(monitor(k_mon, state.params))
                ess_hist.append((done, e))
                msg["ess"] = f"{e:.4f}"
                if good_enough(target_ess, max_pareto_k, e, k) and done < num_steps:
                    stopped = True
                elif plateau is not None and done < num_steps and plateau.reached(ess_hist, done, base_ess):
                    stopped = plateaued = True
            if bar is not None:
                bar.update(len(chunk_losses) - ticked[0])
                ticked[0] = 0
                bar.set_postfix(msg)
            if checkpoint is not None:
                _write_checkpoint(checkpoint, fingerprint, state, pool, rng_key, losses, ess_hist, done, c + 1)
            if stopped:
                break
            if deadline.passed() and done < num_steps:
                stopped = timed_out = True
                break
    except KeyboardInterrupt:
        # Python sees Ctrl-C between XLA calls: the state is the last finished chunk's.
        interrupted = True
    finally:
        if bar is not None:
            bar.close()
    jax.block_until_ready(state)
    by = ("interrupted" if interrupted else "time budget" if timed_out else "plateau" if plateaued
          else "target_ess" if stopped else "num_steps")
    return TrainResult(state, np.concatenate(losses) if losses else np.zeros(0), ess_hist, done,
                       time.perf_counter() - t0, stopped, pool, interrupted, by)


#: A monitor ESS from which the weights' Pareto k-hat no longer holds training back: the weights
#: are then nearly equal (coefficient of variation about 0.1), and the shape of their tail, which
#: the k-hat estimates whatever their spread, is noise that cannot make a few weights dominate.
NEAR_UNIFORM_ESS = 0.99


def good_enough(target_ess: Optional[float], max_pareto_k: Optional[float], ess: float,
                pareto_k: Optional[float] = None) -> bool:
    """Whether a proposal's importance weights end training: ESS at least ``target_ess`` and,
    when both are given, Pareto k-hat at most ``max_pareto_k`` (a high ESS on a monitor batch can
    hide a heavy right tail of the weights, which the k-hat sees) unless the ESS is at least
    :data:`NEAR_UNIFORM_ESS`. A NaN k-hat (too few weights to fit a tail, see
    :func:`numpyro_pinn.diagnostics.pareto_k`) leaves the ESS alone to decide."""
    if target_ess is None or not ess >= target_ess:
        return False
    if max_pareto_k is None or pareto_k is None or np.isnan(pareto_k) or ess >= NEAR_UNIFORM_ESS:
        return True
    return bool(pareto_k <= max_pareto_k)


def _ess_and_k(out) -> tuple:
    """A monitor's ``ess`` or ``(ess, pareto_k)`` as ``(ess, pareto_k or None)``."""
    if isinstance(out, tuple):
        return float(out[0]), float(out[1])
    return float(out), None


def _write_checkpoint(path, fingerprint, state, pool, rng_key, losses, ess_hist, done, next_chunk) -> None:
    from flax import serialization

    blob = {"fingerprint": json.dumps(fingerprint), "state": serialization.to_state_dict(state),
            "paths": np.asarray(pool.paths), "rng_key": np.asarray(rng_key),
            "losses": np.concatenate(losses) if losses else np.zeros(0), "ess_hist": json.dumps(ess_hist),
            "done": int(done), "next_chunk": int(next_chunk), "chunk_lengths": [len(x) for x in losses]}
    tmp = f"{path}.tmp"
    with open(tmp, "wb") as fh:  # written then renamed: an interrupted write never leaves half a file
        fh.write(serialization.msgpack_serialize(blob))
    os.replace(tmp, path)


def _read_checkpoint(path, fingerprint, state, pool, rng_key):
    """The saved training state when ``path`` holds a checkpoint of this run, else ``None``."""
    if path is None or not os.path.exists(path):
        return None
    from flax import serialization

    with open(path, "rb") as fh:
        blob = serialization.msgpack_restore(fh.read())
    if json.loads(blob["fingerprint"]) != json.loads(json.dumps(fingerprint)):
        raise ValueError(f"The checkpoint {path} is of another run (other step counts or network shapes); "
                         "delete it or pass another path.")
    restored = serialization.from_state_dict(state, blob["state"])
    restored = jax.tree_util.tree_map(lambda ref, a: jnp.asarray(a, dtype=jnp.asarray(ref).dtype), state, restored)
    key = jnp.asarray(blob["rng_key"], dtype=jnp.asarray(rng_key).dtype)
    flat, splits = np.asarray(blob["losses"]), np.cumsum(blob["chunk_lengths"])[:-1]
    losses = list(np.split(flat, splits)) if len(flat) else []
    hist = [tuple(h) for h in json.loads(blob["ess_hist"])]
    return (restored, pool._replace(paths=jnp.asarray(blob["paths"])), key, losses, hist, int(blob["done"]),
            int(blob["next_chunk"]))
