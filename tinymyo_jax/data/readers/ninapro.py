"""Reader for NinaPro DB5, DB6, DB7 and DB8 in their published layouts (one .mat -> one Recording).

Layouts (the file name is the only trusted source of subject / exercise / day / acquisition):

| dataset     | files under the corpus root             | raw emg | kept      | fs (Hz) |
|-------------|-----------------------------------------|---------|-----------|---------|
| ninapro_db5 | `s<N>/S<N>_E<m>_A1.mat`, m = 1..3       | (T, 16) | 16        | 200     |
| ninapro_db6 | `DB6_s<N>_a|b/S<N>_D<d>_T<t>.mat`       | (T, 16) | 14        | 2000    |
| ninapro_db7 | `Subject_<N>/S<N>_E<e>_A1.mat`, e = 1,2 | (T, 12) | 12        | 2000    |
| ninapro_db8 | `S<N>_E1_A<k>.mat`, k = 1..3 (flat)     | (T, 16) | 16        | 2000    |

Files are found by name anywhere below the root (so an extra top folder from unzipping does not
matter); macOS clutter (`__MACOSX/`, `._*`, `.DS_Store`) is ignored, other `.mat` names that fit
no pattern are skipped with a warning, and two files with the same name are an error.

What a Recording holds:
- `emg` float32 (T, C) in the file's units (Myo ADC counts for DB5, volts for DB6-DB8).
- `labels` = `restimulus`, `repetition` = `rerepetition` (int32; rest = 0 / 0). DB5 and DB7
  labels are made global over the exercises (below); DB6 grasp ids are kept as stored
  ({1, 3, 4, 6, 9, 10, 11}); DB8 movement ids (1-9) are kept and are not the task's target.
- DB8 `targets` float32 (T, 5): degrees of actuation DoA = glove @ DOA_MATRIX.T (datasets.md
  §6.2, Krasoulis et al. 2019), in the glove's units (degrees).
- `meta.subject` from the file name; `meta.session`: DB6 (day - 1) * 2 + time (1..10, one per
  recording session), DB8 the acquisition k, DB5/DB7 None (one session per subject).
  `meta.extra` always has `dead_channels` (list of int) and the name-derived ids (`exercise`,
  `acquisition`, `day`, `time`), `in_file` (the file's own scalars, for audit) and
  `in_file_mismatch` (which of them disagree with the name), `amputee`; and, when the reader
  had to act, `truncated_samples`, `nonfinite_emg_rows`, `glove_nonfinite_rows_dropped`,
  `labels_already_global`, `dropped_columns_nonzero`.

Decisions on datasets.md §2 and §12 that concern the reader:
- DB8 sampling rate (§12.5): the files hold every signal on a 2 kHz grid (EMG acquired at
  1111 Hz and upsampled), so `fs` = 2000, which is what the sample spacing is. TinyMyo's script
  designs its filters for 1111 Hz; reproducing that is a signal-processing option, not a
  property of the file. `meta.extra["acquisition_fs_hz"]` = 1111 records the native rate.
- DB8 glove NaN rows: every time step where any glove value is NaN or infinite is dropped
  from emg, glove, labels and repetition alike, as TinyMyo does (count in
  `glove_nonfinite_rows_dropped`). This joins the samples on either side of a gap; the gaps
  are short and the regression windows are short, so we follow the reference. A file with no
  finite glove row left is a RawFileError.
- In-file scalars (`subject`, `subj`, `exercise`, `daytesting`, `time`) are never used: they
  disagree with the names in real files (DB5 exercise rotated, DB7 Subject_22 says 2, DB8 S11
  says 101). They are kept in `extra["in_file"]` so the disagreement stays visible.
- Per-exercise label numbering: DB5 `restimulus` restarts at 1 in each exercise file, so
  nonzero labels get +0 / +12 / +29 for E1 / E2 / E3 (global 1..52, TinyMyo's mapping). For DB7
  (numbering unconfirmed) the same rule with +0 / +17 (global 1..40). A file whose labels are
  already global (all nonzero ids inside the exercise's global range and some beyond its local
  range) is kept as is and flagged `labels_already_global`; labels fitting neither range are a
  RawFileError, since shifting them would silently merge classes.
- DB6 columns 8 and 9 (always zero: 14 electrodes in 16 columns) are removed, giving 14
  channels in the order of raw columns 0-7, 10-15 (`extra["source_columns"]`). They are not
  reported as dead channels; dead-channel indices refer to the 14 kept channels. If a file has
  non-zero values there, they are still dropped (as TinyMyo does) with a warning and
  `dropped_columns_nonzero` = True, because the layout is then not the documented one.

Bad-input policy: that of every reader (`readers/checks.py`), RawFileError naming the file:
- Container problems (not a MAT file, truncated, corrupt, variable missing): see `matfile`.
- `emg` not a real numeric 2-D array with the dataset's raw column count (16, or 12 for DB7),
  or with no samples; a label/repetition vector that is not 1-D (T, 1) / (1, T), is
  non-numeric, non-finite, non-integer or negative; a DB8 glove not (T, 18).
- Lengths: emg, label vectors and glove may differ by a few samples in real files (observed in
  DB2); all are truncated to the shortest (`truncated_samples`); above 1 % of the longest the
  file is refused as damaged (`checks.align_lengths`).
- Non-finite emg: up to 1 % of the time steps interpolated in time and counted in
  `nonfinite_emg_rows`, more refused (`checks.repair_nonfinite`); applied after the DB8 glove
  rows are dropped, so a Recording's emg is always finite.
- Dead channels (e.g. DB8 amputee S11 columns 13-15 at zero) are kept and listed in
  `dead_channels`; downstream z-scoring already maps a zero standard deviation to 1, and
  masking them is the model's business, not the reader's.
"""

from __future__ import annotations

import dataclasses
import logging
import re
from pathlib import Path
from typing import Any, Callable

import numpy as np

from tinymyo_jax.data.readers import checks
from tinymyo_jax.data.readers.base import RawFileError, check_dataset, relative_file
from tinymyo_jax.data.readers.matfile import MatValue, load_mat_variables
from tinymyo_jax.data.recording import Recording, RecordingMeta
from tinymyo_jax.errors import UserError

log = logging.getLogger(__name__)

DATASETS = ("ninapro_db5", "ninapro_db6", "ninapro_db7", "ninapro_db8")

# DoA = DOA_MATRIX @ glove (18 Cyberglove DoFs -> 5 degrees of actuation); datasets.md §6.2,
# Krasoulis et al. 2019 supplementary Eq. S2, as hard-coded in TinyMyo's db8.py. Columns are
# glove columns 1..18 (0-based 0..17).
DOA_MATRIX = np.zeros((5, 18), dtype=np.float64)
DOA_MATRIX[0, [0, 1, 3, 16]] = [0.6390, 0.3830, -0.6390, -0.1900]
DOA_MATRIX[1, 2] = 1.0
DOA_MATRIX[2, [4, 5]] = [0.4, 0.6]
DOA_MATRIX[3, [6, 7]] = [0.4, 0.6]
DOA_MATRIX[4, [9, 10, 12, 13]] = [0.1667, 0.3333, 0.1667, 0.3333]

_GLOVE_COLUMNS = 18
_LABEL_VARIABLES = ("restimulus", "rerepetition")


@dataclasses.dataclass(frozen=True)
class _Layout:
    """Everything that differs between the four databases."""

    name_pattern: re.Pattern[str]  # the file name; named groups become integer ids
    fs: float
    raw_columns: int  # emg columns in the file
    dropped_columns: tuple[int, ...]  # columns that are not electrodes (DB6 8, 9)
    in_file_scalars: dict[str, str]  # in-file scalar name -> the name-derived id it claims
    # exercise -> (number of movements, offset making its labels global); None: keep labels
    exercise_labels: dict[int, tuple[int, int]] | None
    has_glove_targets: bool
    amputees: frozenset[int]
    session: Callable[[dict[str, int]], int | None]


_EXERCISE_FILE = re.compile(r"^S(?P<subject>\d+)_E(?P<exercise>\d+)_A(?P<acquisition>\d+)\.mat$", re.I)

_LAYOUTS: dict[str, _Layout] = {
    "ninapro_db5": _Layout(
        name_pattern=_EXERCISE_FILE,
        fs=200.0,
        raw_columns=16,
        dropped_columns=(),
        in_file_scalars={"subject": "subject", "exercise": "exercise", "frequency": ""},
        exercise_labels={1: (12, 0), 2: (17, 12), 3: (23, 29)},
        has_glove_targets=False,
        amputees=frozenset(),
        session=lambda ids: None,
    ),
    "ninapro_db6": _Layout(
        name_pattern=re.compile(r"^S(?P<subject>\d+)_D(?P<day>\d+)_T(?P<time>\d+)\.mat$", re.I),
        fs=2000.0,
        raw_columns=16,
        dropped_columns=(8, 9),
        in_file_scalars={"subj": "subject", "daytesting": "day", "time": "time"},
        exercise_labels=None,
        has_glove_targets=False,
        amputees=frozenset(),
        # Two sessions a day (T1 morning, T2 afternoon) for five days.
        session=lambda ids: (ids["day"] - 1) * 2 + ids["time"],
    ),
    "ninapro_db7": _Layout(
        name_pattern=_EXERCISE_FILE,
        fs=2000.0,
        raw_columns=12,
        dropped_columns=(),
        in_file_scalars={"subject": "subject", "exercise": "exercise"},
        exercise_labels={1: (17, 0), 2: (23, 17)},
        has_glove_targets=False,
        amputees=frozenset({21, 22}),
        session=lambda ids: None,
    ),
    "ninapro_db8": _Layout(
        name_pattern=_EXERCISE_FILE,
        fs=2000.0,
        raw_columns=16,
        dropped_columns=(),
        in_file_scalars={"subject": "subject", "exercise": "exercise"},
        exercise_labels=None,
        has_glove_targets=True,
        amputees=frozenset({11, 12}),
        session=lambda ids: ids["acquisition"],
    ),
}

_DB8_ACQUISITION_FS_HZ = 1111.0


def _layout(dataset: str) -> _Layout:
    check_dataset(dataset, DATASETS, "NinaPro")
    return _LAYOUTS[dataset]


# --------------------------------------------------------------------------------------------
# Listing


def _is_macos_clutter(relative: Path) -> bool:
    return any(part == "__MACOSX" or part.startswith("._") or part == ".DS_Store" for part in relative.parts)


def list_files(root: Path, dataset: str) -> list[Path]:
    """Every raw .mat file of `dataset` below `root`, in (subject, ids...) order.

    Raises UserError if `root` is not a folder or two files share a name (a corpus unpacked
    twice would otherwise be read twice).
    """
    layout = _layout(dataset)
    root = Path(root)
    if not root.is_dir():
        raise UserError(f"{root}: the {dataset} corpus root is not a folder; pass the folder holding the raw files")
    found: dict[str, Path] = {}
    unmatched: list[str] = []
    for path in root.rglob("*"):
        relative = path.relative_to(root)
        if path.suffix.lower() != ".mat" or _is_macos_clutter(relative) or not path.is_file():
            continue
        if not layout.name_pattern.match(path.name):
            unmatched.append(relative.as_posix())
            continue
        key = path.name.lower()
        if key in found:
            raise UserError(
                f"{root}: {found[key].relative_to(root)} and {relative} are the same {dataset} file; "
                "keep one copy"
            )
        found[key] = path
    if unmatched:
        log.warning(
            "%s: skipped %d .mat file(s) not named like %s files, e.g. %s",
            root, len(unmatched), dataset, ", ".join(sorted(unmatched)[:3]),
        )

    def order(path: Path) -> tuple[tuple[int, ...], str]:
        ids = layout.name_pattern.match(path.name).groupdict()  # type: ignore[union-attr]
        return tuple(int(v) for v in ids.values()), path.relative_to(root).as_posix()

    return sorted(found.values(), key=order)


# --------------------------------------------------------------------------------------------
# Reading


def read_file(path: Path, root: Path, dataset: str) -> list[Recording]:
    """One NinaPro .mat file -> [Recording] (see the module docstring for what it holds).

    Raises RawFileError for a file that cannot be used (the message says why).
    """
    layout = _layout(dataset)
    path = Path(path)
    match = layout.name_pattern.match(path.name)
    if match is None:
        raise RawFileError(path, f"file name does not follow the {dataset} naming ({layout.name_pattern.pattern})")
    ids = {key: int(value) for key, value in match.groupdict().items()}
    if layout.exercise_labels is not None and ids["exercise"] not in layout.exercise_labels:
        raise RawFileError(
            path,
            f"{dataset} has exercises {sorted(layout.exercise_labels)}; the name says E{ids['exercise']}",
        )

    required = ["emg", *_LABEL_VARIABLES] + (["glove"] if layout.has_glove_targets else [])
    values = load_mat_variables(path, required, optional=list(layout.in_file_scalars))
    extra: dict[str, Any] = {k: v for k, v in ids.items() if k != "subject"}
    extra.update(_in_file_scalars(values, layout, ids))
    extra["amputee"] = ids["subject"] in layout.amputees

    emg = _emg_matrix(path, values["emg"], layout.raw_columns)
    series: dict[str, np.ndarray] = {"emg": emg}
    for name in _LABEL_VARIABLES:
        series[name] = _integer_vector(path, values[name], name)
    if layout.has_glove_targets:
        series["glove"] = _float_matrix(path, values["glove"], "glove", _GLOVE_COLUMNS)
    series = checks.align_lengths(path, series, extra)

    if layout.dropped_columns:
        series["emg"] = _drop_columns(path, series["emg"], layout.dropped_columns, extra)
    if layout.has_glove_targets:
        series = _drop_nonfinite_glove_rows(path, series, extra)
        extra["acquisition_fs_hz"] = _DB8_ACQUISITION_FS_HZ
    series["emg"] = checks.repair_nonfinite(path, "emg", series["emg"], extra)
    extra["dead_channels"] = checks.dead_channels(series["emg"])

    labels = series["restimulus"]
    if layout.exercise_labels is not None:
        count, offset = layout.exercise_labels[ids["exercise"]]
        labels = _globalise_labels(path, labels, ids["exercise"], count, offset, extra)
    targets = None
    if layout.has_glove_targets:
        targets = (series["glove"].astype(np.float64) @ DOA_MATRIX.T).astype(np.float32)

    meta = RecordingMeta(
        dataset=dataset,
        subject=ids["subject"],
        session=layout.session(ids),
        file=relative_file(path, root),
        extra=extra,
    )
    return [
        Recording(
            emg=series["emg"],
            fs=layout.fs,
            meta=meta,
            labels=labels,
            repetition=series["rerepetition"],
            targets=targets,
        )
    ]


# --------------------------------------------------------------------------------------------
# Validation and repair, one concern each


def _in_file_scalars(values: dict[str, MatValue], layout: _Layout, ids: dict[str, int]) -> dict[str, Any]:
    """The file's own scalars (audit only) and which of them disagree with the file name."""
    in_file: dict[str, Any] = {}
    mismatch: list[str] = []
    for name, claims in layout.in_file_scalars.items():
        value = values.get(name)
        if not isinstance(value, np.ndarray) or value.size != 1 or value.dtype.kind not in "fiub":
            continue
        number = value.reshape(()).item()
        if isinstance(number, float) and number.is_integer():
            number = int(number)
        in_file[name] = number
        if claims and number != ids[claims]:
            mismatch.append(name)
    return {"in_file": in_file, "in_file_mismatch": mismatch}


def _emg_matrix(path: Path, value: MatValue, columns: int) -> np.ndarray:
    emg = _float_matrix(path, value, "emg", columns)
    if emg.shape[0] == 0:
        raise RawFileError(path, "emg has no samples")
    return emg


def _float_matrix(path: Path, value: MatValue, name: str, columns: int) -> np.ndarray:
    """A real numeric (T, columns) array as float32; NaN/Inf are left for the caller's policy."""
    if not isinstance(value, np.ndarray) or value.dtype.kind not in "fiu":
        kind = "text" if isinstance(value, str) else f"dtype {value.dtype}"
        raise RawFileError(path, f"{name} must be a real numeric array, got {kind}")
    if value.ndim != 2 or value.shape[1] != columns:
        hint = " (it looks transposed)" if value.ndim == 2 and value.shape[0] == columns else ""
        raise RawFileError(path, f"{name} must be (T, {columns}), got {value.shape}{hint}")
    return np.ascontiguousarray(value, dtype=np.float32)


def _integer_vector(path: Path, value: MatValue, name: str) -> np.ndarray:
    """A (T, 1) or (1, T) per-sample vector of non-negative integers -> int32 [T]."""
    if not isinstance(value, np.ndarray):
        raise RawFileError(path, f"{name} must be a numeric vector, got text")
    if value.ndim != 2 or min(value.shape) != 1:
        raise RawFileError(path, f"{name} must be a (T, 1) vector, got {value.shape}")
    return checks.integer_labels(path, name, value.reshape(-1), minimum=0)


def _drop_columns(path: Path, emg: np.ndarray, columns: tuple[int, ...], extra: dict[str, Any]) -> np.ndarray:
    """Remove the non-electrode columns (DB6 8, 9); warn if they unexpectedly carry signal."""
    keep = [c for c in range(emg.shape[1]) if c not in columns]
    extra["source_columns"] = keep
    if np.any(emg[:, list(columns)] != 0):
        extra["dropped_columns_nonzero"] = True
        log.warning("%s: columns %s are documented as always zero but are not; dropped anyway", path, list(columns))
    return np.ascontiguousarray(emg[:, keep])


def _drop_nonfinite_glove_rows(
    path: Path, series: dict[str, np.ndarray], extra: dict[str, Any]
) -> dict[str, np.ndarray]:
    """Drop time steps where any glove value is NaN/Inf (TinyMyo's DB8 rule), from every array."""
    finite = np.all(np.isfinite(series["glove"]), axis=1)
    dropped = int(finite.size - finite.sum())
    if dropped == 0:
        return series
    if dropped == finite.size:
        raise RawFileError(path, "glove is NaN/Inf at every time step; no regression targets")
    extra["glove_nonfinite_rows_dropped"] = dropped
    # Info, not a warning: NaN glove rows are a documented property of real DB8 files.
    log.info("%s: dropped %d time steps where the glove is NaN/Inf", path, dropped)
    return {name: np.ascontiguousarray(array[finite]) for name, array in series.items()}


def _globalise_labels(
    path: Path, labels: np.ndarray, exercise: int, count: int, offset: int, extra: dict[str, Any]
) -> np.ndarray:
    """Per-exercise movement ids 1..count -> global ids offset+1..offset+count (rest stays 0)."""
    moving = labels != 0
    if not moving.any():
        return labels
    low, high = int(labels[moving].min()), int(labels[moving].max())
    if high <= count:
        shifted = labels.copy()
        shifted[moving] += offset
        return shifted
    if low > offset and high <= offset + count:
        extra["labels_already_global"] = True
        return labels
    raise RawFileError(
        path,
        f"restimulus ids {low}..{high} fit neither exercise E{exercise}'s own ids 1..{count} nor its "
        f"global ids {offset + 1}..{offset + count}",
    )
