"""The NumPyro ``MCMC``-like user surface shared by our samplers (target building, constraining,
``get_samples``, ``print_summary``, ArviZ), so each sampler only implements its own ``run``."""
from __future__ import annotations

import contextlib
import functools
from typing import Callable, Optional

import jax
import jax.numpy as jnp
import numpy as np

from numpyro_pinn.target import Target, from_model, from_potential

__all__ = ["SamplerSurface", "in_sampler_precision"]

_NARROW = {jnp.dtype("float64"): jnp.float32, jnp.dtype("int64"): jnp.int32}


def in_sampler_precision(method):
    """Run a sampler method with JAX's float64 switched on for its duration when the sampler was
    built with ``enable_x64=True``, and restore the user's setting afterwards.

    Every public method that evaluates the target or builds arrays from the results is wrapped,
    so a run never leaves ``jax_enable_x64`` changed behind it. Arrays returned to a caller who
    works in float32 are cast to it (float64 inside, float32 and int32 out).
    """

    @functools.wraps(method)
    def wrapped(self, *args, **kwargs):
        outer_x64 = bool(jax.config.jax_enable_x64)
        scope = jax.enable_x64(True) if self.enable_x64 else contextlib.nullcontext()
        with scope:
            out = method(self, *args, **kwargs)
            if outer_x64 or not self.enable_x64:
                return out
            # Hand arrays back in the user's precision, where they work without dtype warnings.
            return jax.tree_util.tree_map(
                lambda a: a.astype(_NARROW[a.dtype]) if isinstance(a, jax.Array) and a.dtype in _NARROW else a, out)

    return wrapped


class SamplerSurface:
    """Base class: holds ``model`` xor ``potential_fn`` and the results' constrained views.

    Subclasses set ``self._target``, ``self._z`` (unconstrained draws, ``(num_chains * n, d)``,
    chain-major) and ``self._diag`` in ``run``.
    """

    num_chains: int = 1
    thinning: int = 1

    def __init__(self, model: Optional[Callable], potential_fn: Optional[Callable], enable_x64: bool = True):
        if (model is None) == (potential_fn is None):
            raise ValueError("Pass exactly one of `model` and `potential_fn`.")
        self.model = model
        self.potential_fn = potential_fn
        self.enable_x64 = enable_x64
        self._target: Optional[Target] = None
        self._z = None
        self._diag: dict = {}
        self._args: tuple = ()
        self._kwargs: dict = {}

    @property
    def sampler(self):
        """``az.from_numpyro`` reads ``mcmc.sampler.model``; the sampler is its own kernel."""
        return self

    def _build_target(self, rng_key, args, kwargs, init_params) -> Target:
        self._args, self._kwargs = args, kwargs
        if self.model is not None:
            if init_params is not None:
                raise ValueError("`init_params` is only used with `potential_fn`; models initialise themselves.")
            target = from_model(rng_key, self.model, args, kwargs)
        else:
            if args or kwargs:
                raise ValueError("Model arguments were passed, but the sampler wraps a `potential_fn`.")
            target = from_potential(self.potential_fn, init_params)
        self._target = target
        post = target.postprocess_fn or (lambda tree: tree)
        self._constrain = jax.jit(jax.vmap(lambda z: post(target.unravel_fn(z))))  # compiled once per target
        return target

    def _require_run(self):
        if self._z is None:
            raise RuntimeError("No results yet: call `run(rng_key, ...)` first.")

    def _group(self, tree, group_by_chain: bool):
        if not group_by_chain:
            return tree
        return jax.tree_util.tree_map(lambda a: a.reshape((self.num_chains, -1) + a.shape[1:]), tree)

    @in_sampler_precision
    def unconstrained_draws(self) -> jax.Array:
        """Equal-weight draws in flat unconstrained space ``(n, d)`` (e.g. to warm-start another sampler)."""
        self._require_run()
        return self._z

    @in_sampler_precision
    def get_samples(self, group_by_chain: bool = False):
        """Equal-weight draws, constrained, with deterministic sites (chain axis first if grouped)."""
        self._require_run()
        return self._group(self._constrain(self._z), group_by_chain)

    def _extra_fields(self) -> dict:
        return {}

    @in_sampler_precision
    def get_extra_fields(self, group_by_chain: bool = False) -> dict:
        """Per-draw fields; always ``potential_energy`` (the unconstrained potential ``U``)."""
        self._require_run()
        fields = {"potential_energy": np.asarray(jax.vmap(self._target.potential_fn)(self._z))}
        fields.update(self._extra_fields())
        return self._group(fields, group_by_chain)

    @property
    def diagnostics(self) -> dict:
        """Sampler diagnostics (see the subclass)."""
        self._require_run()
        return dict(self._diag)

    def summary_line(self) -> str:  # pragma: no cover - overridden
        return ""

    @in_sampler_precision
    def print_summary(self, prob: float = 0.9, exclude_deterministic: bool = True) -> None:
        """Print an ArviZ-style table of the draws plus the sampler's diagnostics."""
        from numpyro.diagnostics import print_summary

        self._require_run()
        samples = self.get_samples(group_by_chain=True)
        if exclude_deterministic and self._target.postprocess_fn is not None:
            latent = set(self._target.unravel_fn(self._target.x0).keys())
            samples = {k: v for k, v in samples.items() if k in latent}
        print_summary(samples, prob=prob, group_by_chain=True)
        print(self.summary_line())

    @in_sampler_precision
    def to_inference_data(self, **kwargs):
        """ArviZ data (``az.from_numpyro(self)``) with the diagnostics in ``sample_stats.attrs``."""
        from numpyro_pinn.arviz import to_inference_data

        self._require_run()
        return to_inference_data(self, **kwargs)


