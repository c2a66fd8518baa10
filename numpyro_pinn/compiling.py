"""How the package compiles its programs.

Every program the package compiles goes through :func:`jit` or :func:`jit_once`. On CPU both
pass XLA options: :data:`CPU_OPTIONS` (XLA's legacy fusion emitters, which compile in about half
the time of its newer ones at the same run time on this package's programs, and LLVM's first
optimisation level instead of its third, which compiles faster still and runs the package's
programs as fast: a run compiles hundreds of programs, and on a CPU their compilation is much of
its wall time), and for :func:`jit_once` also no backend optimisation (:data:`ONCE_OPTIONS`). A
run compiles many small programs (the Laplace fit, the importance weights of each candidate
base, the tail checks, the screen's short SMC run) that each run for a fraction of the time XLA
takes to optimise them: those go through :func:`jit_once`. The training loop, the full SMC run
and the ODE solves that draw go through :func:`jit`. Options the installed XLA does not know are
left out. On other backends both are ``jax.jit``.
"""
from __future__ import annotations

import functools
import os
from typing import Callable, Optional

import jax

__all__ = ["jit", "jit_once", "CPU_OPTIONS", "ONCE_OPTIONS", "cheap_to_run", "estimated_flops", "weighted_flops",
           "CHEAP_FLOPS", "TRANSCENDENTAL_FLOPS", "cache_compiled_programs", "hoists_constants",
           "HOISTING_ENVIRONMENT"]

#: XLA options for :func:`jit`'s programs on CPU.
CPU_OPTIONS = {"xla_cpu_use_fusion_emitters": False, "xla_backend_optimization_level": 1}
#: XLA options for :func:`jit_once`'s programs on CPU.
ONCE_OPTIONS = {**CPU_OPTIONS, "xla_backend_optimization_level": 0}
#: :func:`cheap_to_run`'s budget: XLA's estimated floating-point operations per call, each
#: transcendental function (``exp``, ``log``) counted as :data:`TRANSCENDENTAL_FLOPS`.
CHEAP_FLOPS = 2e4
TRANSCENDENTAL_FLOPS = 20


def jit(fun: Optional[Callable] = None, **jit_kwargs):
    """``jax.jit(fun, **jit_kwargs)``, compiled on CPU with :data:`CPU_OPTIONS`. Usable as a
    decorator, with or without arguments (``@jit``, ``@partial(jit, static_argnums=0)``). The
    backend is read at the first call, so importing a module does not initialise JAX's backends.
    Called inside another compiled function, it is part of that program and compiled as it is."""
    if fun is None:
        return functools.partial(jit, **jit_kwargs)
    return _with_options(fun, CPU_OPTIONS, jit_kwargs)


def jit_once(fun: Optional[Callable] = None, **jit_kwargs):
    """:func:`jit` for a program whose compile time exceeds its run time: on CPU it is compiled
    with :data:`ONCE_OPTIONS`."""
    if fun is None:
        return functools.partial(jit_once, **jit_kwargs)
    return _with_options(fun, ONCE_OPTIONS, jit_kwargs)


def _with_options(fun: Callable, options: dict, jit_kwargs: dict) -> Callable:
    nested = jax.jit(fun, **jit_kwargs)
    top = []

    @functools.wraps(fun)
    def call(*args, **kwargs):
        if any(isinstance(leaf, jax.core.Tracer) for leaf in jax.tree_util.tree_leaves((args, kwargs))):
            return nested(*args, **kwargs)
        if not top:
            accepted = _accepted(tuple(sorted(options.items()))) if jax.default_backend() == "cpu" else {}
            top.append(jax.jit(fun, compiler_options=accepted or None, **jit_kwargs))
        return top[0](*args, **kwargs)

    return call


@functools.lru_cache(maxsize=None)
def _accepted(options: tuple) -> dict:
    """The ``(name, value)`` pairs of ``options`` that the default backend's compiler accepts, as
    a dict: each is tried once on a trivial program (an XLA that does not know an option refuses
    to compile with it)."""
    out = {}
    for name, value in options:
        try:
            jax.jit(lambda x: x + 1, compiler_options={name: value}).lower(1.0).compile()
        except Exception:  # noqa: BLE001 - this XLA does not take it
            continue
        out[name] = value
    return out


def estimated_flops(fun: Callable, *example_args) -> Optional[tuple]:
    """XLA's estimate of one call of ``fun`` on arguments like ``example_args``: ``(floating-point
    operations, transcendental functions)``, from the lowered program (nothing is compiled);
    ``None`` where XLA gives none."""
    try:
        cost = jax.jit(fun).lower(*example_args).cost_analysis()
    except Exception:  # noqa: BLE001 - no estimate
        return None
    if isinstance(cost, (list, tuple)):
        cost = cost[0] if cost else None
    if not cost or "flops" not in cost:
        return None
    return float(cost["flops"]), float(cost.get("transcendentals", 0.0))


def cheap_to_run(fun: Callable, *example_args) -> bool:
    """Whether one call of ``fun`` on arguments like ``example_args`` costs at most
    :data:`CHEAP_FLOPS` by XLA's estimate (:func:`estimated_flops`). A program that calls a cheap
    ``fun`` many times can be compiled with :func:`jit_once`: less optimisation slows a cheap
    function's calls by less than it saves in compilation. ``False`` where XLA gives no estimate."""
    return weighted_flops(estimated_flops(fun, *example_args)) <= CHEAP_FLOPS


def weighted_flops(cost: Optional[tuple]) -> float:
    """One number for an :func:`estimated_flops` result: the operations plus
    :data:`TRANSCENDENTAL_FLOPS` per transcendental function; infinite for ``None`` (no estimate:
    not known to be cheap)."""
    return float("inf") if cost is None else cost[0] + TRANSCENDENTAL_FLOPS * cost[1]


#: The environment variables that make JAX pass the arrays a program closes over (the model's
#: data among them) as arguments of the compiled program, read when JAX is imported.
HOISTING_ENVIRONMENT = {"JAX_USE_SIMPLIFIED_JAXPR_CONSTANTS": "True", "JAX_EMBEDDED_CONSTANTS_MAX_BYTES": "0"}


def cache_compiled_programs(cache_dir: str) -> bool:
    """Keep every compiled program in JAX's persistent compilation cache at ``cache_dir`` (``~``
    expanded), so that a later run (in this process or another) loads what an earlier one
    compiled.

    Call it before the first run. Running the same script again then skips most compilation. A
    run on *new data* of the same shapes reuses the programs too, but only where JAX passes the
    data to its programs as arguments instead of compiling them in as constants: set the
    variables of :data:`HOISTING_ENVIRONMENT` before Python imports JAX, e.g.
    ``JAX_USE_SIMPLIFIED_JAXPR_CONSTANTS=True JAX_EMBEDDED_CONSTANTS_MAX_BYTES=0 python fit.py``
    (setting them once JAX is imported has no effect).

    Returns
    -------
    bool
        Whether closed-over arrays are passed as arguments in this process (checked on a small
        program), that is, whether new data can reuse the cached programs.

    Raises
    ------
    ValueError
        If ``cache_dir`` is not a non-empty path (a string or ``os.PathLike``).
    """
    if not isinstance(cache_dir, (str, os.PathLike)) or not os.fspath(cache_dir):
        raise ValueError(f"`cache_dir` must be a directory path (str or os.PathLike); got {cache_dir!r}.")
    jax.config.update("jax_compilation_cache_dir", os.path.expanduser(os.fspath(cache_dir)))
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
    jax.config.update("jax_persistent_cache_min_entry_size_bytes", -1)
    return hoists_constants()


def hoists_constants() -> bool:
    """Whether JAX passes a closed-over one-element array (the smallest the package closes over)
    to a compiled program as an argument: checked on a lowered program, nothing is compiled. See
    :func:`cache_compiled_programs`."""
    data = jax.numpy.ones(1)
    return "jax.const" in jax.jit(lambda x: x + data).lower(1.0).as_text()
