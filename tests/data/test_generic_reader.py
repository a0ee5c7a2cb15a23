"""Generic reader for users' own CSV / .npy / .npz recordings (the shared checks: test_reader_checks)."""

from __future__ import annotations

import pathlib

import numpy as np
import pytest

from tinymyo_jax.data.readers import generic as reader
from tinymyo_jax.data.readers.base import RawFileError


def _emg(num_samples: int = 200, num_channels: int = 4, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal((num_samples, num_channels)).astype(np.float32)


def _csv(path: pathlib.Path, columns: dict[str, np.ndarray], delimiter: str = ",") -> pathlib.Path:
    names = list(columns)
    lines = [delimiter.join(names)]
    lines += [delimiter.join(repr(float(columns[n][i])) for n in names) for i in range(len(columns[names[0]]))]
    path.write_text("\n".join(lines) + "\n")
    return path


def _assert_refused(path: pathlib.Path, match: str, **kwargs) -> None:
    with pytest.raises(RawFileError, match=match) as info:
        reader.read_generic(path, **kwargs)
    assert info.value.path == str(path)


# ----------------------------------------------------------------------------------------------
# Accepted files.
# ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("unit, scale", [("s", 1.0), ("ms", 1000.0)])
def test_csv_fs_is_inferred_from_the_time_column(tmp_path, unit, scale):
    emg = _emg()
    time = np.arange(200) / 500.0 * scale
    columns = {"time": time, **{f"ch{c}": emg[:, c] for c in range(4)}}
    rec = reader.read_generic(_csv(tmp_path / "a.csv", columns), time_unit=unit)
    assert rec.fs == pytest.approx(500.0, rel=1e-9)
    assert rec.emg.shape == (200, 4) and rec.emg.dtype == np.float32
    np.testing.assert_allclose(rec.emg, emg, rtol=1e-6)
    assert rec.labels is None and rec.meta.dataset == "generic"
    assert rec.meta.extra["channel_names"] == ["ch0", "ch1", "ch2", "ch3"]
    assert rec.meta.extra["fs_source"] == "time_column" and rec.meta.extra["dead_channels"] == []


def test_csv_with_labels_semicolons_and_explicit_fs(tmp_path):
    emg = _emg(100, 2)
    labels = np.repeat([0, 3], 50)
    path = _csv(tmp_path / "b.csv", {"a": emg[:, 0], "gesture": labels, "b": emg[:, 1]}, delimiter=";")
    rec = reader.read_generic(path, fs=1000.0, label_column="gesture")
    assert rec.fs == 1000.0 and rec.meta.extra["fs_source"] == "argument"
    assert rec.emg.shape == (100, 2) and rec.meta.extra["channel_names"] == ["a", "b"]
    assert rec.labels.dtype == np.int32
    np.testing.assert_array_equal(rec.labels, labels)


def test_csv_explicit_fs_agreeing_with_time_is_accepted(tmp_path):
    path = _csv(tmp_path / "c.csv", {"t": np.arange(50) / 200.0, "x": _emg(50, 1)[:, 0]})
    assert reader.read_generic(path, fs=200.5, time_column="t").fs == 200.5


def test_npy_with_fs(tmp_path):
    path = tmp_path / "d.npy"
    np.save(path, _emg(300, 8).astype(np.float64))
    rec = reader.read_generic(path, fs=2000.0)
    assert rec.emg.shape == (300, 8) and rec.emg.dtype == np.float32 and rec.fs == 2000.0


def test_npz_with_labels_and_stored_fs(tmp_path):
    path = tmp_path / "e.npz"
    np.savez(path, emg=_emg(120, 3), labels=np.arange(120) % 4, fs=np.float64(250.0))
    rec = reader.read_generic(path)
    assert rec.fs == 250.0 and rec.meta.extra["fs_source"] == "file"
    np.testing.assert_array_equal(rec.labels, np.arange(120) % 4)


def test_protocol_functions_list_and_read_with_defaults(tmp_path):
    np.savez(tmp_path / "one.npz", emg=_emg(50, 2), fs=100.0)
    (tmp_path / "sub").mkdir()
    _csv(tmp_path / "sub" / "two.csv", {"time": np.arange(50) / 100.0, "x": _emg(50, 1)[:, 0]})
    (tmp_path / "notes.md").write_text("not a recording")
    files = reader.list_files(tmp_path, "generic")
    assert [p.relative_to(tmp_path).as_posix() for p in files] == ["one.npz", "sub/two.csv"]
    recordings = [r for p in files for r in reader.read_file(p, tmp_path, "generic")]
    assert [r.meta.file for r in recordings] == ["one.npz", "sub/two.csv"]
    assert [r.fs for r in recordings] == [100.0, pytest.approx(100.0)]


def test_flat_channel_is_recorded_not_refused(tmp_path):
    emg = _emg(100, 5)
    emg[:, 1] = 0.0
    emg[:, 4] = 3.5
    path = tmp_path / "f.npy"
    np.save(path, emg)
    assert reader.read_generic(path, fs=100.0).meta.extra["dead_channels"] == [1, 4]


def test_short_nan_stretch_is_interpolated_and_counted(tmp_path):
    emg = _emg(200, 3)
    emg[40:42, 2] = np.inf  # 2 of 200 time steps: 1 %
    path = tmp_path / "o.npy"
    np.save(path, emg)
    rec = reader.read_generic(path, fs=100.0)
    assert rec.meta.extra["nonfinite_emg_rows"] == 2 and np.all(np.isfinite(rec.emg))
    np.testing.assert_allclose(rec.emg[40:42, 2], np.linspace(emg[39, 2], emg[42, 2], 4)[1:-1], atol=1e-6)


def test_missing_csv_cells_are_nan_under_the_same_policy(tmp_path):
    emg = _emg(200, 2)
    rows = [f"{i / 100!r},{float(emg[i, 0])!r},{'NULL' if i == 50 else repr(float(emg[i, 1]))}" for i in range(200)]
    (tmp_path / "m.csv").write_text("\n".join(["time,a,b", *rows]) + "\n")
    rec = reader.read_generic(tmp_path / "m.csv")
    assert rec.meta.extra["nonfinite_emg_rows"] == 1 and np.all(np.isfinite(rec.emg))
    assert rec.emg[50, 1] == pytest.approx((emg[49, 1] + emg[51, 1]) / 2, abs=1e-6)
    rows[60:63] = [f"{i / 100!r},,{float(emg[i, 1])!r}" for i in range(60, 63)]  # 4 missing of 200: refused
    (tmp_path / "m.csv").write_text("\n".join(["time,a,b", *rows]) + "\n")
    _assert_refused(tmp_path / "m.csv", "NaN/Inf at 4 of 200 time steps")
    (tmp_path / "w.csv").write_text("time,a\n0,1\n0.01,oops\n")
    _assert_refused(tmp_path / "w.csv", "non-numeric value")


def test_csv_with_a_byte_order_mark_capitalised_time_or_no_header(tmp_path):
    emg = _emg(50, 2)
    body = [f"{i * 0.0005!r},{float(emg[i, 0])!r},{float(emg[i, 1])!r}" for i in range(50)]
    (tmp_path / "bom.csv").write_text("\ufeffTime,EMG_zyg,EMG_cor\n" + "\n".join(body) + "\n", encoding="utf-8")
    rec = reader.read_generic(tmp_path / "bom.csv")  # spreadsheet export: BOM, "Time" for "time"
    assert rec.fs == pytest.approx(2000.0) and rec.meta.extra["channel_names"] == ["EMG_zyg", "EMG_cor"]
    np.testing.assert_allclose(rec.emg, emg, rtol=1e-6)
    (tmp_path / "bare.csv").write_text("\n".join(",".join(repr(float(v)) for v in row) for row in emg) + "\n")
    rec = reader.read_generic(tmp_path / "bare.csv", fs=200.0)  # no header: every row is data
    assert rec.num_samples == 50 and rec.meta.extra["channel_names"] == ["ch0", "ch1"] and rec.meta.extra["headerless"]
    np.testing.assert_allclose(rec.emg, emg, rtol=1e-6)


def test_mat_variable_in_a_one_by_one_cell_with_otbiolab_rate(tmp_path):
    import scipy.io

    emg = _emg(300, 3).astype(np.float64)
    cell = np.empty((1, 1), dtype=object)
    cell[0, 0] = emg
    scipy.io.savemat(tmp_path / "otb.mat", {"Data": cell, "SamplingFrequency": 2048.0})  # OTBioLab's layout
    rec = reader.read_generic(tmp_path / "otb.mat", variable="Data")
    assert rec.fs == 2048.0 and rec.meta.extra["fs_source"] == "file"
    np.testing.assert_allclose(rec.emg, emg, rtol=1e-6)
    _assert_refused(tmp_path / "otb.mat", "variable 'emg' missing")
    scipy.io.savemat(tmp_path / "nofs.mat", {"emg": emg})
    _assert_refused(tmp_path / "nofs.mat", "no fs, frequency, SamplingFrequency variable; pass fs")
    assert reader.read_generic(tmp_path / "nofs.mat", fs=500.0).fs == 500.0


def test_labels_one_sample_short_are_truncated_with_emg_and_counted(tmp_path):
    path = tmp_path / "m.npz"
    np.savez(path, emg=_emg(100, 2), labels=np.zeros(99, dtype=np.int64), fs=100.0)
    rec = reader.read_generic(path)
    assert rec.num_samples == 99 and rec.meta.extra["truncated_samples"] == {"emg": 1}


# ----------------------------------------------------------------------------------------------
# Refused input: each raises RawFileError naming the file.
# ----------------------------------------------------------------------------------------------


def test_no_time_column_and_no_fs_is_refused(tmp_path):
    path = _csv(tmp_path / "g.csv", {"x": _emg(20, 1)[:, 0]})
    _assert_refused(path, "no time column 'time' and no fs given")


def test_npy_without_fs_is_refused(tmp_path):
    path = tmp_path / "h.npy"
    np.save(path, _emg())
    _assert_refused(path, "carry no sampling rate")


def test_non_monotonic_time_is_refused(tmp_path):
    time = np.arange(50) / 100.0
    time[30] = time[28]
    _assert_refused(_csv(tmp_path / "i.csv", {"time": time, "x": _emg(50, 1)[:, 0]}), "not strictly increasing")


def test_non_uniform_time_is_refused(tmp_path):
    time = np.arange(50) / 100.0
    time[30:] += 0.05  # a dropped-packet gap of 5 samples
    _assert_refused(_csv(tmp_path / "j.csv", {"time": time, "x": _emg(50, 1)[:, 0]}), "not uniform")


def test_fs_disagreeing_with_time_is_refused(tmp_path):
    path = _csv(tmp_path / "k.csv", {"time": np.arange(50) / 100.0, "x": _emg(50, 1)[:, 0]})
    _assert_refused(path, "disagrees", fs=1000.0)


def test_fs_disagreeing_with_stored_fs_is_refused(tmp_path):
    path = tmp_path / "l.npz"
    np.savez(path, emg=_emg(), fs=200.0)
    _assert_refused(path, "disagrees", fs=2000.0)


def test_labels_of_wrong_length_are_refused(tmp_path):
    path = tmp_path / "m.npz"
    np.savez(path, emg=_emg(100, 2), labels=np.zeros(98, dtype=np.int64), fs=100.0)
    _assert_refused(path, r"disagree in length by more than 1% \(emg 100, labels 98\)")


def test_non_integer_labels_are_refused(tmp_path):
    path = tmp_path / "n.npz"
    np.savez(path, emg=_emg(100, 2), labels=np.full(100, 0.5), fs=100.0)
    _assert_refused(path, "non-integer")


def test_long_nan_stretch_is_refused(tmp_path):
    emg = _emg(100, 3)
    emg[40:60, 2] = np.inf
    path = tmp_path / "o.npy"
    np.save(path, emg)
    _assert_refused(path, r"emg has NaN/Inf at 20 of 100 time steps .*first at sample 40", fs=100.0)


@pytest.mark.parametrize("shape", [(100,), (2, 100, 3)])
def test_emg_that_is_not_2d_is_refused(tmp_path, shape):
    path = tmp_path / "p.npy"
    np.save(path, np.ones(shape))
    _assert_refused(path, "must be a 2-D array", fs=100.0)


def test_channels_first_array_is_refused_with_a_hint(tmp_path):
    path = tmp_path / "q.npy"
    np.save(path, _emg(100, 8).T)
    _assert_refused(path, "transpose", fs=100.0)


def test_npz_without_emg_key_is_refused(tmp_path):
    path = tmp_path / "r.npz"
    np.savez(path, data=_emg())
    _assert_refused(path, r"no 'emg' array \(keys: \['data'\]\)", fs=100.0)


@pytest.mark.parametrize("name", ["s.npz", "s.npy"])
def test_truncated_numpy_file_is_refused(tmp_path, name):
    path = tmp_path / name
    if name.endswith(".npz"):
        np.savez(path, emg=_emg(500, 4))
    else:
        np.save(path, _emg(500, 4))
    path.write_bytes(path.read_bytes()[:1000])
    _assert_refused(path, "truncated", fs=100.0)


def test_ragged_csv_row_is_refused(tmp_path):
    path = _csv(tmp_path / "t.csv", {"time": np.arange(10) / 10.0, "x": _emg(10, 1)[:, 0]})
    path.write_text(path.read_text() + "1.0\n")
    _assert_refused(path, "line 12 has 1 fields but the header has 2")


def test_missing_label_column_is_refused(tmp_path):
    path = _csv(tmp_path / "u.csv", {"time": np.arange(10) / 10.0, "x": _emg(10, 1)[:, 0]})
    _assert_refused(path, "no label column 'y'", label_column="y")


def test_unsupported_suffix_and_missing_file_are_refused(tmp_path):
    path = tmp_path / "v.wav"
    path.write_bytes(b"RIFF")
    _assert_refused(path, "unsupported file type '.wav'", fs=100.0)
    junk = tmp_path / "v.mat"
    junk.write_bytes(b"MATLAB")
    _assert_refused(junk, "not a MAT file", fs=100.0)
    _assert_refused(tmp_path / "absent.npy", "file not found", fs=100.0)


def test_edf_signals_at_different_rates_and_corrupt_edf_bdf_wfdb_files_are_refused(tmp_path):
    import edfio

    edfio.Edf([edfio.EdfSignal(_emg(1000, 1)[:, 0].astype(np.float64), 1000, label="EMG"),
               edfio.EdfSignal(_emg(500, 1)[:, 0].astype(np.float64), 500, label="ACC")]).write(tmp_path / "mixed.edf")  # fmt: skip
    _assert_refused(tmp_path / "mixed.edf", "different sampling rates .*EMG 1000 Hz, ACC 500 Hz")
    edfio.Edf([edfio.EdfSignal(_emg(2000, 1)[:, 0].astype(np.float64), 1000, label="EMG")]).write(tmp_path / "one.edf")
    good = (tmp_path / "one.edf").read_bytes()
    (tmp_path / "cut.edf").write_bytes(good[: len(good) // 2])
    _assert_refused(tmp_path / "cut.edf", "truncated: .*header indicates 2 data records, but file contains 0")
    (tmp_path / "junk.bdf").write_bytes(b"\xffBIOSEMI" + b"x" * 300)
    _assert_refused(tmp_path / "junk.bdf", "cannot read as BDF")
    (tmp_path / "rec.hea").write_text("rec 2 500 1000\nrec.dat 16 200 16 0 0 0 0 a\n")  # one signal line of two, no .dat
    _assert_refused(tmp_path / "rec.hea", "cannot read the WFDB record")
    import wfdb

    wfdb.wrsamp("cut", fs=1000, units=["mV"], sig_name=["a"], p_signal=_emg(400, 1).astype(np.float64), fmt=["16"],
                write_dir=str(tmp_path))  # fmt: skip
    data = (tmp_path / "cut.dat").read_bytes()
    (tmp_path / "cut.dat").write_bytes(data[: len(data) // 2])
    _assert_refused(tmp_path / "cut.hea", "cannot read the WFDB record")
