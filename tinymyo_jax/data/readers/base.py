"""What every corpus reader module provides, and how readers report unusable files.

A reader module (one per corpus, e.g. `readers/ninapro.py`) exposes:

    DATASETS: tuple[str, ...]                     # TFDS names it serves, e.g. ("ninapro_db6",)
    list_files(root: Path, dataset: str) -> list[Path]
        # every raw file of that corpus under `root`, sorted, so that file order (and hence
        # shard content) is a function of the raw input alone.
    read_file(path: Path, root: Path, dataset: str) -> list[Recording]
        # one file -> its recordings (one per file for continuous corpora, one per trial for
        # trial corpora such as EPN-612). Raises RawFileError for a file that cannot be used.

Readers work file by file so that preparation parallelises over files (Beam, processes). The
checks they apply to a file's arrays, and the bad-input policy, are in `readers/checks.py`.
"""

from __future__ import annotations

from pathlib import Path

from tinymyo_jax.errors import UserError


class RawFileError(UserError):
    """A raw file that cannot be used: truncated, corrupt, missing variables, wrong shapes.

    Preparation skips such a file and lists it, with `reason`, in its JSON report; it is never
    dropped silently.
    """

    def __init__(self, path: Path | str, reason: str) -> None:
        self.path = str(path)
        self.reason = reason
        super().__init__(f"{self.path}: {reason}")


def check_dataset(dataset: str, served: tuple[str, ...], reader: str) -> None:
    """Raise UserError unless `dataset` is one of the TFDS names `served` by the `reader` module."""
    if dataset not in served:
        raise UserError(f"the {reader} reader serves {', '.join(served)}; got {dataset!r}")


def relative_file(path: Path, root: Path | None) -> str:
    """`path` relative to the corpus `root` (POSIX separators) for `RecordingMeta.file`; the path
    as given when `root` is None or does not contain it."""
    if root is not None:
        try:
            return Path(path).relative_to(root).as_posix()
        except ValueError:
            pass
    return Path(path).as_posix()
