"""emg2pose preparation: windows against the raw HDF5, subject hold-out, and Beam == local build."""

from __future__ import annotations

import csv
import hashlib
from pathlib import Path

import h5py
import numpy as np
import pytest

from tests.data.prep_reference import (
    assert_emg_matches, build, by_key, read_split, reference_preprocess, sliding_starts, window,
)  # fmt: skip
from tinymyo_jax.data.synth import write_raw_corpus


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("emg2pose") / "raw"
    write_raw_corpus("emg2pose", root, seed=5, num_subjects=3)
    return root


def _subject(user: str) -> int:
    # The documented id: first 4 bytes of SHA-256(user), big-endian, top bit cleared.
    return int.from_bytes(hashlib.sha256(user.encode()).digest()[:4], "big") & 0x7FFFFFFF


def test_windows_match_the_raw_files_and_users_are_held_out_whole(corpus, tmp_path):
    report, _ = build("emg2pose", corpus, tmp_path)
    stored = {s: by_key(read_split("emg2pose", s, tmp_path)) for s in ("train", "validation")}
    with open(corpus / "metadata.csv", newline="") as handle:
        users = {row["filename"]: row["user"] for row in csv.DictReader(handle)}
    subjects = {_subject(u) for u in users.values()}
    ranked = sorted(subjects, key=lambda s: hashlib.sha256(f"emg2pose/{s}".encode()).hexdigest())
    held_out = set(ranked[: max(1, round(0.1 * len(subjects)))])
    counts = {"train": 0, "validation": 0}
    for entry in report["files"]:
        path = corpus / entry["file"]
        with h5py.File(path, "r") as handle:
            emg = handle["emg2pose/timeseries"][()]["emg"]
        subject = _subject(users[path.name.removesuffix(".hdf5")])
        split = "validation" if subject in held_out else "train"
        z = reference_preprocess(emg, 2000.0, (20.0, 450.0))
        for start in sliding_starts(len(emg), 1000, 500):
            counts[split] += 1
            record = stored[split][(entry["index"], 0, start)]
            assert record["subject"] == subject and record["dataset"] == 4
            assert record["channel_mask"].all()
            assert_emg_matches(record["emg"], window(z, start, 1000), 16)
    assert {s: len(r) for s, r in stored.items()} == counts and counts["validation"] > 0
    assert report["consistent"]


@pytest.mark.slow
def test_beam_direct_runner_gives_the_same_shards_as_the_local_build(corpus, tmp_path):
    import apache_beam as beam

    _, local = build("emg2pose", corpus, tmp_path / "local", workers=2)
    options = beam.options.pipeline_options.PipelineOptions(
        flags=["--runner=DirectRunner", "--direct_num_workers=2", "--direct_running_mode=multi_processing"]
    )
    report, on_beam = build("emg2pose", corpus, tmp_path / "beam", beam_options=options)
    assert report["consistent"] and report["totals"]["files_used"] == 9
    for split in ("train", "validation"):
        a = read_split("emg2pose", split, tmp_path / "local")
        b = read_split("emg2pose", split, tmp_path / "beam")
        assert a.keys() == b.keys()
        for key in a:  # same examples, same order
            np.testing.assert_array_equal(a[key], b[key])
    shards = sorted(p.name for p in local.glob("*.array_record-*"))
    assert shards == sorted(p.name for p in on_beam.glob("*.array_record-*"))
    for name in shards:  # and byte-identical files
        assert (local / name).read_bytes() == (on_beam / name).read_bytes()
    assert (local / "prep_report.json").read_text() == (on_beam / "prep_report.json").read_text()
