"""Measure data preparation and reading; prints one JSON object.

    .venv/bin/python benchmarks/prep.py [--scale 20] [--workdir /tmp/tinymyo_prep_bench]

What it measures, on synthetic corpora in the real raw formats (`tinymyo synth`):

- `raw_mb_per_s_per_core`: raw file MB prepared per second by one process (read + filter +
  z-score + window + build the records), for NinaPro DB6 .mat (MATLAB v7, zlib-compressed like
  the published files) and emg2pose HDF5; with the read alone for comparison.
- `prep_end_to_end`: `tinymyo prep emg2pose` with every core (wall time, windows/s, MB/s).
- `bytes_per_window`: on disk, per stored window, per corpus/config; `float16_error`: rounding
  error of storing z-scored EMG as float16.
- `read_windows_per_s_one_core`: random (shuffled) access through `WindowShards` pinned to one
  core, decoded to numpy: batched `read_batch(64)`, grain over batches of indices, grain per
  element (`MapDataset.source(...).shuffle().batch(64)`), `__getitem__`, and
  `tfds.data_source` per element for reference. The target is >= 20,000 windows/s of 16 x 1000.
- `array_record_codec`: why the shards are written uncompressed (bytes and raw read rate with
  TFDS's default options vs ours).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import sys
import time
from pathlib import Path

import numpy as np

SUBJECTS = {"ninapro_db6": 1, "emg2pose": 4, "ninapro_db8": 1, "ninapro_db5": 1}


def _best_rate(fn, count: int, repeats: int = 3) -> float:
    best = 0.0
    for _ in range(repeats):
        started = time.perf_counter()
        fn()
        best = max(best, count / (time.perf_counter() - started))
    return best


def raw_rates(workdir: Path, scale: float) -> dict:
    from tinymyo_jax.data import corpora, prepare
    from tinymyo_jax.data.synth import write_raw_corpus

    out = {}
    for name in ("ninapro_db6", "emg2pose"):
        root = workdir / "raw" / name
        if not root.exists():
            write_raw_corpus(name, root, seed=0, num_subjects=SUBJECTS[name], duration_scale=scale)
        protocol = corpora.protocol(name)
        jobs, _ = prepare.plan(protocol, root)
        size = sum(job.size for job in jobs)
        reader = prepare.reader(name)
        started = time.perf_counter()
        for job in jobs:
            reader.read_file(Path(job.path), root, name)
        read_s = time.perf_counter() - started
        started, windows = time.perf_counter(), 0
        for job in jobs:
            split = job.split or "train"
            windows += len(prepare.prepare_file(name, protocol.configs[0].name, str(root), split, None, job)[1])
        total_s = time.perf_counter() - started
        out[name] = {
            "files": len(jobs), "raw_mb": round(size / 1e6, 1), "windows": windows,
            "read_only_mb_per_s": round(size / 1e6 / read_s, 1),
            "prepare_mb_per_s": round(size / 1e6 / total_s, 1),
            "prepare_windows_per_s": round(windows / total_s),
        }  # fmt: skip
    return out


def build_all(workdir: Path, scale: float) -> tuple[dict, dict]:
    """Write and prepare the benchmark corpora with all cores; returns (end-to-end emg2pose,
    bytes/window). The emg2pose timing includes starting the worker processes."""
    import tensorflow_datasets as tfds

    from tinymyo_jax.data import builder, prepare
    from tinymyo_jax.data.synth import write_raw_corpus

    tfds.disable_progress_bar()
    sizes, end_to_end = {}, {}
    for name, config, corpus_scale in (("emg2pose", None, scale), ("ninapro_db8", None, 1.0), ("ninapro_db5", None, 1.0)):
        root = workdir / "raw" / name
        if not root.exists():
            write_raw_corpus(name, root, seed=0, num_subjects=SUBJECTS[name], duration_scale=corpus_scale)
        data_dir = workdir / "tfds"
        shutil.rmtree(data_dir / name, ignore_errors=True)
        dataset = builder.builder_class(name)(data_dir=str(data_dir), **({"config": config} if config else {}))
        dataset.show_progress = dataset.print_summary = False
        started = time.perf_counter()
        with contextlib.redirect_stdout(sys.stderr):  # TFDS prints progress lines; stdout is the JSON
            dataset.download_and_prepare(download_config=tfds.download.DownloadConfig(manual_dir=str(root)))
        seconds = time.perf_counter() - started
        report = dataset.report
        windows, total = report["totals"]["windows"], report["totals"]["bytes"]
        sizes[f"{name}/{report['config']['name']}"] = {
            "window_shape": [16, report["config"]["window"]], "bytes_per_window": round(total / windows, 1),
            "emg_bytes": 16 * report["config"]["window"] * 2,
        }  # fmt: skip
        if name == "emg2pose":
            raw_mb = sum(p.stat().st_size for p in root.glob("*.hdf5")) / 1e6
            end_to_end = {
                "workers": prepare.default_workers(), "raw_mb": round(raw_mb, 1), "windows": windows,
                "seconds": round(seconds, 2), "raw_mb_per_s": round(raw_mb / seconds, 1),
                "windows_per_s": round(windows / seconds),
            }  # fmt: skip
    return end_to_end, sizes


def float16_error(workdir: Path) -> dict:
    from tinymyo_jax.data import corpora
    from tinymyo_jax.data.readers import emg2pose

    path = sorted((workdir / "raw" / "emg2pose").glob("*.hdf5"))[0]
    recording = emg2pose.read_file(path, path.parent, "emg2pose")[0]
    z, _ = corpora.protocol("emg2pose").preprocess(recording)
    error = z.astype(np.float16).astype(np.float64) - z
    return {
        "rms_error": float(np.sqrt(np.mean(error**2))),
        "max_abs_error": float(np.abs(error).max()),
        "max_abs_zscore": float(np.abs(z).max()),
    }


def read_rates(workdir: Path) -> dict:
    import grain
    import tensorflow_datasets as tfds

    from tinymyo_jax.data.source import WindowShards

    data_dir = workdir / "tfds"
    pretrain = WindowShards("emg2pose", "train", data_dir=data_dir, fields=("emg", "channel_mask"))
    full = WindowShards("emg2pose", "train", data_dir=data_dir)
    count = len(pretrain)
    batch = 64
    perm = np.random.default_rng(0).permutation(count)
    batches = count // batch
    out = {"windows_in_split": count, "window_shape": [16, 1000], "batch": batch}

    def batched(source):
        return lambda: [source.read_batch(perm[b * batch : (b + 1) * batch]) for b in range(batches)]

    out["read_batch_emg_mask"] = round(_best_rate(batched(pretrain), batches * batch))
    out["read_batch_all_fields"] = round(_best_rate(batched(full), batches * batch))
    over_batches = grain.MapDataset.range(batches).map(lambda b: pretrain.read_batch(perm[b * batch : (b + 1) * batch]))
    out["grain_map_over_index_batches"] = round(_best_rate(lambda: [x for x in over_batches], batches * batch))
    per_element = grain.MapDataset.source(pretrain).shuffle(seed=0).batch(batch)
    out["grain_source_shuffle_batch"] = round(_best_rate(lambda: [per_element[b] for b in range(batches)], batches * batch))
    some = perm[: min(count, 3000)].tolist()
    out["getitem"] = round(_best_rate(lambda: [pretrain[i] for i in some], len(some)))
    reference = tfds.data_source("emg2pose", data_dir=data_dir)["train"]
    out["tfds_data_source_per_element"] = round(_best_rate(lambda: [reference[i] for i in some], len(some)))
    out["target"] = 20000
    out["meets_target"] = out["read_batch_emg_mask"] >= 20000
    return out


def codec(workdir: Path) -> dict:
    from array_record.python import array_record_module as arm

    from tinymyo_jax.data.source import WindowShards

    shards = WindowShards("emg2pose", "train", data_dir=workdir / "tfds")
    reader = arm.ArrayRecordReader(shards.paths[0], "readahead_buffer_size:0")
    records = reader.read(list(range(min(reader.num_records(), 2000))))
    out = {}
    for label, options in (("tfds_default_group_size_1", "group_size:1"), ("ours_uncompressed", "group_size:1,uncompressed")):
        path = workdir / f"codec_{label}.array_record"
        writer = arm.ArrayRecordWriter(str(path), options)
        for record in records:
            writer.write(record)
        writer.close()
        probe = arm.ArrayRecordReader(str(path), "readahead_buffer_size:0,max_parallelism:0")
        order = np.random.default_rng(1).permutation(len(records)).tolist()

        def seek_read(order=order, probe=probe):
            for i in order:
                probe.seek(i)
                probe.read()

        out[label] = {
            "bytes_per_record": round(path.stat().st_size / len(records), 1),
            "records_per_s_seek_read": round(_best_rate(seek_read, len(order))),
            "records_per_s_read_one_index": round(_best_rate(lambda: [probe.read([i]) for i in order], len(order))),
            "records_per_s_read_lists_of_64": round(_best_rate(
                lambda: [probe.read(order[i : i + 64]) for i in range(0, len(order) - 63, 64)], len(order) // 64 * 64)),
        }  # fmt: skip
        path.unlink()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/tinymyo_prep_bench"))
    parser.add_argument("--scale", type=float, default=20.0, help="synthetic recording duration scale (default 20)")
    args = parser.parse_args()
    args.workdir.mkdir(parents=True, exist_ok=True)
    result = {"machine": {"cores": os.cpu_count(), "load_average_at_start": os.getloadavg()}}
    # Writes the raw corpora and prepares them with every core (`tinymyo prep`'s default) ...
    result["prep_end_to_end"], result["bytes_per_window"] = build_all(args.workdir, args.scale)
    # ... then everything else on one core.
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[-1]})
    result["raw_mb_per_s_per_core"] = raw_rates(args.workdir, args.scale)
    result["float16_error"] = float16_error(args.workdir)
    result["array_record_codec"] = codec(args.workdir)
    result["read_windows_per_s_one_core"] = read_rates(args.workdir)
    result["machine"]["load_average_at_end"] = os.getloadavg()
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
