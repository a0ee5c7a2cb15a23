"""EMG-EPN612 preparation: one window per trial, TinyMyo's split, against the raw JSON."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np

from tests.data.prep_reference import assert_emg_matches, build, by_key, file_index, read_split, reference_preprocess, window
from tinymyo_jax.data.synth import write_raw_corpus

LABELS = {"noGesture": 0, "waveIn": 1, "waveOut": 2, "pinch": 3, "open": 4, "fist": 5}


def _expected(path: Path) -> list[tuple[str, int, np.ndarray]]:
    """(split, label, [L, 8] emg) of every labelled trial, in the order the records number them:
    trainingSamples then testingSamples, each by idx number."""
    document = json.loads(path.read_text())
    source = path.parent.parent.name
    trials = []
    for group in ("trainingSamples", "testingSamples"):
        samples = document[group]
        seen: dict[str, int] = {}
        for key in sorted(samples, key=lambda k: int(k.split("_")[1])):
            sample = samples[key]
            gesture = sample.get("gestureName")
            if gesture is None:
                continue  # a testing user's unlabelled evaluation trials
            if source == "trainingJSON":
                split = "train" if group == "trainingSamples" else "validation"
            else:
                seen[gesture] = seen.get(gesture, 0) + 1
                split = "train" if seen[gesture] <= 10 else "test"
            emg = np.stack([np.asarray(sample["emg"][f"ch{c}"], float) for c in range(1, 9)], axis=1)
            trials.append((split, LABELS[gesture], emg))
    return trials


def test_one_window_per_trial_with_tinymyo_splits(tmp_path):
    root = tmp_path / "raw"
    files = write_raw_corpus("epn612", root, seed=2, num_subjects=2)  # one training, one testing user
    report, _ = build("epn612", root, tmp_path / "tfds")
    stored = {s: by_key(read_split("epn612", s, tmp_path / "tfds")) for s in ("train", "validation", "test")}
    counts = dict.fromkeys(stored, 0)
    for path in files:
        index = file_index(report, path.relative_to(root).as_posix())
        number = int(re.match(r"user(\d+)", path.parent.name).group(1))
        subject = number if path.parent.parent.name == "trainingJSON" else 306 + number
        for trial, (split, label, emg) in enumerate(_expected(path)):
            counts[split] += 1
            record = stored[split][(index, trial, 0)]
            assert record["label"] == label and record["subject"] == subject
            np.testing.assert_array_equal(record["channel_mask"], np.arange(16) < 8)
            # Filtered and z-scored per trial, then cut to 1000 samples or zero-padded.
            assert_emg_matches(record["emg"], window(reference_preprocess(emg, 200.0, (20.0, 90.0)), 0, 1000), 8)
    assert {s: len(r) for s, r in stored.items()} == counts
    assert counts == {"train": 4 * 6 + 10 * 6, "validation": 2 * 6, "test": 2 * 6}  # synth's trial counts
    assert report["consistent"]
    lengths = {len(e) for p in files for _, _, e in _expected(p)}
    assert min(lengths) < 1000 < max(lengths)  # both truncation and padding were exercised
