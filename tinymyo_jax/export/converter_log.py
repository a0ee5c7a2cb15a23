"""The TensorFlow converter's own output goes to a log file in the export folder, not the terminal.

TensorFlow's C++ code writes warnings straight to file descriptor 2 (`W0000 ... Ignored
output_format`, MLIR pass notes), below Python, so neither `warnings` nor logging can catch
them. Around each conversion, `captured_native_output` points descriptor 2 at a temporary
file and, afterwards, appends what was written to the log chosen with `converter_log(path)`
(`tinymyo export` and the demo use OUT/converter.log). With no log chosen, or when the
conversion raises, the text goes to the terminal as before, so a failure still shows its cause.
"""

from __future__ import annotations

import contextlib
import contextvars
import os
import sys
import tempfile
from pathlib import Path
from typing import Iterator

CONVERTER_LOG = "converter.log"
_log_path: contextvars.ContextVar[Path | None] = contextvars.ContextVar("converter_log", default=None)


@contextlib.contextmanager
def converter_log(path: str | Path) -> Iterator[Path]:
    """While inside, the converter's native output is appended to `path` (created on first use)."""
    token = _log_path.set(Path(path))
    try:
        yield Path(path)
    finally:
        _log_path.reset(token)


@contextlib.contextmanager
def captured_native_output() -> Iterator[None]:
    """Redirect descriptor 2 (C++ and Python stderr) for the duration; see the module doc."""
    log = _log_path.get()
    if log is None:
        yield
        return
    sys.stderr.flush()
    saved = os.dup(2)
    failed = True
    with tempfile.TemporaryFile() as capture:
        os.dup2(capture.fileno(), 2)
        try:
            yield
            failed = False
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            capture.seek(0)
            text = capture.read()
            if text:
                log.parent.mkdir(parents=True, exist_ok=True)
                with open(log, "ab") as sink:
                    sink.write(text)
                if failed:
                    sys.stderr.buffer.write(text)
                    sys.stderr.flush()
