"""Reader for the UCI "EMG data for gestures" corpus (Myo armband, 8 channels, 36 subjects).

Layout (datasets.md §7.1):
`EMG_data_for_gestures-master/<NN>/<series>_raw_data_<HH-MM>_<DD.MM.YY>.txt`
(NN = 01..36, two series per subject); `root` may be the folder that contains
`EMG_data_for_gestures-master` or that folder itself. Each file: one header line, then
whitespace-separated rows of 10 fields: time (ms), channel1..channel8, class.

One Recording per file: emg float32 [T, 8] in the file's units (~1e-5), labels int32 [T] = the
`class` column as written (0 unmarked, 1 hand at rest, 2 fist, 3 wrist flexion, 4 wrist extension,
5 radial deviation, 6 ulnar deviation, 7 extended palm), subject = int(NN), session = the series
number at the start of the file name.

Decisions:
- **Sampling rate (§12 conflict 6)**: fs is inferred from the file: 1000 / the `time` column's
  step in ms (the mean of the steps within 10 % of the median step, `checks.fs_from_time`).
  TinyMyo's script assumes 200 Hz (the Myo's nominal rate), but the row
  counts published for the corpus (~3 000 rows per 3-s gesture) and the ms time column say
  ~1 kHz; filtering 1-kHz rows as if they were 200 Hz would put the 20-90 Hz band-pass at
  100-450 Hz of real frequency. The median is robust to the occasional dropped row or timestamp
  jitter; non-increasing steps and gaps (> 1.5 x median) are counted in `meta.extra` rather than
  refused, because the rows stay in acquisition order. `TINYMYO_ASSUMED_FS` (200 Hz) is exported
  for a stage that must reproduce the reference's numbers.
- **Malformed rows**: rows without exactly 10 fields (or with a non-numeric field) are dropped,
  as TinyMyo does, but never silently: their count is `meta.extra["malformed_rows"]` and the
  first line numbers are in `meta.extra["malformed_lines"]`. A file with no valid row raises.
- **Class 0** rows are kept with label 0: dropping them splices non-adjacent segments together,
  which is a protocol choice (§7.2 step 3) made later, not a property of the file. Labels are
  the raw classes; the `class - 1` shift and what to do with class 7 (§12 conflict 7) are
  protocol choices too. A class outside 0..7 or a non-integer class raises.
- NaN/Inf in emg or time follow the policy of every reader (`readers/checks.py`): up to 1 % of
  the rows are interpolated and counted, more is refused.

Checked on the published files of 9 subjects (`../shared/real/uci_emg`, docs/data.md "What the
real files show", tests/data/test_real_uci.py): header, names, the 1-ms time column, class 0 and
the absent class 7 are as assumed above. What the description does not say: the values are
8-bit device levels x 1e-5 held between the Myo's updates (~89 % of rows repeat the previous
one), and 3-6 % of the time steps are gaps of 2-48 ms; both are left as they are (rows are
taken as consecutive at 1 kHz; gaps are counted in `time_gaps`).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np

from tinymyo_jax.data.readers import checks
from tinymyo_jax.data.corpora.uci_emg import NAME
from tinymyo_jax.data.readers.base import RawFileError, check_dataset, relative_file
from tinymyo_jax.data.recording import Recording, RecordingMeta

DATASETS: tuple[str, ...] = (NAME,)

CORPUS_FOLDER = "EMG_data_for_gestures-master"
NUM_FIELDS = 10  # time, 8 channels, class
NUM_CHANNELS = 8
MAX_CLASS = 7
TINYMYO_ASSUMED_FS = 200.0  # what BF-PR4 uci.py filters at; see the module docstring
_REPORTED_LINES = 10  # how many malformed line numbers to keep in meta.extra

_SUBJECT_DIR = re.compile(r"^\d+$")
_SERIES = re.compile(r"^(\d+)_")


def corpus_dir(root: Path) -> Path:
    """The `EMG_data_for_gestures-master` folder, given it or the folder containing it."""
    root = Path(root)
    if (root / CORPUS_FOLDER).is_dir():
        return root / CORPUS_FOLDER
    if root.is_dir() and any(_SUBJECT_DIR.match(p.name) and p.is_dir() for p in root.iterdir()):
        return root
    raise RawFileError(root, f"neither {CORPUS_FOLDER!r} nor subject folders 01..36 found here")


def list_files(root: Path, dataset: str) -> list[Path]:
    """Every `<NN>/*.txt`, ordered by subject number, then file name."""
    check_dataset(dataset, DATASETS, "UCI EMG")
    base = corpus_dir(root)
    files = [
        (int(folder.name), txt.name, txt)
        for folder in base.iterdir()
        if folder.is_dir() and _SUBJECT_DIR.match(folder.name)
        for txt in folder.glob("*.txt")
    ]
    return [path for _, _, path in sorted(files)]


def read_file(path: Path, root: Path, dataset: str) -> list[Recording]:
    """One text file -> [Recording] with emg [T, 8], fs inferred from `time`, labels = class."""
    check_dataset(dataset, DATASETS, "UCI EMG")
    path, root = Path(path), Path(root)
    if not _SUBJECT_DIR.match(path.parent.name):
        raise RawFileError(path, "expected <NN>/<file>.txt with NN the subject number")
    try:
        lines = path.read_text().splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise RawFileError(path, f"cannot read as text ({exc})") from exc
    if not lines:
        raise RawFileError(path, "empty file")
    if _is_numeric_row(lines[0].split()):
        raise RawFileError(path, "first line is data, not the header (time channel1 ... class); is this a UCI file?")

    table, malformed = _parse_rows(lines)
    if table.shape[0] < 2:
        raise RawFileError(
            path, f"only {table.shape[0]} valid row(s) of {NUM_FIELDS} fields ({len(malformed)} malformed)"
        )
    extra: dict[str, Any] = {"malformed_rows": len(malformed), "malformed_lines": malformed[:_REPORTED_LINES]}
    time_ms = checks.repair_nonfinite(path, "time", table[:, 0], extra)
    emg = checks.repair_nonfinite(path, "emg", table[:, 1 : 1 + NUM_CHANNELS].astype(np.float32), extra)
    labels = checks.integer_labels(path, "class column", table[:, -1], minimum=0, maximum=MAX_CLASS)
    # In ms units, so a 1-ms median step gives exactly 1000.0 Hz (no 1e-3 rounding noise).
    fs = 1000.0 * checks.fs_from_time(path, time_ms, tolerance=None)

    series = _SERIES.match(path.name)
    extra.update(
        dead_channels=checks.dead_channels(emg),
        fs_source="time_column",
        **checks.time_irregularities(time_ms),
        classes_present=sorted(int(c) for c in np.unique(labels)),
    )
    meta = RecordingMeta(
        dataset=NAME,
        subject=int(path.parent.name),
        session=int(series.group(1)) if series else None,
        file=relative_file(path, root),
        extra=extra,
    )
    return [Recording(emg=emg, fs=fs, meta=meta, labels=labels)]


# --------------------------------------------------------------------------------------------
# Internals.
# --------------------------------------------------------------------------------------------


def _is_numeric_row(fields: list[str]) -> bool:
    try:
        [float(f) for f in fields]
    except ValueError:
        return False
    return len(fields) == NUM_FIELDS


def _parse_rows(lines: list[str]) -> tuple[np.ndarray, list[int]]:
    """(float64 [N, 10] of the valid data rows, 1-based line numbers of malformed rows).

    Blank lines (a trailing newline) are not rows and are not counted.
    """
    rows: list[list[str]] = []
    row_lines: list[int] = []
    malformed: list[int] = []
    for line_no, line in enumerate(lines[1:], start=2):
        fields = line.split()
        if not fields:
            continue
        if len(fields) == NUM_FIELDS:
            rows.append(fields)
            row_lines.append(line_no)
        else:
            malformed.append(line_no)
    if not rows:
        return np.zeros((0, NUM_FIELDS)), malformed
    try:
        # One vectorised string -> float conversion; the per-row fallback only runs on bad files.
        return np.asarray(rows, dtype=np.float64), malformed
    except ValueError:
        good = [r for r, n in zip(rows, row_lines) if _is_numeric_row(r)]
        malformed = sorted(malformed + [n for r, n in zip(rows, row_lines) if not _is_numeric_row(r)])
        table = np.asarray(good, dtype=np.float64) if good else np.zeros((0, NUM_FIELDS))
        return table, malformed
