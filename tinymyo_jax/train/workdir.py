"""What a run's workdir was started with, so a rerun with other settings refuses instead of mixing.

`WORKDIR/run_record.json` holds the settings that make checkpoints and results mean something:
the initial checkpoint (`init`), the model config, the data (each dataset's fingerprint) and the
seed and batch that fix the data order. Pretraining and fine-tuning call `start_run` first,
before they write anything:

- a new (or empty) workdir gets the record;
- a workdir holding a run with the same record resumes;
- a different record is a UserError naming the differences and the two ways out:
  `--config.workdir_mode=fresh` (the previous run is moved aside to `WORKDIR.previous-<time>`,
  nothing is deleted) or another `--workdir`.

A workdir written before records existed (checkpoints but no record) is adopted: its record is
written from this run's settings; so is a section an older record lacks. A non-empty folder
with neither a record nor checkpoints (a user's own files) is refused in either mode.
"""

from __future__ import annotations

import hashlib
import json
import time
from typing import Any, Mapping

from tinymyo_jax import storage
from tinymyo_jax.errors import UserError

RECORD_FILE = "run_record.json"
MODES = ("resume", "fresh")


def dataset_fingerprint(directory: storage.PathLike) -> str:
    """A short hash of a prepared dataset's content description: per split its shard lengths
    and bytes, and the features. A rebuild from the same raw files gives the same fingerprint;
    other files, another protocol version or window size give another."""
    directory = storage.path(directory)
    info = json.loads(storage.read_text(directory / "dataset_info.json"))
    splits = sorted((s["name"], s.get("shardLengths", []), s.get("numBytes", "0")) for s in info.get("splits", []))
    features = storage.read_text(directory / "features.json") if storage.is_file(directory / "features.json") else ""
    text = json.dumps({"name": info.get("name"), "version": info.get("version"), "splits": splits, "features": features},
                      sort_keys=True)  # fmt: skip
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(value, Mapping):
        out: dict[str, Any] = {}
        for key in sorted(value):
            out.update(_flatten(value[key], f"{prefix}{key}."))
        return out
    return {prefix[:-1]: value}


def differences(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[tuple[str, Any, Any]]:
    """(dotted key, old value, new value) of every setting that differs, in key order."""
    flat_old, flat_new = _flatten(old), _flatten(new)
    return [(key, flat_old.get(key, "<unset>"), flat_new.get(key, "<unset>")) for key in sorted(set(flat_old) | set(flat_new))
            if flat_old.get(key, "<unset>") != flat_new.get(key, "<unset>")]  # fmt: skip


def _refusal(workdir, found: list[tuple[str, Any, Any]]) -> str:
    shown = "; ".join(f"{key}={was!r}, this run has {key}={now!r}" for key, was, now in found[:4])
    more = f" (and {len(found) - 4} more)" if len(found) > 4 else ""
    return (f"{workdir} holds a run started with {shown}{more}; pass --config.workdir_mode=fresh to start over "
            "(the old run is moved aside) or use another --workdir")  # fmt: skip


def check_workdir_path(workdir: storage.PathLike) -> None:
    """A workdir must be (or become) a folder."""
    workdir = storage.path(workdir)
    if storage.is_file(workdir):
        raise UserError(f"--workdir {workdir} is a file; give a folder")
    if storage.is_remote(workdir):
        return  # object stores have prefixes, not folders: any prefix can hold a run
    existing = workdir
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        raise UserError(f"--workdir {workdir}: {existing} is a file, not a folder")


def _has_run(workdir) -> bool:
    checkpoints = workdir / "checkpoints"
    return storage.is_file(workdir / RECORD_FILE) or (storage.is_dir(checkpoints) and bool(storage.listdir(checkpoints)))


def _has_foreign_files(workdir) -> bool:
    """True when `workdir` holds files but no run (no record, no checkpoints): a user's own
    folder, whose config.json and metrics.jsonl a run would overwrite and append to."""
    return storage.is_dir(workdir) and bool(storage.listdir(workdir)) and not _has_run(workdir)


def _listing(workdir, shown: int = 3) -> str:
    names = sorted(storage.listdir(workdir))
    return ", ".join(names[:shown]) + (f" and {len(names) - shown} more" if len(names) > shown else "")


def start_run(workdir: storage.PathLike, record: Mapping[str, Any], mode: str, *, is_main: bool = True) -> None:
    """Check `workdir` against `record` (what this run is started with) and record it.

    Args:
      workdir: the run directory.
      record: JSON-able settings, nested dicts allowed; compared key by key.
      mode: "resume" (refuse a different record) or "fresh" (move a previous run aside).
      is_main: only the main process moves, creates or writes; the others only check.

    Raises:
      UserError: a bad mode, a workdir that is a file, or a record that differs (before anything
        is written).
    """
    if mode not in MODES:
        raise UserError(f"config.workdir_mode must be one of {', '.join(MODES)}; got {mode!r}")
    workdir = storage.path(workdir)
    check_workdir_path(workdir)
    record = json.loads(json.dumps(record))
    path = workdir / RECORD_FILE
    if _has_run(workdir) and mode == "fresh":
        if not is_main:
            return
        aside = workdir.with_name(f"{workdir.name}.previous-{time.strftime('%Y%m%d-%H%M%S')}")
        storage.move(workdir, aside)
        print(f"workdir_mode=fresh: the previous run in {workdir} was moved to {aside}", flush=True)
    elif storage.is_file(path):
        try:
            old = json.loads(storage.read_text(path))
        except (OSError, ValueError) as err:
            raise UserError(f"{path} is unreadable ({err}); use --config.workdir_mode=fresh or another --workdir") from err
        # sections a record of an older version lacks (e.g. "training") cannot be compared: they
        # are recorded from this run, the rest must match
        missing = sorted(set(record) - set(old))
        found = differences(old, {key: value for key, value in record.items() if key in old})
        if found:
            raise UserError(_refusal(workdir, found))
        if missing and is_main:
            print(f"note: {path} had no {', '.join(missing)} (an older version); recorded this run's", flush=True)
            storage.write_atomic(path, json.dumps(record, indent=1, sort_keys=True) + "\n")
        return
    elif is_main and _has_foreign_files(workdir):  # main only: the others could see its record being written
        raise UserError(f"--workdir {workdir} is not empty and holds no run of this trainer ({_listing(workdir)}); "
                        "give a new or empty folder")  # fmt: skip
    if is_main:
        storage.mkdir(workdir)
        # written whole or not at all: the other processes of a job may read it at any moment
        storage.write_atomic(path, json.dumps(record, indent=1, sort_keys=True) + "\n")
