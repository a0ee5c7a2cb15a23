"""Specification of the NinaPro DB5-DB8 reader, on synthetic corpora in the published layouts.

Raw values are checked against `scipy.io.loadmat` directly (not through the reader's own
MAT loader), and DB8's degrees of actuation against the formula table of datasets.md §6.2.
"""

from __future__ import annotations

import logging
import pathlib
import shutil

import numpy as np
import pytest
import scipy.io

from tinymyo_jax.data.readers import ninapro
from tinymyo_jax.data.readers.base import RawFileError
from tinymyo_jax.data.readers.matfile import load_mat_variables, mat_format
from tinymyo_jax.data.synth.matwriter import save_mat
from tinymyo_jax.data.synth.ninapro import write_raw_corpus
from tinymyo_jax.errors import UserError

# Short blocks keep every corpus under a second to write while all repetitions are present.
_SCALE = {"ninapro_db5": 0.2, "ninapro_db6": 0.1, "ninapro_db7": 0.1, "ninapro_db8": 0.1}


def _write(dataset: str, root: pathlib.Path, **kwargs) -> list[pathlib.Path]:
    kwargs.setdefault("duration_scale", _SCALE[dataset])
    return write_raw_corpus(dataset, root, **kwargs)


def _read_all(root: pathlib.Path, dataset: str):
    recordings = []
    for path in ninapro.list_files(root, dataset):
        [recording] = ninapro.read_file(path, root, dataset)
        recordings.append(recording)
    return recordings


def _raw(path: pathlib.Path) -> dict:
    return scipy.io.loadmat(path)


@pytest.fixture(scope="module")
def ninapro_db5_root(tmp_path_factory) -> pathlib.Path:
    root = tmp_path_factory.mktemp("ninapro_db5")
    _write("ninapro_db5", root)
    return root


@pytest.fixture(scope="module")
def ninapro_db8_root(tmp_path_factory) -> pathlib.Path:
    root = tmp_path_factory.mktemp("ninapro_db8")
    _write("ninapro_db8", root)
    return root


@pytest.fixture
def ninapro_db5_file(ninapro_db5_root, tmp_path) -> tuple[pathlib.Path, dict]:
    """A private copy of S1_E2_A1 (a mid exercise, so offsets matter) and its raw variables,
    for tests that rewrite the file into something broken."""
    target = tmp_path / "s1" / "S1_E2_A1.mat"
    target.parent.mkdir()
    shutil.copy(ninapro_db5_root / "s1" / "S1_E2_A1.mat", target)
    raw = {k: v for k, v in _raw(target).items() if not k.startswith("__")}
    return target, raw


def _rewrite(path: pathlib.Path, raw: dict, **changes) -> None:
    variables = {**raw, **changes}
    save_mat(path, {k: v for k, v in variables.items() if v is not None})


# --------------------------------------------------------------------------------------------
# Layouts, channels, rates, labels


def test_db5_reads_16_myo_channels_at_200hz_with_global_labels(ninapro_db5_root):
    files = ninapro.list_files(ninapro_db5_root, "ninapro_db5")
    assert [f.relative_to(ninapro_db5_root).as_posix() for f in files] == [
        f"s{s}/S{s}_E{e}_A1.mat" for s in (1, 2) for e in (1, 2, 3)
    ]
    offsets, counts = {1: 0, 2: 12, 3: 29}, {1: 12, 2: 17, 3: 23}
    for path in files:
        [rec] = ninapro.read_file(path, ninapro_db5_root, "ninapro_db5")
        raw = _raw(path)
        exercise = rec.meta.extra["exercise"]
        assert rec.emg.dtype == np.float32 and rec.emg.shape[1] == 16 and rec.fs == 200.0
        np.testing.assert_array_equal(rec.emg, raw["emg"])
        assert np.all(rec.emg == np.round(rec.emg)) and rec.emg.min() >= -128 and rec.emg.max() <= 127
        local = raw["restimulus"].ravel().astype(int)
        np.testing.assert_array_equal(rec.labels, np.where(local > 0, local + offsets[exercise], 0))
        first, last = offsets[exercise] + 1, offsets[exercise] + counts[exercise]
        assert set(np.unique(rec.labels)) == {0, *range(first, last + 1)}
        np.testing.assert_array_equal(rec.repetition, raw["rerepetition"].ravel())
        assert set(np.unique(rec.repetition)) == set(range(7))
        # The file's own `exercise` scalar is rotated; the name wins and the disagreement shows.
        assert int(raw["exercise"][0, 0]) != exercise
        assert rec.meta.extra["in_file_mismatch"] == ["exercise"]
        assert rec.meta.subject == int(path.name[1]) and rec.meta.session is None
        assert rec.meta.dataset == "ninapro_db5" and rec.meta.extra["dead_channels"] == []


def test_db6_drops_columns_8_9_and_ignores_macos_clutter(tmp_path):
    files = _write("ninapro_db6", tmp_path)
    assert (tmp_path / "DB6_s1_a" / ".DS_Store").exists()
    assert (tmp_path / "__MACOSX" / "DB6_s1_a" / "._S1_D1_T1.mat").exists()
    listed = ninapro.list_files(tmp_path, "ninapro_db6")
    assert listed == files
    assert [f.relative_to(tmp_path).as_posix() for f in listed] == [
        "DB6_s1_a/S1_D1_T1.mat", "DB6_s1_a/S1_D1_T2.mat", "DB6_s2_a/S2_D1_T1.mat", "DB6_s2_a/S2_D1_T2.mat"
    ]
    for path in listed:
        [rec] = ninapro.read_file(path, tmp_path, "ninapro_db6")
        raw = _raw(path)
        assert rec.fs == 2000.0 and rec.emg.shape == (raw["emg"].shape[0], 14)
        assert np.all(raw["emg"][:, 8:10] == 0)
        np.testing.assert_array_equal(rec.emg, raw["emg"][:, [0, 1, 2, 3, 4, 5, 6, 7, 10, 11, 12, 13, 14, 15]])
        assert rec.meta.extra["source_columns"] == [0, 1, 2, 3, 4, 5, 6, 7, 10, 11, 12, 13, 14, 15]
        assert rec.meta.extra["dead_channels"] == []  # the removed zero columns are not "dead"
        assert set(np.unique(rec.labels)) == {0, 1, 3, 4, 6, 9, 10, 11}
        assert set(np.unique(rec.repetition)) == set(range(13))
        assert rec.meta.session == rec.meta.extra["time"]  # day 1: sessions 1 and 2
        assert 1e-6 < np.std(rec.emg) < 1e-4  # volts


def test_db7_subject_comes_from_the_file_name_not_the_in_file_scalar(tmp_path):
    _write("ninapro_db7", tmp_path)
    recordings = _read_all(tmp_path, "ninapro_db7")
    assert [r.meta.file for r in recordings] == [
        "Subject_1/S1_E1_A1.mat", "Subject_1/S1_E2_A1.mat", "Subject_22/S22_E1_A1.mat", "Subject_22/S22_E2_A1.mat"
    ]
    for rec in recordings:
        assert rec.emg.shape[1] == 12 and rec.fs == 2000.0
        assert set(np.unique(rec.repetition)) == set(range(7))
        first, last = (1, 17) if rec.meta.extra["exercise"] == 1 else (18, 40)
        assert set(np.unique(rec.labels)) == {0, *range(first, last + 1)}
    amputee = recordings[-1]
    assert amputee.meta.subject == 22 and amputee.meta.extra["in_file"]["subject"] == 2
    assert amputee.meta.extra["in_file_mismatch"] == ["subject"] and amputee.meta.extra["amputee"]


def _doa_by_formula(glove: np.ndarray) -> np.ndarray:
    """datasets.md §6.2, written out per DoA with glove columns numbered 1..18."""
    g = {i + 1: glove[:, i].astype(np.float64) for i in range(18)}
    return np.stack(
        [
            0.6390 * g[1] + 0.3830 * g[2] - 0.6390 * g[4] - 0.1900 * g[17],
            1.0 * g[3],
            0.4 * g[5] + 0.6 * g[6],
            0.4 * g[7] + 0.6 * g[8],
            0.1667 * g[10] + 0.3333 * g[11] + 0.1667 * g[13] + 0.3333 * g[14],
        ],
        axis=1,
    )


def test_db8_targets_are_doa_of_glove_with_nan_rows_dropped(ninapro_db8_root):
    files = ninapro.list_files(ninapro_db8_root, "ninapro_db8")
    assert [f.name for f in files] == [f"S{s}_E1_A{k}.mat" for s in (1, 11) for k in (1, 2, 3)]
    for path in files:
        [rec] = ninapro.read_file(path, ninapro_db8_root, "ninapro_db8")
        raw = _raw(path)
        keep = ~np.any(np.isnan(raw["glove"]), axis=1)
        assert 0 < np.sum(~keep) < 20  # the writer puts in a few NaN rows
        assert rec.meta.extra["glove_nonfinite_rows_dropped"] == int(np.sum(~keep))
        assert rec.fs == 2000.0 and rec.meta.extra["acquisition_fs_hz"] == 1111.0
        np.testing.assert_array_equal(rec.emg, raw["emg"][keep])
        np.testing.assert_array_equal(rec.labels, raw["restimulus"].ravel()[keep])
        assert rec.targets.dtype == np.float32 and rec.targets.shape == (int(keep.sum()), 5)
        np.testing.assert_allclose(rec.targets, _doa_by_formula(raw["glove"][keep]), rtol=1e-5, atol=1e-3)
        assert rec.meta.session == rec.meta.extra["acquisition"]
        assert set(np.unique(rec.repetition)) == set(range(3 if rec.meta.session == 3 else 11))
    [amputee] = ninapro.read_file(ninapro_db8_root / "S11_E1_A1.mat", ninapro_db8_root, "ninapro_db8")
    assert amputee.meta.subject == 11 and amputee.meta.extra["in_file"]["subject"] == 101
    assert amputee.meta.extra["dead_channels"] == [13, 14, 15]


@pytest.mark.parametrize("dataset", ninapro.DATASETS)
def test_v5_and_v73_files_give_identical_recordings(dataset, tmp_path):
    v5 = _write(dataset, tmp_path / "v5", duration_scale=0.05)
    v73 = _write(dataset, tmp_path / "v73", duration_scale=0.05, mat_format="v7.3")
    assert {mat_format(p) for p in v5} == {"v5"} and {mat_format(p) for p in v73} == {"v7.3"}
    for a, b in zip(_read_all(tmp_path / "v5", dataset), _read_all(tmp_path / "v73", dataset), strict=True):
        assert a.meta == b.meta and a.fs == b.fs
        for field in ("emg", "labels", "repetition", "targets"):
            x, y = getattr(a, field), getattr(b, field)
            assert (x is None and y is None) or (x.dtype == y.dtype and np.array_equal(x, y)), field


def test_v73_char_and_scalar_variables_decode_as_in_v5(tmp_path):
    variables = {"emg": np.arange(6, dtype=np.float32).reshape(3, 2), "sensor": "Double Myo", "frequency": 200.0}
    save_mat(tmp_path / "a.mat", variables)
    save_mat(tmp_path / "b.mat", variables, mat_format="v7.3")
    a = load_mat_variables(tmp_path / "a.mat", ["emg", "sensor", "frequency"])
    b = load_mat_variables(tmp_path / "b.mat", ["emg", "sensor", "frequency"])
    assert a["sensor"] == b["sensor"] == "Double Myo"
    assert a["frequency"].shape == b["frequency"].shape == (1, 1) and b["frequency"][0, 0] == 200.0
    np.testing.assert_array_equal(b["emg"], variables["emg"])  # (T, C) back, not HDF5's (C, T)


def test_synthetic_corpus_is_a_function_of_the_seed(tmp_path):
    a = _write("ninapro_db5", tmp_path / "a", num_subjects=1, duration_scale=0.05)
    b = _write("ninapro_db5", tmp_path / "b", num_subjects=1, duration_scale=0.05)
    c = _write("ninapro_db5", tmp_path / "c", num_subjects=1, duration_scale=0.05, seed=1)
    assert [p.read_bytes() for p in a] == [p.read_bytes() for p in b]
    assert not np.array_equal(_raw(a[0])["emg"], _raw(c[0])["emg"])


# --------------------------------------------------------------------------------------------
# Broken containers


def test_truncated_v5_file_is_reported_as_truncated(ninapro_db5_file):
    path, _ = ninapro_db5_file
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(RawFileError, match="truncated") as info:
        ninapro.read_file(path, path.parents[1], "ninapro_db5")
    assert str(path) in str(info.value)


def test_truncated_v73_file_is_reported_as_truncated(tmp_path):
    [path, *_] = _write("ninapro_db5", tmp_path, num_subjects=1, duration_scale=0.05, mat_format="v7.3")
    path.write_bytes(path.read_bytes()[:-500])
    with pytest.raises(RawFileError, match="truncated") as info:
        ninapro.read_file(path, tmp_path, "ninapro_db5")
    assert str(path) in str(info.value)


def test_corrupt_bytes_are_reported_as_corrupt(ninapro_db5_file):
    path, _ = ninapro_db5_file
    data = bytearray(path.read_bytes())
    # Inside the first (compressed) variable, well past its tag and zlib header.
    data[600:664] = np.random.default_rng(0).integers(0, 256, 64, dtype=np.uint8).tobytes()
    path.write_bytes(bytes(data))
    with pytest.raises(RawFileError, match="corrupt") as info:
        ninapro.read_file(path, path.parents[1], "ninapro_db5")
    assert str(path) in str(info.value)


@pytest.mark.parametrize(
    "content, reason",
    [(b"", "empty"), (b"not a matlab file at all\n" * 20, "not a MAT file"), (b"MATLAB 5.0" * 3, "truncated")],
)
def test_files_that_are_not_mat_files_are_named_as_such(tmp_path, content, reason):
    path = tmp_path / "S1_E1_A1.mat"
    path.write_bytes(content)
    with pytest.raises(RawFileError, match=reason) as info:
        ninapro.read_file(path, tmp_path, "ninapro_db8")
    assert info.value.path == str(path)


def test_missing_emg_names_the_variable_and_what_the_file_holds(ninapro_db5_file):
    path, raw = ninapro_db5_file
    _rewrite(path, raw, emg=None)
    with pytest.raises(RawFileError, match=r"'emg' missing \(the file holds: acc, .*restimulus") as info:
        ninapro.read_file(path, path.parents[1], "ninapro_db5")
    assert str(path) in str(info.value)


# --------------------------------------------------------------------------------------------
# Bad contents


@pytest.mark.parametrize(
    "make_emg, reason",
    [
        (lambda emg: emg[:, :15], r"must be \(T, 16\), got \(\d+, 15\)"),
        (lambda emg: emg.T, r"looks transposed"),
        (lambda emg: emg[:, 0], r"must be \(T, 16\)"),  # saved as a (T, 1) column
        (lambda emg: "not numbers", r"real numeric array, got text"),
    ],
)
def test_emg_of_the_wrong_shape_or_type_is_rejected(ninapro_db5_file, make_emg, reason):
    path, raw = ninapro_db5_file
    _rewrite(path, raw, emg=make_emg(raw["emg"]))
    with pytest.raises(RawFileError, match=reason) as info:
        ninapro.read_file(path, path.parents[1], "ninapro_db5")
    assert str(path) in str(info.value)


def test_label_vector_of_the_wrong_shape_is_rejected(ninapro_db5_file):
    path, raw = ninapro_db5_file
    _rewrite(path, raw, restimulus=np.repeat(raw["restimulus"], 2, axis=1))
    with pytest.raises(RawFileError, match=r"restimulus must be a \(T, 1\) vector"):
        ninapro.read_file(path, path.parents[1], "ninapro_db5")


@pytest.mark.parametrize("extra_samples", [7, -5])
def test_label_vectors_longer_or_shorter_than_emg_are_truncated_and_recorded(
    ninapro_db5_file, extra_samples, caplog
):
    path, raw = ninapro_db5_file
    num_samples = raw["emg"].shape[0]
    labels = raw["restimulus"]
    if extra_samples > 0:
        labels = np.concatenate([labels, np.ones((extra_samples, 1), np.int8)])
    else:
        labels = labels[:extra_samples]
    _rewrite(path, raw, restimulus=labels)
    with caplog.at_level(logging.WARNING, logger="tinymyo_jax.data.readers.ninapro"):
        [rec] = ninapro.read_file(path, path.parents[1], "ninapro_db5")
    expected_length = min(num_samples, num_samples + extra_samples)
    assert rec.num_samples == expected_length == rec.labels.shape[0] == rec.repetition.shape[0]
    if extra_samples > 0:
        assert rec.meta.extra["truncated_samples"] == {"restimulus": extra_samples}
    else:
        assert rec.meta.extra["truncated_samples"] == {"emg": 5, "rerepetition": 5}
    assert "truncated" in caplog.text and str(path) in caplog.text


def test_lengths_differing_by_more_than_one_percent_are_rejected(ninapro_db5_file):
    path, raw = ninapro_db5_file
    _rewrite(path, raw, rerepetition=raw["rerepetition"][: raw["emg"].shape[0] // 2])
    with pytest.raises(RawFileError, match="disagree in length"):
        ninapro.read_file(path, path.parents[1], "ninapro_db5")


def test_short_nan_inf_stretch_in_emg_is_interpolated_and_recorded(ninapro_db5_file):
    path, raw = ninapro_db5_file
    emg = raw["emg"].copy()
    emg[100:104, 3] = np.nan
    emg[200, 5] = np.inf
    _rewrite(path, raw, emg=emg)
    [rec] = ninapro.read_file(path, path.parents[1], "ninapro_db5")
    assert rec.meta.extra["nonfinite_emg_rows"] == 5
    assert np.all(np.isfinite(rec.emg))
    np.testing.assert_allclose(rec.emg[100:104, 3], np.linspace(emg[99, 3], emg[104, 3], 6)[1:-1], rtol=1e-6)
    np.testing.assert_array_equal(rec.emg[:100], emg[:100])


def test_long_nan_stretch_in_emg_is_rejected(ninapro_db5_file):
    path, raw = ninapro_db5_file
    emg = raw["emg"].copy()
    emg[1000:1200, :] = np.nan
    _rewrite(path, raw, emg=emg)
    with pytest.raises(RawFileError, match=r"NaN/Inf at 200 of \d+ time steps .* first at sample 1000") as info:
        ninapro.read_file(path, path.parents[1], "ninapro_db5")
    assert str(path) in str(info.value)


def test_constant_channel_is_listed_as_dead(ninapro_db5_file):
    path, raw = ninapro_db5_file
    emg = raw["emg"].copy()
    emg[:, 4] = 0.0
    _rewrite(path, raw, emg=emg)
    [rec] = ninapro.read_file(path, path.parents[1], "ninapro_db5")
    assert rec.meta.extra["dead_channels"] == [4]


def test_db5_labels_already_global_are_kept_and_out_of_range_rejected(ninapro_db5_file):
    path, raw = ninapro_db5_file
    local = raw["restimulus"].astype(np.int8)
    _rewrite(path, raw, restimulus=np.where(local > 0, local + 12, 0).astype(np.int8))
    [rec] = ninapro.read_file(path, path.parents[1], "ninapro_db5")
    assert rec.meta.extra["labels_already_global"] and rec.labels.max() == 29
    _rewrite(path, raw, restimulus=np.where(local > 0, local + 30, 0).astype(np.int8))
    with pytest.raises(RawFileError, match=r"fit neither exercise E2's own ids 1..17 nor its global ids 13..29"):
        ninapro.read_file(path, path.parents[1], "ninapro_db5")


def test_db8_glove_without_any_finite_row_is_rejected(ninapro_db8_root, tmp_path):
    path = tmp_path / "S1_E1_A3.mat"
    raw = {k: v for k, v in _raw(ninapro_db8_root / path.name).items() if not k.startswith("__")}
    _rewrite(path, raw, glove=np.full_like(raw["glove"], np.nan))
    with pytest.raises(RawFileError, match="glove is NaN/Inf at every time step"):
        ninapro.read_file(path, tmp_path, "ninapro_db8")


# --------------------------------------------------------------------------------------------
# Listing


def test_listing_skips_foreign_names_and_refuses_duplicates(ninapro_db5_root, tmp_path, caplog):
    shutil.copytree(ninapro_db5_root, tmp_path / "DB5")
    (tmp_path / "DB5" / "notes.mat").write_bytes(b"x")
    with caplog.at_level(logging.WARNING, logger="tinymyo_jax.data.readers.ninapro"):
        assert len(ninapro.list_files(tmp_path / "DB5", "ninapro_db5")) == 6
    assert "notes.mat" in caplog.text
    shutil.copy(tmp_path / "DB5" / "s1" / "S1_E1_A1.mat", tmp_path / "DB5" / "S1_E1_A1.mat")
    with pytest.raises(UserError, match="same ninapro_db5 file"):
        ninapro.list_files(tmp_path / "DB5", "ninapro_db5")
    with pytest.raises(UserError, match="ninapro_db9"):
        ninapro.list_files(tmp_path, "ninapro_db9")
