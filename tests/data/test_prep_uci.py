"""UCI EMG preparation: fs from the time column, windows inside class runs, split by subject."""

from __future__ import annotations

import shutil

import numpy as np

from tests.data.prep_reference import (
    assert_emg_matches, build, by_key, read_split, reference_preprocess, sliding_starts, uci_rows, window,
)  # fmt: skip
from tinymyo_jax.data.synth import write_raw_corpus


def test_windows_inside_class_runs_split_by_subject(tmp_path):
    raw = tmp_path / "raw"
    write_raw_corpus("uci_emg", raw, seed=4, num_subjects=2)
    base = raw / "EMG_data_for_gestures-master"
    # Subjects 01 (train) and 02 (performs class 7) become 27 (validation); a copy of 01 is 33 (test).
    (base / "02").rename(base / "27")
    shutil.copytree(base / "01", base / "33")
    report, _ = build("uci_emg", raw, tmp_path / "tfds")
    stored = {s: by_key(read_split("uci_emg", s, tmp_path / "tfds")) for s in ("train", "validation", "test")}
    counts = dict.fromkeys(stored, 0)
    class7 = 0
    for entry in report["files"]:
        path = base.parent / entry["file"]
        time_ms, emg, classes = uci_rows(path)
        fs = 1000.0 / np.median(np.diff(time_ms))
        assert abs(fs - 1000.0) < 1e-6  # the synthetic files step by 1 ms, like the published ones
        z = reference_preprocess(emg, fs, (20.0, 90.0))
        subject = int(path.parent.name)
        split = "train" if subject <= 24 else "validation" if subject <= 30 else "test"
        edges = np.flatnonzero(np.diff(classes)) + 1
        for begin, end in zip(np.r_[0, edges], np.r_[edges, len(classes)]):
            run_class = classes[begin]
            starts = [begin + s for s in sliding_starts(end - begin, 1000, 500)]
            if run_class == 7:
                class7 += len(starts)
                continue
            if run_class == 0:
                continue
            for start in starts:
                counts[split] += 1
                record = stored[split][(entry["index"], 0, start)]
                assert record["label"] == run_class - 1 and record["subject"] == subject
                np.testing.assert_array_equal(record["channel_mask"], np.arange(16) < 8)
                assert_emg_matches(record["emg"], window(z, start, 1000), 8)
    assert {s: len(r) for s, r in stored.items()} == counts and all(counts.values())
    assert class7 > 0 and report["totals"]["dropped"] == {"class_7_windows": class7}
    assert report["files"][0]["notes"]["malformed_rows"] == 1  # the synthetic truncated row, reported
    assert report["consistent"]
