"""Preparation, file by file: raw file -> window records + one report entry; the JSON report.

The unit of work is one raw file (`FileJob`), so preparation parallelises over files: local
worker processes (`generate_local`) or Apache Beam workers (builder.py) run the same
`prepare_file`. Each run of `prepare_file` writes its report entry as a small JSON file into a
parts folder (idempotent: same name, same content, so retried Beam bundles and reruns are
harmless); `write_report` merges the parts into `prep_report.json` once all splits are written.

Report (`prep_report.json`, beside the shards):
- `files`: one entry per raw file, in listing order: `index` (the records' `file_index`),
  `file`, `status` ("used" / "skipped"), `reason` (skipped), `recordings`, `samples`, `seconds`,
  `channels` (most channels of its recordings), `channel_names` (when the reader knows them and
  its recordings agree), `windows` {split: count}, `dropped` {reason: count}, `notes` (reader findings worth seeing:
  dead channels, repaired samples, truncated label vectors, malformed rows, ...);
- `ignored`: files under the corpus root that the listing leaves out, each with `file` and
  `reason` (wrong name or extension, broken symbolic link, not a regular file);
- `channels`, `channel_names`: the dataset's real channels per window (`real_channels`), also
  written to the dataset's metadata.json by the builder;
- `splits`: per split the window count summed over files and the count TFDS wrote, `shards`,
  `bytes` (of the shard files on disk); `totals`; `consistent`: True when every split's two
  counts agree.
"""

from __future__ import annotations

import collections
import concurrent.futures
import contextlib
import ctypes
import dataclasses
import json
import multiprocessing
import os
import signal
import threading
import time
from pathlib import Path
from typing import Any, Iterable, Iterator, Mapping, Sequence

from etils import epath
from tqdm.auto import tqdm

from tinymyo_jax.data import corpora, protocols, window_record
from tinymyo_jax.data.protocols import CorpusProtocol, WindowConfig
from tinymyo_jax.data.readers import checks
from tinymyo_jax.data.readers.base import RawFileError
from tinymyo_jax.errors import UserError

REPORT_FILE = "prep_report.json"
# Order-4 band-pass sections need more than 27 samples for zero-phase filtering (scipy's padlen).
MIN_SAMPLES = 28
# Reader findings copied into a file's report entry.
NOTABLE_EXTRAS = (
    "truncated_samples", "nonfinite_emg_rows", "nonfinite_joint_angles_rows", "glove_nonfinite_rows_dropped",
    "malformed_rows", "malformed_lines", "unlabelled_trials_skipped", "time_gaps", "time_nonincreasing_steps",
    "labels_already_global", "dropped_columns_nonzero", "in_file_mismatch", "ik_failure_samples",
    "absurd_emg_samples", "absurd_emg_channels", "saturated_channels", "flat_channels",
)  # fmt: skip


def reader(name: str) -> Any:
    """The reader module of a corpus (its registry entry names it)."""
    return corpora.get(name).reader_module()


@dataclasses.dataclass(frozen=True)
class FileJob:
    """One raw file to prepare: its position in the sorted listing, path and split.

    split: the split every window of the file goes to, or None when its windows go to several.
    """

    index: int
    path: str
    split: str | None
    size: int = 0


def resolve_root(manual_dir: Path | str, name: str) -> Path:
    """The corpus root: `manual_dir/<name>` when it exists (as `tinymyo synth --out` lays out
    several corpora), else `manual_dir` itself (always for corpora without `nested_root`, users'
    own recordings)."""
    manual_dir = Path(manual_dir)
    if not corpora.get(name).nested_root:
        return manual_dir
    nested = manual_dir / name
    return nested if nested.is_dir() else manual_dir


def plan(protocol: CorpusProtocol, root: Path) -> tuple[list[FileJob], list[dict[str, Any]]]:
    """(jobs, entries of files skipped before reading), from the corpus's sorted file listing."""
    files = [Path(f) for f in reader(protocol.name).list_files(root, protocol.name)]
    if not files:
        raise UserError(f"{root}: no {protocol.name} raw files found; see the download instructions (tinymyo prep --help)")
    assigned, skipped = protocols.assign_files(protocol, files, root)
    jobs, entries = [], []
    for index, path in enumerate(files):
        if path in skipped:
            entries.append(_skipped(index, _relative(path, root), skipped[path]))
        else:
            size = path.stat().st_size if path.is_file() else 0
            jobs.append(FileJob(index, str(path), assigned[path], size))
    return jobs, entries


def ignored_files(protocol: CorpusProtocol, root: Path) -> list[dict[str, str]]:
    """Every file under `root` the corpus's listing leaves out, with why (for the report): a
    wrong name or extension, a broken symbolic link, something that is not a regular file."""
    root = Path(root)
    if not root.is_dir():
        return []
    listed = {os.path.abspath(f) for f in reader(protocol.name).list_files(root, protocol.name)}
    ignored = []
    for path in sorted(root.rglob("*")):
        if path.is_dir() or os.path.abspath(path) in listed:
            continue
        if path.is_symlink() and not path.exists():
            reason = "broken symbolic link"
        elif not path.is_file():
            reason = "not a regular file"
        else:
            reason = f"not a {protocol.name} raw file (name, extension or folder do not match the corpus layout)"
        ignored.append({"file": _relative(path, root), "reason": reason})
    return ignored


def jobs_for(jobs: Sequence[FileJob], split: str) -> list[FileJob]:
    """The jobs a split's pass reads: files of that split, and files whose windows go to several."""
    return [job for job in jobs if job.split in (split, None)]


def prepare_file(
    name: str, config_name: str | WindowConfig, root: str, split: str, parts_dir: str | None, job: FileJob
) -> tuple[dict[str, Any], list[tuple[str, dict[str, Any]]]]:
    """Read, preprocess and window one raw file; keep the records of `split`.

    Returns (report entry, [(key, record)]). A file the reader or the protocol cannot use
    (UserError, including RawFileError) gives a "skipped" entry with the reason and no records.
    Writes the entry to `parts_dir` when given. `config_name`: a config name, or the WindowConfig
    itself (a `generic/NAME` corpus's options travel this way, see `corpora.resolve`).
    """
    protocol, config = corpora.resolve(name, config_name)
    path, root_path = Path(job.path), Path(root)
    shown = _relative(path, root_path)
    try:
        entry, records = _windows_of_file(protocol, config, path, root_path, job, split)
        entry = {"index": job.index, "file": shown, **entry}
    except UserError as err:
        entry, records = _skipped(job.index, shown, getattr(err, "reason", str(err))), []
    except Exception as err:  # a bug, not bad input: stop, but say which file triggered it
        err.add_note(f"while preparing {name} file {path}")
        raise
    if parts_dir is not None:
        write_part(parts_dir, split, entry)
    return entry, records


def _windows_of_file(
    protocol: CorpusProtocol, config: WindowConfig, path: Path, root: Path, job: FileJob, split: str
) -> tuple[dict[str, Any], list[tuple[str, dict[str, Any]]]]:
    if protocol.read is not None:
        recordings = protocol.read(path, root)
    else:
        recordings = reader(protocol.name).read_file(path, root, protocol.name)
    counts: collections.Counter[str] = collections.Counter()
    dropped: collections.Counter[str] = collections.Counter()
    records: list[tuple[str, dict[str, Any]]] = []
    notes: dict[str, Any] = {}
    dead: set[int] = set()
    bound = corpora.get(protocol.name).emg_bound
    channels: set[int] = set()
    channel_names: set[tuple[str, ...] | None] = set()
    samples, seconds = 0, 0.0
    no_live: list[str] = []
    for number, recording in enumerate(recordings):
        samples += recording.num_samples
        seconds += recording.duration_s
        channels.add(recording.num_channels)
        names = recording.meta.extra.get("channel_names")
        channel_names.add(tuple(str(n) for n in names) if names is not None else None)
        try:  # degenerate channels: repaired or marked dead, the same for every corpus
            emg = checks.channel_findings(path, bound, recording.emg, recording.meta.extra,
                                          where=f"recording {number}" if len(recordings) > 1 else "")  # fmt: skip
        except RawFileError as err:
            no_live.append(err.reason)
            dropped["recording_without_live_channel"] += 1
            continue
        if emg is not recording.emg:
            recording = dataclasses.replace(recording, emg=emg)
        dead.update(recording.meta.extra.get("dead_channels", []))
        for k in NOTABLE_EXTRAS:  # the first recording's finding of each kind
            if recording.meta.extra.get(k) and k not in notes:
                notes[k] = recording.meta.extra[k]
        if recording.num_samples < MIN_SAMPLES:
            dropped["recording_too_short_to_filter"] += 1
            continue
        windows = protocol.windows(recording, config, job.split)
        dropped.update(windows.dropped)
        counts.update(str(s) for s in windows.splits)
        records.extend(
            window_record.records(windows, protocol, recording, file_index=job.index, recording_index=number, split=split)
        )
    if recordings and len(no_live) == len(recordings):
        raise RawFileError(path, no_live[0] if len(no_live) == 1 else f"no recording has a live EMG channel ({no_live[0]})")
    if dead:
        notes["dead_channels"] = sorted(dead)
    entry = {
        "status": "used",
        "recordings": len(recordings),
        "samples": samples,
        "seconds": round(seconds, 3),
        "channels": max(channels, default=0),
        "channel_names": list(next(iter(channel_names))) if len(channel_names) == 1 and None not in channel_names else None,
        "windows": {s: counts[s] for s in protocol.splits if counts[s]},
        "dropped": dict(sorted(dropped.items())),
        "notes": _jsonable(notes),
    }
    return entry, records


def _skipped(index: int, file: str, reason: str) -> dict[str, Any]:
    return {"index": index, "file": file, "status": "skipped", "reason": reason}


def _relative(path: Path, root: Path) -> str:
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        return path.as_posix()


def _jsonable(value: Any) -> Any:
    """Reader extras -> JSON types (numpy scalars, tuples)."""
    return json.loads(json.dumps(value, default=lambda v: v.item() if hasattr(v, "item") else str(v)))


# ---------------------------------------------------------------------------------------------
# Local parallel generation


def generate_local(
    protocol: CorpusProtocol,
    config: WindowConfig,
    root: Path,
    jobs: Sequence[FileJob],
    split: str,
    parts_dir: Path,
    pool: Any,
    progress: bool = True,
) -> Iterator[tuple[str, dict[str, Any]]]:
    """Records of `split` from `jobs`, files prepared by the `worker_pool` `pool`.

    At most 2 x (pool's workers) files are in flight, so memory stays bounded when writing is
    slower than reading; results come back in file order.
    """
    run = _bind(protocol.name, config, str(root), split, str(parts_dir))
    total = sum(job.size for job in jobs)
    bar = tqdm(total=total, unit="B", unit_scale=True, desc=f"{protocol.name} {split}: raw files", disable=not progress)
    yielded = 0
    problems: list[str] = []
    with bar:
        for job, (entry, records) in zip(jobs, _ordered(pool, run, jobs, 2 * pool.workers)):
            bar.update(job.size)
            yielded += len(records)
            if entry["status"] == "skipped":
                problems.append(f"{entry['file']} skipped: {entry['reason']}")
            elif not records:
                problems.append(f"{entry['file']}: no {split} windows (dropped: {entry['dropped'] or 'none'})")
            yield from records
    if yielded == 0:  # TFDS cannot write an empty split; say why it is empty
        shown = "; ".join(problems[:5]) + (f"; and {len(problems) - 5} more" if len(problems) > 5 else "")
        raise UserError(f"{protocol.name}: the {split} split got no windows from its {len(jobs)} file(s): {shown}")


class _bind:
    """prepare_file with everything but the job bound; picklable for worker processes."""

    def __init__(self, *args: Any) -> None:
        self.args = args

    def __call__(self, job: FileJob) -> tuple[dict[str, Any], list[tuple[str, dict[str, Any]]]]:
        return prepare_file(*self.args, job)


class _InProcess:
    workers = 1

    def submit(self, fn: Any, *args: Any) -> concurrent.futures.Future:
        future: concurrent.futures.Future = concurrent.futures.Future()
        future.set_result(fn(*args))
        return future


@contextlib.contextmanager
def worker_pool(workers: int) -> Iterator[Any]:
    """An executor of `workers` processes (1: runs in this process), shared by a build's splits.

    Processes are spawned, not forked: they start clean whatever the parent imported
    (TensorFlow, JAX threads), at the price of ~1 s of start-up each (more under `tfds build`,
    whose script imports TensorFlow), paid once per build.
    """
    if workers <= 1:
        yield _InProcess()
        return
    with concurrent.futures.ProcessPoolExecutor(
        workers, mp_context=multiprocessing.get_context("spawn"), initializer=_die_with_parent, initargs=(os.getpid(),)
    ) as pool:
        pool.workers = workers  # type: ignore[attr-defined]
        yield pool


def _die_with_parent(parent: int) -> None:
    """Worker initializer: exit when the parent process is gone (SIGKILL gives it no chance to stop
    its pool, and orphaned workers would hold ~200 MB each). Linux's PR_SET_PDEATHSIG signals at
    once; a thread watching the parent's pid covers other systems (and a parent already gone)."""
    try:
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # 1 = PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(0.5)
        os._exit(1)

    threading.Thread(target=watch, name="watch-parent", daemon=True).start()


def _ordered(pool: Any, fn: Any, jobs: Iterable[FileJob], window: int) -> Iterator[Any]:
    pending: collections.deque = collections.deque()
    for job in jobs:
        pending.append(pool.submit(fn, job))
        if len(pending) >= window:
            yield pending.popleft().result()
    while pending:
        yield pending.popleft().result()


def default_workers() -> int:
    """TINYMYO_PREP_WORKERS, else every core this process may use."""
    if os.environ.get("TINYMYO_PREP_WORKERS"):
        return max(1, int(os.environ["TINYMYO_PREP_WORKERS"]))
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


# ---------------------------------------------------------------------------------------------
# Report


def write_part(parts_dir: str | Path, split: str, entry: Mapping[str, Any]) -> None:
    """One file's entry from one split's pass, as `<split>-<file index>.json` (epath: local or
    cloud storage, for Beam workers)."""
    folder = epath.Path(parts_dir)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{split}-{entry['index']:07d}.json").write_text(json.dumps(entry, sort_keys=True))


def write_report(
    parts_dir: str | Path,
    out_dir: str | Path,
    *,
    protocol: CorpusProtocol,
    config: WindowConfig,
    root: Path,
    num_files: int,
    split_infos: Mapping[str, Any],
) -> dict[str, Any]:
    """Merge the per-file parts into `<out_dir>/prep_report.json` and delete the parts.

    split_infos: TFDS SplitInfo per written split (num_examples, num_bytes, shard_lengths).
    """
    parts = epath.Path(parts_dir)
    entries: dict[int, dict[str, Any]] = {}
    for part in sorted(parts.glob("*.json")) if parts.exists() else []:
        entry = json.loads(part.read_text())
        known = entries.setdefault(entry["index"], entry)
        if known != entry:  # two passes over one file must agree
            raise RuntimeError(f"report entries for {entry['file']} differ between split passes: {known} vs {entry}")
    missing = sorted(set(range(num_files)) - set(entries))
    if missing:
        raise RuntimeError(f"no report entry for raw files {missing[:10]}; preparation did not visit them")
    first = ("index", "file", "status", "reason")
    files = [{**{k: entries[i][k] for k in first if k in entries[i]}, **entries[i]} for i in range(num_files)]
    used = [e for e in files if e["status"] == "used"]
    splits: dict[str, Any] = {}
    out = epath.Path(out_dir)
    for split in protocol.splits:
        counted = sum(e["windows"].get(split, 0) for e in used)
        info = split_infos.get(split)
        written = int(info.num_examples) if info is not None else 0
        on_disk = sum(f.stat().length for f in out.glob(f"{protocol.name}-{split}.*"))  # the shard files
        splits[split] = {
            "windows": counted, "written": written, "shards": len(info.shard_lengths) if info is not None else 0,
            "bytes": on_disk, "bytes_per_window": round(on_disk / written, 1) if written else None,
        }  # fmt: skip
    dropped: collections.Counter[str] = collections.Counter()
    for entry in used:
        dropped.update(entry["dropped"])
    ignored = ignored_files(protocol, root)
    channels, channel_names = real_channels(protocol, used)
    report = {
        "dataset": protocol.name,
        "config": dataclasses.asdict(config),
        "raw_root": str(root),
        "channels": channels,
        "channel_names": channel_names,
        "files": files,
        "ignored": ignored,
        "splits": splits,
        "totals": {
            "files": len(files),
            "files_used": len(used),
            "files_skipped": len(files) - len(used),
            "files_ignored": len(ignored),
            "recordings": sum(e["recordings"] for e in used),
            "hours": round(sum(e["seconds"] for e in used) / 3600, 4),
            "windows": sum(s["windows"] for s in splits.values()),
            "dropped": dict(sorted(dropped.items())),
            "bytes": sum(s["bytes"] for s in splits.values()),
        },
        "consistent": all(s["windows"] == s["written"] for s in splits.values()),
    }
    (out / REPORT_FILE).write_text(json.dumps(report, indent=1) + "\n")
    if parts.exists():
        parts.rmtree()
    return report


def real_channels(protocol: CorpusProtocol, used: Sequence[Mapping[str, Any]]) -> tuple[int, list[str] | None]:
    """(real channels per window, their names or None) of a prepared dataset: the protocol's count
    when it fixes one, else the most any used file had; names when every used file agrees.

    These travel with the data (prep_report.json and the dataset's metadata.json), so evaluation
    and export read them instead of re-deriving them from zero rows.
    """
    seen = max((int(e.get("channels", 0)) for e in used), default=0)
    channels = protocol.channels if protocol.channels is not None else seen
    names = {tuple(e["channel_names"]) if e.get("channel_names") is not None else None for e in used}
    agreed = next(iter(names)) if len(names) == 1 else None
    return channels, list(agreed) if agreed is not None and len(agreed) == channels else None


def summary(report: Mapping[str, Any], seconds: float | None = None) -> str:
    """Human-readable end-of-run summary of a report."""
    totals = report["totals"]
    lines = [
        f"{report['dataset']}/{report['config']['name']}: {totals['files_used']} of {totals['files']} raw files used, "
        f"{totals['hours']:.3f} h of signal, {totals['windows']:,} windows, {totals['bytes'] / 1e6:,.1f} MB"
        + (f" in {seconds:.1f} s" if seconds is not None else "")
    ]
    for split, info in report["splits"].items():
        if info["written"] or info["windows"]:
            lines.append(
                f"  {split:<10} {info['written']:>9,} windows  {info['shards']:>3} shard(s)  "
                f"{info['bytes'] / 1e6:>9,.1f} MB  ({info['bytes_per_window'] or 0:,.0f} B/window)"
            )
    if totals["dropped"]:
        lines.append("  windows dropped by the protocol: " + ", ".join(f"{k} {v:,}" for k, v in totals["dropped"].items()))
    for entry in report["files"]:
        if entry["status"] == "skipped":
            lines.append(f"  skipped {entry['file']}: {entry['reason']}")
    if report.get("ignored"):
        lines.append(f"  ignored {len(report['ignored'])} file(s) that are not raw files of the corpus (listed in the report)")
    if not report["consistent"]:
        lines.append("  WARNING: window counts per file do not add up to the records written; see the report")
    return "\n".join(lines)
