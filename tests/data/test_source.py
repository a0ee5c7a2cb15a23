"""WindowShards: the TensorFlow-free random-access reader of prepared splits."""

from __future__ import annotations

import pickle

import grain
import numpy as np
import pytest
import tensorflow_datasets as tfds

from tests.data.prep_reference import build
from tinymyo_jax.data.source import WindowShards, dataset_dir
from tinymyo_jax.data.synth import write_raw_corpus
from tinymyo_jax.errors import UserError


@pytest.fixture(scope="module")
def prepared(tmp_path_factory):
    """NinaPro DB8 (a target feature) in both configs, the w1000 train split over 3 shards."""
    root = tmp_path_factory.mktemp("source")
    write_raw_corpus("ninapro_db8", root / "raw", seed=0, num_subjects=1)
    build("ninapro_db8", root / "raw", root / "tfds", num_shards=3)
    build("ninapro_db8", root / "raw", root / "tfds", config="w200")
    return root / "tfds"


def test_records_equal_tfds_data_source_in_the_requested_order(prepared):
    shards = WindowShards("ninapro_db8", "train", data_dir=prepared)
    reference = tfds.data_source("ninapro_db8", data_dir=prepared)["train"]
    assert len(shards) == len(reference) and len(shards.paths) == 3
    indices = np.r_[len(shards) - 1, 0, np.arange(3, len(shards), 7), 0]  # every shard, a repeat
    batch = shards.read_batch(indices)
    assert set(batch) == {"emg", "channel_mask", "subject", "dataset", "file_index", "recording", "start", "target"}
    assert batch["emg"].shape == (len(indices), 16, 1000) and batch["emg"].dtype == np.float16
    assert batch["target"].shape == (len(indices), 1000, 5) and batch["channel_mask"].dtype == bool
    for row, index in enumerate(indices):
        expected = reference[int(index)]
        for key, value in expected.items():
            np.testing.assert_array_equal(batch[key][row], value, err_msg=key)
    single = shards[int(indices[2])]
    for key in batch:
        np.testing.assert_array_equal(single[key], batch[key][2])


def test_fields_configs_and_default_data_dir(prepared, monkeypatch):
    monkeypatch.setenv("TFDS_DATA_DIR", str(prepared))
    short = WindowShards("ninapro_db8", "test", config="w200", fields=("emg", "channel_mask"))
    assert short.directory == prepared / "ninapro_db8" / "w200" / "1.0.0"
    assert set(short.read_batch([0, 1])) == {"emg", "channel_mask"}
    assert short[0]["emg"].shape == (16, 200)
    assert dataset_dir("ninapro_db8").parent.name == "w1000"  # the default config
    with pytest.raises(UserError, match="splits"):
        WindowShards("ninapro_db8", "nosuch")
    with pytest.raises(UserError, match="no prepared dataset"):
        WindowShards("emg2pose")
    with pytest.raises(UserError, match="no feature"):
        WindowShards("ninapro_db8", fields=("label",))
    with pytest.raises(IndexError):
        short.read_batch([len(short)])


def test_pickles_and_serves_grain(prepared):
    shards = WindowShards("ninapro_db8", "validation", data_dir=prepared, fields=("emg", "target"))
    first = shards[5]
    copy = pickle.loads(pickle.dumps(shards))  # open readers are not pickled, reopened on use
    np.testing.assert_array_equal(copy[5]["emg"], first["emg"])
    dataset = grain.MapDataset.source(shards).shuffle(seed=1).batch(4)
    batch = dataset[0]
    assert batch["emg"].shape == (4, 16, 1000) and batch["target"].shape == (4, 1000, 5)
    items = shards._getitems([5, 2])  # grain's batched-read hook
    np.testing.assert_array_equal(items[0]["emg"], first["emg"])


def test_concurrent_reads_from_threads_return_the_right_records(prepared):
    import concurrent.futures

    shards = WindowShards("ninapro_db8", "train", data_dir=prepared, fields=("start", "file_index"))
    order = np.random.default_rng(0).permutation(len(shards))
    expected = WindowShards("ninapro_db8", "train", data_dir=prepared, fields=("start", "file_index")).read_batch(order)
    chunks = np.array_split(order, 16)
    with concurrent.futures.ThreadPoolExecutor(4) as pool:  # the readers hold a cursor: seek + read
        results = list(pool.map(shards.read_batch, chunks))
    for key in expected:
        np.testing.assert_array_equal(np.concatenate([r[key] for r in results]), expected[key])
