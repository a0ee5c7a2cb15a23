"""The pretraining input pipeline: which windows make up each global batch, and reading them.

The global data order is a pure function of (seed, global step):

- every global batch holds a fixed number of windows from each dataset of the mixture
  (`batch_composition`, largest-remainder rounding of the weights);
- dataset d's k-th window overall is `permutation(seed, d, epoch)[k mod N_d]` with epoch
  = k // N_d, so each dataset is walked in a fresh shuffle every pass, without replacement;
- the rows of the global batch are shuffled with (seed, step), then process p of P takes the
  contiguous block p of P (the rows its devices hold).

So the data-iterator state is the step alone: a run resumed on another number of hosts or
devices reads exactly the windows the original would have (grain's own per-process iterator
state cannot do this). grain runs the step -> batch map with prefetching and, optionally,
worker processes.
"""

from __future__ import annotations

import collections
from dataclasses import dataclass
from typing import Iterator, Mapping, Protocol, Sequence

import grain
import numpy as np
from absl import flags


class WindowSource(Protocol):
    """Random access to a prepared split's window records."""

    def __len__(self) -> int: ...

    def read_batch(self, indices: Sequence[int]) -> dict[str, np.ndarray]:
        """Records at `indices` stacked: at least emg (n, C, T) and channel_mask (n, C)."""
        ...


def batch_composition(weights: Sequence[float], global_batch: int) -> tuple[int, ...]:
    """Windows per dataset in every global batch: weights normalised, largest remainder."""
    w = np.asarray(weights, dtype=np.float64)
    if w.ndim != 1 or len(w) == 0 or (w < 0).any() or w.sum() <= 0:
        raise ValueError(f"mixture weights must be non-negative with a positive sum, got {list(weights)}")
    exact = w / w.sum() * global_batch
    counts = np.floor(exact).astype(np.int64)
    # ties broken by dataset order, so the composition is deterministic
    for index in np.argsort(-(exact - counts), kind="stable")[: global_batch - counts.sum()]:
        counts[index] += 1
    return tuple(int(c) for c in counts)


@dataclass(frozen=True)
class MixtureOrder:
    """The global data order: (dataset, record) of every row of every global batch."""

    sizes: tuple[int, ...]  # windows per dataset
    composition: tuple[int, ...]  # windows per dataset per global batch
    seed: int

    def __post_init__(self) -> None:
        for size, count in zip(self.sizes, self.composition):
            if count and size == 0:
                raise ValueError("a dataset with weight > 0 has no windows")

    @property
    def global_batch(self) -> int:
        return sum(self.composition)

    def permutation(self, dataset: int, epoch: int) -> np.ndarray:
        return _cached_permutation(self.seed, dataset, epoch, self.sizes[dataset])

    def global_batch_rows(self, step: int) -> tuple[np.ndarray, np.ndarray]:
        """(dataset ids, record ids), each (global_batch,), of the global batch at `step`."""
        datasets, records = [], []
        for d, count in enumerate(self.composition):
            if not count:
                continue
            positions = step * count + np.arange(count, dtype=np.int64)
            epochs, offsets = np.divmod(positions, self.sizes[d])
            ids = np.empty(count, dtype=np.int64)
            for epoch in np.unique(epochs):
                where = epochs == epoch
                ids[where] = self.permutation(d, int(epoch))[offsets[where]]
            datasets.append(np.full(count, d, dtype=np.int64))
            records.append(ids)
        order = np.random.default_rng([self.seed, 1, step]).permutation(self.global_batch)
        return np.concatenate(datasets)[order], np.concatenate(records)[order]


_PERMUTATIONS: "collections.OrderedDict[tuple, np.ndarray]" = collections.OrderedDict()


def _cached_permutation(seed: int, dataset: int, epoch: int, size: int) -> np.ndarray:
    # A few epochs' permutations per process: consecutive steps reuse them, and the cache is
    # bounded so a 5M-window corpus costs ~40 MB per cached epoch at most.
    key = (seed, dataset, epoch, size)
    if key not in _PERMUTATIONS:
        _PERMUTATIONS[key] = np.random.default_rng([seed, 0, dataset, epoch]).permutation(size)
        while len(_PERMUTATIONS) > 4:
            _PERMUTATIONS.popitem(last=False)
    _PERMUTATIONS.move_to_end(key)
    return _PERMUTATIONS[key]


def host_rows(global_batch: int, process_index: int, process_count: int) -> slice:
    """The contiguous block of global-batch rows that one process reads."""
    if global_batch % process_count:
        raise ValueError(f"global batch {global_batch} is not divisible by {process_count} processes")
    per_host = global_batch // process_count
    return slice(process_index * per_host, (process_index + 1) * per_host)


class HostBatchReader:
    """step -> this process's share of the global batch, as a dict of numpy arrays.

    A picklable callable, so grain can run it in worker processes.
    """

    def __init__(
        self,
        sources: Sequence[WindowSource],
        order: MixtureOrder,
        process_index: int = 0,
        process_count: int = 1,
        fields: Sequence[str] = ("emg", "channel_mask"),
    ) -> None:
        self.sources = list(sources)
        self.order = order
        self.rows = host_rows(order.global_batch, process_index, process_count)
        self.fields = tuple(fields)

    def __call__(self, step: int) -> dict[str, np.ndarray]:
        datasets, records = self.order.global_batch_rows(step)
        datasets, records = datasets[self.rows], records[self.rows]
        out: dict[str, np.ndarray] = {}
        for d in np.unique(datasets):
            where = np.flatnonzero(datasets == d)
            batch = self.sources[d].read_batch(records[where])
            for name in self.fields:
                values = np.asarray(batch[name])
                if name not in out:
                    out[name] = np.empty((len(datasets), *values.shape[1:]), values.dtype)
                out[name][where] = values
        out["step"] = np.asarray(step, dtype=np.int64)
        return out


def make_order(sizes: Sequence[int], weights: Sequence[float], global_batch: int, seed: int) -> MixtureOrder:
    return MixtureOrder(tuple(int(s) for s in sizes), batch_composition(weights, global_batch), seed)


def iterate_batches(
    reader: HostBatchReader,
    start_step: int,
    stop_step: int,
    *,
    worker_count: int = 0,
    prefetch: int = 2,
) -> Iterator[dict[str, np.ndarray]]:
    """Host batches for steps [start_step, stop_step), prefetched; resuming = a new start_step."""
    dataset = grain.MapDataset.range(start_step, stop_step).map(reader)
    iterator = dataset.to_iter_dataset(grain.ReadOptions(num_threads=max(1, prefetch), prefetch_buffer_size=max(1, prefetch)))
    if worker_count > 0:
        # grain's worker processes read absl flags; programs that do not use absl never parse them
        if not flags.FLAGS.is_parsed():
            flags.FLAGS.mark_as_parsed()
        iterator = iterator.mp_prefetch(grain.MultiprocessingOptions(num_workers=worker_count, per_worker_buffer_size=prefetch))
    return iter(iterator)


class ArraySource:
    """A WindowSource over in-memory arrays (tests, small evaluation sets)."""

    def __init__(self, arrays: Mapping[str, np.ndarray]) -> None:
        lengths = {len(v) for v in arrays.values()}
        if len(lengths) != 1:
            raise ValueError(f"arrays of different lengths: { {k: len(v) for k, v in arrays.items()} }")
        self.arrays = dict(arrays)
        self._length = lengths.pop()

    def __len__(self) -> int:
        return self._length

    def read_batch(self, indices: Sequence[int]) -> dict[str, np.ndarray]:
        indices = np.asarray(indices)
        return {name: values[indices] for name, values in self.arrays.items()}
