"""The Myo armband corpus on its real published files, and the transfer protocols.

The reader and preparation are checked against an independent count made here with numpy from
the raw files (windows, labels and cycles per participant and round), on a few participants of
../shared/real/myo_armband (skipped when that folder is absent).
"""

from __future__ import annotations

import collections
import json
import os
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import real_dir
from tinymyo_jax.data.readers import myo_armband as reader
from tinymyo_jax.data.source import WindowShards
from tinymyo_jax.evaluate import transfer

# two pretraining participants (one of them is held out for validation), three evaluation ones
CHOSEN = ("PreTrainingDataset/Female0", "PreTrainingDataset/Male3",
          "EvaluationDataset/Female1", "EvaluationDataset/Male0", "EvaluationDataset/Male15")  # fmt: skip
WINDOW, STRIDE = 200, 100


@pytest.fixture(scope="module")
def real_subset(tmp_path_factory) -> Path:
    """A manual dir of symbolic links to `CHOSEN` participants of the real corpus."""
    source = real_dir() / "myo_armband"
    if not (source / "EvaluationDataset").is_dir():
        pytest.skip(f"the real Myo armband corpus is not at {source} (set TINYMYO_REAL)")
    root = tmp_path_factory.mktemp("myo_raw")
    for name in CHOSEN:
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        os.symlink(source / name, root / name)
    return root


@pytest.fixture(scope="module")
def prepared(real_subset, tmp_path_factory) -> Path:
    from tinymyo_jax.data.builder import builder_class

    data_dir = tmp_path_factory.mktemp("myo_tfds")
    builder = builder_class("myo_armband")(data_dir=str(data_dir), config="w200")
    builder.show_progress = builder.print_summary = False
    builder.num_workers = 1
    import tensorflow_datasets as tfds

    builder.download_and_prepare(download_config=tfds.download.DownloadConfig(manual_dir=str(real_subset)))
    return data_dir


def numpy_count(root: Path) -> collections.Counter:
    """(subject, round, cycle, label) -> windows, from the raw bytes alone: int16 values / 8
    channels = samples; windows of 200 with stride 100 that fit; label i mod 7, cycle i div 7."""
    counts: collections.Counter = collections.Counter()
    ids = {"PreTrainingDataset": {"Female": 0, "Male": 10}, "EvaluationDataset": {"Female": 100, "Male": 110}}
    for file in root.glob("*/*/*/classe_*.dat"):
        part, person, round_name = file.parts[-4:-1]
        sex = "Female" if person.startswith("Female") else "Male"
        subject = ids[part][sex] + int(person[len(sex):])
        samples = os.path.getsize(file) // 2 // 8
        i = int(file.stem.split("_")[1])
        windows = max(0, (samples - WINDOW) // STRIDE + 1)
        counts[(subject, round_name, i // 7, i % 7)] += windows
    return counts


def test_prepared_windows_match_an_independent_count_per_participant_round_cycle_and_label(real_subset, prepared):
    expected = numpy_count(real_subset)
    report = json.loads(next(prepared.rglob("prep_report.json")).read_text())
    assert all(f["status"] == "used" for f in report["files"]) and len(report["files"]) == 2 * 28 + 3 * 84
    got: collections.Counter = collections.Counter()
    for split in ("train", "validation", "evaluation"):
        shards = WindowShards("myo_armband", split, data_dir=prepared, config="w200", fields=("subject", "label", "file_index", "channel_mask"))
        batch = shards.read_batch(np.arange(len(shards)))
        assert batch["channel_mask"][:, :8].all() and not batch["channel_mask"][:, 8:].any()
        for subject, label, index in zip(batch["subject"], batch["label"], batch["file_index"]):
            where = reader.describe(report["files"][int(index)]["file"])
            assert (where["subject"], where["label"]) == (int(subject), int(label))
            got[(int(subject), where["round"], where["cycle"], int(label))] += 1
    assert got == expected
    # every window of the report is in a shard, nothing dropped on the way
    assert report["consistent"] and report["totals"]["windows"] == sum(expected.values())


def test_w200_windows_are_the_raw_counts_divided_by_the_rounds_pooled_std_with_no_filter(real_subset, prepared):
    """docs/data.md (myo_armband): no band-pass, no notch; each channel scaled by its std over
    the whole round. Every evaluation window is checked against the raw bytes alone: it must be
    one of its file's windows (stride 100) of int16 counts / the round's pooled std."""
    report = json.loads(next(prepared.rglob("prep_report.json")).read_text())
    shards = WindowShards("myo_armband", "evaluation", data_dir=prepared, config="w200", fields=("emg", "file_index"))
    batch = shards.read_batch(np.arange(len(shards)))
    expected, round_std = {}, {}
    for index in np.unique(batch["file_index"]):
        file = Path(report["files"][int(index)]["file"])
        file = file if file.is_absolute() else real_subset / file
        if file.parent not in round_std:
            pooled = np.concatenate([np.fromfile(f, "<i2").reshape(-1, 8) for f in sorted(file.parent.glob("classe_*.dat"))])
            round_std[file.parent] = pooled.astype(np.float64).std(0, ddof=1)
        x = np.fromfile(file, "<i2").reshape(-1, 8) / round_std[file.parent]
        expected[int(index)] = np.stack([x[s:s + WINDOW].T for s in range(0, len(x) - WINDOW + 1, STRIDE)])
    for emg, index in zip(batch["emg"], batch["file_index"]):
        error = np.abs(expected[int(index)] - emg[:8].astype(np.float64)).max(axis=(1, 2))
        assert error.min() < 1e-2  # float16 storage of values of order 1
    assert len(expected) == 3 * 84


def test_pretraining_participants_feed_train_and_validation_and_evaluation_participants_only_evaluation(prepared):
    subjects = {}
    for split in ("train", "validation", "evaluation"):
        shards = WindowShards("myo_armband", split, data_dir=prepared, config="w200", fields=("subject",))
        subjects[split] = set(shards.read_batch(np.arange(len(shards)))["subject"].tolist())
    assert subjects["train"] | subjects["validation"] == {0, 13}
    assert subjects["train"] and not subjects["train"] & subjects["validation"]
    assert subjects["evaluation"] == {101, 110, 125}


def test_the_reader_returns_the_raw_counts_at_200_hz_with_the_label_of_the_file_name(real_subset):
    file = real_subset / "EvaluationDataset" / "Male0" / "Test1" / "classe_26.dat"
    (recording,) = reader.read_file(file, real_subset, "myo_armband")
    raw = np.fromfile(file, "<i2").reshape(-1, 8)
    np.testing.assert_array_equal(recording.emg, raw.astype(np.float32))
    assert recording.fs == 200.0 and recording.meta.subject == 110
    assert set(recording.labels.tolist()) == {26 % 7}
    assert recording.meta.extra["cycle"] == 3 and recording.meta.extra["round"] == "Test1"


def test_a_truncated_file_is_refused_with_its_reason(tmp_path):
    file = tmp_path / "EvaluationDataset" / "Male0" / "training0" / "classe_0.dat"
    file.parent.mkdir(parents=True)
    np.arange(8 * 10 + 3, dtype="<i2").tofile(file)
    with pytest.raises(reader.RawFileError, match="whole frames"):
        reader.read_file(file, tmp_path, "myo_armband")


# ----------------------------------------------------------------------------- protocols


def synthetic_table() -> transfer.WindowTable:
    """3 windows per file of 3 participants: 3 rounds x 28 files each."""
    subject, rounds, cycles, labels = [], [], [], []
    for p in (110, 111, 112):
        for r in transfer.ROUNDS:
            for i in range(28):
                for _ in range(3):
                    subject.append(p), rounds.append(r), cycles.append(i // 7), labels.append(i % 7)
    return transfer.WindowTable(np.array(subject), np.array(rounds, dtype=object), np.array(cycles), np.array(labels))


@pytest.mark.parametrize("k", [1, 2, 4])
def test_k_cycles_trains_on_exactly_the_first_k_cycles_of_training0_and_tests_on_test0_and_test1(k):
    table = synthetic_table()
    train, test = transfer.within_participant(table, 111, k)
    assert set(table.subject[train]) == {111} and set(table.round[train]) == {"training0"}
    assert sorted(set(table.cycle[train])) == list(range(k))
    assert len(train) == 3 * 7 * k  # every window of those 7k files
    assert set(table.subject[test]) == {111} and set(table.round[test]) == {"Test0", "Test1"} and len(test) == 2 * 28 * 3


def test_k_cycles_means_exactly_the_files_classe_0_to_7k_minus_1_on_the_real_table(real_subset, prepared):
    shards = WindowShards("myo_armband", "evaluation", data_dir=prepared, config="w200", fields=("subject", "label", "file_index"))
    batch = shards.read_batch(np.arange(len(shards)))
    report = json.loads((shards.directory / "prep_report.json").read_text())
    table = transfer.window_table(report["files"], batch["file_index"], batch["subject"], batch["label"])
    for k in (1, 2, 4):
        train, _ = transfer.within_participant(table, 110, k)
        files = {report["files"][int(i)]["file"] for i in batch["file_index"][train]}
        assert files == {f"EvaluationDataset/Male0/training0/classe_{i}.dat" for i in range(7 * k)}


def test_new_user_keeps_the_left_out_participant_on_the_test_side_only():
    table = synthetic_table()
    for p in (110, 111, 112):
        train, test = transfer.new_user(table, p, [110, 111, 112])
        assert not set(table.subject[train]) & set(table.subject[test])
        assert set(table.subject[test]) == {p} and set(table.subject[train]) == {110, 111, 112} - {p}
        assert len(train) + len(test) == len(table)


def test_the_protocols_refuse_participants_and_cycles_outside_them():
    table = synthetic_table()
    with pytest.raises(ValueError, match="cycles"):
        transfer.within_participant(table, 110, 5)
    with pytest.raises(ValueError, match="no windows"):
        transfer.within_participant(table, 999, 1)
    with pytest.raises(ValueError, match="not one of"):
        transfer.new_user(table, 125, [110, 111])


def test_the_published_participants_are_the_17_and_male15_is_the_tuning_one():
    assert len(transfer.PUBLISHED) == 17 and transfer.TUNING not in transfer.PUBLISHED
    assert reader.participant_name(transfer.TUNING) == "EvaluationDataset/Male15"
    assert [reader.participant_name(p) for p in transfer.PUBLISHED[:3]] == [
        "EvaluationDataset/Female0", "EvaluationDataset/Female1", "EvaluationDataset/Male0"]
