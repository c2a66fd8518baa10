"""Warm start by a short non-reversible parallel-tempering run."""
from __future__ import annotations

import dataclasses
from typing import Callable

import jax

from numpyro_pinn.compiling import jit
from numpyro_pinn.validation import check_count, check_positive
from numpyro_pinn.warmstart.base import WarmStart, from_draws, reference
from numpyro_pinn.warmstart.laplace import around_initial_point, is_mode

__all__ = ["pt", "PT"]


def pt(
    rng_key: jax.Array,
    potential_fn: Callable,
    start: WarmStart,
    num_temperatures: int = 16,
    num_warmup: int = 500,
    num_samples: int = 1000,
    kernel: str = "hmc",
    scale: float = 10.0,
    floor: float = 0.0,
) -> WarmStart:
    """Short non-reversible parallel-tempering run (:mod:`numpyro_pinn.tempering`) from the same
    broad reference as :func:`smc`; whitening from its target-temperature draws, ``log_Z`` by
    stepping stones."""
    from numpyro_pinn.tempering import evals_per_step, run_pt

    d = start.mean.shape[0]
    m, L, logq_z = reference(potential_fn, start, scale, floor)
    run = jit(lambda k: run_pt(k, logq_z, d, num_temperatures, kernel, num_warmup, num_samples)[0])
    res = run(rng_key)
    draws = m + res.draws @ L.T
    ws = from_draws(draws, log_Z=float(res.log_Z), method="pt")
    n_evals = (num_warmup + num_samples) * evals_per_step(kernel, num_temperatures)
    return ws._replace(num_evals=start.num_evals + n_evals)


@dataclasses.dataclass(frozen=True)
class PT:
    """Warm start: Laplace, then a short non-reversible parallel-tempering run from the same broad
    reference as :class:`SMC` (:func:`pt`); ``log Z`` by stepping stones. An alternative to SMC
    for multimodal posteriors."""

    num_temperatures: int = 16
    num_warmup: int = 500
    num_samples: int = 1000
    scale: float = 10.0

    def __post_init__(self):
        check_count("num_temperatures", self.num_temperatures, 2)
        check_count("num_warmup", self.num_warmup, 0)
        check_count("num_samples", self.num_samples, 1)
        check_positive("scale", self.scale)

    def build(self, rng_key, potential_fn: Callable, x0: jax.Array, start: WarmStart) -> WarmStart:
        """The warm start from the Laplace fit ``start`` (from ``N(x0, scale^2 I)`` when ``start`` is
        not at a mode, :func:`is_mode`)."""
        ref = start if is_mode(start) else around_initial_point(x0, start)
        ws = pt(rng_key, potential_fn, ref, num_temperatures=self.num_temperatures, num_warmup=self.num_warmup,
                num_samples=self.num_samples, scale=self.scale)
        return ws if ref is start else ws._replace(method=f"{ws.method}, from the initial point (no mode found)")
