"""Save a trained :class:`~numpyro_pinn.PINNSampler` to one file and load it back.

The file holds arrays and plain data only, never code (flax's msgpack serialisation of a
pytree of arrays, plus JSON metadata and a format version). What a sampler writes is decided by
the sampler (:meth:`numpyro_pinn.PINNSampler.save`); this module owns the file format, the
transport configurations as plain data, and the latent layout that a loaded model must match.
"""
from __future__ import annotations

import dataclasses
import json

import jax
import jax.numpy as jnp
import numpy as np
from flax import serialization

from numpyro_pinn.transports import DPSTransport, ODETransport
from numpyro_pinn.target import latent_sites

__all__ = ["FORMAT_VERSION", "write", "read", "latent_layout", "check_layout", "transport_to_dict",
           "transport_from_dict"]

#: Version of the file layout; :func:`read` refuses files of another version.
FORMAT_VERSION = 1
_TRANSPORTS = {"ODETransport": ODETransport, "DPSTransport": DPSTransport}


def latent_layout(target) -> dict:
    """``{site path: (shape, dtype)}`` of a target's unconstrained parameters (one ``x0``)."""
    return {name: [list(np.shape(v)), str(jnp.asarray(v).dtype)] for name, v in latent_sites(target)}


def _np(tree):
    return jax.tree_util.tree_map(np.asarray, tree)


def transport_to_dict(config) -> dict:
    """A transport configuration (:class:`ODETransport` or :class:`DPSTransport`) as plain data."""
    fields = {f.name: getattr(config, f.name) for f in dataclasses.fields(config) if f.init}
    return {"class": type(config).__name__, "fields": fields}


def transport_from_dict(d: dict):
    """Inverse of :func:`transport_to_dict`."""
    cls = _TRANSPORTS[d["class"]]
    known = {f.name for f in dataclasses.fields(cls) if f.init}  # options since removed are dropped
    fields = {k: tuple(v) if isinstance(v, list) else v for k, v in d["fields"].items() if k in known}
    return cls(**fields)


def write(path: str, meta: dict, arrays: dict) -> None:
    """Write plain metadata (JSON) and a pytree of arrays (dicts, ``None`` leaves allowed) to ``path``."""
    state = {"format_version": FORMAT_VERSION, "meta": json.dumps(meta), "arrays": _np(arrays)}
    with open(path, "wb") as fh:
        fh.write(serialization.msgpack_serialize(state))


def read(path: str) -> tuple[dict, dict]:
    """``(meta, arrays)`` from a file written by :func:`write`; refuses another format version."""
    with open(path, "rb") as fh:
        state = serialization.msgpack_restore(fh.read())
    version = state.get("format_version") if isinstance(state, dict) else None
    if version != FORMAT_VERSION:
        raise ValueError(f"{path} is not a numpyro-pinn sampler file of format version {FORMAT_VERSION} "
                         f"(found version {version}).")
    return json.loads(state["meta"]), state["arrays"]


def check_layout(saved: dict, target) -> None:
    """Raise a ``ValueError`` naming the sites whose presence or shape differs between a saved
    :func:`latent_layout` and ``target``'s."""
    now = latent_layout(target)
    missing = sorted(set(saved) - set(now))
    extra = sorted(set(now) - set(saved))
    if missing or extra:
        parts = ([f"saved but not in this model: {', '.join(missing)}"] if missing else []) + \
            ([f"in this model but not saved: {', '.join(extra)}"] if extra else [])
        raise ValueError("The model's latent sites differ from the saved sampler's: " + "; ".join(parts))
    for site, (shape, _) in saved.items():
        if list(now[site][0]) != list(shape):
            raise ValueError(f"Latent site '{site}' has shape {tuple(now[site][0])} here but {tuple(shape)} in the "
                             "saved sampler.")
