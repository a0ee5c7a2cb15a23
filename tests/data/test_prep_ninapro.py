"""NinaPro DB5-DB8 preparation: synthetic raw corpus -> build -> records checked against the raw files.

Every expectation is recomputed from the .mat files with scipy.io and scipy.signal (see
prep_reference), from the protocol as the docs state it, not from tinymyo_jax.data.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import numpy as np
import pytest
import scipy.io

from tests.data.prep_reference import (
    assert_emg_matches, build, by_key, file_index, read_split, reference_preprocess, sliding_starts, window,
)  # fmt: skip
from tinymyo_jax.data.synth import write_raw_corpus

# Krasoulis et al. 2019 DoF -> DoA matrix (datasets.md §6.2), glove columns 1..18.
DOA = np.zeros((5, 18))
DOA[0, [0, 1, 3, 16]] = [0.6390, 0.3830, -0.6390, -0.1900]
DOA[1, 2] = 1.0
DOA[2, [4, 5]] = [0.4, 0.6]
DOA[3, [6, 7]] = [0.4, 0.6]
DOA[4, [9, 10, 12, 13]] = [0.1667, 0.3333, 0.1667, 0.3333]


def _corpus(tmp_path_factory: pytest.TempPathFactory, name: str, subjects: int) -> tuple[Path, list[Path]]:
    root = tmp_path_factory.mktemp(name) / "raw"
    files = write_raw_corpus(name, root, seed=3, num_subjects=subjects)
    return root, files


def _held_out(dataset: str, subjects: set[int]) -> set[int]:
    """The documented rule: round(10 %) of subjects, >= 1, smallest SHA-256("<dataset>/<subject>")."""
    count = min(len(subjects) - 1, max(1, round(0.1 * len(subjects))))
    return set(sorted(subjects, key=lambda s: hashlib.sha256(f"{dataset}/{s}".encode()).hexdigest())[:count])


def _load(path: Path) -> dict[str, np.ndarray]:
    return scipy.io.loadmat(path)


def test_db5_windows_labels_and_splits_follow_the_protocol(tmp_path_factory):
    root, files = _corpus(tmp_path_factory, "ninapro_db5", subjects=1)
    report, _ = build("ninapro_db5", root, root.parent / "tfds")
    stored = {s: by_key(read_split("ninapro_db5", s, root.parent / "tfds")) for s in ("train", "validation", "test")}
    offsets = {1: 0, 2: 12, 3: 29}
    rep_split = {1: "train", 2: "train", 5: "train", 4: "validation", 6: "validation", 3: "test"}
    expected_counts = dict.fromkeys(stored, 0)
    for path in files:
        mat = _load(path)
        emg, labels, reps = mat["emg"], mat["restimulus"].ravel().astype(int), mat["rerepetition"].ravel().astype(int)
        exercise = int(re.search(r"_E(\d)_", path.name).group(1))
        movement = np.where(labels > 0, labels + offsets[exercise], 0)
        z = reference_preprocess(emg, 200.0, (20.0, 90.0))
        index = file_index(report, path.relative_to(root).as_posix())
        for start in range(0, len(emg), 100):  # every start < T, tail zero-padded
            split = rep_split.get(int(reps[start]))
            if split is None:
                continue
            expected_counts[split] += 1
            record = stored[split][(index, 0, start)]
            assert record["label"] == movement[start] - 1
            assert record["subject"] == 1 and record["dataset"] == 0
            assert record["channel_mask"].all()
            assert_emg_matches(record["emg"], window(z, start, 200), 16)
    assert {s: len(r) for s, r in stored.items()} == expected_counts
    assert all(expected_counts.values())
    assert report["consistent"] and report["totals"]["files_skipped"] == 0
    # A window whose first sample is in a repetition but whose tail runs past the end is padded.
    labels_seen = np.concatenate([[r["label"] for r in stored[s].values()] for s in stored])
    assert labels_seen.min() >= 0 and labels_seen.max() <= 51


@pytest.mark.parametrize("name,channels,keep", [
    ("ninapro_db6", 14, [c for c in range(16) if c not in (8, 9)]),
    ("ninapro_db7", 12, list(range(12))),
])  # fmt: skip
def test_pretraining_corpora_hold_out_whole_subjects(tmp_path_factory, name, channels, keep):
    root, files = _corpus(tmp_path_factory, name, subjects=2)
    report, _ = build(name, root, root.parent / "tfds")
    stored = {s: by_key(read_split(name, s, root.parent / "tfds")) for s in ("train", "validation")}
    subjects = {int(re.match(r"S(\d+)_", p.name).group(1)) for p in files}
    held_out = _held_out(name, subjects)
    assert len(held_out) == 1
    for path in files:
        emg = _load(path)["emg"][:, keep]
        subject = int(re.match(r"S(\d+)_", path.name).group(1))
        split = "validation" if subject in held_out else "train"
        z = reference_preprocess(emg, 2000.0, (20.0, 450.0))
        index = file_index(report, path.relative_to(root).as_posix())
        starts = sliding_starts(len(emg), 1000, 500)
        assert report["files"][index]["windows"] == {split: len(starts)}
        for start in starts:  # rest windows are kept
            record = stored[split][(index, 0, start)]
            assert record["subject"] == subject
            np.testing.assert_array_equal(record["channel_mask"], np.arange(16) < channels)
            assert_emg_matches(record["emg"], window(z, start, 1000), channels)
    for split, records in stored.items():
        assert sum(e["windows"].get(split, 0) for e in report["files"]) == len(records)
    train_subjects = {r["subject"] for r in stored["train"].values()}
    assert train_subjects.isdisjoint({r["subject"] for r in stored["validation"].values()})


@pytest.mark.parametrize("config,window_length", [(None, 1000), ("w200", 200)])
def test_db8_targets_are_the_windows_doa_sequence(tmp_path_factory, config, window_length):
    root, files = _corpus(tmp_path_factory, "ninapro_db8", subjects=2)  # S1 and amputee S11
    data_dir = root.parent / "tfds"
    report, folder = build("ninapro_db8", root, data_dir, config=config)
    assert folder.parent.name == (config or "w1000")
    acquisition_split = {1: "train", 2: "validation", 3: "test"}
    stored = {s: by_key(read_split("ninapro_db8", s, data_dir, config)) for s in acquisition_split.values()}
    counts = dict.fromkeys(stored, 0)
    for path in files:
        mat = _load(path)
        finite = np.all(np.isfinite(mat["glove"]), axis=1)
        emg, glove = mat["emg"][finite], mat["glove"][finite].astype(np.float64)
        doa = glove @ DOA.T
        z = reference_preprocess(emg, 2000.0, (20.0, 450.0))
        split = acquisition_split[int(re.search(r"_A(\d)\.mat$", path.name).group(1))]
        subject = int(re.match(r"S(\d+)_", path.name).group(1))
        dead = np.ptp(emg, axis=0) == 0
        index = file_index(report, path.name)
        for start in sliding_starts(len(emg), window_length, window_length // 2):
            counts[split] += 1
            record = stored[split][(index, 0, start)]
            np.testing.assert_allclose(record["target"], doa[start : start + window_length], rtol=1e-5, atol=1e-3)
            np.testing.assert_array_equal(record["channel_mask"], ~dead)
            assert record["subject"] == subject
            if start % (8 * window_length) == 0:
                assert_emg_matches(record["emg"], window(z, start, window_length), 16)
        if subject == 11:
            assert dead[13:].all() and not dead[:13].any()
    assert {s: len(r) for s, r in stored.items()} == counts and all(counts.values())
    assert report["consistent"]
