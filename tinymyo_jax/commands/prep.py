"""Prepare raw EMG corpora into TFDS ArrayRecord window records (TinyMyo's protocol).

Runs the same builder as `tfds build data_prep/<name>`, so both give the same shards. The raw
files are read from --manual_dir (the corpus root, or a folder of <name>/ roots as `tinymyo
synth --out` writes); the dataset goes to DATA_DIR/<name>/<config>/<version>/ with
prep_report.json (every raw file, its windows, skipped files and why) beside the shards.

Examples:
  tinymyo synth ninapro_db5 --out /tmp/raw && tinymyo prep ninapro_db5 --manual_dir /tmp/raw --data_dir /tmp/tfds
  tinymyo prep ninapro_db8 --config w200 --manual_dir ~/raw/DB8
  tinymyo prep generic --manual_dir ~/my_emg --name lab --fs 1000 --channels 0-7   # your own recordings
  tinymyo prep emg2pose --manual_dir ~/raw/emg2pose --beam_pipeline_options \\
      "runner=DirectRunner,direct_num_workers=8,direct_running_mode=multi_processing"

DATA_DIR defaults as TFDS's does: $TFDS_DATA_DIR, else ~/tensorflow_datasets.
"""

from __future__ import annotations

import argparse
import functools
import os
import pathlib
import shutil
import time
from typing import Any, Callable

from tinymyo_jax import replace


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from tinymyo_jax.data import corpora

    user = [name for name in corpora.names() if name not in corpora.named()]
    parser.add_argument("names", nargs="+", metavar="NAME",
                        help=f"corpora, or 'all': {', '.join(corpora.named())}; or {' / '.join(map(repr, user))} "
                             "with --name for your own recordings")  # fmt: skip
    parser.add_argument("--manual_dir", "--manual-dir", required=True, type=pathlib.Path,
                        help="raw corpus root (or a folder holding <name>/ roots)")  # fmt: skip
    parser.add_argument("--data_dir", "--data-dir", type=pathlib.Path, default=None,
                        help="where prepared datasets go (default: $TFDS_DATA_DIR, else ~/tensorflow_datasets)")  # fmt: skip
    parser.add_argument("--config", default=None,
                        help="builder config, e.g. w200 for ninapro_db8 (default: each corpus's first config)")  # fmt: skip
    parser.add_argument("--workers", type=int, default=None,
                        help="local worker processes (default: $TINYMYO_PREP_WORKERS, else all cores)")  # fmt: skip
    parser.add_argument("--beam_pipeline_options", "--beam-pipeline-options", default=None,
                        help="run on Apache Beam with these comma-separated options, as `tfds build` takes them")  # fmt: skip
    parser.add_argument("--overwrite", action="store_true", help="rebuild a dataset that already exists")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")
    from tinymyo_jax.commands import prep_generic

    prep_generic.add_arguments(parser)


def run(args: argparse.Namespace) -> int:
    import tensorflow_datasets as tfds

    from tinymyo_jax.commands import prep_generic
    from tinymyo_jax.data import builder, corpora, prepare
    from tinymyo_jax.data.source import default_data_dir
    from tinymyo_jax.errors import UserError

    names = list(corpora.named()) if "all" in args.names else list(dict.fromkeys(args.names))
    # Corpora whose configs come from the user's options (users' recordings: `generic`)
    user = [name for name in names if corpora.get(name).user_configs]
    options = None
    if user:
        if len(names) > 1:
            raise UserError(f"prepare your own recordings alone: tinymyo prep {user[0]} --manual_dir DIR --name NAME")
        options = prep_generic.config_from(args, progress=not args.no_progress)
    elif prep_generic.used_without_generic(args):
        raise UserError(f"{', '.join(prep_generic.used_without_generic(args))} apply to `tinymyo prep {prep_generic.DATASET}` only")
    for name in names:  # check every name and config before preparing anything
        protocol = corpora.get(name).protocol
        if options is not None:
            continue
        if args.config is not None and args.config not in [c.name for c in protocol.configs]:
            raise UserError(f"{name} has configs {', '.join(c.name for c in protocol.configs)}; got --config {args.config}")
    if not args.manual_dir.is_dir():
        raise UserError(f"--manual_dir {args.manual_dir} is not a folder")
    if not any(args.manual_dir.iterdir()):
        raise UserError(f"--manual_dir {args.manual_dir} is empty; put the raw corpus there (see tinymyo prep --help)")
    if args.workers is not None and args.workers < 1:
        raise UserError(f"--workers must be >= 1, got {args.workers}")
    beam_options = None
    if args.beam_pipeline_options:
        beam = tfds.core.lazy_imports.apache_beam
        beam_options = beam.options.pipeline_options.PipelineOptions(
            flags=[f"--{option}" for option in args.beam_pipeline_options.split(",") if option]
        )
        runner = beam_options.get_all_options().get("runner")
        if runner:
            try:  # an unknown runner would otherwise fail deep inside the build, as a traceback
                beam.runners.create_runner(runner)
            except (ValueError, ImportError) as err:
                raise UserError(f"--beam_pipeline_options: unknown Beam runner {runner!r} ({err})") from err
    if args.no_progress:
        tfds.disable_progress_bar()
    # Read here rather than at TFDS's import, so that WindowShards and prep always agree.
    data_dir = args.data_dir or default_data_dir()
    _check_data_dir(data_dir)
    for name in names:
        if options is not None:
            make = functools.partial(builder.options_builder, name, options)
            name = f"{name}/{options.name}"
        else:
            kwargs = {"config": args.config} if args.config else {}
            make = functools.partial(_named_builder, name, kwargs)
        target = pathlib.Path(make(data_dir).data_dir)
        replace.remove_stale(target)  # a killed --overwrite's staging folder, on every run
        exists = (target / "dataset_info.json").exists()
        if exists and not args.overwrite:
            print(f"{name}: already prepared at {target} (--overwrite rebuilds it)")
            continue
        _remove_stale_incomplete(target)
        started = time.perf_counter()
        if exists:
            # Rebuild beside the old dataset and swap it in only once complete: a failed or killed
            # rebuild leaves the old dataset exactly as it was.
            with replace.replace_on_success(target) as staging:
                dataset = _build(make, staging / "build", args, beam_options)
                for item in pathlib.Path(dataset.data_dir).iterdir():
                    item.rename(staging / item.name)
                shutil.rmtree(staging / "build")
        else:
            dataset = _build(make, data_dir, args, beam_options)
        print(prepare.summary(dataset.report, time.perf_counter() - started))
        print(f"  -> {target} (report: {target / prepare.REPORT_FILE})")
    return 0


def _named_builder(name: str, kwargs: dict, data_dir: pathlib.Path) -> Any:
    """The TFDS builder of a named corpus (its --config in `kwargs`) writing under `data_dir`."""
    from tinymyo_jax.data import builder

    return builder.builder_class(name)(data_dir=str(data_dir), **kwargs)


def _build(make: Callable[[pathlib.Path], Any], data_dir: pathlib.Path, args: argparse.Namespace, beam_options) -> Any:
    """Prepare one corpus into `data_dir` (TFDS layout) with the builder `make(data_dir)` gives;
    return that builder (with `.report`)."""
    import tensorflow_datasets as tfds

    dataset = make(data_dir)
    dataset.num_workers = args.workers
    dataset.show_progress = not args.no_progress
    dataset.print_summary = False
    dataset.download_and_prepare(
        download_config=tfds.download.DownloadConfig(
            manual_dir=str(args.manual_dir), beam_options=beam_options,
            download_mode=tfds.download.GenerateMode.REUSE_DATASET_IF_EXISTS,
        )
    )
    return dataset


def _check_data_dir(data_dir: pathlib.Path) -> None:
    """--data_dir must be (or become) a writable folder; say so before any work starts."""
    from tinymyo_jax import storage
    from tinymyo_jax.errors import UserError

    if storage.is_remote(data_dir):  # pathlib would make a local folder "gs:" of it
        raise UserError(f"--data_dir {storage.url_text(data_dir)}: tinymyo prep writes to a local folder; prepare there, "
                        "then copy it to the bucket (gcloud storage cp -r DATA gs://BUCKET/tfds), see docs/launch.md")
    existing = data_dir
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        raise UserError(f"--data_dir {data_dir}: {existing} is a file, not a folder")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise UserError(f"--data_dir {data_dir}: {existing} is not writable")


def _remove_stale_incomplete(target: pathlib.Path) -> None:
    """Remove the `incomplete.*` folders a killed run of this dataset version left behind.

    TFDS writes into such a folder and renames it when done; after a kill it stays, unused.
    (Two preparations of the same dataset into the same data_dir at once are not supported.)
    """
    for stale in sorted(target.parent.glob(f"incomplete.*_{target.name}")):
        print(f"removing {stale} left by an interrupted preparation")
        shutil.rmtree(stale, ignore_errors=True)
