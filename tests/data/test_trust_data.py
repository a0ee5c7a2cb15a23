"""Users' recordings that used to become nonsense, with exit 0 (issue 23, findings 1, 6, 7 and 10
of the red team): each is now refused per file with its reason and fix, skipped and listed in
prep_report.json, or a one-line error; never a traceback, never a silent wrong corpus.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pytest
import scipy.io

from tests.data import prep_reference as ref
from tinymyo_jax.cli import main
from tinymyo_jax.data.corpora import generic
from tinymyo_jax.data.readers import checks
from tinymyo_jax.data.readers import generic as reader
from tinymyo_jax.data.readers.base import RawFileError
from tinymyo_jax.data.source import dataset_dir
from tinymyo_jax.errors import UserError
from tinymyo_jax.evaluate.classic import window_features


def _emg(samples: int, channels: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal((samples, channels)).astype(np.float32)


def _good_files(folder: Path, count: int = 3, channels: int = 2) -> None:
    """`count` usable 4-s recordings at 1 kHz (so a bad file beside them cannot empty a split)."""
    folder.mkdir(parents=True, exist_ok=True)
    for k in range(count):
        np.savez(folder / f"good{k}.npz", emg=_emg(4000, channels, seed=k), fs=np.float64(1000))


def _prep(raw: Path, data_dir: Path, name: str, *options: str) -> int:
    return main(["prep", "generic", "--manual_dir", str(raw), "--name", name, "--data_dir", str(data_dir),
                 "--workers", "1", "--no-progress", *options])  # fmt: skip


def _report(data_dir: Path, name: str) -> dict:
    return json.loads((data_dir / "generic" / name / "1.0.0" / "prep_report.json").read_text())


def _skipped(report: dict) -> dict[str, str]:
    return {e["file"]: e["reason"] for e in report["files"] if e["status"] == "skipped"}


def _one_line_error(capsys) -> str:
    err = capsys.readouterr().err
    assert "Traceback" not in err and err.strip().count("\n") == 0, err
    return err


# ---------------------------------------------------------------------------------------------
# Finding 1: sampling rates no EMG is recorded at


def test_a_time_column_in_ms_read_as_seconds_is_refused_with_the_fix(tmp_path):
    # 20 s at 1 kHz with the time in ms: read as seconds it was 1 Hz, 5.6 h after resampling
    path = tmp_path / "rec.csv"
    x = _emg(20000, 2)
    path.write_text("time,a,b\n" + "\n".join(f"{i}.0,{a},{b}" for i, (a, b) in enumerate(x)) + "\n")
    with pytest.raises(RawFileError, match=r"1 Hz from the time column .*pass --time-unit ms \(1000 Hz\)"):
        reader.read_generic(path)
    with pytest.raises(RawFileError, match="--time-unit ms"):  # also when --fs is passed beside it
        reader.read_generic(path, fs=1000.0)
    assert reader.read_generic(path, time_unit="ms").fs == pytest.approx(1000.0)


def test_implausible_rates_are_skipped_per_file_and_a_corpus_of_them_is_refused(tmp_path, capsys):
    raw = tmp_path / "raw"
    _good_files(raw)
    np.savez(raw / "slow.npz", emg=_emg(2000, 2), fs=np.float64(10))  # 10 Hz: 200 s of "signal"
    scipy.io.savemat(raw / "period.mat", {"emg": _emg(5000, 2), "fs": 1e-3})  # a period: 241 GiB to resample
    assert _prep(raw, tmp_path / "tfds", "rates") == 0
    report = _report(tmp_path / "tfds", "rates")
    skipped = _skipped(report)
    assert sorted(skipped) == ["period.mat", "slow.npz"]
    assert "10 Hz from the rate stored in the file" in skipped["slow.npz"]
    assert "as a period in seconds it would be 1000 Hz" in skipped["period.mat"]
    assert report["totals"]["hours"] == pytest.approx(3 * 4 / 3600, abs=1e-4)  # the good files only

    ms = tmp_path / "ms"
    ms.mkdir()
    (ms / "rec.csv").write_text("time,a\n" + "\n".join(f"{i}.0,{v}" for i, v in enumerate(_emg(3000, 1)[:, 0])) + "\n")
    assert _prep(ms, tmp_path / "tfds", "ms") == 2
    assert "rec.csv: sampling rate 1 Hz" in _one_line_error(capsys)
    assert [p.parent.parent.name for p in (tmp_path / "tfds").rglob("dataset_info.json")] == ["rates"]  # no "ms"
    assert _prep(ms, tmp_path / "tfds", "ms", "--fs", "1") == 2
    assert "--fs 1: surface EMG is recorded at 100 Hz to 100000 Hz" in _one_line_error(capsys)


# ---------------------------------------------------------------------------------------------
# Finding 6: labels, channel counts, columns, degenerate channels


def test_labels_outside_int32_are_refused_not_wrapped(tmp_path):
    with pytest.raises(RawFileError, match=r"1e\+20 \(row 3\), outside the ids -2147483648..2147483647"):
        checks.integer_labels("f", "labels", np.array([0.0, 1.0, 2.0, 1e20]))
    with pytest.raises(RawFileError, match="outside the ids"):
        checks.integer_labels("f", "labels", np.array([0, 2**40], dtype=np.int64))
    labels = np.zeros(2000)
    labels[1000:] = 1e20
    np.savez(tmp_path / "rec.npz", emg=_emg(2000, 2), fs=np.float64(1000), labels=labels)
    with pytest.raises(RawFileError, match="outside the ids"):
        reader.read_generic(tmp_path / "rec.npz")


def test_files_with_different_channel_counts_never_mix_silently(tmp_path, capsys):
    raw = tmp_path / "raw"
    raw.mkdir()
    for name, channels in (("a8", 8), ("b12", 12), ("c2", 2)):
        np.savez(raw / f"{name}.npz", emg=_emg(3000, channels), fs=np.float64(1000))
    assert _prep(raw, tmp_path / "tfds", "tie") == 2  # 8, 12 and 2: no count to prefer
    err = _one_line_error(capsys)
    assert "differ in channel count with no majority" in err and "--allow-mixed-channels" in err

    for k in range(2):  # now 8 channels is what most files have: the others are skipped, with why
        np.savez(raw / f"d8_{k}.npz", emg=_emg(3000, 8, seed=k), fs=np.float64(1000))
    assert _prep(raw, tmp_path / "tfds", "most") == 0
    report = _report(tmp_path / "tfds", "most")
    assert report["channels"] == 8 and report["config"]["channel_count"] == 8
    assert sorted(_skipped(report)) == ["b12.npz", "c2.npz"]
    assert "12 channels, but the corpus's files have 8" in _skipped(report)["b12.npz"]

    config = generic.make_config("mix", mixed_channels=True)  # the explicit way to keep them all
    assert generic.with_channel_count(config, reader.list_files(raw, "generic"), raw, progress=False).channel_count is None


def test_csv_columns_that_are_ambiguous_or_repeated_are_refused(tmp_path):
    rows = "\n".join(f"{i / 1000},{i / 1000},{v},{-v}" for i, v in enumerate(_emg(500, 1)[:, 0]))
    (tmp_path / "two_times.csv").write_text("time,Time,ch,ch2\n" + rows + "\n")
    with pytest.raises(RawFileError, match="columns 'time', 'Time' all match the time column"):
        reader.read_generic(tmp_path / "two_times.csv")
    (tmp_path / "repeated.csv").write_text("time,x,ch,ch\n" + rows + "\n")
    with pytest.raises(RawFileError, match="names a column twice \\('ch' at columns 3, 4\\)"):
        reader.read_generic(tmp_path / "repeated.csv")
    with pytest.raises(RawFileError, match="names a column twice"):  # the cheap channel count refuses it too
        reader.channel_count(tmp_path / "repeated.csv")


def test_masked_channels_are_zero_in_the_records_and_the_classic_features(tmp_path):
    raw = tmp_path / "raw"
    raw.mkdir()
    x = _emg(6000, 3) * 10
    x[:, 1] = np.clip(x[:, 1], -1, 1)  # clipped at the rails
    x[:, 2] = 5.0  # flat
    np.savez(raw / "rec.npz", emg=x, fs=np.float64(2000))
    assert _prep(raw, tmp_path / "tfds", "dead") == 0
    records = ref.read_split("generic", "train", tmp_path / "tfds", config="dead")
    assert records["channel_mask"][:, :3].tolist() == [[True, False, False]] * len(records["emg"])
    assert np.all(records["emg"][:, 1:] == 0)  # were filter transients up to |48|
    assert np.abs(records["emg"][:, 0]).max() > 1

    emg = np.random.default_rng(1).standard_normal((4, 3, 100)).astype(np.float32)
    mask = np.array([[True, False, True]] * 4)
    masked = window_features(emg, channel_mask=mask)[:, 0].reshape(4, 5, 3)  # (N, feature, channel)
    assert np.all(masked[:, :, 1] == 0)
    np.testing.assert_array_equal(masked[:, :, [0, 2]], window_features(emg)[:, 0].reshape(4, 5, 3)[:, :, [0, 2]])


# ---------------------------------------------------------------------------------------------
# Finding 7: one bad file skips, never aborts; an unprepared corpus is one line


def _npy_claiming(rows: int) -> bytes:
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(header, {"descr": "<f4", "fortran_order": False, "shape": (rows, 2)})
    return header.getvalue() + _emg(100, 2).tobytes()


def test_a_damaged_file_is_skipped_with_its_reason_not_a_traceback(tmp_path):
    raw = tmp_path / "raw"
    _good_files(raw)
    (raw / "huge_header.npy").write_bytes(_npy_claiming(10**12))  # asked numpy for 7.3 TiB
    (raw / "long_field.csv").write_text("time,a,b\n0," + "1" * 140_000 + ",1\n0.001,2,3\n")
    with pytest.raises(RawFileError, match="claims shape \\(1000000000000, 2\\)"):
        reader.read_generic(raw / "huge_header.npy", fs=1000.0)
    with pytest.raises(RawFileError, match="field larger than field limit"):
        reader.read_generic(raw / "long_field.csv")
    assert _prep(raw, tmp_path / "tfds", "damaged", "--fs", "1000") == 0
    skipped = _skipped(_report(tmp_path / "tfds", "damaged"))
    assert sorted(skipped) == ["huge_header.npy", "long_field.csv"]
    assert "truncated or its header is damaged" in skipped["huge_header.npy"]


def test_a_mixture_naming_an_unprepared_generic_corpus_says_how_to_prepare_it(tmp_path):
    version = tmp_path / "generic" / "lab" / "1.0.0"
    version.mkdir(parents=True)
    (version / "dataset_info.json").write_text("{}")
    with pytest.raises(UserError, match=r"no prepared dataset generic/other .*\(prepared: lab\); run `tinymyo prep "
                                        r"generic --manual_dir DIR --name other"):  # fmt: skip
        dataset_dir("generic", tmp_path, "other")
    with pytest.raises(UserError, match="--name other"):
        dataset_dir("generic", tmp_path / "empty", "other")


# ---------------------------------------------------------------------------------------------
# Finding 10: a re-prep with other options


def test_a_re_prep_with_other_options_names_them_and_how_to_rebuild(tmp_path, capsys):
    raw = tmp_path / "raw"
    _good_files(raw)
    assert _prep(raw, tmp_path / "tfds", "lab") == 0
    capsys.readouterr()
    assert _prep(raw, tmp_path / "tfds", "lab") == 0  # same options: reused
    assert "already prepared" in capsys.readouterr().out
    assert _prep(raw, tmp_path / "tfds", "lab", "--fs", "1000", "--subject-regex", "good") == 2
    err = _one_line_error(capsys)
    assert "--fs 1000.0 (prepared with (none))" in err and "--subject-regex good (prepared with (none))" in err
    assert "--overwrite" in err and "another --name" in err
