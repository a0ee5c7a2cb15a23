"""Reader for users' own recordings: CSV, NumPy, MATLAB, EDF/BDF or WFDB files, one continuous
recording each (what `tinymyo prep generic` reads; see docs/data.md, "Your own recordings").

Accepted files (one Recording per file, of the `generic` corpus: data/corpora/generic.py):

- **CSV** (`.csv`, `.tsv`, `.txt`): one header row naming the columns, one row per sample. A time
  column (default name `time`, in seconds or milliseconds via `time_unit`) gives fs when `fs` is
  not passed; an optional integer label column (`label_column`); every other column is an EMG
  channel, in file order. Without `delimiter`, the most frequent of `,` `;` tab in the header.
  Empty cells and NULL / NA / N/A / NaN / None (any case) are missing samples (NaN: the policy
  below applies). A leading byte-order mark is ignored; the time column matches case-insensitively
  when no column has its exact name; a first row of numbers only is data, not a header (the
  channels are then named ch0, ch1, ... and fs must be passed).
- **`.npy`**: a float array `[T, C]`. It carries no rate, so `fs` must be passed.
- **`.npz`**: key `emg` `[T, C]` (required; another key with `variable=`), `labels` int `[T]`
  (optional; another key with `label_column=`), `fs` scalar Hz (optional; when it and `fs=` are
  both given they must agree within 1 %).
- **`.mat`** (MATLAB v5/v7 through scipy.io, v7.3 through h5py: `readers/matfile.py`): variable
  `emg` `[T, C]` (another with `variable=`), labels from the variable `label_column` when given,
  fs from a numeric scalar `fs`, `frequency` (NinaPro) or `SamplingFrequency` (OTBioLab) when
  present, else `fs=`. A variable wrapped in a 1 x 1 cell (OTBioLab exports) is unwrapped.
- **EDF / EDF+ / BDF / BDF+** (`.edf`, `.bdf`, read with edfio): every ordinary signal is a
  channel, in physical units; all must share one sampling rate, which is the recording's.
  Annotations are not read (labels come from file names, see `tinymyo_jax.data.generic`).
  Discontinuous EDF+D/BDF+D files are refused: their data records do not follow each other.
- **WFDB** (`.hea` header + its signal files, read with wfdb): every signal is a channel, in
  physical units, at the header's frame rate.

Bad-input policy: that of every corpus reader (`readers/checks.py`): up to 1 % of NaN/Inf time
steps in emg or time are interpolated and counted (`nonfinite_<name>_rows`), more is refused;
labels a few samples off the emg length (<= 1 %) are truncated with emg to the shorter
(`truncated_samples`), more is refused; flat channels are listed in `dead_channels`. Besides,
wrong shapes, non-integer labels, a time column that is not strictly increasing and uniform, or
no way to know fs raise RawFileError naming the file.

Plausibility (docs/data.md, "Plausibility"): a rate outside 100 Hz..100 kHz is refused with the
likely mistake and its fix (`--time-unit ms`, a period stored as a rate); labels outside int32;
two CSV columns of one name, or several matching the time/label column in any case; an .npy
header claiming more data than the file holds; a CSV field over the csv module's limit; a file
needing more memory than there is. `channel_count` gives a file's channels cheaply (CSV and
.npy headers) for the corpus's one-count rule.

Because this reader needs options, `read_generic(path, ...)` is the main entry point; the
reader-module protocol functions (`list_files`, `read_file`) use the defaults.
"""

from __future__ import annotations

import csv
import io
import warnings
import zipfile
from pathlib import Path

import numpy as np

from tinymyo_jax.data.readers import checks
from tinymyo_jax.data.readers.base import RawFileError, check_dataset, relative_file
from tinymyo_jax.data.recording import Recording, RecordingMeta

# The TFDS dataset of every users' corpus (`generic/NAME`, data/corpora/generic.py): its records' `dataset`.
DATASET = "generic"
SUFFIXES: tuple[str, ...] = (".csv", ".tsv", ".txt", ".npy", ".npz", ".mat", ".edf", ".bdf", ".hea")
# Scalar MAT variables taken as the sampling rate (Hz), first found wins.
MAT_FS_VARIABLES: tuple[str, ...] = ("fs", "frequency", "SamplingFrequency")  # ours, NinaPro's, OTBioLab's
_TIME_UNITS_TO_S = {"s": 1.0, "ms": 1e-3}
_MISSING_AS_NAN = {token: "nan" for token in ("", "null", "na", "n/a", "nan", "none")}


# --------------------------------------------------------------------------------------------
# The generic reader.
# --------------------------------------------------------------------------------------------


def read_generic(
    path: Path | str,
    *,
    fs: float | None = None,
    time_column: str = "time",
    time_unit: str = "s",
    label_column: str | None = None,
    delimiter: str | None = None,
    time_tolerance: float = 0.1,
    subject: int = 0,
    root: Path | str | None = None,
    variable: str = "emg",
) -> Recording:
    """Read one user recording.

    Args:
      path: a file with one of `SUFFIXES` (a WFDB record is named by its `.hea` file).
      fs: sampling rate in Hz. Required where the file carries none (`.npy`, CSV without a time
        column, npz/MAT without `fs`); where it does, the two must agree (1 %).
      time_column: CSV column holding sample times (ignored for numpy files). If absent, fs is
        required.
      time_unit: "s" or "ms", the unit of `time_column`.
      label_column: integer per-sample labels: a CSV column, an npz key or a MAT variable of that
        name, or None (npz: then the key `labels` when present).
      delimiter: CSV delimiter; None takes the most frequent of `,` `;` tab in the header.
      time_tolerance: largest allowed relative deviation of one time step from the median step
        (0.1 = 10 %, which accepts USB/Bluetooth timestamp jitter but not dropped packets).
      subject: subject id to put in the metadata.
      root: when given, `meta.file` is `path` relative to it.
      variable: the npz key / MAT variable holding emg [T, C].

    Returns:
      Recording with emg float32 [T, C] in the file's units, labels int32 [T] or None.

    Raises:
      RawFileError: unreadable file, wrong shapes, more than 1 % NaN/Inf, label length mismatch
        above 1 %, non-uniform or non-increasing time, or no fs available.
      ValueError: bad arguments (unknown `time_unit`).
    """
    path = Path(path)
    if time_unit not in _TIME_UNITS_TO_S:
        raise ValueError(f"time_unit must be one of {sorted(_TIME_UNITS_TO_S)}, got {time_unit!r}")
    if fs is not None and not fs > 0:
        raise ValueError(f"fs must be > 0 Hz, got {fs}")
    if not path.is_file():
        raise RawFileError(path, "file not found")
    suffix = path.suffix.lower()
    extra: dict[str, object] = {}
    try:
        emg, labels, rate = _read_any(
            path, suffix, extra, fs, time_column, time_unit, label_column, delimiter, time_tolerance, variable
        )
    except MemoryError as exc:  # a header claiming more data than any recording holds
        raise RawFileError(path, f"reading it needs more memory than there is ({exc}); is its header damaged?") from exc
    _check_plausible_fs(path, rate, str(extra.get("fs_source")), time_unit)

    emg = checks.repair_nonfinite(path, "emg", _as_emg(path, emg), extra)
    if labels is not None:
        aligned = checks.align_lengths(path, {"emg": emg, "labels": _as_labels(path, labels)}, extra)
        emg, labels = aligned["emg"], aligned["labels"]
    extra["dead_channels"] = checks.dead_channels(emg)
    meta = RecordingMeta(
        dataset=DATASET, subject=int(subject), session=None, file=relative_file(path, root), extra=extra
    )
    return Recording(emg=emg, fs=float(rate), meta=meta, labels=labels)


def _check_plausible_fs(path: Path, rate: float, source: str, time_unit: str) -> None:
    """RawFileError, with the likely mistake and its fix, when no surface EMG is sampled at `rate`."""
    plausible = lambda value: checks.MIN_EMG_FS <= value <= checks.MAX_EMG_FS  # noqa: E731
    if plausible(rate):
        return
    if source == "time_column":
        how = f"the time column (read as {'seconds' if time_unit == 's' else 'milliseconds'})"
        if time_unit == "s" and plausible(rate * 1000):
            fix = f"if the time column is in milliseconds, pass --time-unit ms ({rate * 1000:g} Hz)"
        elif time_unit == "ms" and plausible(rate / 1000):
            fix = f"if the time column is in seconds, drop --time-unit ms ({rate / 1000:g} Hz)"
        else:
            fix = "check the time column's unit (--time-unit s or ms) or name the right one with --time-column"
    elif source == "argument":
        how, fix = "--fs", "pass the rate in Hz (e.g. --fs 1000 for 1 kHz)"
    else:
        how = "the rate stored in the file"
        hints = [f"{label} {value:g} Hz" for label, value in (("as a period in seconds it would be", 1 / rate),
                 ("in kHz it would be", rate * 1000)) if plausible(value)]  # fmt: skip
        fix = f"store the rate in Hz in the file{' (' + '; '.join(hints) + ')' if hints else ''}"
    checks.plausible_fs(path, rate, how, fix)


def _read_any(
    path: Path, suffix: str, extra: dict[str, object], fs: float | None, time_column: str, time_unit: str,
    label_column: str | None, delimiter: str | None, time_tolerance: float, variable: str,
) -> tuple[np.ndarray, np.ndarray | None, float]:
    """(emg, labels, rate) of any supported file, as stored; `extra` gets format and fs source."""
    if suffix == ".npy":
        emg, labels, rate = _read_npy(path, fs)
        extra["format"], extra["fs_source"] = "npy", "argument"
    elif suffix == ".npz":
        emg, labels, rate, source = _read_npz(path, fs, variable, label_column or "labels")
        extra["format"], extra["fs_source"] = "npz", source
    elif suffix == ".mat":
        emg, labels, rate, source = _read_mat(path, fs, variable, label_column)
        extra["format"], extra["fs_source"] = "mat", source
    elif suffix in (".edf", ".bdf"):
        emg, rate, names = _read_edf(path, fs)
        labels, extra["format"], extra["fs_source"], extra["channel_names"] = None, suffix[1:], "file", names
    elif suffix == ".hea":
        emg, rate, names = _read_wfdb(path, fs)
        labels, extra["format"], extra["fs_source"], extra["channel_names"] = None, "wfdb", "file", names
    elif suffix in (".csv", ".tsv", ".txt"):
        emg, labels, rate, source, names = _read_csv(
            path, fs, time_column, _TIME_UNITS_TO_S[time_unit], label_column, delimiter, time_tolerance, extra
        )
        extra["format"], extra["fs_source"], extra["channel_names"] = "csv", source, names
    else:
        raise RawFileError(path, f"unsupported file type {suffix!r}; use one of {', '.join(SUFFIXES)}")
    return emg, labels, rate


def channel_count(
    path: Path | str,
    *,
    fs: float | None = None,
    time_column: str = "time",
    time_unit: str = "s",
    label_column: str | None = None,
    delimiter: str | None = None,
    variable: str = "emg",
) -> int:
    """The EMG channels `read_generic` would give `path` with these options, cheaply where the
    format allows: a CSV's header row, an .npy's header; other formats are read whole.

    Raises:
      RawFileError: the file cannot be read (or, read whole, is refused).
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix in (".csv", ".tsv", ".txt"):
        try:
            with path.open(encoding="utf-8-sig", newline="") as file:
                lines = [file.readline(1_000_000) for _ in range(_SNIFF_ROWS + 1)]
        except (OSError, UnicodeDecodeError) as exc:
            raise RawFileError(path, f"cannot read as text ({exc})") from exc
        if delimiter is None:
            delimiter = max(",;\t", key=lines[0].count)
        try:
            rows = [[field.strip() for field in row] for row in csv.reader([line for line in lines if line.strip()], delimiter=delimiter)]
        except csv.Error as exc:
            raise RawFileError(path, f"not a table of numbers ({exc}); is it damaged?") from exc
        header = rows[0] if rows else []
        if not header or all(_is_number(name) for name in header):
            return len(header)
        time = _csv_special_column(path, header, time_column, "time")
        special = {time}
        if label_column is not None:
            special.add(_csv_special_column(path, header, label_column, "label"))
        _refuse_duplicate_columns(path, header)
        _sniff_time_rate(path, header, rows[1:], time, _TIME_UNITS_TO_S[time_unit], time_unit)
        return sum(name not in special for name in header)
    if suffix == ".npy":
        _check_npy_size(path)
        try:
            shape = np.load(path, mmap_mode="r", allow_pickle=False).shape
        except (ValueError, OSError, EOFError) as exc:
            raise RawFileError(path, f"cannot read .npy file ({exc}); is it truncated?") from exc
        if len(shape) != 2:
            raise RawFileError(path, f"emg must be a 2-D array [T, C], got shape {shape}")
        return int(shape[1])
    recording = read_generic(path, fs=fs, time_column=time_column, time_unit=time_unit, label_column=label_column,
                             delimiter=delimiter, variable=variable)  # fmt: skip
    return recording.num_channels


_SNIFF_ROWS = 200  # data rows `channel_count` reads to check a CSV's time column


def _sniff_time_rate(path: Path, header: list[str], rows: list[list[str]], time: str, scale: float, unit: str) -> None:
    """Refuse a CSV whose first rows' time column gives an implausible rate (a time column in ms
    read as s); rows that do not parse are left to the full read to report."""
    if time not in header or len(rows) < 2:
        return
    column = header.index(time)
    try:
        values = np.array([float(row[column]) for row in rows], dtype=np.float64)
    except (ValueError, IndexError):
        return
    steps = np.diff(values)
    if not np.all(np.isfinite(steps)) or np.median(steps) <= 0:
        return
    _check_plausible_fs(path, 1.0 / float(np.median(steps)) / scale, "time_column", unit)


def _check_dataset(dataset: str) -> None:
    check_dataset(dataset, (DATASET,), "users' recordings")


def list_files(root: Path, dataset: str) -> list[Path]:
    """Every file with one of `SUFFIXES` under `root` (recursively), sorted by path. A WFDB
    record is listed by its `.hea` header; its `.dat` signal files are read with it."""
    _check_dataset(dataset)
    root = Path(root)
    if not root.is_dir():
        raise RawFileError(root, "not a directory")
    return sorted(p for p in root.rglob("*") if p.is_file() and p.suffix.lower() in SUFFIXES)


def read_file(path: Path, root: Path, dataset: str) -> list[Recording]:
    """Protocol entry point: `read_generic(path)` with default options (CSV needs a `time` column)."""
    _check_dataset(dataset)
    return [read_generic(path, root=root)]


# --------------------------------------------------------------------------------------------
# Per-format parsing.
# --------------------------------------------------------------------------------------------


def _as_emg(path: Path, emg: np.ndarray) -> np.ndarray:
    emg = np.asarray(emg)
    if emg.ndim != 2:
        raise RawFileError(path, f"emg must be a 2-D array [T, C], got shape {emg.shape}")
    if emg.shape[0] == 0 or emg.shape[1] == 0:
        raise RawFileError(path, f"emg is empty (shape {emg.shape})")
    if emg.shape[0] < emg.shape[1]:
        # Fewer samples than channels is never a usable recording; it is almost always a
        # channels-first array.
        raise RawFileError(path, f"emg has shape {emg.shape}: fewer samples than channels; store it as [T, C] (transpose)")
    if not (np.issubdtype(emg.dtype, np.floating) or np.issubdtype(emg.dtype, np.integer)):
        raise RawFileError(path, f"emg has non-numeric dtype {emg.dtype}")
    return np.ascontiguousarray(emg, dtype=np.float32)


def _as_labels(path: Path, labels: np.ndarray) -> np.ndarray:
    labels = np.asarray(labels)
    if labels.ndim == 2 and labels.shape[1] == 1:  # a column vector, as MATLAB exports write
        labels = labels[:, 0]
    if labels.ndim != 1:
        raise RawFileError(path, f"labels must be a vector [T], got shape {labels.shape}")
    return checks.integer_labels(path, "labels", labels)


def _read_npy(path: Path, fs: float | None) -> tuple[np.ndarray, None, float]:
    if fs is None:
        raise RawFileError(path, ".npy files carry no sampling rate; pass fs=... (Hz)")
    _check_npy_size(path)
    try:
        emg = np.load(path, allow_pickle=False)
    except (ValueError, OSError, EOFError) as exc:
        raise RawFileError(path, f"cannot read .npy file ({exc}); is it truncated?") from exc
    return emg, None, fs


def _check_npy_size(path: Path) -> None:
    """Refuse an .npy whose header claims more data than the file holds, before numpy allocates it
    (a damaged header claiming 1e12 rows would otherwise ask for terabytes)."""
    try:
        with path.open("rb") as file:
            version = np.lib.format.read_magic(file)
            read_header = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
            shape, _, dtype = read_header(file)
            data_bytes = path.stat().st_size - file.tell()
    except (ValueError, OSError, EOFError) as exc:
        raise RawFileError(path, f"cannot read the .npy header ({exc}); is it truncated?") from exc
    claimed = int(np.prod(shape, dtype=object)) * dtype.itemsize
    if claimed > data_bytes:
        raise RawFileError(path, f"the header claims shape {shape} ({claimed:,} bytes) but the file holds "
                                 f"{data_bytes:,} bytes of data; it is truncated or its header is damaged")  # fmt: skip


def _read_npz(
    path: Path, fs: float | None, variable: str = "emg", label_key: str = "labels"
) -> tuple[np.ndarray, np.ndarray | None, float, str]:
    try:
        with np.load(path, allow_pickle=False) as archive:
            keys = set(archive.files)
            if variable not in keys:
                raise RawFileError(path, f".npz has no {variable!r} array (keys: {sorted(keys)})")
            emg = archive[variable]
            labels = archive[label_key] if label_key in keys else None
            stored_fs = archive["fs"] if "fs" in keys else None
    except (ValueError, OSError, EOFError, zipfile.BadZipFile) as exc:
        raise RawFileError(path, f"cannot read .npz file ({exc}); is it truncated?") from exc
    rate, source = _stored_fs(path, fs, stored_fs, "fs", ".npz has no 'fs' array")
    return emg, labels, rate, source


def _stored_fs(path: Path, fs: float | None, stored: np.ndarray | None, name: str, missing: str) -> tuple[float, str]:
    """(rate, "file" | "argument") from a rate stored in the file and/or the `fs` argument."""
    if stored is not None:
        if stored.size != 1 or not np.issubdtype(stored.dtype, np.number):
            raise RawFileError(path, f"{name!r} must be a numeric scalar, got shape {stored.shape} dtype {stored.dtype}")
        value = float(stored.reshape(()))
        if not value > 0:
            raise RawFileError(path, f"stored fs is {value}; it must be > 0 Hz")
        if fs is not None:
            checks.check_fs_agrees(path, fs, value, f"the {name!r} stored in the file")
            return fs, "argument"
        return value, "file"
    if fs is None:
        raise RawFileError(path, f"{missing}; pass fs=... (Hz)")
    return fs, "argument"


def _read_mat(
    path: Path, fs: float | None, variable: str, label_variable: str | None
) -> tuple[np.ndarray, np.ndarray | None, float, str]:
    from tinymyo_jax.data.readers import matfile

    optional = [*MAT_FS_VARIABLES, *([label_variable] if label_variable else [])]
    values = matfile.load_mat_variables(path, [variable], optional)
    emg = values[variable]
    if not isinstance(emg, np.ndarray) or emg.dtype.kind not in "biuf":
        raise RawFileError(path, f"variable {variable!r} is not a numeric array")
    labels = None
    if label_variable:
        if label_variable not in values:
            raise RawFileError(path, f"no label variable {label_variable!r}")
        labels = np.asarray(values[label_variable])
        if labels.ndim == 2 and labels.shape[0] == 1:  # a MATLAB row vector
            labels = labels[0]
    name = next((n for n in MAT_FS_VARIABLES if n in values), None)
    stored = None if name is None else np.asarray(values[name])
    rate, source = _stored_fs(path, fs, stored, name or "fs", f"no {', '.join(MAT_FS_VARIABLES)} variable")
    return emg, labels, rate, source


def _read_edf(path: Path, fs: float | None) -> tuple[np.ndarray, float, list[str]]:
    import edfio

    bdf = path.suffix.lower() == ".bdf"
    try:
        # Annotation signals (EDF+ "EDF Annotations") are not in `.signals`. edfio only warns
        # about a cut file (and drops the partial record): here that is a truncated file.
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            recording = edfio.read_bdf(path) if bdf else edfio.read_edf(path, lazy_load_data=False)
        cut = [str(w.message) for w in caught if "data record" in str(w.message)]
        if cut:
            raise RawFileError(path, f"truncated: {' '.join(cut)} Re-export or re-copy it")
        if not recording.is_continuous:
            raise RawFileError(path, "a discontinuous EDF+D/BDF+D file: its data records do not follow each other")
        signals = list(recording.signals)
        if not signals:
            raise RawFileError(path, "the file holds no signals (only annotations)")
        rates = sorted({float(s.sampling_frequency) for s in signals})
        if len(rates) > 1:
            listing = ", ".join(f"{s.label or i} {s.sampling_frequency:g} Hz" for i, s in enumerate(signals))
            raise RawFileError(path, f"signals have different sampling rates ({listing}); EMG channels must share one")
        emg = np.stack([np.asarray(s.data, dtype=np.float64) for s in signals], axis=1)
        names = [s.label.strip() for s in signals]
    except RawFileError:
        raise
    except (ValueError, OSError, EOFError, IndexError, UnicodeDecodeError) as exc:
        raise RawFileError(path, f"cannot read as {'BDF' if bdf else 'EDF'} ({type(exc).__name__}: {exc})") from exc
    if fs is not None:
        checks.check_fs_agrees(path, fs, rates[0], "the rate in the file's header")
    return emg, rates[0], names


def _read_wfdb(path: Path, fs: float | None) -> tuple[np.ndarray, float, list[str]]:
    import wfdb

    try:
        record = wfdb.rdrecord(str(path.with_suffix("")), physical=True)
    except Exception as exc:  # wfdb raises bare Exceptions, ValueErrors and OSErrors alike for bad input
        raise RawFileError(path, f"cannot read the WFDB record ({type(exc).__name__}: {exc})") from exc
    if record.p_signal is None or not record.fs:
        raise RawFileError(path, "the WFDB record has no signals or no sampling frequency")
    rate = float(record.fs)
    if fs is not None:
        checks.check_fs_agrees(path, fs, rate, "the rate in the .hea header")
    return np.asarray(record.p_signal, dtype=np.float64), rate, [str(n) for n in record.sig_name or []]


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _read_csv(
    path: Path,
    fs: float | None,
    time_column: str,
    time_scale: float,
    label_column: str | None,
    delimiter: str | None,
    time_tolerance: float,
    extra: dict[str, object],
) -> tuple[np.ndarray, np.ndarray | None, float, str, list[str]]:
    try:
        text = path.read_text(encoding="utf-8-sig")  # "-sig": spreadsheet exports start with a BOM
    except (OSError, UnicodeDecodeError) as exc:
        raise RawFileError(path, f"cannot read as text ({exc})") from exc
    lines = text.splitlines()
    if len(lines) < 2:
        raise RawFileError(path, "CSV needs a header row and at least one data row")
    if delimiter is None:
        # The header's most frequent candidate; a one-column file has none and any will do.
        # (csv.Sniffer refuses one-column files and guesses from data rows, where "1.5e-05" and
        # locale decimals make it unreliable.)
        delimiter = max(",;\t", key=lines[0].count)
    try:
        rows = list(csv.reader(io.StringIO(text), delimiter=delimiter))
    except csv.Error as exc:  # e.g. a field over the csv module's 131,072-character limit
        raise RawFileError(path, f"not a table of numbers ({exc}); is it damaged?") from exc
    header = [name.strip() for name in rows[0]]
    first_data = 1
    if all(_is_number(name) for name in header):
        # No header row (e.g. libemg's Myo exports): the first row is data; channels ch0, ch1, ...
        header, first_data = [f"ch{i}" for i in range(len(header))], 0
        extra["headerless"] = True
    body = [row for row in rows[first_data:] if row]  # a trailing newline gives an empty row, not data
    time_column = _csv_special_column(path, header, time_column, "time")
    if label_column is not None:
        label_column = _csv_special_column(path, header, label_column, "label")
    _refuse_duplicate_columns(path, header)
    for line_no, row in enumerate(body, start=1 + first_data):
        if len(row) != len(header):
            raise RawFileError(path, f"line {line_no} has {len(row)} fields but the header has {len(header)}")
    try:
        table = np.asarray(body, dtype=np.float64).reshape(len(body), len(header))
    except ValueError:
        # Exports write missing samples as empty cells, NULL, NA or NaN: they become NaN and go
        # through the non-finite policy below (EMG/time: <= 1 % interpolated; labels: refused).
        try:
            table = np.asarray([[_MISSING_AS_NAN.get(v.strip().lower(), v) for v in row] for row in body],
                               dtype=np.float64).reshape(len(body), len(header))  # fmt: skip
        except ValueError as exc:
            raise RawFileError(path, f"non-numeric value in the data rows ({exc})") from exc

    if label_column is not None and label_column not in header:
        raise RawFileError(path, f"no label column {label_column!r} (columns: {header})")
    used = {label_column} if label_column is not None else set()
    if time_column in header:
        used.add(time_column)
    channels = [i for i, name in enumerate(header) if name not in used]
    if not channels:
        raise RawFileError(path, f"no EMG channel columns besides {sorted(used)}")
    emg = table[:, channels]
    labels = table[:, header.index(label_column)] if label_column is not None else None

    if time_column in header:
        time = checks.repair_nonfinite(path, "time", table[:, header.index(time_column)], extra)
        inferred = checks.fs_from_time(path, time, tolerance=time_tolerance) / time_scale
        _check_plausible_fs(path, inferred, "time_column", "s" if time_scale == 1.0 else "ms")  # before --fs: the likelier mistake
        if fs is not None:
            checks.check_fs_agrees(path, fs, inferred, f"the {time_column!r} column")
            return emg, labels, fs, "argument", [header[i] for i in channels]
        return emg, labels, inferred, "time_column", [header[i] for i in channels]
    if fs is None:
        raise RawFileError(path, f"no time column {time_column!r} and no fs given; pass fs=... or time_column=...")
    return emg, labels, fs, "argument", [header[i] for i in channels]


def _csv_special_column(path: Path, header: list[str], name: str, role: str) -> str:
    """The header's column for `name` (the time or label column): the exact name, else a unique
    case-insensitive match ("Time" for "time"). Two columns matching it ("time" and "Time") are
    refused: the other one would silently become an EMG channel."""
    matches = [column for column in header if column.lower() == name.lower()]
    if len(matches) > 1:
        raise RawFileError(path, f"columns {', '.join(map(repr, matches))} all match the {role} column {name!r}; "
                                 "rename all but one (the others would be read as EMG)")  # fmt: skip
    return matches[0] if matches and name not in header else name


def _refuse_duplicate_columns(path: Path, header: list[str]) -> None:
    """Two columns with one name cannot be told apart (channel names, labels, report): refused."""
    seen: dict[str, list[int]] = {}
    for index, column in enumerate(header):
        seen.setdefault(column, []).append(index)
    repeated = {column: where for column, where in seen.items() if len(where) > 1}
    if repeated:
        listing = "; ".join(f"{column!r} at columns {', '.join(str(i + 1) for i in where)}" for column, where in repeated.items())
        raise RawFileError(path, f"the header names a column twice ({listing}); give every column its own name")
