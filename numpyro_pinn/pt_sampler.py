"""``ParallelTempering``: non-reversible PT on BlackJAX kernels with the NumPyro ``MCMC`` surface."""
from __future__ import annotations

import time
from typing import Any, Callable, Optional

import jax
import jax.numpy as jnp
import numpy as np

from numpyro_pinn.compiling import jit
from numpyro_pinn.surface import SamplerSurface, in_sampler_precision
from numpyro_pinn.tempering import KERNELS, evals_per_step, run_pt
from numpyro_pinn.validation import check_count, check_positive
from numpyro_pinn.warmstart import around_initial_point, is_mode, laplace, reference

__all__ = ["ParallelTempering"]


class ParallelTempering(SamplerSurface):
    """Non-reversible parallel tempering (Syed et al. 2021) built on BlackJAX's kernels.

    Each chain runs ``num_temperatures`` replicas between the posterior (``beta = 1``) and a broad
    Gaussian reference around a Laplace fit (``beta = 0``, sampled exactly); a BlackJAX kernel
    (``"hmc"``, ``"mala"`` or ``"rmh"``) moves every replica (vmapped, one jitted scan), then
    deterministic even-odd swaps exchange neighbours. During warm-up the step sizes are adapted per
    temperature and the ladder towards equal swap rates. ``num_chains`` independent PT chains give
    R-hat.

    Parameters
    ----------
    model, potential_fn
        As for :class:`numpyro_pinn.PINNSampler` (exactly one).
    num_temperatures
        Replicas per chain (including the reference).
    kernel
        BlackJAX kernel per replica: ``"hmc"`` (8 leapfrog steps, identity mass in the reference's
        whitened coordinates), ``"mala"`` or ``"rmh"``.
    num_warmup, num_samples, num_chains, thinning
        Steps of warm-up, kept draws per chain, independent chains, PT steps per kept draw.
    reference_scale, reference_floor
        The reference is ``N(mode, scale^2 Sigma_laplace + floor^2 I)``.
    progress_bar
        Show a tqdm bar over the PT steps (warm-up and sampling) with the mean swap acceptance and
        the round trips so far (of the first chain), as ``numpyro.infer.MCMC`` does.

    Notes
    -----
    Diagnostics (``.diagnostics``): ``swap_acceptance`` (per adjacent pair), ``round_trips``,
    ``log_Z`` (stepping stones, mean over chains) and ``log_Z_se`` (spread over chains), ``betas``,
    ``accept`` (per temperature), ``ess`` (min bulk ESS over parameters / draws), ``target_evals``,
    ``seconds``.

    Examples
    --------
    >>> pt = ParallelTempering(potential_fn=U, num_temperatures=12).run(key, init_params=x0)  # doctest: +SKIP
    >>> pt.diagnostics["swap_acceptance"], pt.get_samples(group_by_chain=True).shape  # doctest: +SKIP
    """

    def __init__(self, model: Optional[Callable] = None, *, potential_fn: Optional[Callable] = None,
                 num_temperatures: int = 16, kernel: str = "hmc", num_warmup: int = 1000, num_samples: int = 1000,
                 num_chains: int = 4, thinning: int = 1, num_integration_steps: int = 8,
                 reference_scale: float = 10.0, reference_floor: float = 0.0, progress_bar: bool = True,
                 enable_x64: bool = True):
        super().__init__(model, potential_fn, enable_x64)
        if kernel not in KERNELS:
            raise ValueError(f"`kernel` must be one of {sorted(KERNELS)}; got {kernel!r}.")
        check_count("num_temperatures", num_temperatures, 2)
        check_count("num_warmup", num_warmup, 0)
        for name, val in (("num_samples", num_samples), ("num_chains", num_chains), ("thinning", thinning),
                          ("num_integration_steps", num_integration_steps)):
            check_count(name, val, 1)
        check_positive("reference_scale", reference_scale)
        check_positive("reference_floor", reference_floor, allow_zero=True)
        self.progress_bar = progress_bar
        self.num_temperatures = int(num_temperatures)
        self.kernel = kernel
        self.num_warmup = int(num_warmup)
        self.num_samples = int(num_samples)
        self.num_chains = int(num_chains)
        self.thinning = 1  # draws are stored already thinned (az.from_numpyro divides by this)
        self._pt_thinning = int(thinning)
        self.num_integration_steps = int(num_integration_steps)
        self.reference_scale = reference_scale
        self.reference_floor = reference_floor

    @in_sampler_precision
    def run(self, rng_key: jax.Array, *args, init_params: Any = None, **kwargs) -> "ParallelTempering":
        """Laplace fit, then ``num_chains`` PT chains (vmapped, jitted). Returns ``self``."""
        import arviz as az

        k_target, k_run = jax.random.split(jnp.asarray(rng_key))
        target = self._build_target(k_target, args, kwargs, init_params)
        t0 = time.perf_counter()
        lap = laplace(target.potential_fn, target.x0)
        ref = lap if is_mode(lap) else around_initial_point(target.x0, lap)
        m, L, logq_z = reference(target.potential_fn, ref, self.reference_scale, self.reference_floor)
        d = target.dim

        total = self.num_warmup + self.num_samples * self._pt_thinning
        bar, progress = _progress(total, self.num_chains, self.num_warmup) if self.progress_bar else (None, None)

        def one(key):
            return run_pt(key, logq_z, d, self.num_temperatures, self.kernel, self.num_warmup, self.num_samples,
                          self.num_integration_steps, self._pt_thinning, progress=progress,
                          progress_every=max(1, total // 100))[0]

        try:
            res = jit(jax.vmap(one))(jax.random.split(k_run, self.num_chains))
            jax.block_until_ready(res)
        finally:
            if bar is not None:
                bar.update(total - bar.n)
                bar.close()
        seconds = time.perf_counter() - t0
        z = res.draws.reshape(-1, d)
        self._z = m + z @ L.T
        self._result = res
        samples = np.asarray(self._z).reshape(self.num_chains, self.num_samples, d)
        ess = float(np.min([az.ess(samples[:, :, i], method="bulk") for i in range(d)])) / samples[:, :, 0].size
        log_z = np.asarray(res.log_Z)
        steps = self.num_warmup + self.num_samples * self._pt_thinning
        self._diag = {
            "swap_acceptance": np.asarray(jnp.mean(res.swap_rate, 0)),
            "round_trips": int(jnp.sum(res.round_trips)),
            "log_Z": float(np.mean(log_z)),
            "log_Z_se": float(np.std(log_z, ddof=1) / np.sqrt(len(log_z))) if len(log_z) > 1 else float("nan"),
            "log_Z_chains": log_z,
            "betas": np.asarray(jnp.mean(res.betas, 0)),
            "accept": np.asarray(jnp.mean(res.accept, 0)),
            "ess": ess,
            "seconds": seconds,
            "target_evals": int(lap.num_evals + self.num_chains * steps
                                * evals_per_step(self.kernel, self.num_temperatures, self.num_integration_steps)),
        }
        return self

    @property
    def _dropped_columns(self) -> tuple:
        # PT's draws are Markov chains: n_eff applies, and r_hat once there are chains to compare.
        return () if self.num_chains > 1 else ("r_hat",)

    def summary_line(self) -> str:
        d = self._diag
        sw = d["swap_acceptance"]
        return (f"PT ({self.kernel}, {self.num_temperatures} temperatures x {self.num_chains} chains): swap "
                f"acceptance {sw.min():.2f}-{sw.max():.2f}, {d['round_trips']} round trips, log Z = {d['log_Z']:.4f} "
                f"+- {d['log_Z_se']:.4f}, min bulk ESS {d['ess']:.3f}/draw, {d['target_evals']} target evals, "
                f"{d['seconds']:.1f} s")


def _progress(total: int, num_chains: int, num_warmup: int):
    """A tqdm bar and the host callback that advances it (called once per chain per report: the
    chains run vmapped in lockstep, so the first chain's values are shown)."""
    from tqdm.auto import tqdm

    bar = tqdm(total=total, desc=f"PT ({num_chains} chains)")

    def progress(step, swap, round_trips):
        step, swap, trips = np.ravel(step)[0], np.ravel(swap)[0], np.ravel(round_trips)[0]
        if step + 1 > bar.n:
            bar.update(int(step) + 1 - bar.n)
            bar.set_postfix_str(f"{'warmup' if step < num_warmup else 'sample'} swap {float(swap):.2f}, "
                                f"round trips {int(trips)}", refresh=False)

    return bar, progress
