"""``PINNKernel``: a trained transport as the proposal of an exact Markov chain (NumPyro ``MCMCKernel``).

Importance weights make the transport's draws exact only as the number of particles grows, and
only as far as the weights can be trusted (Pareto k-hat). An independence Metropolis-Hastings
chain with the transport as its proposal is exact for any proposal that covers the posterior:
propose ``x' ~ p`` (the transport), accept with probability ``min(1, w(x') / w(x))`` where
``w = q / p`` is the importance weight. The acceptance rate measures the transport's quality (1
for a perfect transport); a poor transport gives a correct but slower-mixing chain.
"""
from __future__ import annotations

from typing import Callable, NamedTuple, Optional

import jax
import jax.numpy as jnp
from numpyro.infer.mcmc import MCMCKernel

__all__ = ["PINNKernel", "PINNKernelState"]


class PINNKernelState(NamedTuple):
    """State of :class:`PINNKernel`.

    ``z`` (flat unconstrained point), ``log_weight`` (its importance log weight ``log q - log p``),
    ``accept_prob`` and ``accepted`` (of the last step), ``mean_accept_prob`` (running mean),
    ``i`` (step), a block of pre-drawn proposals with their log weights and the index of the next
    one, and the PRNG key.
    """

    z: jax.Array
    log_weight: jax.Array
    accept_prob: jax.Array
    accepted: jax.Array
    mean_accept_prob: jax.Array
    i: jax.Array
    proposals: jax.Array
    proposal_log_weights: jax.Array
    next: jax.Array
    rng_key: jax.Array


class PINNKernel(MCMCKernel):
    """Independence Metropolis-Hastings with a trained :class:`~numpyro_pinn.PINNSampler` as the
    proposal: an exact MCMC kernel for ``numpyro.infer.MCMC``.

    Use it when you need draws that are exact whatever the importance weights' quality (a Pareto
    k-hat above 0.7, or a posterior where the weights cannot be checked), or R-hat over chains::

        pinn = PINNSampler(model).run(key, *args)
        mcmc = MCMC(PINNKernel(pinn), num_warmup=0, num_samples=2000, num_chains=4)
        mcmc.run(key2, *args)           # the same model arguments as the PINN's run
        mcmc.get_extra_fields()["accept_prob"].mean()   # the transport's quality: 1 is perfect

    The chain runs in the caller's precision, like NumPyro's own kernels: float32 unless
    ``jax.config.update("jax_enable_x64", True)``. No warm-up is needed: each chain starts from a draw resampled
    by weight from a block of
    proposals. The acceptance rate is that of an independence sampler: about the weights' ESS for
    a good transport; when it is low the chain is still exact but its effective sample size is low
    (check it with ``mcmc.print_summary()``); train longer or warm-start from better draws.

    Parameters
    ----------
    sampler
        A fitted :class:`~numpyro_pinn.PINNSampler` (after ``run`` or ``load``). The chain targets
        the potential it was trained on, rebuilt from the model arguments of its ``run`` when the
        kernel is made (``MCMC.run``'s are not used: pass the same ones, which ArviZ reads). With
        ``dps_sampler="sde"`` the proposals are the
        probability-flow particles, which are weighted.
    block_size
        Proposals are drawn in batched ODE solves of this many particles, refilled when used up.
    """

    sample_field = "z"

    def __init__(self, sampler, block_size: int = 256):
        if not isinstance(block_size, int) or isinstance(block_size, bool) or block_size < 1:
            raise ValueError(f"`block_size` must be a positive integer; got {block_size!r}.")
        sampler.proposal_function()  # raises unless the sampler was run or loaded
        self._sampler = sampler
        self._target = sampler.flat_target()  # the model's potential in the caller's precision
        self.block_size = block_size
        self._proposals: dict = {}

    @property
    def model(self) -> Optional[Callable]:
        return self._sampler.model

    @property
    def default_fields(self) -> tuple:
        return ("z", "accept_prob", "accepted")

    def _block(self, key, dtype):
        # The chain runs in the caller's precision, as NumPyro's kernels do.
        if dtype not in self._proposals:
            self._proposals[dtype] = self._sampler.proposal_function(dtype=dtype,
                                                                     potential_fn=self._target.potential_fn)
        x, lw = self._proposals[dtype](key, self.block_size)
        lw = jnp.where(jnp.isfinite(lw), lw, -jnp.inf)  # a failed ODE solve is never accepted
        return x.astype(dtype), lw.astype(dtype)

    def init(self, rng_key, num_warmup, init_params, model_args, model_kwargs) -> PINNKernelState:
        dtype = jnp.zeros(()).dtype
        k_block, k_pick, k_run = jax.random.split(rng_key, 3)
        x, lw = self._block(k_block, dtype)
        j = jax.random.categorical(k_pick, lw)  # start (approximately) in the posterior: no warm-up
        zero = jnp.zeros((), dtype)
        return PINNKernelState(x[j], lw[j], zero + 1.0, jnp.array(True), zero, jnp.array(0),
                               x, lw, jnp.array(self.block_size), k_run)

    def sample(self, state, model_args, model_kwargs) -> PINNKernelState:
        key, k_block, k_acc = jax.random.split(state.rng_key, 3)
        props, plw, nxt = jax.lax.cond(
            state.next >= self.block_size,
            lambda: (*self._block(k_block, state.proposals.dtype), jnp.array(0)),
            lambda: (state.proposals, state.proposal_log_weights, state.next))
        x_new, lw_new = props[nxt], plw[nxt]
        log_ratio = lw_new - state.log_weight
        accept_prob = jnp.where(jnp.isnan(log_ratio), 0.0, jnp.exp(jnp.minimum(log_ratio, 0.0)))
        accepted = jax.random.uniform(k_acc, dtype=accept_prob.dtype) < accept_prob
        i = state.i + 1
        mean_acc = state.mean_accept_prob + (accept_prob - state.mean_accept_prob) / i
        return PINNKernelState(jnp.where(accepted, x_new, state.z), jnp.where(accepted, lw_new, state.log_weight),
                               accept_prob.astype(state.accept_prob.dtype), accepted,
                               mean_acc.astype(state.mean_accept_prob.dtype), i, props, plw, nxt + 1, key)

    def postprocess_fn(self, model_args, model_kwargs) -> Callable:
        post = self._target.postprocess_fn or (lambda tree: tree)
        return lambda z: post(self._target.unravel_fn(z))

    def get_diagnostics_str(self, state) -> str:
        return f"acc. prob={float(state.mean_accept_prob):.2f}"
