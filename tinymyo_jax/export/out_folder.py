"""Where `tinymyo export` writes: never over an existing folder by surprise, never half a set.

    with export_folder(out, force=args.force, log=print) as folder:
        export_model(model, folder, ...)

- `--out` that exists and is not empty is refused unless `--force`.
- A local export is built in a staging folder beside OUT (replace.py) and swapped in only when
  complete: a failed or killed export leaves OUT exactly as it was.
- `--force` replaces only what the exporter writes (EXPORTER_FILES): the user's other files in
  OUT are kept. Exporter files this export does not produce - `model_int8.tflite` when a
  float-only export replaces an int8 one - are removed, because they would no longer match
  `model_data.cc` and `report.json`, and each is named in the output.
- A gs:// OUT is written object by object after a local export (the pipeline does that); the
  non-empty check applies there too.
- The TensorFlow converter's own warnings go to OUT/converter.log (converter_log.py).
"""

from __future__ import annotations

import contextlib
import tempfile
from pathlib import Path
from typing import Callable, Iterator

from tinymyo_jax import storage
from tinymyo_jax.errors import UserError
from tinymyo_jax.export.converter_log import CONVERTER_LOG, converter_log
from tinymyo_jax.replace import replace_owned_on_success

EXPORTER_FILES = frozenset({
    "model_float.tflite", "model_int8.tflite", "model_int16x8.tflite", "model_data.h", "model_data.cc",
    "op_resolver.h", "sample_window.h", "report.json", CONVERTER_LOG,
})  # fmt: skip


def check_out(out: str | Path, force: bool) -> None:
    """Refuse an existing non-empty `out` unless `force` (one line, with the way out)."""
    if storage.is_file(out):
        raise UserError(f"--out {out} is a file; give a folder for the exported files")
    if not force and storage.is_dir(out) and storage.listdir(out):
        raise UserError(f"--out {out} is not empty (an earlier export?); add --force to replace the exported files "
                        "(other files there are kept), or give a new folder")  # fmt: skip


@contextlib.contextmanager
def export_folder(out: str | Path, *, force: bool, log: Callable[[str], None] = print) -> Iterator[str | Path]:
    """Yield the folder to export into; see the module doc for what happens to OUT."""
    check_out(out, force)
    if storage.is_remote(out):
        with tempfile.TemporaryDirectory(prefix="tinymyo-converter-log-") as local:
            with converter_log(Path(local) / CONVERTER_LOG) as path:
                yield out
            if path.exists():
                storage.write_bytes(storage.path(out) / CONVERTER_LOG, path.read_bytes())
        return
    out = Path(out)
    # the user's own files in OUT survive a --force export
    with replace_owned_on_success(out, lambda name: name in EXPORTER_FILES) as staging:
        with converter_log(staging / CONVERTER_LOG):
            yield staging
        if out.is_dir():
            for name in sorted(p.name for p in out.iterdir() if p.name in EXPORTER_FILES):
                if not (staging / name).exists():
                    log(f"removed {out / name} from the previous export: it would not match this export's C sources and report")
