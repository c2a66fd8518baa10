"""Evaluating a float64 target in float32 where what uses it tolerates float32's rounding.

A run evaluates the target in float64 (``enable_x64=True``): the importance weights need it. Two
stages do not: the SMC warm start, which moves particles by HMC and tempers them
(:mod:`numpyro_pinn.warmstart.precision` corrects its draws to the float64 target), and the
training loss, whose target values (``log q`` and its gradient at the collocation points) are
float32 already and only need to be good to float32's precision. A potential's float32 rounding
(``1e-5`` nats on a 31-coefficient logistic regression of 569 rows) changes neither. On CPU a
float32 evaluation of a costly potential (matrix products over the data, many logarithms) takes a
third to a half of a float64 one.

:func:`runs_in_float32` decides (``"auto"``: a float64 target costing at least
:data:`SINGLE_FLOPS` per value and gradient, whose potential traces in float32);
:func:`in_float32` runs a function with float64 off, and :func:`float32_twin` gives a float32
value-and-gradient of the potential that programs traced with float64 on can call.
"""
from __future__ import annotations

import warnings
from typing import Callable, Optional

import jax
import jax.extend
import jax.numpy as jnp

from numpyro_pinn.compiling import estimated_flops, weighted_flops
from numpyro_pinn.target import as_float

__all__ = ["in_float32", "traces_in_float32", "runs_in_float32", "float32_twin", "SINGLE_FLOPS", "PRECISIONS"]

#: ``precision="auto"`` evaluates the target in float32 from this many floating-point operations
#: per value-and-gradient evaluation of the target (XLA's estimate, weighted as
#: :func:`~numpyro_pinn.compiling.weighted_flops` does). Cheaper targets gain less than the
#: extra compilations cost.
SINGLE_FLOPS = 3e4
#: The values of a ``precision`` option (:class:`~numpyro_pinn.warmstart.SMC`'s,
#: :class:`~numpyro_pinn.Training`'s).
PRECISIONS = ("auto", "float32", "float64")


def in_float32(fun: Callable, *args, **kwargs):
    """``fun(*args, **kwargs)`` traced and run with JAX's float64 switched off, its floating-point
    array arguments cast to float32. JAX's warnings about float64 requested where it is off are
    silenced: they are the point."""
    with jax.enable_x64(False), warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*[Ee]xplicitly requested dtype.*")
        return fun(*as_float(args, jnp.float32), **as_float(kwargs, jnp.float32))


def traces_in_float32(potential_fn: Callable, x: jax.Array) -> bool:
    """Whether ``potential_fn`` and its gradient at points like ``x`` come out in float32 when
    traced with float64 off (nothing is compiled). A model whose distributions combine float64
    arrays it holds with ``lax``-level operations (NumPyro's ``MultivariateNormal(scale_tril=...)``),
    or a potential that asks for float64, does not."""
    try:
        shape = jax.ShapeDtypeStruct(x.shape, jnp.float32)
        out = in_float32(lambda: jax.eval_shape(jax.value_and_grad(potential_fn), shape))
    except Exception:  # noqa: BLE001 - whatever fails to trace in float32 runs in float64
        return False
    return all(leaf.dtype == jnp.float32 for leaf in jax.tree_util.tree_leaves(out))


def runs_in_float32(precision: str, potential_fn: Callable, x: jax.Array, cost: Optional[tuple] = None) -> bool:
    """Whether a stage with ``precision`` (:data:`PRECISIONS`) evaluates ``potential_fn`` in
    float32 around ``x``: the target is float64, the potential traces in float32
    (:func:`traces_in_float32`), and, for ``"auto"``, one value-and-gradient evaluation costs at
    least :data:`SINGLE_FLOPS` (``cost``: its :func:`~numpyro_pinn.compiling.estimated_flops`,
    when the caller has it)."""
    if precision not in PRECISIONS:
        raise ValueError(f"`precision` must be one of {PRECISIONS}; got {precision!r}.")
    if precision == "float64" or jnp.asarray(x).dtype != jnp.float64:
        return False
    if precision == "auto":
        cost = estimated_flops(jax.value_and_grad(potential_fn), x) if cost is None else cost
        if cost is None or weighted_flops(cost) < SINGLE_FLOPS:
            return False
    return traces_in_float32(potential_fn, x)


def float32_twin(potential_fn: Callable, dim: int) -> Callable:
    """``x -> (U(x), grad U(x))`` for float32 points ``x`` ``(dim,)``, traced once with float64 off
    (its constants, the model's data, in float32) and callable inside programs traced with float64
    on, where it stays in float32."""
    shape = jax.ShapeDtypeStruct((dim,), jnp.float32)
    closed = in_float32(lambda: jax.make_jaxpr(jax.value_and_grad(potential_fn))(shape))
    run = jax.extend.core.jaxpr_as_fun(closed)
    return lambda x: tuple(run(x))
