"""Read named variables from a MATLAB .mat file, whichever container MATLAB used.

Two containers exist in the corpora we read:

- **v5 / v7** (`save -v7`, MATLAB's default): a 128-byte text header followed by one tagged
  data element per variable, each optionally zlib-compressed. Read with `scipy.io.loadmat`.
- **v7.3** (`save -v7.3`): an HDF5 file with a 512-byte user block holding the same kind of
  text header. MATLAB is column-major and HDF5 row-major, so an array MATLAB calls (T, C)
  appears in HDF5 as (C, T); every dataset is transposed back (all axes reversed) here. The
  MATLAB type is in each dataset's `MATLAB_class` attribute (`char` arrays are uint16 codes).

The caller gets the same result from either container: numeric arrays in MATLAB's own shape
(at least 2-D; a scalar is (1, 1), a column vector (T, 1)), C-contiguous, in the file's dtype;
`char` variables as `str` (one row) or a 1-D array of `str` (several rows).

Failures are `RawFileError`s naming the file, with three kinds of reason a user can act on:
"not a MAT file" (wrong header: a different format or a mislabelled file), "truncated"
(the file ends before the data it declares: re-download or re-extract it), "corrupt"
(the container is complete but its bytes do not decode), and "variable ... is missing"
(a readable file without the variable asked for, listing what it does hold).
"""

from __future__ import annotations

import struct
import zlib
from pathlib import Path
from typing import Iterable, Literal, Union

import h5py
import numpy as np
import scipy.io
import scipy.io.matlab

from tinymyo_jax.data.readers.base import RawFileError

MatValue = Union[np.ndarray, str]
MatFormat = Literal["v5", "v7.3"]

_HEADER_BYTES = 128
_HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"
# MATLAB puts the HDF5 superblock after a 512-byte user block; HDF5 itself also allows 0.
_HDF5_SIGNATURE_OFFSETS = (512, 0)
# Top-level data element types of a v5 file (MAT-File Format, Table 1-1).
_MI_MATRIX = 14
_MI_COMPRESSED = 15
# What scipy / zlib / numpy raise on bytes that do not decode. Listed rather than catching
# Exception, so a bug in this module still surfaces as a traceback. MemoryError is here because a
# corrupted dimension field can ask for an absurd allocation.
_DECODE_ERRORS = (
    ValueError,
    TypeError,
    KeyError,
    IndexError,
    OverflowError,
    MemoryError,
    EOFError,
    OSError,
    NotImplementedError,
    UnicodeDecodeError,
    struct.error,
    zlib.error,
    scipy.io.matlab.MatReadError,
)


def mat_format(path: Path) -> MatFormat:
    """Which container `path` is: "v5" (also MATLAB's v6/v7) or "v7.3" (HDF5).

    Raises RawFileError if the file is empty, shorter than a MAT header, or has neither header.
    """
    path = Path(path)
    try:
        size = path.stat().st_size
        with path.open("rb") as handle:
            head = handle.read(_HDF5_SIGNATURE_OFFSETS[0] + len(_HDF5_SIGNATURE))
    except OSError as exc:
        raise RawFileError(path, f"cannot open file: {exc.strerror or exc}") from exc
    if size == 0:
        raise RawFileError(path, "file is empty (0 bytes); re-download or re-extract it")
    for offset in _HDF5_SIGNATURE_OFFSETS:
        if head[offset : offset + len(_HDF5_SIGNATURE)] == _HDF5_SIGNATURE:
            return "v7.3"
    if size < _HEADER_BYTES:
        raise RawFileError(
            path, f"truncated or not a MAT file: {size} bytes, shorter than the 128-byte MAT header"
        )
    if head[124:128] in (b"\x00\x02IM", b"\x02\x00MI"):
        raise RawFileError(
            path, "truncated: a MAT v7.3 header but no HDF5 data after it; re-download or re-extract it"
        )
    if _v5_byte_order(head) is None:
        raise RawFileError(
            path,
            "not a MAT file: no MATLAB v5/v7 header and no HDF5 (v7.3) signature "
            f"(starts with {head[:20]!r})",
        )
    return "v5"


def load_mat_variables(
    path: Path,
    required: Iterable[str],
    optional: Iterable[str] = (),
) -> dict[str, MatValue]:
    """Load the named variables of a MATLAB file (v5/v7 or v7.3).

    Only the named variables are decoded: the multi-GB IMU arrays of NinaPro files are skipped.

    Args:
      path: the .mat file.
      required: variable names that must be present.
      optional: variable names returned when present and silently left out when absent.

    Returns:
      name -> value for every required name and every optional name the file holds. Numeric
      values are C-contiguous arrays in MATLAB's shape (>= 2-D: scalar (1, 1), column (T, 1),
      matrix (T, C)), dtype as stored (MATLAB `single` -> float32, `int8` -> int8, ...).
      `char` values are `str` (one row) or a 1-D array of `str` (one per row).

    Raises:
      RawFileError: not a MAT file, truncated, corrupt, a required variable missing, or a
        variable of a type this reader does not decode (struct, cell, object).
    """
    path = Path(path)
    required, optional = list(required), list(optional)
    if mat_format(path) == "v7.3":
        values = _load_v73(path, required + optional)
    else:
        values = _load_v5(path, required + optional)
    missing = [name for name in required if name not in values]
    if missing:
        available = ", ".join(sorted(_variable_names(path))) or "none"
        raise RawFileError(
            path,
            f"variable{'s' if len(missing) > 1 else ''} {', '.join(repr(m) for m in missing)} "
            f"missing (the file holds: {available})",
        )
    return values


# --------------------------------------------------------------------------------------------
# v5 / v7


def _v5_byte_order(head: bytes) -> str | None:
    """'<' or '>' from a v5 header's endian indicator, or None when it is not a v5 header."""
    if len(head) < _HEADER_BYTES:
        return None
    indicator = head[126:128]
    if indicator == b"IM":
        order = "<"
    elif indicator == b"MI":
        order = ">"
    else:
        return None
    (version,) = struct.unpack(order + "H", head[124:126])
    # Version 0x0100 is the only v5 version; 0x0200 marks a v7.3 header (handled as HDF5).
    return order if version == 0x0100 else None


def _check_v5_structure(path: Path) -> None:
    """Walk the top-level element tags and check each fits inside the file.

    scipy skips unrequested elements by seeking, so a file cut short after the variables asked
    for would otherwise load "fine", and one cut inside them would report a confusing decode
    error; this walk names the truncation instead. It reads 8 bytes per variable.
    """
    size = path.stat().st_size
    with path.open("rb") as handle:
        order = _v5_byte_order(handle.read(_HEADER_BYTES))
        assert order is not None  # mat_format() checked the header
        offset = _HEADER_BYTES
        while offset < size:
            tag = handle.read(8)
            if len(tag) < 8:
                raise RawFileError(
                    path, f"truncated: the file ends inside a data element header at byte {offset}"
                )
            element_type, num_bytes = struct.unpack(order + "II", tag)
            if element_type not in (_MI_MATRIX, _MI_COMPRESSED):
                raise RawFileError(
                    path,
                    f"corrupt: unknown data element type {element_type} at byte {offset} "
                    "(expected a matrix or compressed element)",
                )
            end = offset + 8 + num_bytes
            if end > size:
                raise RawFileError(
                    path,
                    f"truncated: the data element at byte {offset} declares {num_bytes} bytes "
                    f"but the file ends at byte {size}; re-download or re-extract it",
                )
            offset = end
            handle.seek(offset)


def _load_v5(path: Path, names: list[str]) -> dict[str, MatValue]:
    _check_v5_structure(path)
    try:
        raw = scipy.io.loadmat(
            path, variable_names=names, squeeze_me=False, chars_as_strings=True, mat_dtype=False
        )
    except _DECODE_ERRORS as exc:
        raise RawFileError(path, f"corrupt: the MAT v5 data do not decode ({type(exc).__name__}: {exc})") from exc
    values: dict[str, MatValue] = {}
    for name in names:
        if name not in raw:
            continue
        value = raw[name]
        if isinstance(value, np.ndarray) and value.dtype.kind == "O" and value.size == 1:
            # A 1 x 1 cell around one array, as OTBioLab (HD-sEMG) exports write every variable.
            inner = value.reshape(-1)[0]
            if isinstance(inner, np.ndarray) and inner.dtype.kind in "biuf":
                value = inner
        if not isinstance(value, np.ndarray) or value.dtype.kind in "OV":
            raise RawFileError(
                path, f"variable {name!r} is a struct, cell or object array; a numeric array or char was expected"
            )
        if value.dtype.kind == "U":
            values[name] = _char_rows(value.reshape(-1).tolist())
        else:
            values[name] = np.ascontiguousarray(value)
    return values


# --------------------------------------------------------------------------------------------
# v7.3 (HDF5)


def _load_v73(path: Path, names: list[str]) -> dict[str, MatValue]:
    values: dict[str, MatValue] = {}
    try:
        with h5py.File(path, "r") as handle:
            for name in names:
                if name not in handle:
                    continue
                values[name] = _decode_v73_variable(path, name, handle[name])
    except RawFileError:
        raise
    except _DECODE_ERRORS as exc:
        # HDF5 compares the end-of-file address in its superblock with the file size, so a cut
        # file is recognised at open; anything else that fails to decode is corruption.
        kind = "truncated" if "truncated file" in str(exc) else "corrupt"
        raise RawFileError(
            path,
            f"{kind}: the HDF5 (MAT v7.3) data do not decode ({type(exc).__name__}: {exc}); "
            "re-download or re-extract it",
        ) from exc
    return values


def _decode_v73_variable(path: Path, name: str, node: h5py.Dataset | h5py.Group) -> MatValue:
    """One v7.3 variable -> MATLAB-shaped value (axes reversed back from HDF5 order)."""
    matlab_class = node.attrs.get("MATLAB_class", b"")
    if isinstance(matlab_class, bytes):
        matlab_class = matlab_class.decode("ascii", "replace")
    if not isinstance(node, h5py.Dataset) or matlab_class in ("struct", "cell", "function_handle"):
        raise RawFileError(
            path,
            f"variable {name!r} is a MATLAB {matlab_class or 'group'}; a numeric array or char was expected",
        )
    if node.attrs.get("MATLAB_empty", 0):
        # MATLAB stores an empty array's dimensions as its data; the value itself has no elements.
        return np.zeros((0, 0), dtype=np.uint16 if matlab_class == "char" else np.float64)
    data = np.asarray(node[()])
    if data.dtype.kind == "O" or data.dtype.names is not None:
        # References (cell contents) or compound types (complex numbers): not plain arrays.
        raise RawFileError(path, f"variable {name!r} has HDF5 type {data.dtype}; a real numeric array was expected")
    data = np.ascontiguousarray(data.T)
    if data.ndim < 2:
        # MATLAB writes every array with >= 2 dimensions; keep the caller's shapes uniform anyway.
        data = data.reshape((1,) * (2 - data.ndim) + data.shape)
    if matlab_class == "char":
        rows = ["".join(map(chr, row)) for row in data.reshape(data.shape[0], -1)]
        return _char_rows(rows)
    if matlab_class == "logical":
        return data.astype(bool)
    return data


def _char_rows(rows: list[str]) -> MatValue:
    return rows[0] if len(rows) == 1 else np.asarray(rows)


def _variable_names(path: Path) -> list[str]:
    """Names of the top-level variables (for "missing" messages); [] if they cannot be listed."""
    try:
        if mat_format(path) == "v7.3":
            with h5py.File(path, "r") as handle:
                # MATLAB keeps cell contents under "#refs#"; that is not a variable.
                return [key for key in handle.keys() if not key.startswith("#")]
        return [entry[0] for entry in scipy.io.whosmat(path)]
    except (RawFileError, *_DECODE_ERRORS):
        return []
