"""Fast random access to a prepared split's window records, decoded to numpy without TensorFlow.

    shards = WindowShards("ninapro_db6", "train", data_dir="~/tensorflow_datasets")
    len(shards)                          # windows in the split
    shards[12]                           # {"emg": float16 (16, 1000), "channel_mask": bool (16,), ...}
    shards.read_batch([5, 9, 2])         # {"emg": float16 (3, 16, 1000), ...} stacked, in that order

A grain random-access data source: `__len__`, `__getitem__`, and grain's batched-read hook
`_getitems` (also as `__getitems__`); picklable (open readers are dropped and reopened in each
process), so grain worker processes can use it. Records are the TFDS window records of
`window_record` (serialized tf.train.Example protos in ArrayRecord shards); they are parsed with
the protobuf runtime (upb) and `np.frombuffer`, never TensorFlow.

Speed (measured here, one core, 32 KB records of 16 x 1000 float16, uncompressed shards, same
load for each): a reader opened with "readahead_buffer_size:0,max_parallelism:0" and used as
`seek(i); read()` returned ~65-70k records/s, against ~23k/s for `read([i])` and ~9-18k/s for
`read(list_of_64)`, which dispatch through a thread pool. So `read_batch` seeks and reads record
by record (under a lock per shard: the reader has a cursor) and decodes straight into
preallocated batch arrays; benchmarks/prep.py reports the resulting rates.
"""

from __future__ import annotations

import json
import os
import re
import threading
import warnings
from typing import Any, Callable, Sequence

import numpy as np

from tinymyo_jax import storage
from tinymyo_jax.data import corpora
from tinymyo_jax.errors import UserError

_VERSION_DIR = re.compile(r"^\d+\.\d+\.\d+$")
_READER_OPTIONS = "readahead_buffer_size:0,max_parallelism:0"  # random access, no thread pool


def _damage_errors() -> tuple[type[BaseException], ...]:
    """What a truncated or corrupted shard raises: the ArrayRecord reader (RuntimeError, OSError),
    the protobuf parser (DecodeError) and the decoders (a missing field, a wrong byte count)."""
    from google.protobuf.message import DecodeError

    return (RuntimeError, OSError, ValueError, KeyError, IndexError, TypeError, DecodeError)


_DAMAGE = _damage_errors()


def default_data_dir() -> storage.epath.Path:
    """Where TFDS keeps prepared datasets: $TFDS_DATA_DIR, else ~/tensorflow_datasets."""
    return storage.path(os.environ.get("TFDS_DATA_DIR") or "~/tensorflow_datasets")


def dataset_key(key: str) -> tuple[str, str | None]:
    """(dataset, builder config or None) of a dataset key "NAME" or "NAME/CONFIG", the one
    parser of the keys that name a prepared dataset: a pretraining mixture key
    ("ninapro_db8/w1000"), a benchmark ("generic/lab")."""
    dataset, _, config = key.partition("/")
    return dataset, config or None


def dataset_dir(name: str, data_dir: storage.PathLike | None = None, config: str | None = None,
                version: str | None = None) -> storage.epath.Path:
    """`<data_dir>/<name>[/<config>]/<version>` of a prepared dataset (default config, newest
    version unless given). Raises UserError naming what is missing."""
    base = storage.path(data_dir) if data_dir is not None else default_data_dir()
    root = base / name
    if not storage.is_dir(root):
        named = f" --name {config}" if name == "generic" and config else ""
        raise UserError(f"no prepared dataset {name + ('/' + config if named else '')!r} in {base}; "
                        f"run `tinymyo prep {name} --manual_dir RAW{named} --data_dir {base}`")  # fmt: skip
    if config is None and not _versions(root):
        default = root / ".config" / "metadata.json"
        if storage.is_file(default):
            config = json.loads(storage.read_text(default))["default_config_name"]
        else:
            configs = [name for name in storage.listdir(root) if storage.is_dir(root / name) and _versions(root / name)]
            if len(configs) != 1:
                raise UserError(f"{root} holds configs {configs}; name one")
            config = configs[0]
    folder = root / config if config else root
    if not storage.is_dir(folder):  # e.g. a mixture naming generic/NAME that was never prepared
        prepared = sorted(c for c in storage.listdir(root) if storage.is_dir(root / c) and _versions(root / c))
        how = (f"tinymyo prep {name} --manual_dir DIR --name {config} --data_dir {base}" if name == "generic"
               else f"tinymyo prep {name} --config {config} --manual_dir RAW --data_dir {base}")  # fmt: skip
        raise UserError(f"no prepared dataset {name}/{config} in {base} (prepared: {', '.join(prepared) or 'none'}); "
                        f"run `{how}`")  # fmt: skip
    versions = _versions(folder)
    if not versions:
        raise UserError(f"{folder}: no prepared version (a dataset_info.json in a <major>.<minor>.<patch> folder)")
    if version is None:
        version = max(versions, key=lambda v: tuple(int(x) for x in v.split(".")))
    elif version not in versions:
        raise UserError(f"{folder} has versions {sorted(versions)}, not {version}")
    return folder / version


def prepared_metadata(directory) -> dict[str, Any]:
    """What preparation wrote into a prepared dataset's metadata.json (`builder.prepared_metadata`):
    `corpus`, `channels` (real channels per window: the first rows of `emg`, the rest padding),
    `channel_names` (or None), `fs` (Hz, or None: each file's own) and `target_names`.

    A dataset prepared before the metadata existed has no `channels`: the count of its corpus's
    protocol is used instead, with a warning; a corpus whose files decide the count (users'
    recordings) must then be re-prepared (UserError).
    """
    directory = storage.path(directory)
    file = directory / "metadata.json"
    metadata = json.loads(storage.read_text(file)) if storage.is_file(file) else {}
    if "channels" in metadata:
        return metadata
    name = json.loads(storage.read_text(directory / "dataset_info.json"))["name"]
    protocol = corpora.get(name).protocol
    if protocol.channels is None:
        raise UserError(f"{directory}: no real channel count in its metadata.json (prepared by an older version); "
                        f"re-prepare it with `tinymyo prep {name} ... --overwrite`")  # fmt: skip
    warnings.warn(f"{directory}: no real channel count in its metadata.json (prepared by an older version); "
                  f"using the {name} protocol's {protocol.channels}. Re-prepare it to record the count.", stacklevel=2)  # fmt: skip
    target_names = list(protocol.target_names) if protocol.target_names else None
    return {"corpus": name, "channels": protocol.channels, "channel_names": None, "fs": protocol.fs,
            "target_names": target_names, **metadata}  # fmt: skip


def _versions(folder) -> list[str]:
    return [name for name in storage.listdir(folder)
            if _VERSION_DIR.match(name) and storage.is_file(folder / name / "dataset_info.json")]


class WindowShards:
    """One split of a prepared dataset, with random and batched access (see the module docstring).

    Args:
      name: TFDS name, e.g. "ninapro_db6".
      split: "train", "validation" or "test".
      data_dir: default $TFDS_DATA_DIR, else ~/tensorflow_datasets.
      config: builder config (default: the dataset's default), e.g. "w200".
      version: default the newest prepared.
      fields: the features to decode (default all); e.g. ("emg", "channel_mask") for pretraining.
    """

    def __init__(
        self,
        name: str,
        split: str = "train",
        *,
        data_dir: storage.PathLike | None = None,
        config: str | None = None,
        version: str | None = None,
        fields: Sequence[str] | None = None,
    ) -> None:
        self.directory = dataset_dir(name, data_dir, config, version)
        info = json.loads(storage.read_text(self.directory / "dataset_info.json"))
        if info.get("fileFormat") != "array_record":
            raise UserError(f"{self.directory} holds {info.get('fileFormat')} files; WindowShards reads array_record")
        splits = {s["name"]: s for s in info["splits"]}
        if split not in splits:
            raise UserError(f"{self.directory} has splits {sorted(splits)}, not {split!r}")
        entry = splits[split]
        lengths = [int(n) for n in entry.get("shardLengths", [])]
        template = entry.get("filepathTemplate", "{DATASET}-{SPLIT}.{FILEFORMAT}-{SHARD_X_OF_Y}")
        self.paths = [
            str(self.directory / template.format(
                DATASET=info["name"], SPLIT=split, FILEFORMAT="array_record", SHARD_X_OF_Y=f"{i:05d}-of-{len(lengths):05d}",
                SHARD_INDEX=f"{i:05d}", NUM_SHARDS=f"{len(lengths):05d}"))
            for i in range(len(lengths))
        ]  # fmt: skip
        self.name, self.split = name, split
        self.offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
        self.specs = _feature_specs(json.loads(storage.read_text(self.directory / "features.json")))
        if fields is not None:
            unknown = sorted(set(fields) - set(self.specs))
            if unknown:
                raise UserError(f"{self.directory}: no feature(s) {unknown}; it has {sorted(self.specs)}")
            self.specs = {k: self.specs[k] for k in fields}
        self._readers: list[Any] | None = None
        self._open_lock = threading.Lock()

    # -- grain's random-access data source ------------------------------------------------------

    def __len__(self) -> int:
        return int(self.offsets[-1])

    def __getitem__(self, index: int) -> dict[str, np.ndarray]:
        index = int(index)
        if not 0 <= index < len(self):
            raise IndexError(f"index {index} is outside [0, {len(self)})")
        shard = int(np.searchsorted(self.offsets, index, side="right")) - 1
        feature = _parse(self._read(shard, index - int(self.offsets[shard]))).features.feature
        return {key: spec.value(feature[key]) for key, spec in self.specs.items()}

    def _getitems(self, indices: Sequence[int]) -> list[dict[str, np.ndarray]]:
        batch = self.read_batch(indices)
        return [{k: v[i] for k, v in batch.items()} for i in range(len(indices))]

    __getitems__ = _getitems

    def __repr__(self) -> str:
        return f"WindowShards({self.name!r}, {self.split!r}, {len(self)} windows, {self.directory})"

    # -- batched reading --------------------------------------------------------------------------

    def read_batch(self, indices: Sequence[int] | np.ndarray) -> dict[str, np.ndarray]:
        """The records at `indices`, stacked per feature (leading batch axis), in that order."""
        positions = np.asarray(indices, dtype=np.int64).reshape(-1)
        if positions.size and (positions.min() < 0 or positions.max() >= len(self)):
            raise IndexError(f"indices must lie in [0, {len(self)}), got [{positions.min()}, {positions.max()}]")
        out = {k: np.empty((positions.size, *spec.shape), spec.dtype) for k, spec in self.specs.items()}
        shards = np.searchsorted(self.offsets, positions, side="right") - 1
        locals_ = positions - self.offsets[shards]
        decoders = [(k, spec.decode, out[k]) for k, spec in self.specs.items()]
        read = self._read
        for row, (shard, local) in enumerate(zip(shards.tolist(), locals_.tolist())):
            try:
                feature = _parse(read(shard, local)).features.feature
                for key, decode, array in decoders:
                    array[row] = decode(feature[key])
            except _DAMAGE as err:
                raise self._damaged(shard, local, err) from err
        return out

    def _damaged(self, shard: int, local: int, err: Exception) -> Exception:
        return UserError(
            f"{self.paths[shard]}: record {local} cannot be read ({type(err).__name__}: {str(err).splitlines()[0][:160] if str(err) else ''}); "
            f"the shard is damaged: re-prepare it with `tinymyo prep {self.name} --overwrite`"
        )

    def _read(self, shard: int, local: int) -> bytes:
        """Serialized record `local` of shard `shard` (readers opened on first use)."""
        if self._readers is None:
            with self._open_lock:
                if self._readers is None:
                    from array_record.python import array_record_module

                    self._locks = [threading.Lock() for _ in self.paths]
                    readers = []
                    for index, path in enumerate(self.paths):
                        try:
                            # ArrayRecord's reader opens local files only: a shard on object storage
                            # is read from a local copy fetched once (storage.local_copy)
                            readers.append(array_record_module.ArrayRecordReader(storage.local_copy(path), _READER_OPTIONS))
                        except _DAMAGE as err:  # a truncated or missing shard file
                            raise self._damaged(index, 0, err) from err
                    self._readers = readers
        reader = self._readers[shard]
        with self._locks[shard]:
            try:
                reader.seek(local)
                return reader.read()
            except _DAMAGE as err:
                raise self._damaged(shard, local, err) from err

    def close(self) -> None:
        for reader in self._readers or []:
            reader.close()
        self._readers = None

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        # File handles and locks do not cross processes; reopened on first read.
        state["_readers"] = None
        state.pop("_locks", None)
        state.pop("_open_lock", None)
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._open_lock = threading.Lock()


class _Spec:
    """How to decode one feature of a tf.train.Example into a numpy value (picklable).

    kind: "bytes" (raw array bytes, TFDS Encoding.BYTES), "scalar" or "list" (int64_list /
    float_list values).
    """

    def __init__(self, shape: tuple[int, ...], dtype: np.dtype, kind: str) -> None:
        self.shape, self.dtype, self.kind = shape, dtype, kind
        self.field = "float_list" if dtype.kind == "f" else "int64_list"

    def decode(self, feature: Any) -> Any:
        """The value, to be assigned into a batch array (a read-only view for bytes)."""
        if self.kind == "bytes":
            return np.frombuffer(feature.bytes_list.value[0], dtype=self.dtype).reshape(self.shape)
        values = getattr(feature, self.field).value
        return values[0] if self.kind == "scalar" else np.reshape(values, self.shape)

    def value(self, feature: Any) -> np.ndarray:
        """The value as a standalone numpy array / scalar of the feature's dtype."""
        decoded = self.decode(feature)
        return self.dtype.type(decoded) if self.kind == "scalar" else np.asarray(decoded, dtype=self.dtype)


def _feature_specs(features_json: dict[str, Any]) -> dict[str, _Spec]:
    """Decoders for the flat FeaturesDict of a window-record dataset (Tensor, Scalar, ClassLabel)."""
    features = features_json["featuresDict"]["features"]
    specs: dict[str, _Spec] = {}
    for key, feature in features.items():
        if "classLabel" in feature:
            specs[key] = _Spec((), np.dtype(np.int64), "scalar")
            continue
        tensor = feature.get("tensor")
        if tensor is None:
            raise ValueError(f"feature {key!r} ({feature.get('pythonClassName')}) is not a window-record feature")
        dtype = np.dtype(tensor["dtype"])
        shape = tuple(int(d) for d in tensor.get("shape", {}).get("dimensions", []))
        kind = "bytes" if tensor.get("encoding", "none") == "bytes" else "scalar" if shape == () else "list"
        specs[key] = _Spec(shape, dtype, kind)
    return specs


def _parse(serialized: bytes) -> Any:
    """tf.train.Example from its bytes (the protobuf runtime, upb; TensorFlow is not imported)."""
    global _PARSE
    if _PARSE is None:
        from tensorflow_datasets.proto import tf_example_pb2

        _PARSE = tf_example_pb2.Example.FromString
    return _PARSE(serialized)


_PARSE: Callable[[bytes], Any] | None = None
