"""The device mesh and every sharding decision, in one place.

Axes: `data` (pure data parallelism) and `fsdp` (parameters and optimizer state sharded,
batch also split). The batch is split over both axes. A 3.6M-parameter model (14 MB) fits
any device, so data parallelism is the default (fsdp=1); FSDP is a config switch so that the
sharded path stays exercised, and, as big_vision does, only large parameters are sharded.
"""

from __future__ import annotations

import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec as P

BATCH_AXES = ("data", "fsdp")


def make_mesh(fsdp: int = 1, devices: list | None = None) -> Mesh:
    devices = list(jax.devices() if devices is None else devices)
    if fsdp < 1 or len(devices) % fsdp:
        raise ValueError(f"mesh.fsdp={fsdp} must divide the {len(devices)} devices")
    grid = np.asarray(devices).reshape(len(devices) // fsdp, fsdp)
    return Mesh(grid, BATCH_AXES)


def batch_sharding(mesh: Mesh) -> NamedSharding:
    """Leading (batch) axis split over every device."""
    return NamedSharding(mesh, P(BATCH_AXES))


def replicated(mesh: Mesh) -> NamedSharding:
    return NamedSharding(mesh, P())


def parameter_spec(shape: tuple[int, ...], fsdp: int, min_params: int) -> P:
    """Shard the largest axis divisible by the fsdp size; small or indivisible stay replicated."""
    if fsdp == 1 or int(np.prod(shape, dtype=np.int64)) < min_params:
        return P()
    for axis in sorted(range(len(shape)), key=lambda a: -shape[a]):
        if shape[axis] % fsdp == 0:
            spec = [None] * len(shape)
            spec[axis] = "fsdp"
            return P(*spec)
    return P()


def state_shardings(abstract_state, mesh: Mesh, min_params: int):
    """NamedShardings for a pytree of arrays (params, optimizer moments, step)."""
    fsdp = mesh.shape["fsdp"]
    return jax.tree.map(
        lambda leaf: NamedSharding(mesh, parameter_spec(tuple(leaf.shape), fsdp, min_params)), abstract_state
    )
