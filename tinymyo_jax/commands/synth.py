"""Write small synthetic raw corpora in the original published file layouts.

Each corpus goes to OUT/<name>/, laid out as the real download unpacks (NinaPro .mat files,
emg2pose .hdf5, EPN-612 .json, UCI .txt), with EMG from a physiological signal model, so
`tinymyo prep` and the tests run end to end without the real data.

Examples:
  tinymyo synth all --out /tmp/raw
  tinymyo synth ninapro_db5 uci_emg --out /tmp/raw --subjects 3 --seed 1
  tinymyo synth emg2pose --out /tmp/raw --duration-scale 0.1      # shorter recordings
"""

from __future__ import annotations

import argparse
import pathlib
import time


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from tinymyo_jax.data.synth import synth_modules

    parser.add_argument(
        "names",
        nargs="+",
        metavar="NAME",
        help=f"corpora to write, or 'all': {', '.join(synth_modules())}",
    )
    parser.add_argument("--out", required=True, type=pathlib.Path, help="root folder; each corpus goes to OUT/<name>/")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0); same seed, same signals")
    parser.add_argument("--subjects", type=int, default=2, help="subjects per corpus (default 2)")
    parser.add_argument(
        "--duration-scale",
        type=float,
        default=1.0,
        help="multiply every recording's duration by this (default 1.0)",
    )


def run(args: argparse.Namespace) -> int:
    from tinymyo_jax.data.synth import synth_modules, write_raw_corpus
    from tinymyo_jax.errors import UserError

    if args.subjects < 1:
        raise UserError(f"--subjects must be >= 1, got {args.subjects}")
    if not args.duration_scale > 0:
        raise UserError(f"--duration-scale must be > 0, got {args.duration_scale}")
    modules = synth_modules()
    names = _expand(args.names, list(modules))
    unknown = [name for name in names if name not in modules]
    if unknown:  # check every name before writing anything
        raise UserError(
            f"unknown corpus {', '.join(map(repr, unknown))}; choose from all, {', '.join(modules)}"
        )

    total_files = total_bytes = 0
    started = time.perf_counter()
    for name in names:
        out_dir = args.out / name
        out_dir.mkdir(parents=True, exist_ok=True)
        began = time.perf_counter()
        files = write_raw_corpus(
            name, out_dir, seed=args.seed, num_subjects=args.subjects, duration_scale=args.duration_scale
        )
        seconds = time.perf_counter() - began
        sizes = [pathlib.Path(f).stat().st_size for f in files]
        print(f"{name}: {len(files)} files, {_format_bytes(sum(sizes))}, {seconds:.1f} s -> {out_dir}")
        for path, size in sorted(zip(files, sizes)):
            print(f"  {_relative(pathlib.Path(path), out_dir)}  {_format_bytes(size)}")
        total_files += len(files)
        total_bytes += sum(sizes)
    if len(names) > 1:
        elapsed = time.perf_counter() - started
        print(f"total: {len(names)} corpora, {total_files} files, {_format_bytes(total_bytes)}, {elapsed:.1f} s")
    return 0


def _expand(names: list[str], known: list[str]) -> list[str]:
    """'all' -> every known corpus; duplicates dropped, order kept."""
    expanded: list[str] = []
    for name in names:
        for item in known if name == "all" else [name]:
            if item not in expanded:
                expanded.append(item)
    return expanded


def _relative(path: pathlib.Path, root: pathlib.Path) -> str:
    try:
        return str(path.resolve().relative_to(root.resolve()))
    except ValueError:
        return str(path)


def _format_bytes(size: float) -> str:
    if size < 1000:
        return f"{size:.0f} B"
    for unit in ("KB", "MB", "GB"):
        size /= 1000
        if size < 1000 or unit == "GB":
            break
    return f"{size:.1f} {unit}"
