"""Argument checks shared by the samplers (a ``ValueError`` naming the argument, before any work),
and the host-side finiteness check of computed values."""
from __future__ import annotations

import numpy as np

__all__ = ["check_count", "check_positive", "all_finite"]


def check_count(name: str, value, least: int) -> None:
    """``value`` must be an integer (not a bool) of at least ``least``."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)) or value < least:
        raise ValueError(f"`{name}` must be an integer >= {least}; got {value!r}.")


def check_positive(name: str, value, allow_zero: bool = False) -> None:
    """``value`` must be a real number ``> 0`` (``>= 0`` with ``allow_zero``)."""
    ok = isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, (bool, np.bool_))
    if not ok or not (value >= 0 if allow_zero else value > 0):
        raise ValueError(f"`{name}` must be a {'non-negative' if allow_zero else 'positive'} number; got {value!r}.")


def all_finite(*arrays) -> bool:
    """Whether every entry of every array is finite, checked with NumPy on the host: for the
    checks between compiled stages, where ``bool(jnp.all(jnp.isfinite(a)))`` would compile two
    small programs for every new shape."""
    return all(bool(np.isfinite(np.asarray(a)).all()) for a in arrays)
