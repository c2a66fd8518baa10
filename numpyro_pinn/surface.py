"""The NumPyro ``MCMC``-like user surface shared by our samplers (target building, constraining,
``get_samples``, ``print_summary``, ArviZ), so each sampler only implements its own ``run``."""
from __future__ import annotations

import contextlib
import functools
from typing import Any, Callable, Optional

import jax
import jax.numpy as jnp
import numpy as np

from numpyro_pinn.compiling import jit_once
from numpyro_pinn.target import Target, from_model, from_potential, latent_sites

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
        self._init_params = None

    @property
    def sampler(self) -> "SamplerSurface":
        """``az.from_numpyro`` reads ``mcmc.sampler.model``; the sampler is its own kernel."""
        return self

    def _make_target(self, rng_key, args, kwargs, init_params) -> Target:
        if self.model is not None:
            if init_params is not None:
                raise ValueError("`init_params` is only used with `potential_fn`; models initialise themselves.")
            return from_model(rng_key, self.model, args, kwargs)
        if args or kwargs:
            raise ValueError("Model arguments were passed, but the sampler wraps a `potential_fn`.")
        return from_potential(self.potential_fn, init_params)

    def _build_target(self, rng_key, args, kwargs, init_params) -> Target:
        self._args, self._kwargs, self._init_params = args, kwargs, init_params
        target = self._make_target(rng_key, args, kwargs, init_params)
        self._target = target
        self._constrain = jit_once(jax.vmap(self.constrain_fn()))  # compiled once per target
        return target

    def coordinate_names(self) -> list:
        """Names of the flat unconstrained coordinates (``"theta[3]"``, ``"sigma"``), in order."""
        if self._target is None:
            raise RuntimeError("No target yet: call `run(rng_key, ...)` first.")
        names = []
        for base, leaf in latent_sites(self._target):
            shape = np.shape(leaf)
            names += [base + (f"[{','.join(map(str, i))}]" if shape else "") for i in np.ndindex(*shape)]
        return names

    def describe_direction(self, v) -> str:
        """The sites a flat unconstrained direction ``v`` mostly lies in (for messages)."""
        names, a = self.coordinate_names(), np.abs(np.asarray(v))
        top = [i for i in np.argsort(-a)[:3] if a[i] >= 0.3 * a.max()]
        return ", ".join(f"'{names[i]}'" for i in top)

    def flat_target(self, rng_key: Optional[jax.Array] = None) -> Target:
        """The flat unconstrained target (:class:`numpyro_pinn.target.Target`: potential, layout,
        constraining) of the last run's model and arguments, rebuilt in the current JAX precision
        (its data are float32 unless ``jax_enable_x64`` is on)."""
        if self._target is None:
            raise RuntimeError("No target yet: call `run(rng_key, ...)` first.")
        key = jax.random.PRNGKey(0) if rng_key is None else rng_key
        return self._make_target(key, self._args, self._kwargs, self._init_params)

    def constrain_fn(self) -> Callable:
        """``f(z)``: one flat unconstrained point ``(d,)`` to the model's constrained sites with its
        deterministic sites (the parameter pytree for a ``potential_fn``); jittable."""
        if self._target is None:
            raise RuntimeError("No target yet: call `run(rng_key, ...)` first.")
        target = self._target
        post = target.postprocess_fn or (lambda tree: tree)
        return lambda z: post(target.unravel_fn(z))

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
    def get_samples(self, group_by_chain: bool = False) -> Any:
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

    #: Columns of numpyro's summary that :meth:`print_summary` drops. Resampled importance draws
    #: are not a Markov chain: per-parameter ``n_eff`` and a single chain's ``r_hat`` say nothing
    #: about them (their ESS is the weights' ESS in :meth:`summary_line`).
    _dropped_columns: tuple = ("n_eff", "r_hat")

    @in_sampler_precision
    def print_summary(self, prob: float = 0.9, exclude_deterministic: bool = True) -> None:
        """Print a table of the draws (mean, sd, median, ``prob`` credible interval) and the
        sampler's own diagnostics (for :class:`~numpyro_pinn.PINNSampler`: the weights' ESS, log Z
        and Pareto k-hat, which replace the per-parameter ``n_eff`` and ``r_hat`` of MCMC)."""
        from numpyro.diagnostics import summary

        self._require_run()
        samples = self.get_samples(group_by_chain=True)
        if exclude_deterministic and self._target.postprocess_fn is not None:
            latent = set(self._target.unravel_fn(self._target.x0).keys())
            samples = {k: v for k, v in samples.items() if k in latent}
        if not isinstance(samples, dict):
            samples = {f"Param:{i}": v for i, v in enumerate(jax.tree_util.tree_leaves(samples))}
        stats = summary({k: np.asarray(v) for k, v in samples.items()}, prob, group_by_chain=True)
        rows = []
        for name, st in stats.items():
            st = {c: np.asarray(v) for c, v in st.items() if c not in self._dropped_columns}
            for idx in np.ndindex(*next(iter(st.values())).shape):
                label = name + (f"[{','.join(map(str, idx))}]" if idx else "")
                rows.append((label, [float(v[idx]) for v in st.values()]))
        columns = [c for c in next(iter(stats.values())) if c not in self._dropped_columns]
        width = max([10] + [len(r[0]) for r in rows])
        print()
        print(f"{'':>{width}}" + "".join(f" {c:>9}" for c in columns))
        for label, vals in rows:
            print(f"{label:>{width}}" + "".join(f" {v:>9.2f}" for v in vals))
        print()
        print(self.summary_line())

    @in_sampler_precision
    def to_inference_data(self, **kwargs) -> Any:
        """ArviZ data (``az.from_numpyro(self)``) with the diagnostics in ``sample_stats.attrs``."""
        from numpyro_pinn.arviz import to_inference_data

        self._require_run()
        return to_inference_data(self, **kwargs)


