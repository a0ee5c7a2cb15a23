"""`tinymyo prep generic`: users' recordings in every format -> window records equal to an
independent scipy computation; subject / recording / time hold-out; labels; channel selection;
bad files and user mistakes; and the corpus used by name (mixture, probe, export windows).

Fixtures are written by each format's own writer (csv text, numpy, scipy.io.savemat, the
project's v7.3 writer, edfio, wfdb.wrsamp); the expected windows are computed here with
scipy.signal directly (`resample_poly` with up/down from the gcd of the rates, then
`prep_reference.reference_preprocess`: butter + filtfilt, iirnotch + filtfilt, z-score).
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import scipy.io
import scipy.signal

from tests.data import prep_reference as ref
from tinymyo_jax.cli import main

REPO = Path(__file__).resolve().parents[2]
FS_OUT, BAND, WINDOW, STRIDE = 2000, (20.0, 450.0), 1000, 500


def _signal(seed: int, seconds: float, fs: float, channels: int) -> np.ndarray:
    """[T, C] broadband noise + a 60 Hz and a 180 Hz tone of channel-specific amplitude (float64)."""
    rng = np.random.default_rng(seed)
    t = np.arange(round(seconds * fs)) / fs
    tones = np.sin(2 * np.pi * 60 * t)[:, None] * rng.uniform(0.5, 2, channels) + np.sin(2 * np.pi * 180 * t)[:, None]
    return rng.standard_normal((t.size, channels)) * rng.uniform(0.5, 3, channels) + tones


def _expected(x: np.ndarray, fs: int) -> np.ndarray:
    """The protocol's z-scored signal at 2 kHz, computed with scipy alone. x: [T, C] at fs."""
    g = math.gcd(FS_OUT, fs)
    y = x if fs == FS_OUT else scipy.signal.resample_poly(x.astype(np.float64), FS_OUT // g, fs // g, axis=0)
    return ref.reference_preprocess(y, FS_OUT, BAND)


def _prep(manual_dir: Path, data_dir: Path, name: str, *options: str) -> int:
    return main(["prep", "generic", "--manual_dir", str(manual_dir), "--name", name, "--data_dir", str(data_dir),
                 "--workers", "1", "--no-progress", *options])  # fmt: skip


def _report(data_dir: Path, name: str) -> dict:
    return json.loads((data_dir / "generic" / name / "1.0.0" / "prep_report.json").read_text())


def _records(data_dir: Path, name: str) -> dict[str, dict]:
    splits = {}
    for split in ("train", "validation", "test"):
        try:
            splits[split] = ref.read_split("generic", split, data_dir, config=name)
        except Exception:  # the split does not exist (pretraining corpora have no test split)
            continue
    return splits


def _windows_by_file(data_dir: Path, name: str) -> dict[str, dict[int, tuple[str, dict]]]:
    """relative file -> {start: (split, record)}."""
    report = _report(data_dir, name)
    files = {e["index"]: e["file"] for e in report["files"]}
    out: dict[str, dict[int, tuple[str, dict]]] = {}
    for split, records in _records(data_dir, name).items():
        for (index, recording, start), record in ref.by_key(records).items():
            assert recording == 0
            out.setdefault(files[index], {})[start] = (split, record)
    return out


# ---------------------------------------------------------------------------------------------
# Every format, written by its own library, against scipy


def _write_formats(root: Path) -> dict[str, tuple[np.ndarray, int]]:
    """One 3-s recording per format, each in its own subject folder; relative path -> (what the
    reader should see [T, C] float64, fs)."""
    import edfio
    import wfdb

    from tinymyo_jax.data.synth.matwriter import savemat_v73

    written: dict[str, tuple[np.ndarray, int]] = {}

    def folder(name: str) -> Path:
        (root / name).mkdir(parents=True, exist_ok=True)
        return root / name

    x = _signal(1, 3, 1000, 3)  # CSV, time in ms, a ';' delimiter
    lines = ["time_ms;a;b;c"] + [";".join([repr(i * 1.0), *(repr(float(v)) for v in row)]) for i, row in enumerate(x)]
    (folder("csv") / "rec.csv").write_text("\n".join(lines) + "\n")
    written["csv/rec.csv"] = (x, 1000)

    x = _signal(2, 3, 2000, 4).astype(np.float32)  # NPZ at the protocol's rate: no resampling
    np.savez(folder("npz") / "rec.npz", emg=x, fs=np.float64(2000))
    written["npz/rec.npz"] = (x.astype(np.float64), 2000)

    x = _signal(3, 3, 1000, 2)  # MAT v5 (scipy's writer)
    scipy.io.savemat(folder("mat5") / "rec.mat", {"emg": x, "fs": 1000.0})
    written["mat5/rec.mat"] = (x, 1000)

    x = _signal(4, 3, 500, 3)  # MAT v7.3 (HDF5), 500 Hz
    savemat_v73(folder("mat73") / "rec.mat", {"emg": x, "fs": 500.0})
    written["mat73/rec.mat"] = (x, 500)

    x = _signal(5, 3, 1000, 2)  # EDF+ (annotations make it EDF+C; they are no channel): 16-bit samples
    edf = edfio.Edf([edfio.EdfSignal(x[:, c], 1000, label=f"EMG{c}") for c in range(2)],
                    annotations=[edfio.EdfAnnotation(0.5, None, "fist")])  # fmt: skip
    edf.write(folder("edf") / "rec.edf")
    x_edf = np.stack([s.data for s in edfio.read_edf(folder("edf") / "rec.edf").signals], axis=1)
    assert np.abs(x_edf - x).max() < 1e-3 * np.abs(x).max()  # what the writer stored: x to 16-bit
    written["edf/rec.edf"] = (x, 1000)

    x = _signal(6, 3, 2048, 3)  # BDF: 24-bit, 2048 Hz (-> 2000 Hz is 125/128)
    edfio.Bdf([edfio.BdfSignal(x[:, c], 2048, label=f"EMG{c}") for c in range(3)]).write(folder("bdf") / "rec.bdf")
    written["bdf/rec.bdf"] = (x, 2048)

    x = _signal(7, 3, 500, 2)  # WFDB: header + 16-bit format-16 signal file
    wfdb.wrsamp("rec", fs=500, units=["mV", "mV"], sig_name=["emg0", "emg1"], p_signal=x, fmt=["16", "16"],
                write_dir=str(folder("wfdb")))  # fmt: skip
    x_wfdb = wfdb.rdrecord(str(root / "wfdb" / "rec")).p_signal
    assert np.abs(x_wfdb - x).max() < 1e-3 * np.abs(x).max()
    written["wfdb/rec.hea"] = (x, 500)
    return written


@pytest.fixture(scope="module")
def formats(tmp_path_factory):
    root = tmp_path_factory.mktemp("formats")
    written = _write_formats(root / "raw")
    # one file per format, with 2, 3 or 4 channels: a mix the corpus must be told to accept
    assert _prep(root / "raw", root / "tfds", "formats", "--time-column", "time_ms", "--time-unit", "ms",
                 "--allow-mixed-channels") == 0
    return written, root / "tfds"


def test_every_format_gives_the_windows_of_an_independent_scipy_chain(formats):
    written, data_dir = formats
    report = _report(data_dir, "formats")
    assert report["consistent"] and report["totals"]["files_skipped"] == 0, report["files"]
    windows = _windows_by_file(data_dir, "formats")
    assert sorted(windows) == sorted(written)
    for relative, (x, fs) in written.items():
        z = _expected(x, fs)
        starts = ref.sliding_starts(z.shape[0], WINDOW, STRIDE)
        assert sorted(windows[relative]) == starts, relative
        channels = x.shape[1]
        for start, (_, record) in windows[relative].items():
            ref.assert_emg_matches(record["emg"], ref.window(z, start, WINDOW), channels)
            assert record["channel_mask"].tolist() == [True] * channels + [False] * (16 - channels)
            assert record["dataset"] == 7  # protocols.CORPORA.index("generic")
    entry = {e["file"]: e for e in report["files"]}
    assert entry["csv/rec.csv"]["notes"] == {} and entry["edf/rec.edf"]["status"] == "used"


def test_subjects_are_held_out_whole(formats):
    written, data_dir = formats
    by_file = _windows_by_file(data_dir, "formats")
    splits = {file: {split for split, _ in windows.values()} for file, windows in by_file.items()}
    assert all(len(s) == 1 for s in splits.values())  # one subject per folder, each in one split
    held = [file for file, s in splits.items() if s == {"validation"}]
    assert len(held) == 1  # round(10 % of 7 subjects) -> at least one
    subjects = {file: {int(r["subject"]) for _, r in windows.values()} for file, windows in by_file.items()}
    assert all(len(s) == 1 for s in subjects.values()) and len(set().union(*subjects.values())) == 7


def test_the_corpus_is_addressed_as_generic_name_for_export_windows(formats):
    from tinymyo_jax.export.windows import load_windows

    _, data_dir = formats
    loaded = load_windows("generic/formats/train", channels=4, samples=WINDOW, count=5, data_dir=data_dir)
    assert loaded.emg.shape == (5, 4, WINDOW) and np.isfinite(loaded.emg).all()


# ---------------------------------------------------------------------------------------------
# Rates from --fs, channel selection, splits without several subjects


def test_npy_needs_fs_and_channels_are_picked_in_order(tmp_path):
    raw = tmp_path / "raw"
    raw.mkdir()
    x = _signal(8, 3, 1000, 20)
    np.save(raw / "wide.npy", x.astype(np.float32))
    # 20 channels without --channels: the file is refused, and with nothing left the command says why
    assert _prep(raw, tmp_path / "tfds", "wide", "--fs", "1000") == 2
    assert main(["prep", "generic", "--manual_dir", str(raw), "--name", "w", "--fs", "1000", "--channels", "0-16",
                 "--data_dir", str(tmp_path / "t")]) == 2  # fmt: skip
    result = subprocess.run(
        [sys.executable, "-m", "tinymyo_jax.cli", "prep", "generic", "--manual_dir", str(raw), "--name", "wide",
         "--data_dir", str(tmp_path / "tfds"), "--workers", "1", "--no-progress", "--fs", "1000"],
        capture_output=True, text=True, cwd=REPO, env=dict(os.environ, PYTHONPATH=str(REPO)),
    )  # fmt: skip
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "20 channels, more than the 16 a window record holds: pick them with --channels" in result.stderr
    # npy carries no rate: without --fs it is refused too
    assert _prep(raw, tmp_path / "tfds", "nofs", "--channels", "0-15") == 2
    assert _prep(raw, tmp_path / "tfds", "picked", "--fs", "1000", "--channels", "19,3,0-1") == 0
    by_file = _windows_by_file(tmp_path / "tfds", "picked")
    z = _expected(x[:, [19, 3, 0, 1]], 1000)
    # one file: validation is the last 10 % of the recording in time (at least a window), train the rest
    starts = {split: sorted(s for s, (sp, _) in by_file["wide.npy"].items() if sp == split) for split in ("train", "validation")}
    cut = z.shape[0] - max(round(0.1 * z.shape[0]), WINDOW)
    assert starts["train"] == [s for s in ref.sliding_starts(z.shape[0], WINDOW, STRIDE) if s + WINDOW <= cut]
    assert starts["validation"] == [s for s in ref.sliding_starts(z.shape[0], WINDOW, STRIDE) if s >= cut]
    assert _report(tmp_path / "tfds", "picked")["files"][0]["dropped"] == {"straddles_time_split": 1}
    for start, (_, record) in by_file["wide.npy"].items():
        ref.assert_emg_matches(record["emg"], ref.window(z, start, WINDOW), 4)


def test_one_subject_holds_out_whole_recordings_and_bad_files_are_reported(tmp_path):
    raw = tmp_path / "raw"
    raw.mkdir()
    for k in range(5):
        np.savez(raw / f"take{k}.npz", emg=_signal(10 + k, 2, 2000, 2).astype(np.float32), fs=np.float64(2000))
    (raw / "broken.npz").write_bytes(b"PK\x03\x04 not really a zip")
    np.savez(raw / "other_rate.npz", emg=_signal(20, 2, 1000, 2).astype(np.float32), fs=np.float64(1000))
    assert _prep(raw, tmp_path / "tfds", "one", "--fs", "2000") == 0
    report = _report(tmp_path / "tfds", "one")
    skipped = {e["file"]: e["reason"] for e in report["files"] if e["status"] == "skipped"}
    assert set(skipped) == {"broken.npz", "other_rate.npz"}
    assert "cannot read .npz" in skipped["broken.npz"] and "disagrees" in skipped["other_rate.npz"]
    splits = {file: {sp for sp, _ in w.values()} for file, w in _windows_by_file(tmp_path / "tfds", "one").items()}
    assert sorted(splits) == [f"take{k}.npz" for k in range(5)]
    assert all(len(s) == 1 for s in splits.values())
    assert sorted(sp for s in splits.values() for sp in s) == ["train"] * 4 + ["validation"]


def test_subject_regex_on_flat_files(tmp_path):
    raw = tmp_path / "raw"
    raw.mkdir()
    for subject in (3, 14, 15, 92):
        for session in (1, 2):
            np.savez(raw / f"S{subject}_session{session}.npz", emg=_signal(subject + session, 1, 2000, 1).astype(np.float32))
    np.savez(raw / "notes.npz", emg=_signal(0, 1, 2000, 1).astype(np.float32))
    assert _prep(raw, tmp_path / "tfds", "flat", "--fs", "2000", "--subject-regex", r"S(\d+)_") == 0
    report = _report(tmp_path / "tfds", "flat")
    assert [e["file"] for e in report["files"] if e["status"] == "skipped"] == ["notes.npz"]
    records = _records(tmp_path / "tfds", "flat")
    by_split = {split: set(r["subject"].tolist()) for split, r in records.items()}
    assert by_split["train"] | by_split["validation"] == {3, 14, 15, 92}
    assert not by_split["train"] & by_split["validation"] and len(by_split["validation"]) == 1


# ---------------------------------------------------------------------------------------------
# Labels


def test_labels_from_a_csv_column_npz_key_and_mat_variable_are_majority_per_window(tmp_path):
    raw = tmp_path / "raw"
    for subject in ("a", "b", "c", "d"):
        (raw / subject).mkdir(parents=True)
        x = _signal(ord(subject), 3, 1000, 2)
        labels = np.where(np.arange(3000) < 1300, 7, 3)  # 7 then 3: classes ("3", "7")
        header = "time,ch0,ch1,gesture"
        rows = [f"{i / 1000!r},{float(row[0])!r},{float(row[1])!r},{label}" for i, (row, label) in enumerate(zip(x, labels))]
        (raw / subject / "rec.csv").write_text("\n".join([header, *rows]) + "\n")
        np.savez(raw / subject / "rec2.npz", signals=x.astype(np.float32), gesture=np.full(3000, 11), fs=np.float64(1000))
        # MAT: a row-vector label variable, as MATLAB often stores them, and the rate as `frequency`
        scipy.io.savemat(raw / subject / "rec3.mat", {"signals": x, "gesture": labels[None, ::-1].astype(float), "frequency": 1000})
    assert _prep(raw, tmp_path / "tfds", "lab", "--label-column", "gesture", "--variable", "signals") == 0
    names = (tmp_path / "tfds" / "generic" / "lab" / "1.0.0" / "label.labels.txt").read_text().split()
    assert names == ["3", "7", "11"]
    for file, windows in _windows_by_file(tmp_path / "tfds", "lab").items():
        for start, (_, record) in windows.items():
            if file.endswith(".npz"):
                assert record["label"] == 2
            elif file.endswith(".csv"):  # majority of the window's samples; at 2 kHz 7 -> 3 at sample 2600
                sevens = min(max(2600 - start, 0), WINDOW)
                assert record["label"] == (1 if sevens > WINDOW - sevens else 0)
            else:  # reversed: 3 until sample 1700 at 1 kHz (3400 at 2 kHz), then 7
                threes = min(max(3400 - start, 0), WINDOW)
                assert record["label"] == (0 if threes >= WINDOW - threes else 1)
            assert record["emg"].shape == (16, WINDOW)
    splits = set(_records(tmp_path / "tfds", "lab"))
    assert splits == {"train", "validation", "test"}  # labelled corpora get a test split


def test_labels_from_a_file_name_regex(tmp_path):
    raw = tmp_path / "raw"
    for subject in range(1, 5):
        (raw / f"p{subject}").mkdir(parents=True)
        for gesture in (2, 10):
            np.savez(raw / f"p{subject}" / f"gesture{gesture}_take.npz", emg=_signal(subject, 1, 2000, 2).astype(np.float32))
        np.savez(raw / f"p{subject}" / "calibration.npz", emg=_signal(subject, 1, 2000, 2).astype(np.float32))
    assert _prep(raw, tmp_path / "tfds", "rx", "--fs", "2000", "--label-regex", r"gesture(\d+)") == 0
    report = _report(tmp_path / "tfds", "rx")
    assert sorted(e["file"] for e in report["files"] if e["status"] == "skipped") == [f"p{s}/calibration.npz" for s in range(1, 5)]
    for file, windows in _windows_by_file(tmp_path / "tfds", "rx").items():
        assert {int(r["label"]) for _, r in windows.values()} == {0 if "gesture2_" in file else 1}
    # 4 subjects, 2 held-out splits: one subject each for validation and test
    subjects = {split: set(r["subject"].tolist()) for split, r in _records(tmp_path / "tfds", "rx").items()}
    assert len(subjects["validation"]) == len(subjects["test"]) == 1 and len(subjects["train"]) == 2


def test_another_rate_gives_the_windows_of_scipy_at_that_rate_and_records_it(tmp_path, capsys):
    """--rate 200 --window 200 --stride 100: the Myo corpora's w200 windows from a 1-kHz file:
    resample_poly by 1/5, band-pass 20-90 Hz at 200 Hz, 1-s windows every 0.5 s."""
    raw = tmp_path / "raw"
    raw.mkdir()
    x = _signal(11, 12, 1000, 8)
    np.save(raw / "myo.npy", x.astype(np.float32))
    options = ("--fs", "1000", "--rate", "200", "--window", "200", "--stride", "100")
    assert _prep(raw, tmp_path / "tfds", "myo200", *options) == 0
    z = ref.reference_preprocess(scipy.signal.resample_poly(x, 1, 5, axis=0), 200, (20.0, 90.0))
    by_file = _windows_by_file(tmp_path / "tfds", "myo200")["myo.npy"]
    cut = z.shape[0] - max(round(0.1 * z.shape[0]), 200)
    expected = [s for s in ref.sliding_starts(z.shape[0], 200, 100) if s + 200 <= cut or s >= cut]
    assert sorted(by_file) == expected and len(expected) == 21
    for start, (_, record) in by_file.items():
        assert record["emg"].shape == (16, 200)
        ref.assert_emg_matches(record["emg"], ref.window(z, start, 200), 8)
    folder = tmp_path / "tfds" / "generic" / "myo200" / "1.0.0"
    assert json.loads((folder / "metadata.json").read_text())["fs"] == 200.0
    assert _report(tmp_path / "tfds", "myo200")["config"]["rate_hz"] == 200.0
    # the same name at another rate is not handed back as "already prepared"
    capsys.readouterr()
    assert _prep(raw, tmp_path / "tfds", "myo200", "--fs", "1000") == 2
    assert "--rate (none) (prepared with 200.0)" in capsys.readouterr().err


# ---------------------------------------------------------------------------------------------
# User mistakes: one line, exit 2


@pytest.mark.parametrize(
    "options, message",
    [
        ([], "needs --name"),
        (["--name", "a b"], "use 1 to 64 letters, digits"),
        (["--name", "x", "--channels", "3-1"], "runs backwards"),
        (["--name", "x", "--channels", "0,0"], "names a channel twice"),
        (["--name", "x", "--subject-regex", "S(\\d+"], "is not a regular expression"),
        (["--name", "x", "--fs", "-5"], "--fs must be > 0"),
        (["--name", "x", "--rate", "50"], "--rate 50: windows of surface EMG at 100 Hz"),
        (["--name", "x", "--rate", "200", "--window", "1"], "a window needs at least 2 samples"),
    ],
)
def test_user_mistakes_are_one_line_errors(tmp_path, capsys, options, message):
    (tmp_path / "raw").mkdir()
    np.save(tmp_path / "raw" / "a.npy", np.zeros((100, 2), np.float32))
    assert main(["prep", "generic", "--manual_dir", str(tmp_path / "raw"), *options]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_generic_options_on_a_named_corpus_and_an_empty_folder_are_refused(tmp_path, capsys):
    (tmp_path / "raw").mkdir()
    assert main(["prep", "uci_emg", "--manual_dir", str(tmp_path / "raw"), "--fs", "100"]) == 2
    assert "apply to `tinymyo prep generic` only" in capsys.readouterr().err
    assert main(["prep", "generic", "--manual_dir", str(tmp_path / "raw"), "--name", "x"]) == 2
    assert "no recordings found" in capsys.readouterr().err


# ---------------------------------------------------------------------------------------------
# The corpus by name: pretraining mixture and probe config, through the command line


def test_mixture_keys_name_generic_corpora_in_both_override_forms():
    from tinymyo_jax.config_files import load_config

    whole = load_config("configs/pretrain/smoke.py:tiny", ["data.mixture={'generic/lab': 1.0}"])
    assert dict(whole.data.mixture) == {"generic/lab": 1.0}
    added = load_config("configs/pretrain/smoke.py:tiny", ["data.mixture.generic/lab=2.0", "data.mixture.emg2pose=0"])
    assert dict(added.data.mixture) == {"ninapro_db6": 1.0, "emg2pose": 0, "generic/lab": 2.0}
    for kind in ("probe", "finetune"):
        config = load_config(f"configs/{kind}/generic.py:lab:tiny")
        assert (config.data.name, config.data.builder_config, config.benchmark) == ("generic", "lab", "generic/lab")
        assert config.task == "classification" and config.data.max_windows == 96
        assert load_config(f"configs/{kind}/generic.py:lab").data.max_windows == 0


@pytest.mark.slow
def test_a_generic_corpus_pretrains_in_a_mixture_from_the_command_line(tmp_path):
    raw = tmp_path / "raw"
    for subject in range(1, 4):
        (raw / f"s{subject}").mkdir(parents=True)
        np.savez(raw / f"s{subject}" / "a.npz", emg=_signal(subject, 4, 1000, 5).astype(np.float32), fs=np.float64(1000))
    assert _prep(raw, tmp_path / "tfds", "mine") == 0
    workdir = tmp_path / "run"
    result = subprocess.run(
        [sys.executable, "-m", "tinymyo_jax.cli", "pretrain", "--config", "configs/pretrain/smoke.py:tiny",
         "--workdir", str(workdir), f"--config.data.data_dir={tmp_path / 'tfds'}",
         "--config.data.mixture={'generic/mine': 1.0}"],
        cwd=REPO, capture_output=True, text=True, timeout=300,
        env=dict(os.environ, JAX_PLATFORMS="cpu", PYTHONPATH=str(REPO)),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    assert json.loads((workdir / "config.json").read_text())["data"]["mixture"] == {"generic/mine": 1.0}
    records = [json.loads(line) for line in (workdir / "metrics.jsonl").read_text().splitlines()]
    train = [r for r in records if "loss" in r and "step" in r]
    assert [r["step"] for r in train][-1] == 6 and all(np.isfinite(r["loss"]) for r in train)
    assert "masked_loss" in json.loads(result.stdout.strip().splitlines()[-1])["validation"]


def _gesture(seed: int, gesture: int, seconds: float, fs: int) -> np.ndarray:
    """2 channels of noise band-passed to a gesture-specific band: separable after z-scoring."""
    band = [(30, 80), (150, 250), (300, 420)][gesture]
    sos = scipy.signal.butter(4, band, btype="bandpass", fs=fs, output="sos")
    noise = np.random.default_rng(seed).standard_normal((round(seconds * fs), 2))
    return scipy.signal.sosfilt(sos, noise, axis=0)


@pytest.mark.slow
def test_a_labelled_generic_corpus_is_probed_from_its_config(tmp_path, capsys):
    raw = tmp_path / "raw"
    for subject in range(1, 6):
        (raw / f"S{subject}").mkdir(parents=True)
        for gesture in range(3):
            x = _gesture(10 * subject + gesture, gesture, 2, 2000)
            np.savez(raw / f"S{subject}" / f"gesture{gesture}.npz", emg=x.astype(np.float32), fs=np.float64(2000))
    assert _prep(raw, tmp_path / "tfds", "gest", "--label-regex", r"gesture(\d+)") == 0
    workdir = tmp_path / "probe"
    assert main(["probe", "--config", str(REPO / "configs/probe/generic.py") + ":gest:tiny", "--workdir", str(workdir),
                 f"--config.data.data_dir={tmp_path / 'tfds'}"]) == 0  # fmt: skip
    results = json.loads((workdir / "results.json").read_text())
    assert results["benchmark"] == "generic/gest" and results["data"]["num_classes"] == 3
    # 5 subjects: one held out for validation, one for test, 3 gestures x 7 windows each
    assert results["data"]["channels"] == 2 and results["data"]["split_sizes"] == {"train": 63, "validation": 21, "test": 21}
    # the spectra differ by class, so both methods separate the held-out subject's windows (chance 1/3)
    assert results["baselines"]["classic_lda"]["metrics"]["accuracy"] >= 0.8
    assert results["metrics"]["accuracy"] >= 0.8 and results["metrics"]["num_windows"] == 21
    assert results["warnings"] == [] and results["data"]["rate_hz"] == 2000.0
    # an encoder that learnt from 200-Hz windows, read at 2 kHz: the run goes on and says so
    from tinymyo_jax.models.checkpoint import save_model_checkpoint
    from tinymyo_jax.models.config import preset
    from tinymyo_jax.models.tinymyo import build_model

    save_model_checkpoint(tmp_path / "ckpt200", build_model(preset("tinyissimo", head="none", input_rate_hz=200.0,
                                                                   embed_dim=16, depth=1, num_heads=2)))  # fmt: skip
    capsys.readouterr()
    assert main(["probe", "--config", str(REPO / "configs/probe/generic.py") + ":gest:tiny", "--workdir",
                 str(tmp_path / "probe200"), f"--config.init={tmp_path / 'ckpt200'}",
                 f"--config.data.data_dir={tmp_path / 'tfds'}"]) == 0  # fmt: skip
    warning = "the encoder learnt from windows at 200 Hz, generic/gest holds windows at 2000 Hz"
    assert f"warning: {warning}" in capsys.readouterr().err
    assert json.loads((tmp_path / "probe200" / "results.json").read_text())["warnings"][0].startswith(warning)
    assert f"**warning**: {warning}" in (tmp_path / "probe200" / "report.md").read_text()
