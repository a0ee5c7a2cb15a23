"""UCI EMG reader: text parsing, inferred fs, malformed-row accounting, and refusal of bad files."""

from __future__ import annotations

import pathlib

import numpy as np
import pytest

from tinymyo_jax.data.readers import uci_emg as reader
from tinymyo_jax.data.readers.base import RawFileError
from tinymyo_jax.data.recording import Recording
from tinymyo_jax.data import synth as synth_registry
from tinymyo_jax.data.synth import uci as synth


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> tuple[pathlib.Path, list[pathlib.Path]]:
    root = tmp_path_factory.mktemp("uci")
    return root, synth.write_raw_corpus("uci_emg", root, seed=2, num_subjects=2, duration_scale=0.3)


def _read(path: pathlib.Path, root: pathlib.Path | None = None) -> Recording:
    (recording,) = reader.read_file(path, root or path.parent.parent, "uci_emg")
    return recording


def _runs(labels: np.ndarray) -> list[int]:
    """The sequence of distinct consecutive label values."""
    change = np.flatnonzero(np.diff(labels)) + 1
    return [int(v) for v in labels[np.concatenate([[0], change])]]


def _text_file(root: pathlib.Path, body: str, *, header: str = synth.HEADER, name: str = "1_raw_data_x.txt") -> pathlib.Path:
    folder = root / "EMG_data_for_gestures-master" / "05"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(header + "\n" + body)
    return path


def _rows(num_rows: int = 50, *, classes: np.ndarray | None = None, step_ms: int = 1) -> list[list[str]]:
    rng = np.random.default_rng(num_rows)
    classes = np.repeat([0, 1], num_rows // 2) if classes is None else classes
    return [
        [str(1 + i * step_ms), *(f"{v:.2e}" for v in rng.integers(-50, 50, 8) * 1e-5), str(classes[i])]
        for i in range(num_rows)
    ]


def _join(rows: list[list[str]]) -> str:
    return "".join("\t".join(row) + "\n" for row in rows)


# ----------------------------------------------------------------------------------------------
# The synthetic corpus reads back as written.
# ----------------------------------------------------------------------------------------------


def test_list_files_accepts_the_corpus_folder_or_its_parent(corpus):
    root, written = corpus
    assert reader.list_files(root, "uci_emg") == written
    assert reader.list_files(root / "EMG_data_for_gestures-master", "uci_emg") == written
    assert [(p.parent.name, p.name[0]) for p in written] == [("01", "1"), ("01", "2"), ("02", "1"), ("02", "2")]


def test_recordings_have_8_channels_at_the_inferred_1khz_and_class_blocks(corpus):
    root, written = corpus
    for path in written:
        rec = _read(path, root)
        data_lines = len(path.read_text().splitlines()) - 1
        malformed = rec.meta.extra["malformed_rows"]
        assert rec.emg.shape == (data_lines - malformed, 8) and rec.emg.dtype == np.float32
        assert rec.fs == 1000.0  # the time column is in ms; TinyMyo would have assumed 200 Hz
        assert rec.meta.extra["fs_source"] == "time_column"
        assert rec.meta.subject == int(path.parent.name) and rec.meta.session == int(path.name[0])
        assert rec.meta.file == str(path.relative_to(root))
        assert np.abs(rec.emg).max() < 2e-3 and np.abs(rec.emg).max() > 1e-4  # ~1e-5 per count
        np.testing.assert_allclose(rec.emg * 1e5, np.round(rec.emg * 1e5), atol=1e-3)
        gestures = list(range(1, 7)) + ([7] if rec.meta.subject == synth.CLASS7_SUBJECT else [])
        expected_runs = [0] + [x for g in gestures for x in (g, 0)]
        assert _runs(rec.labels) == expected_runs  # class-0 rows kept, in place
        assert rec.meta.extra["classes_present"] == sorted({0, *gestures})


def test_the_malformed_line_is_dropped_and_counted(corpus):
    root, written = corpus
    counts = [(_read(p, root).meta.extra["malformed_rows"], _read(p, root).meta.extra["malformed_lines"]) for p in written]
    assert counts == [(1, [synth.MALFORMED_LINE]), (0, []), (0, []), (0, [])]


def test_gestures_are_separable_across_subjects(corpus):
    """Nearest centroid on log-RMS of 200-ms windows inside class runs: subject 1 -> subject 2."""
    root, written = corpus

    def windows(path: pathlib.Path) -> tuple[np.ndarray, np.ndarray]:
        rec = _read(path, root)
        n = rec.num_samples // 200 * 200
        labels = rec.labels[:n].reshape(-1, 200)
        pure = (labels == labels[:, :1]).all(axis=1) & (labels[:, 0] >= 1) & (labels[:, 0] <= 6)
        rms = np.sqrt(np.mean(rec.emg[:n].reshape(-1, 200, 8) ** 2, axis=1))
        return np.log(rms[pure] + 1e-6), labels[pure, 0]

    x_train, y_train = (np.concatenate(a) for a in zip(*(windows(p) for p in written[:2])))
    x_test, y_test = (np.concatenate(a) for a in zip(*(windows(p) for p in written[2:])))
    centroids = np.stack([x_train[y_train == g].mean(axis=0) for g in range(1, 7)])
    predicted = 1 + np.argmin(((x_test[:, None] - centroids[None]) ** 2).sum(axis=-1), axis=1)
    assert np.mean(predicted == y_test) > 0.6  # chance is 1/6


def test_writer_is_deterministic_given_the_seed(tmp_path):
    first = synth.write_raw_corpus("uci_emg", tmp_path / "a", seed=4, num_subjects=1, duration_scale=0.05)
    second = synth.write_raw_corpus("uci_emg", tmp_path / "b", seed=4, num_subjects=1, duration_scale=0.05)
    for a, b in zip(first, second, strict=True):
        assert a.read_bytes() == b.read_bytes()


def test_package_registry_dispatches_to_this_writer(tmp_path):
    written = synth_registry.write_raw_corpus("uci_emg", tmp_path, num_subjects=2, duration_scale=0.05)
    assert written == reader.list_files(tmp_path, "uci_emg")


# ----------------------------------------------------------------------------------------------
# Tolerated irregularities, each recorded in meta.extra.
# ----------------------------------------------------------------------------------------------


def test_non_numeric_row_and_truncated_last_row_are_counted_as_malformed(tmp_path):
    rows = _rows(50)
    rows[10][3] = "abc"
    body = _join(rows) + "\t".join(_rows(60)[55][:4])  # a last row cut mid-write, no newline
    rec = _read(_text_file(tmp_path, body))
    assert rec.num_samples == 49
    assert rec.meta.extra["malformed_rows"] == 2 and rec.meta.extra["malformed_lines"] == [12, 52]


def test_gaps_in_time_are_counted_and_do_not_change_fs(tmp_path):
    rows = _rows(50)
    del rows[20:23]  # three dropped samples: one 4-ms step
    rec = _read(_text_file(tmp_path, _join(rows)))
    assert rec.fs == 1000.0 and rec.meta.extra["time_gaps"] == 1


def test_flat_channel_is_recorded_not_refused(tmp_path):
    rows = _rows(50)
    for row in rows:
        row[3] = "0.00e+00"
    rec = _read(_text_file(tmp_path, _join(rows)))
    assert rec.meta.extra["dead_channels"] == [2]


def test_single_nan_in_emg_and_time_is_interpolated_and_counted(tmp_path):
    rows = _rows(200)
    expected = (float(rows[6][2]) + float(rows[8][2])) / 2
    rows[7][2] = "nan"
    rows[50][0] = "nan"
    rec = _read(_text_file(tmp_path, _join(rows)))
    assert rec.meta.extra["nonfinite_emg_rows"] == 1 and rec.meta.extra["nonfinite_time_rows"] == 1
    assert rec.emg[7, 1] == pytest.approx(expected, rel=1e-6)
    assert rec.fs == 1000.0 and rec.meta.extra["time_gaps"] == 0


# ----------------------------------------------------------------------------------------------
# Refused input: each raises RawFileError naming the file.
# ----------------------------------------------------------------------------------------------


def _assert_refused(path: pathlib.Path, match: str) -> None:
    with pytest.raises(RawFileError, match=match) as info:
        _read(path)
    assert info.value.path == str(path)


def test_file_without_header_is_refused(tmp_path):
    rows = _rows(20)
    _assert_refused(_text_file(tmp_path, _join(rows[1:]), header="\t".join(rows[0])), "not the header")


def test_file_with_no_valid_row_is_refused(tmp_path):
    body = "".join(",".join(row) + "\n" for row in _rows(20))  # comma-separated: 1 field per row
    _assert_refused(_text_file(tmp_path, body), r"only 0 valid row\(s\) of 10 fields \(20 malformed\)")


def test_empty_file_is_refused(tmp_path):
    path = _text_file(tmp_path, "")
    path.write_text("")
    _assert_refused(path, "empty file")


def test_nan_stretch_in_emg_is_refused(tmp_path):
    rows = _rows(40)
    rows[7][2] = "nan"  # 1 of 40 rows: above 1 %
    _assert_refused(_text_file(tmp_path, _join(rows)), r"emg has NaN/Inf at 1 of 40 time steps .*first at sample 7")


@pytest.mark.parametrize("bad_class", ["1.5", "9", "-1"])
def test_class_outside_0_to_7_is_refused(tmp_path, bad_class):
    rows = _rows(40)
    rows[5][9] = bad_class
    _assert_refused(_text_file(tmp_path, _join(rows)), r"class column holds .* \(row 5\)")


def test_time_that_does_not_advance_is_refused(tmp_path):
    rows = _rows(40)
    for row in rows:
        row[0] = "7"
    _assert_refused(_text_file(tmp_path, _join(rows)), "median step of 0")


def test_file_outside_a_subject_folder_is_refused(tmp_path):
    path = tmp_path / "loose.txt"
    path.write_text(synth.HEADER + "\n" + _join(_rows(10)))
    with pytest.raises(RawFileError, match="subject number"):
        reader.read_file(path, tmp_path, "uci_emg")


def test_root_without_corpus_is_refused(tmp_path):
    with pytest.raises(RawFileError, match="EMG_data_for_gestures-master"):
        reader.list_files(tmp_path, "uci_emg")
