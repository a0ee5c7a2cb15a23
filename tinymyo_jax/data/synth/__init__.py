"""Synthetic raw corpora: small files in each corpus's original published layout.

They let every reader, builder and pipeline run end to end without downloading hundreds of GB.
`emg_model` makes the signals; one writer module per corpus family lays them out as the real
files are (.mat, .hdf5, .json, .txt). Each writer module exposes

    write_raw_corpus(dataset: str, out_dir: pathlib.Path, *, seed: int = 0,
                     num_subjects: int = 2, duration_scale: float = 1.0) -> list[pathlib.Path]

and this package picks the module by TFDS corpus name (the corpus module declares it), importing it only when asked (the writers
pull in h5py / scipy.io, which `tinymyo --help` should not pay for). Each writer checks its
arguments with `check_writer_args`.
"""

from __future__ import annotations

import importlib
import pathlib
from typing import Any

from tinymyo_jax.data import corpora
from tinymyo_jax.errors import UserError


def synth_modules() -> dict[str, str]:
    """TFDS corpus name -> module that writes its raw files, for every corpus that declares one
    (its registry entry's `synth`, data/corpora)."""
    return {name: corpus.synth for name, corpus in corpora.registry().items() if corpus.synth}


def write_raw_corpus(dataset: str, out_dir: pathlib.Path, **kwargs: Any) -> list[pathlib.Path]:
    """Write the synthetic raw files of `dataset` under `out_dir`; returns the files written.

    Keyword arguments (`seed`, `num_subjects`, `duration_scale`) go to the corpus's writer.
    Raises UserError for a name that is not a known corpus.
    """
    modules = synth_modules()
    if dataset not in modules:
        raise UserError(f"no synthetic corpus named {dataset!r}; choose from {', '.join(sorted(modules))}")
    module = importlib.import_module(modules[dataset])
    return list(module.write_raw_corpus(dataset, pathlib.Path(out_dir), **kwargs))


def check_writer_args(
    dataset: str,
    served: tuple[str, ...],
    num_subjects: int,
    duration_scale: float,
    *,
    max_subjects: int | None = None,
) -> None:
    """Raise UserError unless `dataset` is one of `served`, 1 <= num_subjects (<= max_subjects
    when given) and duration_scale > 0."""
    if dataset not in served:
        raise UserError(f"this writer makes {', '.join(served)}, not {dataset!r}")
    too_many = max_subjects is not None and num_subjects > max_subjects
    if num_subjects < 1 or too_many or not duration_scale > 0:
        limit = f" <= {max_subjects}" if max_subjects is not None else ""
        raise UserError(
            f"need 1 <= num_subjects{limit} and duration_scale > 0, got {num_subjects}, {duration_scale}"
        )
