"""Model-to-potential layer: turn a NumPyro model or a raw potential into a flat target.

Everything downstream of this module works on flat float64 vectors ``x`` of
shape ``(d,)`` in unconstrained space and a potential ``U(x) = -log q(x)``.
"""
from __future__ import annotations

from functools import partial
from typing import Any, Callable, NamedTuple, Optional

import jax
import jax.numpy as jnp
import numpy as np
from jax.flatten_util import ravel_pytree

from numpyro_pinn.compiling import jit_once
from numpyro_pinn.validation import all_finite

__all__ = ["Target", "from_model", "from_potential", "float_dtype", "as_float", "potentials", "latent_sites", "init_to_prior_centre", "INIT_JITTER"]


class Target(NamedTuple):
    """A flat, unconstrained target density ``q(x) = exp(-U(x))``.

    Attributes
    ----------
    potential_fn
        ``U(x)`` on flat float64 arrays of shape ``(d,)``.
    x0
        Initial flat point (float64, shape ``(d,)``), where ``U`` is finite.
    unravel_fn
        Maps a flat vector back to the pytree the user works with
        (unconstrained site values for models, ``init_params`` structure otherwise).
    postprocess_fn
        For models: maps an unconstrained site dict to constrained values plus
        ``numpyro.deterministic`` sites. ``None`` for raw potentials.
    model
        The NumPyro model, or ``None``.
    """

    potential_fn: Callable[[jax.Array], jax.Array]
    x0: jax.Array
    unravel_fn: Callable[[jax.Array], Any]
    postprocess_fn: Optional[Callable[[Any], Any]]
    model: Optional[Callable]

    @property
    def dim(self) -> int:
        return int(self.x0.shape[0])


def float_dtype():
    """The widest float JAX gives now: float64 inside the samplers' precision scope (their
    ``enable_x64=True``, the default; see the README's "Precision"), else float32.

    Real posteriors have potentials of order 1e3; float32 rounding of such a sum is 0.1-1 nats,
    which destroys importance weights. The samplers therefore run the target in float64 while
    their networks stay in float32.
    """
    return jax.dtypes.canonicalize_dtype(jnp.float64)


def as_float(tree, dtype=None):
    """``tree`` with its floating-point arrays (NumPy's or JAX's) as JAX arrays of ``dtype``
    (default :func:`float_dtype`); other leaves unchanged."""
    dtype = float_dtype() if dtype is None else dtype

    def cast(a):
        if isinstance(a, (jax.Array, np.ndarray)) and jnp.issubdtype(a.dtype, jnp.floating):
            return jnp.asarray(a, dtype=dtype)
        return a

    return jax.tree_util.tree_map(cast, tree)


@partial(jit_once, static_argnums=0)
def potentials(potential_fn: Callable, x: jax.Array) -> jax.Array:
    """``potential_fn`` at each row of ``x`` ``(n, d)``: one program compiled per potential, shape
    and precision, shared by the checks that evaluate the same potential at as many points."""
    return jax.vmap(potential_fn)(x)


def _check_finite(potential_fn, x0, describe, value_and_grad=None):
    # One compiled program for the value and the gradient, not an eager compilation per operation.
    u0, g0 = (value_and_grad or jit_once(jax.value_and_grad(potential_fn)))(x0)
    if not all_finite(u0):
        raise ValueError(
            f"The potential is not finite at the initial point ({describe(x0)}): U(x0) = {float(u0)}."
        )
    if not all_finite(g0):
        raise ValueError(f"The gradient of the potential is not finite at the initial point ({describe(x0)}).")


def from_potential(potential_fn: Callable, init_params: Any) -> Target:
    """Wrap a raw potential ``U(params) = -log q(params)`` (NumPyro's ``potential_fn`` convention).

    Parameters
    ----------
    potential_fn
        Callable taking a pytree shaped like ``init_params`` and returning a scalar.
    init_params
        A pytree of arrays that fixes the shapes, at which ``U`` is finite.
    """
    if init_params is None:
        raise ValueError("`init_params` is required with `potential_fn` (it fixes the shapes of the parameters).")
    flat, unravel = ravel_pytree(as_float(jax.tree_util.tree_map(jnp.asarray, init_params)))
    if flat.size == 0:
        raise ValueError("`init_params` has no elements: there is nothing to sample.")
    flat = flat.astype(float_dtype())

    def flat_potential(x):
        u = potential_fn(unravel(x))
        if jnp.shape(u) != ():
            raise ValueError(f"`potential_fn` must return a scalar; got shape {jnp.shape(u)}.")
        return jnp.asarray(u, dtype=float_dtype())

    _check_finite(flat_potential, flat, lambda x: f"init_params = {unravel(x)}")
    return Target(flat_potential, flat, unravel, None, None)


#: :func:`from_model` moves the priors' centre by up to this much in each unconstrained coordinate.
INIT_JITTER = 0.01


def init_to_prior_centre(site=None):
    """NumPyro initialisation strategy: each latent site at its prior's mean; where the mean is not
    finite (a Cauchy's), at its median (``icdf(0.5)``); for a distribution with neither (an
    LKJ), at the point of the support at the unconstrained origin (``init_to_feasible``).

    Unlike NumPyro's ``init_to_median``, nothing is sampled, so no sampler (a Gamma's, a
    Dirichlet's) is compiled just to start the model."""
    from numpyro.infer import init_to_feasible

    if site is None:
        return partial(init_to_prior_centre)
    if site["type"] != "sample" or site["is_observed"] or site["fn"].support.is_discrete:
        return None
    if site["value"] is not None:
        return site["value"]
    fn = site["fn"]
    shape = tuple(site["kwargs"].get("sample_shape") or ()) + tuple(fn.shape())
    event_axes = tuple(range(len(shape) - len(fn.event_shape), len(shape)))

    def where_finite(value, otherwise):
        value = jnp.broadcast_to(value, shape)
        return jnp.where(jnp.all(jnp.isfinite(value), axis=event_axes, keepdims=True), value, otherwise)

    try:
        mean = 1.0 * fn.mean
    except _NO_MOMENT:
        return init_to_feasible(site)
    if not isinstance(mean, jax.core.Tracer) and all_finite(mean):
        return jnp.broadcast_to(mean, shape)  # no median needed (nor compiled)
    median = feasible = init_to_feasible(site)
    if not fn.event_shape:
        try:
            median = where_finite(fn.icdf(jnp.full(fn.batch_shape, 0.5)), feasible)
        except _NO_MOMENT:
            pass
    return where_finite(mean, median)


#: What a distribution raises for a moment or quantile it lacks (a Beta's ``icdf`` needs TFP).
_NO_MOMENT = (NotImplementedError, ImportError, AttributeError, TypeError, ValueError)


def _model_trace(model, args, kwargs):
    from numpyro import handlers
    from numpyro.infer import init_to_sample

    # init_to_sample also gives values to improper (ImproperUniform) sites, which cannot be sampled.
    seeded = handlers.substitute(handlers.seed(model, rng_seed=0), substitute_fn=init_to_sample)
    with handlers.block():
        return handlers.trace(seeded).get_trace(*args, **kwargs)


def _latent_sites(model, args, kwargs) -> list:
    """The names of the model's latent sample sites, each checked to be continuous. The model is
    traced abstractly (``jax.eval_shape``: nothing computed or compiled) when it allows, else run."""
    found = []

    def collect(trace):
        found.clear()
        for name, site in trace.items():
            if site["type"] == "sample" and not site["is_observed"]:
                found.append((name, type(site["fn"]).__name__, bool(site["fn"].support.is_discrete),
                              bool(site.get("infer", {}).get("enumerate"))))

    try:
        jax.eval_shape(lambda: collect(_model_trace(model, args, kwargs)))
    except Exception:  # noqa: BLE001 - e.g. a model that needs concrete values: run it
        collect(_model_trace(model, args, kwargs))
    for name, fn_name, discrete, enumerated in found:
        if discrete and not enumerated:
            raise ValueError(
                f"Latent site '{name}' is discrete ({fn_name}); PINNSampler transports "
                "continuous densities only. Marginalise it out (e.g. with numpyro's "
                "`infer={'enumerate': 'parallel'}` and a mixture likelihood) or make it observed."
            )
        if discrete:
            raise ValueError(f"Latent site '{name}' is discrete and enumerated; enumeration is not supported.")
    return [name for name, *_ in found]


def from_model(
    rng_key: jax.Array, model: Callable, model_args: tuple = (), model_kwargs: Optional[dict] = None
) -> Target:
    """Build the unconstrained potential of a NumPyro model with ``initialize_model``.

    The initial point ``x0`` is each latent site's prior mean (:func:`init_to_prior_centre`),
    moved by up to :data:`INIT_JITTER` in each unconstrained coordinate (uniformly at random from
    ``rng_key``): a round value such as 0 can sit exactly on a kink of a likelihood's code, where
    its gradient is wrong (NumPyro's Binomial at logits 0), which stalls the Laplace fit. Where the
    potential is not finite at the means, NumPyro's search from prior draws (``init_to_median``)
    finds the point.

    Raises
    ------
    ValueError
        If the model has no latent sites, a discrete latent site, a potential
        that is not finite at the initial point, or Python control flow on a sampled value
        (which JAX cannot compile); the error names the site.
    """
    from numpyro.infer import init_to_median
    from numpyro.infer.util import initialize_model

    model_kwargs = dict(model_kwargs or {})
    model_args = as_float(tuple(model_args))
    model_kwargs = as_float(model_kwargs)
    latent = _latent_sites(model, model_args, model_kwargs)
    if not latent:
        raise ValueError(
            "The model has no latent sample sites (every `numpyro.sample` is observed or absent): "
            "there is no posterior to sample."
        )
    init = partial(initialize_model, model=model, model_args=model_args, model_kwargs=model_kwargs)
    try:
        try:
            info = _initialize(partial(init, init_strategy=init_to_prior_centre()), rng_key)
        except RuntimeError:  # not finite at the prior means: NumPyro's search from prior draws
            info = _initialize(partial(init, init_strategy=init_to_median(num_samples=15)), rng_key)
    except jax.errors.ConcretizationTypeError as err:
        bad = _untraceable_sites(model, model_args, model_kwargs, latent)
        where = f"the value of site(s) {', '.join(bad)}" if bad else "a sampled value"
        raise ValueError(
            f"The model's log density uses {where} as a concrete Python value (e.g. `if x > 0:` or `float(x)`), "
            "which JAX cannot compile or differentiate: write the branch with `jnp.where` or `jax.lax.cond`."
        ) from err
    except RuntimeError as err:
        # Name the culprit: evaluate each site's log density at a prior draw.
        bad = _nonfinite_sites(_model_trace(model, model_args, model_kwargs))
        where = f" Non-finite log density at site(s): {', '.join(bad)}." if bad else ""
        raise ValueError(f"The model's potential is not finite at initialisation.{where} ({err})") from err
    z0 = info.param_info.z
    flat0, unravel = ravel_pytree(z0)
    flat0 = flat0.astype(float_dtype())
    potential_dict = info.potential_fn

    def flat_potential(x):
        return potential_dict(unravel(x))

    def describe(x):
        return f"unconstrained sites {sorted(latent)}"

    # Round values (a prior mean of 0) can sit exactly on a kink of a likelihood's code, where its
    # gradient is wrong (NumPyro's Binomial at logits 0): start a little away from them.
    value_and_grad = jit_once(jax.value_and_grad(flat_potential))
    moved = flat0 + INIT_JITTER * jax.random.uniform(jax.random.fold_in(rng_key, 1), flat0.shape, flat0.dtype, -1.0, 1.0)
    u, g = value_and_grad(moved)
    if all_finite(u, g):
        flat0 = moved  # checked: finite there
    else:
        _check_finite(flat_potential, flat0, describe, value_and_grad)
    return Target(flat_potential, flat0, unravel, info.postprocess_fn, model)


def _untraceable_sites(model, args, kwargs, latent: list) -> list[str]:
    """The latent sites on whose value the model's log density needs a concrete Python value: each
    site alone is traced (abstractly, nothing compiled) with the others fixed at a prior draw."""
    from numpyro.infer.util import log_density

    values = {name: site["value"] for name, site in _model_trace(model, args, kwargs).items()
              if site["type"] == "sample" and not site["is_observed"]}
    bad = []
    for name in latent:
        try:
            jax.make_jaxpr(lambda v, name=name: log_density(model, args, kwargs, {**values, name: v})[0])(values[name])
        except jax.errors.ConcretizationTypeError:
            bad.append(name)
        except Exception:  # noqa: BLE001 - only a name for the message is wanted here
            continue
    return bad


def _initialize(init: Callable, rng_key: jax.Array):
    """NumPyro's ``initialize_model`` (as ``init(rng_key)``) with the search for a valid initial
    point compiled as one program: a batch of one key makes NumPyro map it with ``lax.map`` instead
    of running the model's log density and gradient operation by operation, each eagerly compiled.
    That program runs once, so it is first compiled as :func:`~numpyro_pinn.compiling.jit_once`
    compiles (:func:`_initialize_once`); where that fails, NumPyro compiles it itself. A model that
    needs concrete values (Python control flow on a sampled value) runs eagerly."""
    info = _initialize_once(init, rng_key)
    if info is not None:
        return info
    try:
        info = init(rng_key[None])
    except (jax.errors.JAXTypeError, jax.errors.JAXIndexError):
        return init(rng_key)
    return info._replace(param_info=_unbatched(info.param_info))


def _unbatched(param_info):
    """The initial point of a batch of one key, without its batch axis."""
    return param_info._replace(z=jax.tree_util.tree_map(lambda a: a[0], param_info.z))


def _initialize_once(init: Callable, rng_key: jax.Array):
    """``init(rng_key[None])`` traced inside one :func:`~numpyro_pinn.compiling.jit_once` program
    (on a CPU, compiled with less optimisation in about half the time), or ``None`` when that
    fails or its point is not valid: not finite, or a potential or postprocessing function that
    kept a value of the trace (checked by tracing both)."""
    traced = {}

    def search(key):
        traced["info"] = info = init(key[None])
        return info.param_info

    try:
        param_info = _unbatched(jit_once(search)(rng_key))
        info = traced["info"]
        if not all_finite(param_info.potential_energy, *jax.tree_util.tree_leaves(param_info.z_grad)):
            return None
        jax.eval_shape(lambda p: (info.potential_fn(p), info.postprocess_fn(p)), param_info.z)
    except Exception:  # noqa: BLE001 - NumPyro's own path below decides and names the error
        return None
    return info._replace(param_info=param_info, model_trace=None)


def _nonfinite_sites(trace) -> list[str]:
    bad = []
    for name, site in trace.items():
        if site["type"] != "sample":
            continue
        try:
            lp = jnp.sum(site["fn"].log_prob(site["value"]))
        except Exception:  # noqa: BLE001 - we only want a name for the message
            continue
        if not all_finite(lp):
            bad.append(name)
    return bad


def latent_sites(target: Target) -> list:
    """``[(name, leaf)]``: the target's unconstrained parameters at ``x0`` as a pytree's leaves,
    named by their path (``"mu"``, ``"theta"``, ``"a.b"`` for nested pytrees, ``"x"`` for a bare array)."""
    leaves = jax.tree_util.tree_flatten_with_path(target.unravel_fn(target.x0))[0]
    return [(".".join(str(getattr(p, "key", getattr(p, "idx", getattr(p, "name", p)))) for p in path) or "x", leaf)
            for path, leaf in leaves]
