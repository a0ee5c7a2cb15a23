"""Reader for emg2pose (Meta): one HDF5 file per hand per ~1-min stage, indexed by metadata.csv.

Layout (datasets.md §9.1): `<root>/metadata.csv` with one row per recording (columns `filename`,
`user`, `session`, `stage`, `side`, `split`, ...) and `<root>/<filename>.hdf5`. Each file has a
group `emg2pose` whose attributes describe the recording (`sample_rate`, `user`, `side`, ...) and a
1-D compound dataset `emg2pose/timeseries` with fields `time` (float64, unix seconds),
`joint_angles` (20 floats, radians; float32 in the real files, float64 in Meta's test fixture)
and `emg` (16 float32, already high-passed by Meta).

One Recording per file: emg float32 [T, 16], fs from the `sample_rate` attribute (checked
against the time column), targets = joint angles float32 [T, 20] in radians (order `JOINT_NAMES`).

Decisions:
- **Split and identity come from metadata.csv**, as in Meta's and TinyMyo's loaders. When the
  file's own `user`/`side` attributes contradict its row, the file is refused.
- **Subject id**: `subject_id(user)` = first 4 bytes of SHA-256 of the UTF-8 user string, as an
  unsigned big-endian integer with the top bit cleared (0 <= id < 2**31). It depends on the user
  string alone, so it is the same in the full corpus, the mini corpus and any subset, on every
  machine (Python's `hash()` is salted per process). `list_files` refuses a metadata.csv in which
  two users would collide (probability ~1e-5 for 193 users). The user string is kept in
  `meta.extra["user"]`. `meta.session` is the same hash of the session string.
- **Missing / unlisted files**: `list_files` returns every file listed in metadata.csv and every
  `*.hdf5` in the root; `read_file` raises RawFileError for a listed file that is missing and for
  a file that has no row (its split is unknown). Both therefore appear, by name, in the
  preparation report instead of vanishing.
- **IK failures** (all 20 angles ~0, Meta's `get_ik_failures_mask`) are kept in the Recording
  (pretraining uses the EMG regardless); their count is `meta.extra["ik_failure_samples"]` and
  `ik_failure_mask(recording.targets)` gives the per-sample mask.
- NaN/Inf in emg, joint angles or time follow the policy of every reader (`readers/checks.py`):
  up to 1 % of the time steps are interpolated and counted, more is refused.
- Speed: the compound dataset is read in one call and the fields are views of that buffer
  (emg2pose is 431 GiB; per-field reads would walk every file three times).
"""

from __future__ import annotations

import csv
import functools
from pathlib import Path
from typing import Any, Mapping

import h5py
import numpy as np

from tinymyo_jax.data.readers import checks
from tinymyo_jax.data.corpora.emg2pose import NAME
from tinymyo_jax.data.readers.base import RawFileError, check_dataset, relative_file
from tinymyo_jax.data.recording import Recording, RecordingMeta, hashed_id

DATASETS: tuple[str, ...] = (NAME,)

METADATA_FILE = "metadata.csv"
GROUP = "emg2pose"
TIMESERIES = "timeseries"
NUM_CHANNELS = 16
JOINT_NAMES: tuple[str, ...] = (
    "THUMB_CMC_FE", "THUMB_CMC_AA", "THUMB_MCP_FE", "THUMB_IP_FE",
    "INDEX_MCP_AA", "INDEX_MCP_FE", "INDEX_PIP_FE", "INDEX_DIP_FE",
    "MIDDLE_MCP_AA", "MIDDLE_MCP_FE", "MIDDLE_PIP_FE", "MIDDLE_DIP_FE",
    "RING_MCP_AA", "RING_MCP_FE", "RING_PIP_FE", "RING_DIP_FE",
    "PINKY_MCP_AA", "PINKY_MCP_FE", "PINKY_PIP_FE", "PINKY_DIP_FE",
)  # fmt: skip
SPLITS: tuple[str, ...] = ("train", "val", "test")
# Metadata columns a reader cannot do without; the others (moving_hand, held_out_*, ...) are
# copied into meta.extra when present.
REQUIRED_COLUMNS: tuple[str, ...] = ("filename", "user", "session", "stage", "side", "split")
OPTIONAL_COLUMNS: tuple[str, ...] = ("moving_hand", "held_out_user", "held_out_stage", "generalization")
# np.isclose(angle, 0) with its default atol, as Meta's get_ik_failures_mask uses.
IK_FAILURE_ATOL = 1e-8


def subject_id(user: str) -> int:
    """Stable integer id of an emg2pose user string: SHA-256 prefix, 0 <= id < 2**31."""
    return hashed_id(user)


def ik_failure_mask(joint_angles: np.ndarray) -> np.ndarray:
    """bool [T]: True where inverse kinematics failed, i.e. all 20 angles are ~0 (|a| <= 1e-8).

    Args:
      joint_angles: [T, 20] radians.
    """
    return np.all(np.abs(joint_angles) <= IK_FAILURE_ATOL, axis=1)


def list_files(root: Path, dataset: str) -> list[Path]:
    """Files listed in `<root>/metadata.csv` plus any `*.hdf5` in `root`, sorted by path.

    Missing listed files and unlisted files are included on purpose: `read_file` turns each into
    a RawFileError naming it (see the module docstring).
    """
    check_dataset(dataset, DATASETS, NAME)
    root = Path(root)
    rows = _metadata(root)
    listed = {root / f"{name}.hdf5" for name in rows}
    present = set(root.glob("*.hdf5"))
    return sorted(listed | present)


def read_file(path: Path, root: Path, dataset: str) -> list[Recording]:
    """One emg2pose HDF5 file -> [Recording] (emg [T,16], targets = joint angles [T,20])."""
    check_dataset(dataset, DATASETS, NAME)
    path, root = Path(path), Path(root)
    name = path.name[: -len(".hdf5")] if path.name.endswith(".hdf5") else path.name
    row = _metadata(root).get(name)
    if row is None:
        raise RawFileError(path, f"not listed in {root / METADATA_FILE}; its split is unknown (add a row or remove the file)")
    if not path.is_file():
        raise RawFileError(path, f"listed in {METADATA_FILE} but missing from the corpus; re-download or extract it")

    time, joint_angles, emg, attrs = _read_hdf5(path)
    num_samples = emg.shape[0]
    if num_samples < 2:
        raise RawFileError(path, f"timeseries has {num_samples} samples; need at least 2")
    extra: dict[str, Any] = {
        "user": row["user"],
        "session_name": row["session"],
        "stage": row["stage"],
        "side": row["side"],
        "split": row["split"],
    }
    emg = checks.repair_nonfinite(path, "emg", emg, extra)
    joint_angles = checks.repair_nonfinite(path, "joint_angles", joint_angles, extra)
    time = checks.repair_nonfinite(path, "time", time, extra)

    for key in ("user", "side"):
        if key in attrs and str(attrs[key]) != row[key]:
            raise RawFileError(
                path, f"attribute {key}={attrs[key]!r} contradicts {METADATA_FILE} ({key}={row[key]!r})"
            )
    time_fs = checks.fs_from_time(path, time, tolerance=None)
    if "sample_rate" in attrs:
        try:
            fs = float(attrs["sample_rate"])
        except (TypeError, ValueError):
            fs = float("nan")
        if not fs > 0:
            raise RawFileError(path, f"sample_rate attribute is {attrs['sample_rate']!r}; expected a rate > 0 Hz")
        checks.check_fs_agrees(path, fs, time_fs, "the step of the time column")
        fs_source = "sample_rate"
    else:
        # Every real file carries sample_rate; without it the time column states the rate just
        # as well (the 1 % check above is the same comparison).
        fs, fs_source = time_fs, "time"

    extra.update(
        ik_failure_samples=int(ik_failure_mask(joint_angles).sum()),
        dead_channels=checks.dead_channels(emg),
        fs_source=fs_source,
        time_start_s=float(time[0]),
        # Not errors (the samples are still in acquisition order), but worth seeing in reports.
        **checks.time_irregularities(time),
    )
    for column in OPTIONAL_COLUMNS:
        if column in row:
            extra[column] = row[column]
    meta = RecordingMeta(
        dataset=NAME,
        subject=subject_id(row["user"]),
        session=subject_id(row["session"]),
        file=relative_file(path, root),
        extra=extra,
    )
    return [Recording(emg=emg, fs=fs, meta=meta, targets=joint_angles)]


# --------------------------------------------------------------------------------------------
# Internals.
# --------------------------------------------------------------------------------------------


def _decode(value: Any) -> Any:
    """HDF5 string attributes come back as bytes or numpy scalars depending on how they were written."""
    if isinstance(value, bytes):
        return value.decode("utf-8")
    if isinstance(value, np.ndarray) and value.shape == ():
        value = value[()]
    if isinstance(value, np.generic):
        return value.item()
    return value


def _read_hdf5(path: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray, dict[str, Any]]:
    """(time f8 [T], joint_angles f4 [T,20], emg f4 [T,16], group attrs) from one file."""
    try:
        with h5py.File(path, "r") as handle:
            group = handle.get(GROUP)
            if not isinstance(group, h5py.Group):
                raise RawFileError(path, f"no group {GROUP!r} (top-level keys: {sorted(handle.keys())})")
            dset = group.get(TIMESERIES)
            if not isinstance(dset, h5py.Dataset):
                raise RawFileError(path, f"no dataset {GROUP}/{TIMESERIES} (keys: {sorted(group.keys())})")
            fields = dset.dtype.fields or {}
            missing = [f for f in ("time", "joint_angles", "emg") if f not in fields]
            if missing:
                raise RawFileError(path, f"{GROUP}/{TIMESERIES} lacks field(s) {missing} (has {sorted(fields)})")
            if dset.ndim != 1:
                raise RawFileError(path, f"{GROUP}/{TIMESERIES} must be 1-D, got shape {dset.shape}")
            # Check the per-sample shapes from the dtype before paying for the read.
            expected = {"time": (), "joint_angles": (len(JOINT_NAMES),), "emg": (NUM_CHANNELS,)}
            for field, shape in expected.items():
                got = fields[field][0].shape
                if got != shape:
                    raise RawFileError(path, f"field {field!r} has per-sample shape {got}, expected {shape}")
            attrs = {key: _decode(value) for key, value in group.attrs.items()}
            table = dset[()]  # one read of the whole compound array
    except OSError as exc:
        raise RawFileError(path, f"cannot read HDF5 ({exc}); the file is truncated or corrupt") from exc
    time = np.asarray(table["time"], dtype=np.float64)
    joint_angles = np.ascontiguousarray(table["joint_angles"], dtype=np.float32)
    emg = np.ascontiguousarray(table["emg"], dtype=np.float32)
    return time, joint_angles, emg, attrs


def _metadata(root: Path) -> Mapping[str, Mapping[str, str]]:
    """filename -> row of `<root>/metadata.csv`, parsed once per process per file version."""
    path = root / METADATA_FILE
    try:
        stat = path.stat()
    except OSError as exc:
        raise RawFileError(path, f"no {METADATA_FILE} in the emg2pose root ({exc}); it lists the files and splits") from exc
    return _parse_metadata(str(path), stat.st_mtime_ns, stat.st_size)


@functools.lru_cache(maxsize=4)
def _parse_metadata(path: str, _mtime_ns: int, _size: int) -> Mapping[str, Mapping[str, str]]:
    # mtime/size are part of the cache key so that an edited metadata.csv is re-read; reading the
    # real 5 MB file once per recording would cost ~25 000 parses.
    try:
        with open(path, newline="", encoding="utf-8") as handle:
            reader = csv.DictReader(handle)
            columns = reader.fieldnames or []
            missing = [c for c in REQUIRED_COLUMNS if c not in columns]
            if missing:
                raise RawFileError(path, f"missing column(s) {missing} (has {columns})")
            rows: dict[str, dict[str, str]] = {}
            for line_no, row in enumerate(reader, start=2):
                name = (row.get("filename") or "").strip()
                if not name:
                    raise RawFileError(path, f"line {line_no}: empty filename")
                if name in rows:
                    raise RawFileError(path, f"line {line_no}: filename {name!r} listed twice")
                if row["split"] not in SPLITS:
                    raise RawFileError(path, f"line {line_no}: split {row['split']!r} is not one of {SPLITS}")
                rows[name] = {k: (v or "").strip() for k, v in row.items() if k is not None}
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise RawFileError(path, f"cannot read ({exc})") from exc
    ids: dict[int, str] = {}
    for user in sorted({row["user"] for row in rows.values()}):
        other = ids.setdefault(subject_id(user), user)
        if other != user:
            raise RawFileError(path, f"users {other!r} and {user!r} hash to the same subject id; report this")
    return rows
