"""Write MATLAB .mat files as the corpora store them: `-v7` (v5, zlib-compressed) or `-v7.3` (HDF5).

The synthetic NinaPro corpora use these to produce files with the structure of the real ones,
and tests use them to write broken or edited variants. Both writers are deterministic (a fixed
creation date in the header): same variables, same bytes. `readers/matfile.py` reads both.
"""

from __future__ import annotations

import io
import pathlib
import struct
import zlib
from typing import Mapping, Union

import h5py
import numpy as np
import scipy.io

MatScalar = Union[int, float, str]
MatVariable = Union[np.ndarray, MatScalar]

_MAT_HEADER_BYTES = 128
_FIXED_CREATION_DATE = "Wed Jan 01 00:00:00 2020"
_MI_COMPRESSED = 15  # MAT v5 data type of a zlib-compressed element

_MATLAB_CLASS = {
    np.dtype(np.float64): "double",
    np.dtype(np.float32): "single",
    np.dtype(np.int8): "int8",
    np.dtype(np.uint8): "uint8",
    np.dtype(np.int16): "int16",
    np.dtype(np.uint16): "uint16",
    np.dtype(np.int32): "int32",
    np.dtype(np.uint32): "uint32",
    np.dtype(np.int64): "int64",
    np.dtype(np.uint64): "uint64",
}


def save_mat(path: pathlib.Path, variables: Mapping[str, MatVariable], *, mat_format: str = "v5") -> None:
    """Write `variables` as a MATLAB file: "v5" (-v7, zlib-compressed) or "v7.3" (HDF5)."""
    if mat_format == "v7.3":
        savemat_v73(path, variables)
    elif mat_format == "v5":
        savemat_v7(path, variables)
    else:
        raise ValueError(f"mat_format must be 'v5' or 'v7.3', got {mat_format!r}")


def savemat_v7(path: pathlib.Path, variables: Mapping[str, MatVariable]) -> None:
    """Write `variables` as MATLAB's default `save -v7`: a v5 file, each variable compressed.

    scipy writes the v5 elements; each top-level matrix element is then wrapped in its own
    zlib stream (a miCOMPRESSED element), exactly the structure of `scipy.io.savemat(...,
    do_compression=True)` and of MATLAB's files, but at zlib level 1: six times faster than
    scipy's fixed level 6 on EMG-like data for ~20 % larger files. Python numbers become (1, 1)
    doubles, 1-D arrays (T, 1) columns.
    """
    buffer = io.BytesIO()
    scipy.io.savemat(buffer, dict(variables), do_compression=False, oned_as="column")
    raw = buffer.getbuffer()
    order = "<" if bytes(raw[126:128]) == b"IM" else ">"
    # A fixed creation date instead of scipy's "now": same seed, same bytes (cache keys, diffs).
    text = f"MATLAB 5.0 MAT-file, Platform: GLNXA64, Created on: {_FIXED_CREATION_DATE}"
    with pathlib.Path(path).open("wb") as out:
        out.write(text.encode("ascii").ljust(116, b" ") + bytes(raw[116:_MAT_HEADER_BYTES]))
        offset = _MAT_HEADER_BYTES
        while offset < len(raw):
            _, num_bytes = struct.unpack_from(order + "II", raw, offset)
            compressed = zlib.compress(raw[offset : offset + 8 + num_bytes], 1)
            out.write(struct.pack(order + "II", _MI_COMPRESSED, len(compressed)))
            out.write(compressed)
            offset += 8 + num_bytes


def savemat_v73(path: pathlib.Path, variables: Mapping[str, MatVariable]) -> None:
    """Write `variables` as MATLAB does with `save -v7.3`: HDF5 behind a 512-byte MAT header.

    MATLAB is column-major, so an array it calls (T, C) is stored as an HDF5 (C, T) dataset:
    every array is written with its axes reversed. Each dataset carries `MATLAB_class`
    (`double`, `single`, `int8`, ..., `logical`, `char`); text is `char`, stored as uint16 code
    units with `MATLAB_int_decode` = 2. Python numbers become (1, 1) doubles, 1-D arrays
    (T, 1) columns, as `scipy.io.savemat(oned_as="column")` does. Arrays are gzip-chunked, as
    MATLAB's default v7.3 compression is.
    """
    path = pathlib.Path(path)
    with h5py.File(path, "w", userblock_size=512) as handle:
        for name, value in variables.items():
            if isinstance(value, str):
                codes = np.array([[ord(c) for c in value]], dtype=np.uint16)  # MATLAB 1 x n char
                dataset = handle.create_dataset(name, data=codes.T)
                dataset.attrs["MATLAB_class"] = np.bytes_("char")
                dataset.attrs["MATLAB_int_decode"] = np.int32(2)
                continue
            array = np.asarray(value)
            if array.ndim == 0:
                array = array.astype(np.float64).reshape(1, 1)
            elif array.ndim == 1:
                array = array.reshape(-1, 1)
            if array.dtype == np.bool_:
                stored, matlab_class = array.astype(np.uint8), "logical"
            elif array.dtype in _MATLAB_CLASS:
                stored, matlab_class = array, _MATLAB_CLASS[array.dtype]
            else:
                raise TypeError(f"{name}: no MATLAB class for dtype {array.dtype}")
            big = stored.size >= 1024
            dataset = handle.create_dataset(
                name,
                data=np.ascontiguousarray(stored.T),
                chunks=True if big else None,
                compression="gzip" if big else None,
                compression_opts=1 if big else None,
            )
            dataset.attrs["MATLAB_class"] = np.bytes_(matlab_class)
    # The MAT header in the user block: 116 bytes of text, 8 bytes of subsystem offset, version
    # 0x0200 and the endian indicator "IM" (little-endian), as MATLAB writes it.
    text = f"MATLAB 7.3 MAT-file, Platform: GLNXA64, Created on: {_FIXED_CREATION_DATE} HDF5 schema 1.00 ."
    header = text.encode("ascii").ljust(116, b" ") + b" " * 8 + b"\x00\x02" + b"IM"
    with path.open("r+b") as raw:
        raw.write(header)
