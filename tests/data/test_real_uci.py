"""The real UCI "EMG data for gestures" files (../shared/real/uci_emg, 9 subjects, CC BY 4.0:
Lobov et al., Sensors 2018;18(4):1122) through `tinymyo prep uci_emg` and `tinymyo probe`.

The expected windows are counted here with plain numpy over the text files, from the protocol
as docs/data.md and datasets.md §7.2 define it (windows of 1000 rows, stride 500, inside runs of
one class 1..6, label = class - 1, class 0 and 7 give none, split by subject 1-24 / 25-30 /
31-36), not through the reader or `protocols`.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import numpy as np
import scipy.signal
import pytest

from tests.conftest import REPO
from tests.data.prep_reference import assert_emg_matches, by_key, read_split, reference_preprocess, uci_rows, window
from tinymyo_jax.cli import main as tinymyo

SPLITS = ("train", "validation", "test")
WINDOW, STRIDE = 1000, 500


def _split(subject: int) -> str:
    return "train" if subject <= 24 else "validation" if subject <= 30 else "test"


@pytest.fixture(scope="module")
def prepared(real_uci_prepared: Path) -> Path:
    """The real files prepared by the CLI (once per session: tests/conftest.py); returns the data_dir."""
    return real_uci_prepared


def _report(data_dir: Path) -> dict:
    return json.loads((data_dir / "uci_emg" / "w1000" / "1.0.0" / "prep_report.json").read_text())


def test_windows_and_labels_match_an_independent_count(real_uci, prepared):
    base = real_uci / "EMG_data_for_gestures-master"
    report = _report(prepared)
    file_index = {entry["file"]: entry["index"] for entry in report["files"]}
    files = sorted(base.glob("*/*.txt"))
    assert files and all(entry["status"] == "used" for entry in report["files"]) and len(file_index) == len(files)

    keys: dict[str, set] = {s: set() for s in SPLITS}
    labels: dict[str, Counter] = {s: Counter() for s in SPLITS}
    subjects: dict[str, Counter] = {s: Counter() for s in SPLITS}
    class7 = 0
    for path in files:
        _, _, classes = uci_rows(path)
        subject, split = int(path.parent.name), _split(int(path.parent.name))
        index = file_index[path.relative_to(real_uci).as_posix()]
        edges = np.flatnonzero(np.diff(classes)) + 1
        for begin, end in zip(np.r_[0, edges], np.r_[edges, classes.size]):
            starts = range(begin, end - WINDOW + 1, STRIDE)
            if classes[begin] == 7:
                class7 += len(starts)
            elif 1 <= classes[begin] <= 6:
                keys[split].update((index, 0, int(start)) for start in starts)
                labels[split][int(classes[begin]) - 1] += len(starts)
                subjects[split][subject] += len(starts)

    for split in SPLITS:
        records = read_split("uci_emg", split, prepared)
        stored = list(zip(records["file_index"].tolist(), records["recording"].tolist(), records["start"].tolist()))
        assert len(stored) == len(set(stored)) == sum(labels[split].values()) == report["splits"][split]["windows"]
        assert set(stored) == keys[split], split
        assert Counter(records["label"].tolist()) == labels[split], split
        assert Counter(records["subject"].tolist()) == subjects[split], split
        assert sorted(labels[split]) == list(range(6)), split  # every gesture in every split
    assert report["totals"]["dropped"] == ({"class_7_windows": class7} if class7 else {})
    assert report["consistent"]


def test_stored_windows_are_the_filtered_rows(real_uci, prepared):
    """Every window of one real test file equals TinyMyo's chain recomputed with scipy on its
    rows at the rate its ms time column states (20-90 Hz band-pass, 50 Hz notch, z-score)."""
    path = sorted((real_uci / "EMG_data_for_gestures-master" / "31").glob("*.txt"))[0]
    time_ms, emg, _ = uci_rows(path)
    z = reference_preprocess(emg, 1000.0 / np.median(np.diff(time_ms)), (20.0, 90.0))
    index = {e["file"]: e["index"] for e in _report(prepared)["files"]}[path.relative_to(real_uci).as_posix()]
    records = by_key(read_split("uci_emg", "test", prepared))
    mine = [(key, record) for key, record in records.items() if key[0] == index]
    assert len(mine) >= 12  # at least one window per gesture run
    for (_, _, start), record in mine:
        np.testing.assert_array_equal(record["channel_mask"], np.arange(16) < 8)
        assert_emg_matches(record["emg"], window(z, start, WINDOW), 8)


@pytest.mark.slow
def test_probe_of_random_encoder_and_classic_pipeline_well_above_chance(prepared, tmp_path):
    """Acceptance of issue 10: on the test subjects (31, 32) the classic RMS/MAV/WL/ZC/SSC + LDA
    pipeline reaches >= 85% and the linear probe of a random TinyMyo encoder >= 80% (chance 1/6)."""
    workdir = tmp_path / "probe"
    args = ["probe", "--config", str(REPO / "configs" / "probe" / "uci_emg.py"), "--workdir", str(workdir),
            "--config.init=random", f"--config.data.data_dir={prepared}"]  # fmt: skip
    assert tinymyo(args) == 0
    results = json.loads((workdir / "results.json").read_text())
    assert results["main"] == "random_encoder_probe"
    random_encoder = results["metrics"]["accuracy"]
    classic = results["baselines"]["classic_lda"]["metrics"]["accuracy"]
    assert classic >= 0.85 and random_encoder >= 0.80, (classic, random_encoder)


@pytest.fixture(scope="module")
def prepared_w200(real_uci, tmp_path_factory) -> Path:
    data_dir = tmp_path_factory.mktemp("real_uci_w200") / "tfds"
    assert tinymyo(["prep", "uci_emg", "--config", "w200", "--manual_dir", str(real_uci), "--data_dir", str(data_dir),
                    "--no-progress"]) == 0  # fmt: skip
    return data_dir


def test_w200_windows_are_the_same_runs_at_the_myos_200_hz(real_uci, prepared_w200):
    """w200: each file resampled by 1/5 (scipy's resample_poly, here computed independently),
    the class of row 5·i for sample i, then TinyMyo's chain at 200 Hz and windows of 200
    samples, stride 100, inside runs of one class 1..6 (counted with plain numpy)."""
    report = json.loads((prepared_w200 / "uci_emg" / "w200" / "1.0.0" / "prep_report.json").read_text())
    assert report["config"] == {"name": "w200", "window": 200, "stride": 100, "rate_hz": 200.0}
    # the windows' rate travels with the data (pretraining records it in its checkpoint)
    assert json.loads((prepared_w200 / "uci_emg" / "w200" / "1.0.0" / "metadata.json").read_text())["fs"] == 200.0
    file_index = {entry["file"]: entry["index"] for entry in report["files"]}
    expected: dict[str, set] = {s: set() for s in SPLITS}
    labels: dict[str, Counter] = {s: Counter() for s in SPLITS}
    checked = None
    for path in sorted((real_uci / "EMG_data_for_gestures-master").glob("*/*.txt")):
        time_ms, emg, classes = uci_rows(path)
        assert np.median(np.diff(time_ms)) == 1.0  # the 1-kHz rows the 1/5 ratio assumes
        classes = classes[np.arange(-(-classes.size // 5)) * 5]
        split, index = _split(int(path.parent.name)), file_index[path.relative_to(real_uci).as_posix()]
        edges = np.flatnonzero(np.diff(classes)) + 1
        for begin, end in zip(np.r_[0, edges], np.r_[edges, classes.size]):
            if 1 <= classes[begin] <= 6:
                starts = range(begin, end - 200 + 1, 100)
                expected[split].update((index, 0, int(s)) for s in starts)
                labels[split][int(classes[begin]) - 1] += len(starts)
        if checked is None and split == "test":
            checked = (index, reference_preprocess(scipy.signal.resample_poly(emg, 1, 5, axis=0), 200.0, (20.0, 90.0)))
    for split in SPLITS:
        records = read_split("uci_emg", split, prepared_w200, config="w200")
        stored = list(zip(records["file_index"].tolist(), records["recording"].tolist(), records["start"].tolist()))
        assert set(stored) == expected[split] and len(stored) == len(expected[split]), split
        assert Counter(records["label"].tolist()) == labels[split], split
    index, z = checked
    mine = [(key, r) for key, r in by_key(read_split("uci_emg", "test", prepared_w200, config="w200")).items() if key[0] == index]
    assert len(mine) >= 12
    for (_, _, start), record in mine:
        assert_emg_matches(record["emg"], window(z, start, 200), 8)
