"""Export a checkpoint to TFLite (float32 and full-integer int8) and TFLite Micro C sources.

Writes to OUT: model_float.tflite, model_int8.tflite (with --int8), model_data.h/.cc (the
deployed model as an aligned const array, with its input/output quantisation and the measured
tensor arena), op_resolver.h (a MicroMutableOpResolver registering exactly the model's ops),
sample_window.h (one window and its expected output) and report.json (sizes, ops, arena,
latencies, float-vs-JAX error, int8-vs-float agreement and task metric, per-layer int8 error).

Examples:
  tinymyo export --checkpoint runs/db5_finetune --out exports/db5 --int8 \\
      --calibration ninapro_db5/train                 # evaluates on ninapro_db5/test
  tinymyo export --checkpoint runs/pretrained --out exports/emb --output embedding \\
      --channels 8 --samples 1000 --int8 --calibration synthetic

--calibration takes a prepared dataset split, <tfds name>/<split> or <name>/<config>/<split>
(read from --data-dir, default $TFDS_DATA_DIR or ~/tensorflow_datasets), or `synthetic`
(synthetic gesture windows: for trying the tool, not for a deployment). Input shape defaults
to the calibration windows' (real channels, samples). See export/README.md for the MCU side.
"""

from __future__ import annotations

import argparse
import sys

from tinymyo_jax import storage
from tinymyo_jax.errors import UserError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    # storage.path, not pathlib.Path: gs:// URLs stay URLs
    parser.add_argument("--checkpoint", required=True, type=storage.path, help="a run's workdir (fine-tuning: its best/ model; pretraining: checkpoints/) or an orbax checkpoint directory")
    parser.add_argument("--out", required=True, type=storage.path, help="output directory (a local folder or a gs:// URL)")
    parser.add_argument("--channels", type=int, help="input channels C (default: from the calibration data, else the model's channel count or 16)")
    parser.add_argument("--samples", type=int, help="samples per window T, a multiple of the patch size (default: from the calibration data, else 1000)")
    parser.add_argument("--output", choices=["head", "embedding", "tokens"], help="what the model outputs (default: the head, or the pooled embedding for head 'none')")
    parser.add_argument("--int8", action="store_true", help="also export the full-integer int8 model (needs --calibration); the C sources are then int8")
    parser.add_argument("--int16x8", action="store_true", help="with --int8, also export and measure the 16x8 model (int8 weights, int16 activations): model_int16x8.tflite")
    parser.add_argument("--calibration", help="calibration windows: <tfds dataset>/<split> or 'synthetic'")
    parser.add_argument("--calibration-windows", type=int, default=300, help="calibration windows to use (default 300)")
    parser.add_argument("--eval", dest="evaluation", help="held-out windows for every comparison (default: the calibration dataset's test split, else synthetic)")
    parser.add_argument("--eval-windows", type=int, default=300, help="held-out windows to evaluate (default 300; 0 = the whole split)")
    parser.add_argument("--tflm-windows", type=int, help="how many of them run through the TFLM interpreter (default all; its host kernels take ~1 s per window for the published model at 16 x 200; LiteRT runs all)")
    parser.add_argument("--data-dir", help="where prepared datasets live (default $TFDS_DATA_DIR or ~/tensorflow_datasets)")
    parser.add_argument("--step", type=int, help="checkpoint step (default: the latest)")
    parser.add_argument("--force", action="store_true", help="replace an earlier export in --out (only the files the exporter writes; "
                        "an int8 model a float-only export would not match is removed and named)")


def _held_out(calibration: str | None, data_dir: str | None) -> str:
    """The held-out split matching a calibration dataset: its test split, else validation."""
    from tinymyo_jax.export.windows import SYNTHETIC, parse_split

    if calibration is None or calibration == SYNTHETIC:
        return SYNTHETIC
    name, config, split = parse_split(calibration)
    from tinymyo_jax.data.source import dataset_dir

    import json

    info = json.loads(storage.read_text(dataset_dir(name, data_dir, config) / "dataset_info.json"))
    splits = [s["name"] for s in info.get("splits", [])]
    for candidate in ("test", "validation"):
        if candidate in splits and candidate != split:
            return "/".join(p for p in (name, config, candidate) if p)
    print(f"note: {name} has no test or validation split apart from {split!r}; evaluating on {split!r} (windows overlap calibration)")
    return calibration


def _default_shape(args: argparse.Namespace, config) -> tuple[int, int]:
    from tinymyo_jax.export.windows import SYNTHETIC

    channels, samples = args.channels, args.samples
    if (channels is None or samples is None) and args.calibration and args.calibration != SYNTHETIC:
        from tinymyo_jax.data.source import WindowShards, prepared_metadata
        from tinymyo_jax.export.windows import parse_split

        name, dataset_config, split = parse_split(args.calibration)
        shards = WindowShards(name, split, data_dir=args.data_dir, config=dataset_config, fields=("emg",))
        samples = samples or int(shards.specs["emg"].shape[-1])
        # the real channels, as preparation recorded them (the rows after them are padding)
        channels = channels or int(prepared_metadata(shards.directory)["channels"])
    if channels is None:
        channels = config.num_channels or 16
    if samples is None:
        samples = 1000
    return channels, samples


def _calibration_rate(args: argparse.Namespace) -> float | None:
    """The rate (Hz) of the calibration dataset's windows as preparation recorded it; None for
    synthetic windows or a dataset whose files keep their own rate."""
    from tinymyo_jax.data.source import dataset_dir, prepared_metadata
    from tinymyo_jax.export.windows import SYNTHETIC, parse_split

    if not args.calibration or args.calibration == SYNTHETIC:
        return None
    name, dataset_config, _ = parse_split(args.calibration)
    return prepared_metadata(dataset_dir(name, args.data_dir, dataset_config)).get("fs")


def run(args: argparse.Namespace) -> int:
    from tinymyo_jax.evaluate.encoders import rate_mismatch
    from tinymyo_jax.export.interpreters import InterpreterCrash
    from tinymyo_jax.export.out_folder import check_out, export_folder
    from tinymyo_jax.export.pipeline import export_model, format_report
    from tinymyo_jax.export.windows import load_windows
    from tinymyo_jax.models.checkpoint import load_model_checkpoint

    if args.int16x8 and not args.int8:
        raise UserError("--int16x8 is measured beside the int8 model: add --int8 (and --calibration)")
    for flag, value in (("--channels", args.channels), ("--samples", args.samples), ("--step", args.step)):
        if value is not None and value < (0 if flag == "--step" else 1):
            raise UserError(f"{flag} must be >= {0 if flag == '--step' else 1}, got {value}")
    check_out(args.out, args.force)
    if args.int8 and not args.calibration:
        raise UserError("--int8 needs --calibration <tfds dataset>/<split> (or 'synthetic' to try the tool)")
    if args.calibration_windows < 1 or args.eval_windows < 0 or (args.tflm_windows is not None and args.tflm_windows < 1):
        raise UserError("--calibration-windows and --tflm-windows must be >= 1, --eval-windows >= 0")
    print(f"loading {args.checkpoint}", flush=True)
    model = load_model_checkpoint(args.checkpoint, step=args.step)
    channels, samples = _default_shape(args, model.config)
    if samples % model.config.patch_size:
        raise UserError(f"--samples {samples} is not a multiple of the model's patch size {model.config.patch_size}")
    num_classes = model.config.num_outputs if model.config.head == "classification" else 6
    calibration = None
    if args.calibration:
        calibration = load_windows(args.calibration, channels=channels, samples=samples, count=args.calibration_windows,
                                   data_dir=args.data_dir, seed=0, num_classes=num_classes)  # fmt: skip
        print(f"calibration: {len(calibration)} windows from {calibration.source}", flush=True)
        # int8 scales fitted on windows at another rate than the weights learnt from: say so
        mismatch = rate_mismatch(model.config, _calibration_rate(args), args.calibration)
        if mismatch:
            print(f"warning: {mismatch}", file=sys.stderr, flush=True)
    evaluation_source = args.evaluation or _held_out(args.calibration, args.data_dir)
    evaluation = load_windows(evaluation_source, channels=channels, samples=samples, count=args.eval_windows,
                              data_dir=args.data_dir, seed=1, num_classes=num_classes)  # fmt: skip
    try:
        with export_folder(args.out, force=args.force, log=print) as folder:
            # the export is built in a staging folder beside --out: name --out in what is printed
            report = export_model(
                model, folder, channels=channels, samples=samples, output=args.output, int8=args.int8,
                calibration=calibration, evaluation=evaluation, tflm_windows=args.tflm_windows, int16x8=args.int16x8,
                log=lambda line: print(line.replace(str(folder), str(args.out)), flush=True),
            )  # fmt: skip
    except InterpreterCrash as err:
        raise UserError(f"an interpreter could not run the exported model ({err}); --out {args.out} is unchanged") from err
    print()
    print(format_report(report))
    return 0
