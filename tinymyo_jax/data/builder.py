"""The TFDS dataset builder shared by every corpus (`data_prep/<name>/` holds one thin subclass each).

    tfds build data_prep/ninapro_db5 --manual_dir RAW --data_dir OUT --file_format array_record
    tinymyo prep ninapro_db5 --manual_dir RAW --data_dir OUT
    tfds.data_source("ninapro_db5", data_dir=OUT)

Two ways to run, same records and shards:

- **Local** (no Beam options): each split's examples come from a generator that prepares the
  split's raw files in worker processes (`prepare.generate_local`; all cores by default, or
  TINYMYO_PREP_WORKERS / `tinymyo prep --workers`), and TFDS's writer shuffles them into shards
  through temporary files on disk (memory stays bounded).
- **Apache Beam** (`--beam_pipeline_options=...` given to `tfds build` or `tinymyo prep`): each
  split is a `Create(files) | Reshuffle | FlatMap(prepare_file)` PCollection, written by TFDS's
  Beam writer; DirectRunner on one machine, Dataflow / Spark / Flink on a cluster.

Files whose windows all belong to one split (decided from names / metadata.csv before reading)
are read once; DB5 and EPN-612 files hold windows of every split and are read by each split's
pass. TFDS writes into an `incomplete.*` folder and renames it when every split is done, so a
killed run leaves no partial dataset and a rerun starts clean.

Shards are ArrayRecord with `group_size:1` (random access) and **no compression**: measured here
on z-scored float16 windows, TFDS's default compression saved ~7 % of the bytes and cut the
random-read rate ~3x (benchmarks/prep.py, `array_record_codec`).
"""

from __future__ import annotations

import dataclasses
import logging
import os
import shutil
import time
from pathlib import Path
from typing import Any, Callable, ClassVar

import tensorflow_datasets as tfds
from tensorflow_datasets.core import writer as writer_lib

from tinymyo_jax import replace
from tinymyo_jax.data import corpora, downloads, prepare, protocols, window_record
from tinymyo_jax.data.protocols import CorpusProtocol
from tinymyo_jax.errors import UserError


DATASET_VERSION = "1.0.0"
ARRAY_RECORD_OPTIONS = "group_size:1,uncompressed"
PARTS_FOLDER = "prep_report_parts"


@dataclasses.dataclass(eq=False)
class WindowBuilderConfig(tfds.core.BuilderConfig):
    """A window length / stride (samples at the protocol's rate).

    options: corpora with `user_configs` (`generic/NAME`): the WindowConfig made from the user's
    options (e.g. a GenericConfig), which the corpus's protocol is bound to.
    """

    window: int = 1000
    stride: int = 500
    options: Any = None


class ArrayRecordExampleWriter(writer_lib.ExampleWriter):
    """Writes ArrayRecord shards with `ARRAY_RECORD_OPTIONS`; other formats as TFDS does.

    Each record is re-serialized with sorted map keys: TFDS serializes an Example's feature map
    in the protobuf runtime's hash order, which changes from process to process, so the same
    records gave different shard bytes on every run. Sorted, the same raw input gives
    byte-identical shards (locally, on Beam, after a killed run).
    """

    def write(self, path: Any, examples: Any) -> Any:
        if self.file_format != tfds.core.FileFormat.ARRAY_RECORD:
            return super().write(path, examples)
        from array_record.python import array_record_module
        from tensorflow_datasets.proto import tf_example_pb2

        parse = tf_example_pb2.Example.FromString
        writer = array_record_module.ArrayRecordWriter(os.fspath(path), ARRAY_RECORD_OPTIONS)
        for _, serialized in examples:
            writer.write(parse(serialized).SerializeToString(deterministic=True))
        writer.close()
        return None


class EmgBuilder(tfds.core.GeneratorBasedBuilder, skip_registration=True):
    """Window records of one EMG corpus under TinyMyo's protocol (see `protocols`).

    Subclasses set `PROTOCOL` (the corpus's TFDS name); everything else follows from its
    registry entry (`corpora`).
    """

    PROTOCOL: ClassVar[str]
    VERSION = tfds.core.Version(DATASET_VERSION)
    RELEASE_NOTES: ClassVar[dict[str, str]] = {DATASET_VERSION: "TinyMyo protocol, window records v1 (see the description)."}

    # Set per instance by `tinymyo prep`; `tfds build` uses the defaults.
    num_workers: int | None = None
    show_progress: bool = True
    print_summary: bool = True

    def __init_subclass__(cls, **kwargs: Any) -> None:
        corpus = corpora.get(cls.PROTOCOL)
        protocol = corpus.protocol
        cls.BUILDER_CONFIGS = [
            WindowBuilderConfig(
                name=c.name, window=c.window, stride=c.stride,
                description=f"window {c.window} samples, stride {c.stride}" + (
                    f" at {protocols.window_rate(protocol, c):g} Hz" if protocols.window_rate(protocol, c) else ""),
            )
            for c in protocol.configs
        ]  # fmt: skip
        cls.MANUAL_DOWNLOAD_INSTRUCTIONS = corpus.instructions
        if not cls.__dict__.get("name"):
            cls.name = protocol.name
        super().__init_subclass__(**kwargs)

    def __init__(self, *, file_format: str | None = None, **kwargs: Any) -> None:
        super().__init__(file_format=file_format or "array_record", **kwargs)

    @property
    def protocol(self) -> CorpusProtocol:
        base = corpora.protocol(self.PROTOCOL)
        return base.bind(base, self.window_config) if base.bind is not None else base

    @property
    def window_config(self) -> protocols.WindowConfig:
        if corpora.get(self.PROTOCOL).user_configs:
            options = getattr(self.builder_config, "options", None)
            if options is None:
                raise UserError(f"a {self.PROTOCOL} corpus is prepared with `tinymyo prep {self.PROTOCOL} --name NAME ...`")
            return options
        return corpora.protocol(self.PROTOCOL).config(self.builder_config.name)

    # -- TFDS hooks ---------------------------------------------------------------------------

    def _info(self) -> tfds.core.DatasetInfo:
        protocol = self.protocol
        supervised = ("emg", "label") if protocol.class_names else ("emg", "target") if protocol.target_names else None
        return tfds.core.DatasetInfo(
            builder=self,
            description=downloads.describe(protocol),
            features=window_record.features(protocol, self.window_config),
            supervised_keys=supervised,
            homepage=corpora.get(protocol.name).homepage,
            metadata=tfds.core.MetadataDict(),  # filled once prepared: `_download_and_prepare`
        )

    def _example_writer(self) -> writer_lib.ExampleWriter:
        return ArrayRecordExampleWriter(file_format=self.info.file_format)

    def _download_and_prepare(self, dl_manager: Any, download_config: Any) -> None:
        self._use_beam = bool(download_config.beam_runner or download_config.beam_options)
        workers = 1 if self._use_beam else (self.num_workers or prepare.default_workers())
        with prepare.worker_pool(workers) as self._pool:
            super()._download_and_prepare(dl_manager, download_config)
        report = prepare.write_report(
            self._parts_dir, self.data_dir, protocol=self.protocol, config=self.window_config,
            root=self._root, num_files=self._num_files, split_infos=dict(self.info.splits.items()),
        )  # fmt: skip
        self.report = report
        # The real channel count travels with the data: TFDS writes this as metadata.json
        # beside dataset_info.json once preparation returns (source.prepared_channels reads it).
        self.info.metadata.update(prepared_metadata(self.protocol, self.window_config, report))
        if self.print_summary:
            print(prepare.summary(report))

    def _split_generators(self, dl_manager: Any) -> dict[str, Any]:
        protocol = self.protocol
        self._root = prepare.resolve_root(dl_manager.manual_dir, protocol.name)
        self._parts_dir = str(Path(self.data_dir) / PARTS_FOLDER)
        jobs, skipped = prepare.plan(protocol, self._root)
        self._num_files = len(jobs) + len(skipped)
        for entry in skipped:
            prepare.write_part(self._parts_dir, "plan", entry)
        generators = {}
        for split in protocol.splits:
            split_jobs = prepare.jobs_for(jobs, split)
            if split_jobs:
                generators[split] = self._generate_examples(split=split, jobs=split_jobs)
        if not generators:
            reasons = "; ".join(f"{e['file']}: {e['reason']}" for e in skipped[:5])
            raise UserError(f"{self._root}: none of the {self._num_files} {protocol.name} files can be used ({reasons})")
        return generators

    def _generate_examples(self, split: str, jobs: list[prepare.FileJob]) -> Any:
        protocol, config = self.protocol, self.window_config
        if getattr(self, "_use_beam", False):
            return _beam_split(protocol.name, config, str(self._root), split, self._parts_dir, jobs)
        return prepare.generate_local(
            protocol, config, self._root, jobs, split, Path(self._parts_dir), self._pool, progress=self.show_progress
        )


def _beam_split(name: str, config_name: str | protocols.WindowConfig, root: str, split: str, parts_dir: str, jobs: list[prepare.FileJob]) -> Any:
    """The split's PTransform: raw files spread over workers, each prepared by `prepare_file`."""
    beam = tfds.core.lazy_imports.apache_beam

    def records(job: prepare.FileJob) -> list[tuple[str, dict[str, Any]]]:
        return prepare.prepare_file(name, config_name, root, split, parts_dir, job)[1]

    @beam.ptransform_fn
    def prepare_split(pipeline: Any) -> Any:
        return (
            pipeline
            | "Files" >> beam.Create(jobs)
            | "Spread" >> beam.Reshuffle()  # one file per work item, not all files on one worker
            | "Prepare" >> beam.FlatMap(records)
        )

    return prepare_split()


def prepared_metadata(protocol: CorpusProtocol, config: protocols.WindowConfig, report: dict[str, Any]) -> dict[str, Any]:
    """What a prepared dataset's metadata.json holds: the corpus, its real channels per window
    (the first rows of `emg`; the rest are padding), their names when known, the windows' rate
    (Hz, None: each file's own; `protocols.window_rate`), and the regression targets' names."""
    return {
        "corpus": protocol.name, "channels": int(report["channels"]), "channel_names": report.get("channel_names"),
        "fs": protocols.window_rate(protocol, config),
        "target_names": list(protocol.target_names) if protocol.target_names else None,
    }  # fmt: skip


def options_builder(name: str, options: protocols.WindowConfig, data_dir: str | Path) -> EmgBuilder:
    """The builder of the corpus `<name>/<options.name>` of a corpus with `user_configs`, made from
    the user's options (e.g. a GenericConfig: `tinymyo prep generic`)."""
    builder_config = WindowBuilderConfig(
        name=options.name, window=options.window, stride=options.stride, options=options,
        description=f"{name}/{options.name}: window {options.window} samples, stride {options.stride}",
    )  # fmt: skip
    # TFDS logs a warning ("Using custom data configuration: <the whole repr>") for every config
    # passed as an object, which is how every such corpus is made: not worth the user's eye.
    absl_logger = logging.getLogger("absl")
    level = absl_logger.level
    absl_logger.setLevel(logging.ERROR)
    try:
        return builder_class(name)(data_dir=str(data_dir), config=builder_config)
    finally:
        absl_logger.setLevel(level)


def builder_class(name: str) -> type[EmgBuilder]:
    """The builder class of a corpus, made from its registry entry (what `tinymyo prep` runs).

    Identical to the class in `data_prep/<name>/` (same base, same PROTOCOL); made here so the
    command works from an installed package too. Not registered with TFDS, so it never clashes
    with the data_prep module's class.
    """
    corpora.get(name)
    class_name = "".join(part.capitalize() for part in name.split("_"))
    return type(class_name, (EmgBuilder,), {"PROTOCOL": name, "name": name, "__module__": __name__},
                skip_registration=True)  # fmt: skip


# ---------------------------------------------------------------------------------------------
# Preparing one dataset: what `tinymyo prep` runs for each name, and `embedded.prepare` for its subjects


def named_builder(name: str, config: str | None, data_dir: str | Path) -> EmgBuilder:
    """The builder of a named corpus (its builder config `config`, None: the first) writing under `data_dir`."""
    return builder_class(name)(data_dir=str(data_dir), **({"config": config} if config else {}))


def prepare_dataset(make: Callable[[Path], EmgBuilder], data_dir: Path, manual_dir: Path, *, label: str,
                    overwrite: bool = False, workers: int | None = None, progress: bool = True,
                    beam_options: Any = None, check_existing: Callable[[Path], None] | None = None) -> Path:  # fmt: skip
    """Prepare the dataset of the builder `make(data_dir)` from the raw files in `manual_dir`;
    returns its folder DATA_DIR/<name>/<config>/<version>. An existing dataset is kept unless
    `overwrite`, and then rebuilt beside the old one and swapped in only once complete (a failed
    or killed rebuild leaves the old dataset as it was). Prints the preparation's summary
    (`label` names the dataset in it). `check_existing(target)` may refuse an existing dataset
    that was prepared with other options than these, instead of handing it back."""
    target = Path(make(data_dir).data_dir)
    replace.remove_stale(target)  # a killed --overwrite's staging folder, on every run
    exists = (target / "dataset_info.json").exists()
    if exists and not overwrite:
        if check_existing is not None:
            check_existing(target)
        print(f"{label}: already prepared at {target} (--overwrite rebuilds it)")
        return target
    _remove_stale_incomplete(target)
    started = time.perf_counter()
    build = dict(manual_dir=manual_dir, workers=workers, progress=progress, beam_options=beam_options)
    if exists:
        with replace.replace_on_success(target) as staging:
            dataset = _build(make, staging / "build", **build)
            for item in Path(dataset.data_dir).iterdir():
                item.rename(staging / item.name)
            shutil.rmtree(staging / "build")
    else:
        dataset = _build(make, data_dir, **build)
    print(prepare.summary(dataset.report, time.perf_counter() - started))
    print(f"  -> {target} (report: {target / prepare.REPORT_FILE})")
    return target


def _build(make: Callable[[Path], EmgBuilder], data_dir: Path, *, manual_dir: Path, workers: int | None,
           progress: bool, beam_options: Any) -> EmgBuilder:  # fmt: skip
    """Prepare one corpus into `data_dir` (TFDS layout) with the builder `make(data_dir)` gives;
    return that builder (with `.report`)."""
    dataset = make(data_dir)
    dataset.num_workers = workers
    dataset.show_progress = progress
    dataset.print_summary = False
    dataset.download_and_prepare(
        download_config=tfds.download.DownloadConfig(
            manual_dir=str(manual_dir), beam_options=beam_options,
            download_mode=tfds.download.GenerateMode.REUSE_DATASET_IF_EXISTS,
        )
    )
    return dataset


def _remove_stale_incomplete(target: Path) -> None:
    """Remove the `incomplete.*` folders a killed run of this dataset version left behind.

    TFDS writes into such a folder and renames it when done; after a kill it stays, unused.
    (Two preparations of the same dataset into the same data_dir at once are not supported.)
    """
    for stale in sorted(target.parent.glob(f"incomplete.*_{target.name}")):
        print(f"removing {stale} left by an interrupted preparation")
        shutil.rmtree(stale, ignore_errors=True)
