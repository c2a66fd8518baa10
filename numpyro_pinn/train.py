"""Chunked training: ``lax.scan`` over a chunk of kernel steps inside one ``jit``.

Between chunks (host side, once per chunk): NaN check, a refresh of the
trajectory collocation pool, an optional ESS monitor for early stopping, and the
progress bar.
"""
from __future__ import annotations

import math
import time
from typing import Callable, NamedTuple, Optional

import jax
import jax.numpy as jnp
import numpy as np

from numpyro_pinn.collocation import CollocationPool

__all__ = ["TrainingError", "TrainResult", "fit"]


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
        ``monitor(rng_key, params) -> ess`` evaluated after each chunk once
        ``min_steps`` are done (and before the first one when ``min_steps`` is 0); training stops
        when it reaches ``target_ess``, after 0 steps if the untrained transport already does.
    """

    n_chunks = max(1, math.ceil(num_steps / chunk_size))
    length = max(1, math.ceil(num_steps / n_chunks))

    @jax.jit
    def run_chunk(key, state, pool, first):
        def body(st, xs):
            k, i = xs
            new, info = kernel(k, st, pool)
            active = first + i < num_steps  # the last chunk's steps past num_steps are skipped
            st = jax.tree_util.tree_map(lambda a, b: jnp.where(active, a, b), new, st)
            return st, info.loss

        return jax.lax.scan(body, state, (jax.random.split(key, length), jnp.arange(length)))

    losses, ess_hist = [], []
    bar = None
    if progress_bar:
        from tqdm.auto import tqdm

        bar = tqdm(total=num_steps, desc="PINN training", unit="step", leave=True)
    t0 = time.perf_counter()
    stopped = False
    done = 0
    try:
        if monitor is not None and target_ess is not None and min_steps == 0:
            # The base distribution (the untrained transport) may already be good enough.
            rng_key, k_mon = jax.random.split(rng_key)
            e = float(monitor(k_mon, state.params))
            ess_hist.append((0, e))
            stopped = e >= target_ess
        for c in range(0 if stopped else n_chunks):
            rng_key, k_chunk, k_paths, k_mon = jax.random.split(rng_key, 4)
            new_state, chunk_losses = run_chunk(k_chunk, state, pool, done)
            chunk_losses = np.asarray(chunk_losses)[: num_steps - done]
            if not np.all(np.isfinite(chunk_losses)):
                bad = done + int(np.argmin(np.isfinite(chunk_losses)))
                raise TrainingError(
                    f"PINN training diverged: the loss became non-finite at step {bad}. "
                    "Try a smaller learning rate (e.g. `learning_rate=1e-4`), another warm start "
                    "(`warm_start='smc'`, or posterior draws, e.g. from NUTS), or a Gaussian base "
                    "(`prior='gaussian'`). The last finite parameters are kept in `err.last_good_state`.",
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
                e = float(monitor(k_mon, state.params))
                ess_hist.append((done, e))
                msg["ess"] = f"{e:.4f}"
                if target_ess is not None and e >= target_ess and done < num_steps:
                    stopped = True
            if bar is not None:
                bar.update(len(chunk_losses))
                bar.set_postfix(msg)
            if stopped:
                break
    finally:
        if bar is not None:
            bar.close()
    jax.block_until_ready(state)
    return TrainResult(state, np.concatenate(losses) if losses else np.zeros(0), ess_hist, done,
                       time.perf_counter() - t0, stopped, pool)
