"""Data parallelism with JAX's own sharding: batches of points split across devices.

The sampler's work is embarrassingly parallel over points: collocation points in training, ODE
particles in sampling. :func:`data_sharding` builds a one-axis :class:`jax.sharding.Mesh` over the
chosen devices and a :class:`jax.sharding.NamedSharding` that splits the leading (batch) axis;
inside the jitted training step and the sampler, :func:`shard` constrains each batch to it and
XLA's SPMD partitioner runs the per-point work on each device's slice, with the parameters
replicated and the loss and gradients reduced across devices (an all-reduce). Nothing else changes,
so results match one device up to floating-point reassociation of the reductions.

Several hosts: call ``jax.distributed.initialize()`` on each host first; ``jax.devices()`` then
lists every host's devices and ``devices="all"`` spans them (each host runs the same program, as in
any multi-controller JAX job).
"""
from __future__ import annotations

from typing import Any, Optional, Sequence, Union

import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec

__all__ = ["data_sharding", "shard", "num_shards"]


def data_sharding(devices: Union[None, str, Sequence[Any]] = None) -> Optional[NamedSharding]:
    """The batch sharding over ``devices``: ``None`` (default: no constraint, one device),
    ``"all"`` (every device of ``jax.devices()``) or a sequence of devices."""
    if devices is None:
        return None
    if isinstance(devices, str):
        if devices != "all":
            raise ValueError(f"`devices` must be None, 'all' or a sequence of jax devices; got {devices!r}.")
        devices = jax.devices()
    devices = list(devices)
    if not devices:
        raise ValueError("`devices` is empty.")
    return NamedSharding(Mesh(np.array(devices), ("data",)), PartitionSpec("data"))


def num_shards(sharding: Optional[NamedSharding]) -> int:
    """Number of devices the batch axis is split over (1 without sharding)."""
    return 1 if sharding is None else int(sharding.mesh.devices.size)


def shard(x: jax.Array, sharding: Optional[NamedSharding]) -> jax.Array:
    """Constrain the leading axis of ``x`` (inside ``jit``) to be split across the mesh."""
    return x if sharding is None else jax.lax.with_sharding_constraint(x, sharding)
