"""The global data order is a function of (seed, step) alone, whatever the process count."""

from __future__ import annotations

import numpy as np
import pytest

from tinymyo_jax.data.pipeline import (
    ArraySource,
    HostBatchReader,
    batch_composition,
    iterate_batches,
    make_order,
)


def _sources(sizes=(37, 11)):
    sources = []
    for d, n in enumerate(sizes):
        ids = np.arange(n)
        emg = np.zeros((n, 2, 4), np.float16) + (1000 * d + ids)[:, None, None]
        sources.append(ArraySource({"emg": emg, "channel_mask": np.ones((n, 2), bool)}))
    return sources


def _ids(batch):
    return batch["emg"][:, 0, 0].astype(int)  # 1000 * dataset + record


@pytest.mark.parametrize(
    "weights,batch,expected",
    [((1, 1, 1), 512, (171, 171, 170)), ((3, 1), 8, (6, 2)), ((1, 0), 5, (5, 0)), ((0.2, 0.3, 0.5), 10, (2, 3, 5))],
)
def test_batch_composition_follows_the_weights_exactly(weights, batch, expected):
    assert batch_composition(weights, batch) == expected


def test_composition_rejects_meaningless_weights():
    with pytest.raises(ValueError):
        batch_composition((0, 0), 4)


def test_each_dataset_is_walked_without_replacement_within_an_epoch():
    order = make_order([37, 11], [3, 1], 8, seed=0)  # 6 + 2 per batch
    seen = {0: [], 1: []}
    for step in range(6):  # 36 rows of dataset 0 (< 37), 12 rows of dataset 1 (> 11: next epoch)
        datasets, records = order.global_batch_rows(step)
        for d in (0, 1):
            seen[d].extend(records[datasets == d].tolist())
    assert len(set(seen[0])) == 36
    assert sorted(seen[1][:11]) == list(range(11))  # a full pass before any repeat


def test_order_depends_on_seed_and_step_only():
    a = make_order([37, 11], [1, 1], 8, seed=5)
    b = make_order([37, 11], [1, 1], 8, seed=5)
    c = make_order([37, 11], [1, 1], 8, seed=6)
    for step in (0, 3, 40):
        np.testing.assert_array_equal(a.global_batch_rows(step)[1], b.global_batch_rows(step)[1])
    assert any((a.global_batch_rows(s)[1] != c.global_batch_rows(s)[1]).any() for s in range(3))


@pytest.mark.parametrize("processes", [2, 4])
def test_hosts_together_read_exactly_the_single_host_batch(processes):
    sources = _sources()
    order = make_order([len(s) for s in sources], [1, 1], 8, seed=1)
    whole = HostBatchReader(sources, order)(7)
    parts = [HostBatchReader(sources, order, p, processes)(7) for p in range(processes)]
    np.testing.assert_array_equal(_ids(whole), np.concatenate([_ids(p) for p in parts]))


def test_resuming_at_a_step_yields_the_same_batches_as_an_uninterrupted_run():
    sources = _sources()
    reader = HostBatchReader(sources, make_order([37, 11], [1, 1], 8, seed=2))
    full = [_ids(b) for b in iterate_batches(reader, 0, 10)]
    resumed = [_ids(b) for b in iterate_batches(reader, 6, 10)]
    for a, b in zip(full[6:], resumed):
        np.testing.assert_array_equal(a, b)
    assert [int(b["step"]) for b in iterate_batches(reader, 6, 10)] == [6, 7, 8, 9]


def test_worker_processes_give_the_same_batches():
    reader = HostBatchReader(_sources(), make_order([37, 11], [1, 1], 8, seed=3))
    inline = [_ids(b) for b in iterate_batches(reader, 0, 4)]
    workers = [_ids(b) for b in iterate_batches(reader, 0, 4, worker_count=2)]
    for a, b in zip(inline, workers):
        np.testing.assert_array_equal(a, b)


def test_a_global_batch_that_does_not_split_over_hosts_is_refused():
    order = make_order([37, 11], [1, 1], 6, seed=0)
    with pytest.raises(ValueError, match="not divisible by 4 processes"):
        HostBatchReader(_sources(), order, 0, 4)
