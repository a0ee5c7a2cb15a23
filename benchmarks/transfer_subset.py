"""A prepared dataset made of chosen records of another: the per-unit datasets of the transfer
benchmark's fine-tunes (benchmarks/transfer.py), which `finetune` reads like any prepared
dataset (train / validation / test splits, same features, metadata and labels).

The records are copied byte for byte (serialized tf.Examples), one shard per split, so a
window is decoded exactly as in its source. The copy is written into a temporary folder and
renamed when complete (a killed run leaves no partial dataset).
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Mapping

import numpy as np

from tinymyo_jax.data.builder import ARRAY_RECORD_OPTIONS
from tinymyo_jax.data.source import WindowShards

COPIED = ("features.json", "metadata.json", "label.labels.txt", "dataset.labels.txt")


def write_subset(source: Mapping[str, WindowShards], rows: Mapping[str, np.ndarray], target: Path) -> Path:
    """Write split `name` = records `rows[name]` of `source[name]` (a split of one prepared
    dataset) for each name, into `target` (a `<data_dir>/<name>/<config>/<version>` folder).
    Returns `target`; an existing complete `target` is kept as it is."""
    target = Path(target)
    if (target / "dataset_info.json").is_file():
        return target
    from array_record.python import array_record_module

    first = next(iter(source.values()))
    info = json.loads((first.directory / "dataset_info.json").read_text())
    partial = target.with_name(target.name + ".incomplete")
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    for name in COPIED:
        if (first.directory / name).is_file():
            shutil.copy(first.directory / name, partial / name)
    splits = []
    for split, shards in source.items():
        indices = np.asarray(rows[split], np.int64)
        path = partial / f"{info['name']}-{split}.array_record-00000-of-00001"
        writer = array_record_module.ArrayRecordWriter(os.fspath(path), ARRAY_RECORD_OPTIONS)
        for index in indices.tolist():
            shard = int(np.searchsorted(shards.offsets, index, side="right")) - 1
            writer.write(shards._read(shard, index - int(shards.offsets[shard])))
        writer.close()
        splits.append({"filepathTemplate": "{DATASET}-{SPLIT}.{FILEFORMAT}-{SHARD_X_OF_Y}", "name": split,
                       "numBytes": str(path.stat().st_size), "shardLengths": [str(indices.size)]})  # fmt: skip
    info["splits"] = splits
    (partial / "dataset_info.json").write_text(json.dumps(info, indent=2))
    if target.exists():
        shutil.rmtree(target)
    partial.rename(target)
    return target
