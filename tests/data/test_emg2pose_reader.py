"""emg2pose reader: synthetic corpus round trip, metadata handling, and refusal of bad files."""

from __future__ import annotations

import pathlib

import h5py
import numpy as np
import pytest

from tinymyo_jax.data.readers import emg2pose as reader
from tinymyo_jax.data.readers.base import RawFileError
from tinymyo_jax.data.recording import Recording
from tinymyo_jax.data import synth as synth_registry
from tinymyo_jax.data.synth import emg2pose as synth

FS = 2000.0


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> tuple[pathlib.Path, list[pathlib.Path]]:
    root = tmp_path_factory.mktemp("emg2pose")
    return root, synth.write_raw_corpus("emg2pose", root, seed=3, num_subjects=3, duration_scale=0.6)


def _row(filename: str, *, user: str = "u1", side: str = "left", split: str = "train") -> dict[str, object]:
    return dict(
        user=user, session="s1", stage="Freeform", side=side, moving_hand="both", held_out_user=False,
        held_out_stage=False, split=split, generalization="none", start=0.0, end=1.0, filename=filename,
    )  # fmt: skip


def _single_file(
    root: pathlib.Path,
    *,
    num_samples: int = 400,
    emg: np.ndarray | None = None,
    angles: np.ndarray | None = None,
    time: np.ndarray | None = None,
    attrs: dict[str, object] | None = None,
    joint_dtype: str = "<f4",
) -> pathlib.Path:
    """A one-file corpus with controllable contents; returns the .hdf5 path."""
    rng = np.random.default_rng(0)
    time = 1.67e9 + np.arange(num_samples) / FS if time is None else time
    angles = 0.3 + 0.1 * rng.standard_normal((num_samples, 20)) if angles is None else angles
    emg = rng.standard_normal((num_samples, 16)).astype(np.float32) if emg is None else emg
    attrs = {"sample_rate": FS, "user": "u1", "side": "left"} if attrs is None else attrs
    path = root / "rec_left.hdf5"
    synth.write_hdf5(path, time=time, joint_angles=angles, emg=emg, attrs=attrs, joint_dtype=joint_dtype)
    synth.write_metadata_csv(root / "metadata.csv", [_row("rec_left")])
    return path


def _read(path: pathlib.Path) -> Recording:
    (recording,) = reader.read_file(path, path.parent, "emg2pose")
    return recording


# ----------------------------------------------------------------------------------------------
# The synthetic corpus reads back as written.
# ----------------------------------------------------------------------------------------------


def test_list_files_returns_the_written_files_in_order(corpus):
    root, written = corpus
    assert reader.list_files(root, "emg2pose") == written
    assert len(written) == 9


def test_recordings_have_emg_angles_fs_and_metadata(corpus):
    root, written = corpus
    users = set()
    splits = set()
    for path in written:
        (rec,) = reader.read_file(path, root, "emg2pose")
        assert rec.emg.shape == (3000, 16) and rec.emg.dtype == np.float32
        assert rec.targets.shape == (3000, 20) and rec.targets.dtype == np.float32
        assert rec.fs == FS and rec.labels is None
        assert rec.meta.dataset == "emg2pose" and rec.meta.file == path.name
        extra = rec.meta.extra
        assert rec.meta.subject == reader.subject_id(extra["user"])
        assert rec.meta.session == reader.subject_id(extra["session_name"])
        assert extra["side"] in ("left", "right") and path.stem.endswith(extra["side"])
        assert extra["fs_source"] == "sample_rate" and extra["dead_channels"] == []
        users.add(extra["user"])
        splits.add(extra["split"])
    assert len(users) == 3
    assert splits == {"train", "val", "test"}


def test_ik_failure_count_matches_the_all_zero_rows_in_the_file(corpus):
    root, written = corpus
    for path in written:
        with h5py.File(path, "r") as handle:
            angles = handle["emg2pose/timeseries"]["joint_angles"]
        expected = int(np.all(angles == 0, axis=1).sum())
        rec = _read(path)
        assert expected == synth.ik_failure_samples(3000) == 120
        assert rec.meta.extra["ik_failure_samples"] == expected
        assert reader.ik_failure_mask(rec.targets).sum() == expected


def test_angles_are_learnable_from_the_emg_envelope(corpus):
    """Ridge regression from per-channel RMS (50-ms windows) to angles generalises to a held-out user."""
    root, written = corpus

    def features(split: str) -> tuple[np.ndarray, np.ndarray]:
        xs, ys = [], []
        for path in written:
            rec = _read(path)
            if rec.meta.extra["split"] != split:
                continue
            ok = ~reader.ik_failure_mask(rec.targets)
            n = rec.num_samples // 100 * 100
            rms = np.sqrt(np.mean(rec.emg[:n].reshape(-1, 100, 16) ** 2, axis=1))
            keep = ok[:n].reshape(-1, 100).all(axis=1)
            xs.append(np.log(rms[keep]))
            ys.append(rec.targets[:n].reshape(-1, 100, 20).mean(axis=1)[keep])
        x = np.concatenate(xs)
        return np.column_stack([x, np.ones(len(x))]), np.concatenate(ys)

    x_train, y_train = features("train")
    x_test, y_test = features("test")
    weights = np.linalg.solve(x_train.T @ x_train + 1e-3 * np.eye(x_train.shape[1]), x_train.T @ y_train)
    residual = np.sum((x_test @ weights - y_test) ** 2)
    r2 = 1.0 - residual / np.sum((y_test - y_test.mean(axis=0)) ** 2)
    assert r2 > 0.5


def test_writer_is_deterministic_given_the_seed(tmp_path):
    first = synth.write_raw_corpus("emg2pose", tmp_path / "a", seed=7, num_subjects=1, duration_scale=0.1)
    second = synth.write_raw_corpus("emg2pose", tmp_path / "b", seed=7, num_subjects=1, duration_scale=0.1)
    for a, b in zip(first, second, strict=True):
        assert a.name == b.name
        np.testing.assert_array_equal(_read(a).emg, _read(b).emg)
    assert {_read(p).meta.extra["split"] for p in first} == {"train", "val", "test"}


def test_subject_id_is_a_stable_hash_of_the_user_string():
    # Pinned: a change here renumbers every prepared emg2pose dataset.
    assert reader.subject_id("2516ac85e2") == 1672288178
    assert reader.subject_id("a") == 1251442962
    assert 0 <= reader.subject_id("anything") < 2**31


# ----------------------------------------------------------------------------------------------
# Accepted variants.
# ----------------------------------------------------------------------------------------------


def test_float64_joint_angles_as_in_metas_fixture_are_accepted(tmp_path):
    rec = _read(_single_file(tmp_path, joint_dtype="<f8"))
    assert rec.targets.dtype == np.float32 and rec.targets.shape == (400, 20)


def test_missing_sample_rate_falls_back_to_the_time_column(tmp_path):
    rec = _read(_single_file(tmp_path, attrs={"user": "u1"}))
    assert rec.fs == pytest.approx(FS, rel=1e-6)
    assert rec.meta.extra["fs_source"] == "time"


def test_flat_channel_is_recorded_not_refused(tmp_path):
    emg = np.random.default_rng(1).standard_normal((400, 16)).astype(np.float32)
    emg[:, 5] = 0.25
    rec = _read(_single_file(tmp_path, emg=emg))
    assert rec.meta.extra["dead_channels"] == [5]


def test_short_nan_stretch_in_emg_is_interpolated_and_counted(tmp_path):
    emg = np.random.default_rng(2).standard_normal((400, 16)).astype(np.float32)
    emg[100:104, 3] = np.nan  # 4 of 400 time steps: 1 %
    rec = _read(_single_file(tmp_path, emg=emg))
    assert rec.meta.extra["nonfinite_emg_rows"] == 4 and np.all(np.isfinite(rec.emg))
    np.testing.assert_allclose(rec.emg[100:104, 3], np.linspace(emg[99, 3], emg[104, 3], 6)[1:-1], rtol=1e-6)
    np.testing.assert_array_equal(np.delete(rec.emg, np.s_[100:104], axis=0), np.delete(emg, np.s_[100:104], axis=0))


def test_single_inf_in_joint_angles_is_interpolated_and_counted(tmp_path):
    angles = np.tile(np.linspace(0.1, 0.5, 400)[:, None], (1, 20))
    expected = angles[7, 0]
    angles[7, 0] = np.inf
    rec = _read(_single_file(tmp_path, angles=angles))
    assert rec.meta.extra["nonfinite_joint_angles_rows"] == 1 and "nonfinite_emg_rows" not in rec.meta.extra
    assert rec.targets[7, 0] == pytest.approx(expected, rel=1e-6)


def test_package_registry_dispatches_to_this_writer(tmp_path):
    written = synth_registry.write_raw_corpus("emg2pose", tmp_path, num_subjects=2, duration_scale=0.1)
    assert written == reader.list_files(tmp_path, "emg2pose")


# ----------------------------------------------------------------------------------------------
# Refused input: each raises RawFileError naming the file.
# ----------------------------------------------------------------------------------------------


def _assert_refused(path: pathlib.Path, match: str) -> None:
    with pytest.raises(RawFileError, match=match) as info:
        reader.read_file(path, path.parent, "emg2pose")
    assert info.value.path == str(path)


def test_sample_rate_disagreeing_with_time_is_refused(tmp_path):
    path = _single_file(tmp_path, time=1.67e9 + np.arange(400) / 1000.0)
    _assert_refused(path, "disagrees")


def test_listed_but_missing_file_is_reported(corpus, tmp_path):
    root, written = corpus
    (tmp_path / "metadata.csv").write_bytes((root / "metadata.csv").read_bytes())
    listed = reader.list_files(tmp_path, "emg2pose")
    assert [p.name for p in listed] == [p.name for p in written]
    _assert_refused(listed[0], "listed in metadata.csv but missing")


def test_hdf5_not_in_metadata_is_reported(tmp_path):
    _single_file(tmp_path)
    stray = tmp_path / "stray_right.hdf5"
    synth.write_hdf5(stray, time=np.arange(10.0), joint_angles=np.ones((10, 20)), emg=np.ones((10, 16)), attrs={})
    assert stray in reader.list_files(tmp_path, "emg2pose")
    _assert_refused(stray, "not listed")


def test_truncated_file_is_refused(tmp_path):
    path = _single_file(tmp_path, num_samples=4000)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    _assert_refused(path, "truncated or corrupt")


def test_missing_group_is_refused(tmp_path):
    path = _single_file(tmp_path)
    with h5py.File(path, "w") as handle:
        handle.create_dataset("other", data=np.zeros(3))
    _assert_refused(path, "no group 'emg2pose'")


def test_missing_emg_field_is_refused(tmp_path):
    path = _single_file(tmp_path)
    table = np.zeros(50, dtype=[("time", "<f8"), ("joint_angles", "<f4", (20,))])
    with h5py.File(path, "w") as handle:
        handle.create_group("emg2pose").create_dataset("timeseries", data=table)
    _assert_refused(path, r"lacks field\(s\) \['emg'\]")


def test_wrong_channel_count_is_refused(tmp_path):
    path = _single_file(tmp_path)
    table = np.zeros(50, dtype=[("time", "<f8"), ("joint_angles", "<f4", (20,)), ("emg", "<f4", (8,))])
    with h5py.File(path, "w") as handle:
        handle.create_group("emg2pose").create_dataset("timeseries", data=table)
    _assert_refused(path, r"'emg' has per-sample shape \(8,\), expected \(16,\)")


def test_long_nan_stretch_in_emg_is_refused(tmp_path):
    emg = np.random.default_rng(2).standard_normal((400, 16)).astype(np.float32)
    emg[100:150, 3] = np.nan
    _assert_refused(_single_file(tmp_path, emg=emg), r"emg has NaN/Inf at 50 of 400 time steps .*first at sample 100")


def test_many_inf_in_joint_angles_are_refused(tmp_path):
    angles = np.full((400, 20), 0.2)
    angles[7:12, 0] = np.inf  # 5 of 400 time steps: above 1 %
    _assert_refused(_single_file(tmp_path, angles=angles), "joint_angles has NaN/Inf at 5 of 400")


def test_user_attribute_contradicting_metadata_is_refused(tmp_path):
    _assert_refused(_single_file(tmp_path, attrs={"sample_rate": FS, "user": "someone-else"}), "contradicts")


def test_missing_metadata_csv_is_refused(tmp_path):
    with pytest.raises(RawFileError, match="no metadata.csv"):
        reader.list_files(tmp_path, "emg2pose")


def test_metadata_without_split_column_is_refused(tmp_path):
    (tmp_path / "metadata.csv").write_text("filename,user,session,stage,side\nf,u,s,st,left\n")
    with pytest.raises(RawFileError, match=r"missing column\(s\) \['split'\]"):
        reader.list_files(tmp_path, "emg2pose")
