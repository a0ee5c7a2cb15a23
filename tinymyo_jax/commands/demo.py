"""Run the end-to-end demo on the data embedded in the package; nothing is downloaded.

Stages (each prints what it did and the numbers that show it worked):
  1. model    the published TinyMyo: parameters per part, FLOPs per window, one jit forward
  2. parity   the embedded reference PyTorch sample (weights + inputs + outputs) loaded through
              load_torch_checkpoint; our outputs and losses against the reference's
  3. convert  reference safetensors -> orbax checkpoint (import-torch) -> reloaded, and back
              to safetensors: both round trips must be exact
  4. synth    synthetic raw corpora in the published layouts (NinaPro DB6, emg2pose, NinaPro DB5),
              which exercise the readers and the pretraining mechanics
  5. prep     TinyMyo's protocol -> TFDS ArrayRecord shards, with per-file reports: the synthetic
              corpora, and the real UCI gesture recordings embedded in the package (9 subjects in
              TinyMyo's subject split: 221 / 87 / 100 windows, CC BY 4.0; tinymyo_jax/data/embedded.py)
  6. pretrain the `smoke` preset (configs/pretrain/smoke.py) on DB6 + emg2pose; its validation
              masked loss beside the no-model baselines
  7. probe    linear probe of the pretrained encoder on the real UCI gestures (held-out test
              subjects 31, 32), beside a random encoder and the classic RMS/MAV/WL/ZC/SSC + LDA pipeline
  8. export   `tinymyo finetune` of the pretrained model into a UCI gesture classifier (its test
              accuracy beside its encoder's linear probe and the classic pipeline), exported to
              int8 TFLite + TFLite Micro C sources, with its measured report and the int8 and 16x8
              agreement with the float model on the 100 held-out test windows

`--until STAGE` stops after that stage (e.g. `--until prep` leaves the prepared datasets in
WORKDIR/tfds for `tinymyo pretrain --config pretrain/smoke --config.data.data_dir=WORKDIR/tfds`).
The demo reads only what the package ships (tinymyo_jax/assets, the presets), so an installed
`tinymyo demo` runs from any directory.
"""

from __future__ import annotations

import argparse
import time
from importlib import resources
from pathlib import Path

from tinymyo_jax.errors import UserError
from tinymyo_jax.replace import replace_on_success

PARITY_ATOL = 1e-4
LOSS_ATOL = 1e-5
# Written into a workdir the demo created; a non-empty folder without it is not the demo's to overwrite.
DEMO_MARKER = ".tinymyo-demo"


STAGES = ("model", "parity", "convert", "synth", "prep", "pretrain", "probe", "export")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--workdir", type=Path, default=Path("runs/demo"), help="where the demo writes (default runs/demo)")
    parser.add_argument("--until", choices=STAGES, default=STAGES[-1],
                        help="stop after this stage (default: all eight); each stage needs the ones before it, "
                             "e.g. --until prep writes the prepared TFDS datasets to WORKDIR/tfds and stops")


def _banner(title: str) -> None:
    print(f"\n=== {title} " + "=" * max(0, 70 - len(title)), flush=True)


def stage_model() -> None:
    import jax
    import jax.numpy as jnp
    from flax import nnx

    from tinymyo_jax.models.config import preset
    from tinymyo_jax.models.summary import format_summary
    from tinymyo_jax.models.tinymyo import build_model

    _banner("1. the published TinyMyo")
    model = build_model(preset("tinymyo"))
    print(format_summary(model, 16, 1000))
    graphdef, state = nnx.split(model)
    forward = jax.jit(lambda state, x: nnx.merge(graphdef, state)(x))
    x = jax.random.normal(jax.random.key(0), (8, 16, 1000))
    forward(state, x).block_until_ready()
    start = time.perf_counter()
    out = forward(state, x).block_until_ready()
    seconds = time.perf_counter() - start
    print(f"\njit forward, batch 8: output {tuple(out.shape)}, {seconds * 1e3:.0f} ms ({8 / seconds:.1f} windows/s on {jax.devices()[0].platform})")
    if not bool(jnp.isfinite(out).all()):
        raise UserError("the forward pass produced non-finite values")


def stage_parity(asset_dir: Path) -> None:
    import jax.numpy as jnp
    import numpy as np

    from tinymyo_jax.models.normalization import minmax_normalize
    from tinymyo_jax.models.objective import patches_to_signal, reconstruction_loss
    from tinymyo_jax.models.torch_io import load_torch_checkpoint

    _banner("2. parity with the reference PyTorch model (embedded sample)")
    io = np.load(asset_dir / "pretraining_io.npz")
    model = load_torch_checkpoint(asset_dir / "pretraining.safetensors", num_heads=2, rope="reference")
    x = minmax_normalize(jnp.asarray(io["x_raw"]))
    mask = jnp.asarray(io["mask"])
    output = model(x, mask=mask)
    losses = reconstruction_loss(patches_to_signal(output, x.shape[1]), x, mask)
    output_error = float(np.abs(np.asarray(output) - io["output"]).max())
    print(f"reference config: dim {model.config.embed_dim}, {model.config.depth} blocks, input {tuple(x.shape)}, "
          f"{int(mask.sum())} of {mask.size} samples masked")
    print(f"max |ours - reference| over outputs {tuple(output.shape)}: {output_error:.2e}  (tolerance {PARITY_ATOL:.0e})")
    worst = 0.0
    for ours, theirs in (("loss", "loss"), ("masked_loss", "masked_loss"), ("visible_loss", "unmasked_loss")):
        error = abs(float(losses[ours]) - float(io[theirs]))
        worst = max(worst, error)
        print(f"  {ours:<13} ours {float(losses[ours]):.7f}  reference {float(io[theirs]):.7f}  |diff| {error:.1e}")
    if output_error > PARITY_ATOL or worst > LOSS_ATOL:
        raise UserError("parity with the reference failed: see the numbers above")


def stage_convert(asset_dir: Path, workdir: Path) -> None:
    import jax.numpy as jnp
    import numpy as np

    from tinymyo_jax.models.checkpoint import load_model_checkpoint, save_model_checkpoint
    from tinymyo_jax.models.torch_io import load_torch_checkpoint, read_reference_tensors, save_torch_checkpoint

    _banner("3. checkpoint conversion round trips")
    source = asset_dir / "pretraining.safetensors"
    model = load_torch_checkpoint(source, num_heads=2)
    orbax_dir = save_model_checkpoint(workdir / "imported_reference", model).parent
    reloaded = load_model_checkpoint(orbax_dir)
    x = jnp.asarray(np.load(asset_dir / "pretraining_io.npz")["x_raw"])
    orbax_diff = float(jnp.abs(model(x) - reloaded(x)).max())
    print(f"orbax checkpoint {orbax_dir}: reloaded model output differs by {orbax_diff:.1e}")
    exported = workdir / "roundtrip.safetensors"
    save_torch_checkpoint(reloaded, exported)
    original, written = read_reference_tensors(source), read_reference_tensors(exported)
    identical = original.keys() == written.keys() and all(np.array_equal(original[k], written[k]) for k in original)
    print(f"safetensors round trip {exported}: {len(written)} tensors, bit-identical: {identical}")
    if orbax_diff != 0.0 or not identical:
        raise UserError("a checkpoint round trip was not exact")


PRETRAIN_CORPORA = ("ninapro_db6", "emg2pose")
READER_CORPORA = ("ninapro_db5",)  # synthesised and prepared to exercise their reader only
DOWNSTREAM_CORPUS = "uci_emg"  # the real subjects embedded in the package (data/embedded.py)


def stage_synth(workdir: Path) -> Path:
    from tinymyo_jax.cli import main as tinymyo

    _banner("4. synthetic raw corpora (published file layouts)")
    raw = workdir / "raw"
    if tinymyo(["synth", *PRETRAIN_CORPORA, *READER_CORPORA, "--out", str(raw), "--seed", "0"]) != 0:
        raise UserError("tinymyo synth failed")
    return raw


def stage_prep(workdir: Path, raw: Path) -> Path:
    from tinymyo_jax.cli import main as tinymyo
    from tinymyo_jax.data import embedded

    _banner("5. preparation: TinyMyo protocol -> TFDS ArrayRecord shards")
    tfds_dir = workdir / "tfds"
    for name in (*PRETRAIN_CORPORA, *READER_CORPORA):
        if tinymyo(["prep", name, "--manual_dir", str(raw / name), "--data_dir", str(tfds_dir), "--overwrite",
                    "--no-progress"]) != 0:
            raise UserError(f"tinymyo prep {name} failed")
    subjects = ", ".join(f"{s:02d}" for s in embedded.SUBJECTS)
    print(f"\nreal UCI EMG gestures embedded in the package (subjects {subjects}; Lobov et al. 2018, CC BY 4.0):")
    embedded.prepare(tfds_dir, raw_dir=raw / DOWNSTREAM_CORPUS, overwrite=True)
    return tfds_dir


def stage_pretrain(workdir: Path, tfds_dir: Path) -> Path:
    from tinymyo_jax.config_files import load_config
    from tinymyo_jax.train.pretrain import pretrain

    _banner("6. pretraining (the preset pretrain/smoke: configs/pretrain/smoke.py)")
    run_dir = workdir / "pretrain"
    config = load_config("pretrain/smoke", [f"data.data_dir={tfds_dir}"])  # the shipped preset, from any directory
    # the demo starts fresh, but a previous run's folder is replaced only once this one succeeded
    with replace_on_success(run_dir) as staging:
        summary = pretrain(config, staging)
    validation = summary["validation"]
    print(f"\nvalidation after {summary['end_step']} steps (SmoothL1 on masked samples, normalised units):")
    print(f"  {'model':<38}{validation['masked_loss']:.4f}")
    for name, label in (("neighbour_level", "constant level of visible neighbours"),
                        ("neighbour_mean", "mean of visible neighbour patches"), ("zero", "predict zero"),
                        ("time_interp", "linear interpolation in time"),
                        ("channel_mean", "mean of the other visible channels")):
        value = validation[f"baseline_{name}_masked_loss"]
        print(f"  {label:<38}{value:.4f}  (model {100 * (1 - validation['masked_loss'] / value):+.1f}% lower)")
    print(f"  plots: {run_dir / 'plots'}; metrics: {run_dir / 'metrics.jsonl'}; checkpoints: {run_dir / 'checkpoints'}")
    return run_dir


def stage_probe(workdir: Path, tfds_dir: Path, pretrain_dir: Path) -> None:
    from tinymyo_jax.evaluate.config import probe_config
    from tinymyo_jax.evaluate.probe import run_probe
    from tinymyo_jax.evaluate.report import format_table

    _banner("7. linear probe on real gestures (embedded UCI EMG, held-out test subjects)")
    config = probe_config(DOWNSTREAM_CORPUS, "runlocal")
    config.init = str(pretrain_dir / "checkpoints")
    config.data.data_dir = str(tfds_dir)
    results = run_probe(config, workdir / "probe")
    print("\n" + format_table(results))
    print(f"  report: {workdir / 'probe' / 'report.md'}")


def stage_export(workdir: Path, tfds_dir: Path, pretrain_dir: Path) -> None:
    import numpy as np

    from tinymyo_jax.evaluate.config import finetune_config
    from tinymyo_jax.evaluate.data import Splits
    from tinymyo_jax.train.finetune import finetune
    from tinymyo_jax.evaluate.report import format_table
    from tinymyo_jax.export.converter_log import CONVERTER_LOG, converter_log
    from tinymyo_jax.export.pipeline import export_for_demo, format_report

    _banner("8. fine-tuning (tinymyo finetune) and int8 export of the classifier (TFLite Micro, embedded UCI gestures)")
    config = finetune_config(DOWNSTREAM_CORPUS, "runlocal")
    config.init = str(pretrain_dir / "checkpoints")
    config.data.data_dir = str(tfds_dir)
    config.baselines.random_encoder = False  # stage 7 showed it
    finetune_dir = workdir / "finetune"
    with replace_on_success(finetune_dir) as staging:  # the previous run stays until this one succeeded
        results = finetune(config, staging)
    training = results["details"]["training"]
    print(f"\nfine-tuned from the stage-6 encoder, head started as its linear probe; best validation step "
          f"{training['best_step']} of {training['steps']}; test windows {results['data']['split_sizes']['test']}:")
    print(format_table(results))
    splits = Splits(config)
    train = splits.read("train", splits.indices["train"])
    test = splits.read("test", splits.indices["test"])
    with converter_log(workdir / "export" / CONVERTER_LOG):  # TensorFlow's converter notes: not in the demo's output
        report = export_for_demo(
            finetune_dir / "best", workdir / "export", np.asarray(train["emg"], np.float32), channels=splits.info.channels,
            labels=train["label"],
            evaluation_windows=np.asarray(test["emg"], np.float32), evaluation_labels=test["label"], int16x8=True,
        )
    print("\n" + format_report(report))
    quality = report["quality"]
    agreement = quality["int8_tflm"]["vs_float"]["top1_agreement"]
    print(f"\nfull int8 (TFLite Micro): test accuracy {quality['int8_tflm']['task']['accuracy']:.1%} "
          f"(float {quality['float']['task']['accuracy']:.1%}); int8 and float agree on {agreement:.1%} of "
          f"{quality['int8_tflm']['windows']} held-out test windows; {report['int8']['bytes']:,} bytes of flash, "
          f"{report['int8']['tflm_arena']['total']:,} bytes of arena")
    mixed = quality["int16x8_tflm"]
    print(f"16x8 (int16 activations, int8 weights; model_int16x8.tflite): test accuracy {mixed['task']['accuracy']:.1%}, agreement with float "
          f"{mixed['vs_float']['top1_agreement']:.1%}; {report['int16x8']['bytes']:,} bytes, "
          f"{report['int16x8']['tflm_arena']['total']:,} bytes of arena")
    print(f"  files: {workdir / 'export'} (model_int8.tflite, model_data.h/.cc, op_resolver.h, report.json)")


def claim_workdir(workdir: Path) -> None:
    """Create `workdir` for the demo, or accept one an earlier demo created; refuse any other
    non-empty folder (the demo replaces its own outputs, never a user's files)."""
    if workdir.exists() and not workdir.is_dir():
        raise UserError(f"--workdir {workdir} is a file; give a new or empty folder")
    if workdir.is_dir() and any(workdir.iterdir()) and not (workdir / DEMO_MARKER).is_file():
        raise UserError(f"--workdir {workdir} is not empty and was not created by the demo; give a new or empty folder")
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / DEMO_MARKER).write_text("created by `tinymyo demo`; a rerun replaces the outputs here\n")


def run(args: argparse.Namespace) -> int:
    workdir: Path = args.workdir
    claim_workdir(workdir)
    asset_dir = Path(str(resources.files("tinymyo_jax") / "assets" / "reference_small"))
    start = time.perf_counter()
    last = STAGES.index(args.until)

    def wanted(stage: str) -> bool:
        return STAGES.index(stage) <= last

    stage_model()
    if wanted("parity"):
        stage_parity(asset_dir)
    if wanted("convert"):
        stage_convert(asset_dir, workdir)
    if wanted("synth"):
        raw = stage_synth(workdir)
    if wanted("prep"):
        tfds_dir = stage_prep(workdir, raw)
    if wanted("pretrain"):
        pretrain_dir = stage_pretrain(workdir, tfds_dir)
    if wanted("probe"):
        stage_probe(workdir, tfds_dir, pretrain_dir)
    if wanted("export"):
        stage_export(workdir, tfds_dir, pretrain_dir)
    if last < len(STAGES) - 1:
        print(f"\ndemo stopped after stage {last + 1} ({args.until}) as asked, in {time.perf_counter() - start:.0f} s; "
              f"outputs in {workdir}")
        return 0
    print(f"\ndemo finished in {time.perf_counter() - start:.0f} s; outputs in {workdir}")
    return 0
