"""Fine-tuning the whole model on a downstream benchmark: one file, in the order a reader expects.

    tinymyo finetune --config configs/finetune/epn612.py --workdir runs/finetune_epn612 \\
        --config.init=runs/pretrain/checkpoints --config.data.data_dir=runs/tfds

Stages: data -> model (encoder from config.init, head from its linear probe) -> optimizer (AdamW, warm-up +
cosine, layer-wise lr decay) -> checkpoint restore -> the training loop of train/loop.py (step,
metrics, NaN check, checkpoints, preemption; the validation and early stopping below are its
evaluation callback) -> test with the best parameters -> baselines -> results.json, report.md,
plots, WORKDIR/best/ (the selected model).

Resumable like pretraining: the data order is a function of (seed, step) (one permutation of the
training windows per epoch), dropout keys are fold_in(key(seed), step), and each checkpoint holds
the parameters, optimizer state, step, the early-stopping state and the best parameters so far.
Running the same command after a SIGKILL continues from the last checkpoint with the same losses.
Data parallel like pretraining: the batch is split over every device of every process (the
model, small, is replicated), with the losses of one device (tests/evaluate/test_finetune_mesh.py).
"""

from __future__ import annotations

import itertools
import json
import logging
import sys
import time
from typing import Any, Callable

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax
from flax import nnx

from tinymyo_jax import storage
from tinymyo_jax.config_files import require_fields
from tinymyo_jax.data.pipeline import host_rows, iterate_batches
from tinymyo_jax.data.source import dataset_dir
from tinymyo_jax.errors import UserError
from tinymyo_jax.evaluate import report
from tinymyo_jax.evaluate.config import finetune_config
from tinymyo_jax.evaluate.data import DatasetInfo, Splits
from tinymyo_jax.evaluate.encoders import encoder_warnings, load_initial_model
from tinymyo_jax.evaluate.features import normalize_input, resolve_normalization
from tinymyo_jax.evaluate.metrics import HIGHER_IS_BETTER, classification_metrics, regression_metrics
from tinymyo_jax.evaluate.probe import baselines, encoder_probe
from tinymyo_jax.models.checkpoint import params_of, save_model_checkpoint, set_params
from tinymyo_jax.models.config import ModelConfig, from_run_config
from tinymyo_jax.models.matmul import MATMUL_DTYPES, set_matmul_dtype
from tinymyo_jax.models.tinymyo import TinyMyo
from tinymyo_jax.train import mesh as mesh_lib
from tinymyo_jax.train.loop import TrainLoop
from tinymyo_jax.train.optimizer import make_optimizer
from tinymyo_jax.train.run_record import FINETUNING_FIELDS, training_settings
from tinymyo_jax.train.step import make_train_step
from tinymyo_jax.train.workdir import dataset_fingerprint, start_run

log = logging.getLogger("tinymyo.finetune")


# ----------------------------------------------------------------------------- model


def finetune_model_config(initial: ModelConfig, config: ml_collections.ConfigDict, info: DatasetInfo) -> ModelConfig:
    """The evaluated encoder's architecture with the benchmark's head and the fine-tuning dropout."""
    regression = info.task == "regression"
    return from_run_config(
        config, base=initial,
        head="regression" if regression else "classification",
        num_outputs=len(info.target_names) if regression else info.num_classes,
        num_channels=info.channels, fusion=config.features.fusion,
        dropout=config.model.dropout, attention_dropout=config.model.attention_dropout,
        drop_path=config.model.drop_path, head_dropout=config.model.head_dropout,
        reg_target_len=info.window,
        # the fine-tuned checkpoint records the input normalisation it was trained on (export applies it)
        normalization=resolve_normalization(config.data.input_normalization, initial),
        input_rate_hz=info.fs,  # and the rate of the windows it was fine-tuned on
    )  # fmt: skip


def build_finetune_model(config: ml_collections.ConfigDict, info: DatasetInfo) -> tuple[TinyMyo, TinyMyo, dict]:
    """(model to fine-tune, the initial encoder model, its description). The head is fresh
    (seeded by config.seed); the encoder is config.init's."""
    initial, encoder = load_initial_model(config)
    model = TinyMyo(finetune_model_config(initial.config, config, info), rngs=nnx.Rngs(params=config.seed))
    params = params_of(model)
    # copies: the training state is donated to the step, the initial model must survive it
    params["encoder"] = jax.tree.map(jnp.copy, params_of(initial)["encoder"])
    set_params(model, params)
    return model, initial, encoder


def probe_head(params: dict, readout: dict) -> dict:
    """`params` with the classification head set to the linear probe's read-out.

    The probe standardises the features the head sees (the same fusion and mean pooling), so
    ((f − mean) / std) @ w + b = f @ (w / std) + (b − (mean / std) @ w): one linear layer.
    """
    std = np.asarray(readout["std"], np.float64)
    kernel = np.asarray(readout["w"], np.float64) / std[:, None]
    bias = np.asarray(readout["b"], np.float64) - (np.asarray(readout["mean"], np.float64) / std) @ np.asarray(readout["w"], np.float64)
    classifier = params["head"]["classifier"]
    if classifier["kernel"].shape != kernel.shape:
        raise UserError(f"the probe's read-out is {kernel.shape}, the head {classifier['kernel'].shape}: "
                        "features.pooling must be mean and features.segments 1 for finetune.head_init=probe")
    params = dict(params, head={**params["head"], "classifier": {
        "kernel": jnp.asarray(kernel, classifier["kernel"].dtype), "bias": jnp.asarray(bias, classifier["bias"].dtype)}})
    return params


class HeadCoordinates:
    """The coordinates the classification head is trained in (`finetune.head_coordinates`).

    The pooled features sit far from 0 and vary little across windows (real UCI, the demo's
    encoder: median |mean| 0.61, median std 0.038). Trained as the model's plain linear layer
    (kernel K, bias B: "model"), the kernel's gradient is dominated by the feature means, and
    AdamW, which moves every entry by ~lr, then shifts every window's class logits alike by
    ~lr·Σ|mean| (0.2 at lr 5e-4) towards the batch's class residual: a random walk of class
    offsets that costs validation accuracy from the first epoch on (docs/evaluate.md). In the
    probe's coordinates z = (f − mean) / scale the head is z·w + b, i.e. K = w / scale and
    B = b − (mean / scale)·w (the folding of `probe_head`), and its gradient is centred.
    `scale` = the probe's std ("standardized": w is the probe's own read-out, and weight decay
    acts on it as the probe's L2 did) or 1 ("centered"). The training state (checkpoints/,
    best_params) holds (w, b); `to_model` folds them into the model's (K, B), which is what
    evaluation, best/ and the export see.
    """

    CHOICES = ("standardized", "centered", "model")

    def __init__(self, mean: np.ndarray | None = None, scale: np.ndarray | None = None) -> None:
        self.mean = None if mean is None else jnp.asarray(mean, jnp.float32)
        self.scale = None if scale is None else jnp.asarray(scale, jnp.float32)

    @classmethod
    def from_config(cls, config: ml_collections.ConfigDict, probe: dict | None) -> "HeadCoordinates":
        """From the starting probe's read-out; the model's own coordinates without a probe head."""
        choice = config.finetune.get("head_coordinates", "standardized")
        if choice not in cls.CHOICES:
            raise UserError(f"finetune.head_coordinates must be one of {', '.join(cls.CHOICES)}, got {choice!r}")
        if probe is None or choice == "model":
            return cls()
        readout = probe["_readout"]
        return cls(readout["mean"], readout["std"] if choice == "standardized" else np.ones_like(readout["std"]))

    def to_model(self, params: dict) -> dict:
        if self.mean is None:
            return params
        head = params["head"]["classifier"]
        kernel = head["kernel"] / self.scale[:, None]
        bias = head["bias"] - self.mean @ kernel
        return dict(params, head={**params["head"], "classifier": {"kernel": kernel, "bias": bias}})

    def from_model(self, params: dict) -> dict:
        if self.mean is None:
            return params
        head = params["head"]["classifier"]
        bias = head["bias"] + self.mean @ head["kernel"]
        kernel = head["kernel"] * self.scale[:, None]
        return dict(params, head={**params["head"], "classifier": {"kernel": kernel, "bias": bias}})


# ----------------------------------------------------------------------------- optimizer


def layer_index(path: tuple, depth: int) -> int:
    """Depth of a parameter for layer-wise lr decay: patch embedding and mask token 0, block i
    i + 1, final norm and head depth + 1."""
    keys = [getattr(k, "key", getattr(k, "idx", k)) for k in path]
    if keys[0] == "encoder":
        if keys[1] in ("patch_embed", "mask_token"):
            return 0
        if keys[1] == "blocks":
            return int(keys[2]) + 1
    return depth + 1


def layer_lr_scales(params, depth: int, decay: float):
    """Per-parameter lr multipliers decay^(depth + 1 − layer_index): 1 for the head and final
    norm, decay for the last block, ..., decay^depth for block 0, decay^(depth+1) for the
    patch embedding. (The reference's rule matches parameter names TinyMyo does not have,
    `mamba_blocks` / `norm_layers`, so there it never applies; here it does.)"""
    return jax.tree_util.tree_map_with_path(lambda path, _: float(decay ** (depth + 1 - layer_index(path, depth))), params)


def make_schedule(config: ml_collections.ConfigDict, total_steps: int, steps_per_epoch: int) -> optax.Schedule:
    opt = config.optimizer
    warmup = min(int(round(opt.warmup_epochs * steps_per_epoch)), max(total_steps - 1, 0))
    return optax.warmup_cosine_decay_schedule(
        init_value=opt.init_lr, peak_value=opt.lr, warmup_steps=warmup,
        decay_steps=max(total_steps, warmup + 1), end_value=opt.end_lr,
    )  # fmt: skip


def finetune_optimizer(config: ml_collections.ConfigDict, params, depth: int, schedule: optax.Schedule) -> optax.GradientTransformation:
    """train/optimizer.make_optimizer with fine-tuning's layer-wise lr scales: [clip] -> AdamW(schedule,
    decay on matrices only) -> decay^(depth + 1 − layer) per parameter."""
    return make_optimizer(config, schedule, layer_scales=layer_lr_scales(params, depth, config.optimizer.layer_decay))


# ----------------------------------------------------------------------------- steps


def _outputs_and_losses(model: TinyMyo, batch: dict, config, num_outputs: int, rngs=None, materialise_cotangents=False):
    """(outputs, per-window losses): logits (B, K) with label-smoothed cross-entropy, or
    standardised trajectories (B, W, K) with L1."""
    x = normalize_input(batch["emg"].astype(jnp.float32), model.config.normalization, batch["channel_mask"])
    out = model(x, channel_mask=batch["channel_mask"], rngs=rngs, materialise_cotangents=materialise_cotangents)
    if config.task == "classification":
        targets = optax.smooth_labels(jax.nn.one_hot(batch["label"], num_outputs), config.loss.label_smoothing)
        return out, optax.softmax_cross_entropy(out, targets)
    return out, jnp.abs(out - batch["target"]).mean(axis=(1, 2))


def supervised_gradients(graphdef, config, num_outputs: int, to_model: Callable[[dict], dict] = lambda params: params):
    """Fine-tuning's objective for train/step.make_train_step: (params, batch, step) ->
    (gradients, {"loss"}) of the batch's mean loss, dropout keyed by fold_in(key(seed), step);
    `to_model` maps the trained parameters to the model's (HeadCoordinates.to_model)."""
    xla_cpu_tricks = bool(config.get("xla_cpu_tricks", False))
    matmul_dtype = config.get("matmul_dtype", "float32")  # configs saved before the field: float32

    def gradients(params, batch, step):
        key = jax.random.fold_in(jax.random.key(config.seed), step)

        def loss_fn(params):
            model = nnx.merge(graphdef, to_model(params))
            if matmul_dtype != "float32":
                set_matmul_dtype(model, matmul_dtype)
            _, losses = _outputs_and_losses(model, batch, config, num_outputs, rngs=nnx.Rngs(dropout=key),
                                            materialise_cotangents=xla_cpu_tricks)  # fmt: skip
            return losses.mean()

        loss, grads = jax.value_and_grad(loss_fn)(params)
        return grads, {"loss": loss}

    return gradients


def make_predict_step(graphdef, config, num_outputs: int, mesh, to_model: Callable[[dict], dict] = lambda params: params):
    """(params, host batch) -> host (outputs, per-window losses), deterministic. The batch is
    replicated on the mesh the parameters live on (the evaluation splits are small)."""
    replicated = mesh_lib.replicated(mesh)
    step = jax.jit(lambda params, batch: _outputs_and_losses(nnx.merge(graphdef, to_model(params)), batch, config,
                                                             num_outputs), out_shardings=replicated)  # fmt: skip

    def predict(params, batch):
        outputs, losses = step(params, jax.device_put(batch, replicated))
        # replicated: this process's first copy is the whole result (also on several hosts)
        return np.asarray(outputs.addressable_data(0)), np.asarray(losses.addressable_data(0))

    return predict


# ----------------------------------------------------------------------------- data


class TrainOrder:
    """Rows of the training split for each global step: one permutation per epoch, drawn from
    (seed, epoch) alone, batches of `batch_size` (the epoch's remainder is dropped)."""

    def __init__(self, rows: np.ndarray, batch_size: int, seed: int) -> None:
        self.rows, self.batch_size, self.seed = rows, batch_size, seed
        self.steps_per_epoch = len(rows) // batch_size
        self._cached = (-1, None)  # (epoch, permutation): one attribute, so reader threads see a consistent pair

    def __call__(self, step: int) -> np.ndarray:
        epoch, index = divmod(step, self.steps_per_epoch)
        cached_epoch, permutation = self._cached
        if epoch != cached_epoch:
            permutation = np.random.default_rng([self.seed, epoch]).permutation(len(self.rows))
            self._cached = (epoch, permutation)
        return self.rows[permutation[index * self.batch_size:(index + 1) * self.batch_size]]


class TrainBatches:
    """step -> this process's rows of the fine-tuning batch of `step` (host numpy, targets scaled)."""

    FIELDS = ("emg", "channel_mask", "label", "target")

    def __init__(self, splits: Splits, order: TrainOrder, scaler: "TargetScaler | None") -> None:
        self.splits, self.order, self.scaler = splits, order, scaler
        self.rows = host_rows(order.batch_size, jax.process_index(), jax.process_count())

    def __call__(self, step: int) -> dict[str, np.ndarray]:
        return _device_batch(self.splits.read("train", self.order(step)[self.rows], fields=self.FIELDS), self.scaler)


class TargetScaler:
    """Regression targets in training-split standard units (per DoA), and back to degrees."""

    def __init__(self, mean: np.ndarray, std: np.ndarray) -> None:
        self.mean, self.std = np.asarray(mean, np.float32), np.asarray(std, np.float32)

    @classmethod
    def fit(cls, splits: Splits, enabled: bool, k: int) -> "TargetScaler":
        if not enabled:
            return cls(np.zeros(k), np.ones(k))
        total, total_sq, count = np.zeros(k), np.zeros(k), 0
        for batch in splits.batches("train", 256, fields=("target",)):
            target = batch["target"].astype(np.float64).reshape(-1, k)
            total, total_sq, count = total + target.sum(0), total_sq + (target**2).sum(0), count + len(target)
        mean = total / count
        std = np.sqrt(np.maximum(total_sq / count - mean**2, 0.0))
        return cls(mean, np.where(std > 1e-6, std, 1.0))

    def scale(self, target: np.ndarray) -> np.ndarray:
        return ((target - self.mean) / self.std).astype(np.float32)

    def unscale(self, values: np.ndarray) -> np.ndarray:
        return np.asarray(values, np.float32) * self.std + self.mean


def _device_batch(batch: dict, scaler: TargetScaler | None) -> dict:
    out = {"emg": batch["emg"], "channel_mask": batch["channel_mask"]}
    if "label" in batch:
        out["label"] = batch["label"].astype(np.int32)
    if "target" in batch:
        out["target"] = scaler.scale(batch["target"])
    return out


def evaluate_split(predict_step, params, splits: Splits, key: str, config, info: DatasetInfo, scaler) -> tuple[dict, np.ndarray, np.ndarray]:
    """(metrics incl. the mean loss, predictions, truths): labels (N,) or trajectories in degrees (N, W, K)."""
    batch_size = config.data.batch_size
    losses, predictions, truths, subjects = [], [], [], []
    for batch in splits.batches(key, batch_size):
        n = len(batch["subject"])
        padded = {k: np.concatenate([v, np.repeat(v[-1:], batch_size - n, axis=0)]) if n < batch_size else v
                  for k, v in _device_batch(batch, scaler).items()}  # fmt: skip
        outputs, batch_losses = predict_step(params, padded)
        losses.append(batch_losses[:n])
        subjects.append(batch["subject"])
        if info.task == "classification":
            predictions.append(np.argmax(outputs[:n], axis=1))
            truths.append(batch["label"])
        else:
            predictions.append(scaler.unscale(outputs[:n]))
            truths.append(batch["target"])
    prediction, truth, subject = np.concatenate(predictions), np.concatenate(truths), np.concatenate(subjects)
    if info.task == "classification":
        metrics = classification_metrics(truth, prediction, info.num_classes, subject)
    else:
        metrics = regression_metrics(truth, prediction, info.target_names, subject)
    metrics["loss"] = float(np.concatenate(losses).mean())
    return metrics, prediction, truth


def monitor_value(metrics: dict, name: str) -> float:
    """The early-stopping monitor as "higher is better"."""
    if name == "loss":
        return -metrics["loss"]
    if name not in HIGHER_IS_BETTER:
        raise UserError(f"early_stopping.metric must be loss or one of {sorted(HIGHER_IS_BETTER)}, got {name!r}")
    return metrics[name] if HIGHER_IS_BETTER[name] else -metrics[name]


# ----------------------------------------------------------------------------- run


def run_record(config: ml_collections.ConfigDict) -> dict:
    """What a fine-tuning workdir is started with (train/workdir.py): a rerun must match."""
    data = config.data
    directory = dataset_dir(data.name, data.data_dir or None, data.builder_config or None)
    return {"init": config.init, "model": config.model.to_dict(), "seed": config.seed, "benchmark": config.benchmark,
            "data": {"name": data.name, "builder_config": data.builder_config, "max_windows": data.max_windows,
                     "fingerprint": dataset_fingerprint(directory)},
            **training_settings(config, FINETUNING_FIELDS)}  # fmt: skip


def training_data(config: ml_collections.ConfigDict) -> tuple[Splits, TrainOrder, TargetScaler | None]:
    """The benchmark's splits, the training order of batches, and (regression) the target scaler."""
    splits = Splits(config)
    info = splits.info
    order = TrainOrder(splits.indices["train"], config.finetune.batch_size, config.seed)
    if order.steps_per_epoch == 0:
        raise UserError(f"the training split has {info.split_sizes['train']} windows, fewer than finetune.batch_size "
                        f"{config.finetune.batch_size}")  # fmt: skip
    scaler = TargetScaler.fit(splits, config.loss.standardize_targets, len(info.target_names)) if info.task == "regression" else None
    return splits, order, scaler


def head_init_mode(config: ml_collections.ConfigDict, info: DatasetInfo) -> str:
    """How the head starts: "probe" (the starting encoder's linear probe) or "random"."""
    head_init = config.finetune.get("head_init", "random")
    if head_init not in ("probe", "random"):
        raise UserError(f"finetune.head_init must be probe or random, got {head_init!r}")
    if info.task != "classification":
        head_init = "random"  # the regression head is convolutional: no linear read-out to start from
    return head_init


class EarlyStopping:
    """Validation during fine-tuning, the training loop's evaluation callback: `validate(done,
    params, prefix)` evaluates `params` on the validation split, updates the early-stopping state
    (`state`, a JSON dict checkpointed with the run) and the best parameters so far; returns
    whether to stop."""

    def __init__(self, state: dict, best_params, evaluate: Callable[[Any], dict], config: ml_collections.ConfigDict,
                 writer) -> None:  # fmt: skip
        self.state, self.best_params, self.evaluate = state, best_params, evaluate
        self.metric, self.patience, self.writer = config.early_stopping.metric, config.early_stopping.patience, writer

    def __call__(self, done: int, params, prefix: str) -> bool:
        early = self.state
        validation = self.evaluate(params)
        value = monitor_value(validation, self.metric)
        improved = early["best_value"] is None or value > early["best_value"]
        if improved:
            self.best_params = jax.tree.map(jnp.copy, params)
            early.update(best_value=value, best_step=done, evals_since_best=0)
        else:
            early["evals_since_best"] += 1
        scalars = {k: v for k, v in validation.items() if not isinstance(v, (dict, list))}
        early["history"].append({"step": done, **scalars})
        early["stopped"] = early["evals_since_best"] >= self.patience
        self.writer.write(done, scalars, prefix="validation")
        print(f"step {done}: {prefix}validation " + ", ".join(f"{k} {v:.4f}" for k, v in scalars.items() if k != "num_windows")
              + (" (best)" if improved else ""), flush=True)  # fmt: skip
        return early["stopped"]


def training_record(config: ml_collections.ConfigDict, early: dict, order: TrainOrder, total_steps: int,
                    start_step: int, end_step: int, step_times: list[float], scaler) -> dict:  # fmt: skip
    """results.json's `training` entry of the fine-tune method: steps, early stopping, history."""
    return {
        "steps": end_step, "epochs_run": end_step / order.steps_per_epoch, "steps_per_epoch": order.steps_per_epoch,
        "total_steps": total_steps, "best_step": int(early["best_step"]), "stopped_early": bool(early["stopped"]),
        "monitor": config.early_stopping.metric,
        "best_value": float(early["best_value"] if HIGHER_IS_BETTER.get(config.early_stopping.metric, False)
                            else -early["best_value"]),
        "history": early["history"], "start_step": start_step,
        "median_step_time_s": float(np.median(step_times)) if step_times else None,
        "target_mean": None if scaler is None else scaler.mean.tolist(),
        "target_std": None if scaler is None else scaler.std.tolist(),
    }  # fmt: skip


def check_finetune_config(config: ml_collections.ConfigDict) -> None:
    """One-line UserErrors for a config that is not a fine-tuning one, or whose fields are not."""
    if config.get("kind") != "finetune":
        raise UserError("finetune needs a fine-tuning config (configs/finetune/*.py)")
    require_fields(config, finetune_config("uci_emg"), "evaluate.config.finetune_config(BENCHMARK) (as configs/finetune/*.py do)")
    if config.matmul_dtype not in MATMUL_DTYPES:
        raise UserError(f"config.matmul_dtype must be one of {MATMUL_DTYPES}, got {config.matmul_dtype!r}")


def finetune(config: ml_collections.ConfigDict, workdir: storage.PathLike) -> dict:
    """Fine-tune (or resume) in `workdir`; returns the results dict written to results.json."""
    start_time = time.perf_counter()
    workdir = storage.path(workdir)
    check_finetune_config(config)
    # a rerun with another init, model or data refuses here, before anything is written
    start_run(workdir, run_record(config), config.get("workdir_mode", "resume"))
    storage.write_atomic(workdir / "config.json", config.to_json_best_effort(indent=2, sort_keys=True))

    # --- data
    splits, order, scaler = training_data(config)
    info = splits.info
    total_steps = config.finetune.epochs * order.steps_per_epoch
    eval_every = max(1, int(round(config.finetune.eval_every_epochs * order.steps_per_epoch)))

    # --- model & optimizer
    model, initial, encoder = build_finetune_model(config, info)
    print(f"finetune {config.benchmark}: encoder {encoder['source']} (hash {encoder['checkpoint_hash']}), "
          f"splits {info.split_sizes}, {order.steps_per_epoch} steps/epoch, up to {total_steps} steps", flush=True)
    for warning in encoder_warnings(encoder, config.benchmark, info.fs):
        print(f"warning: {warning}", file=sys.stderr, flush=True)
    graphdef, params = nnx.split(model)
    params = nnx.to_pure_dict(params)
    num_outputs = model.config.num_outputs
    schedule = make_schedule(config, total_steps, order.steps_per_epoch)
    optimizer = finetune_optimizer(config, params, model.config.depth, schedule)
    head_init = head_init_mode(config, info)

    # --- the training loop (train/loop.py): data parallel over every device (the model is small)
    mesh = mesh_lib.make_mesh(1)
    loop = TrainLoop(
        workdir, name="finetune", mesh=mesh, optimizer=optimizer, abstract_params=params, seed=config.seed,
        global_batch_size=config.finetune.batch_size, total_steps=total_steps, log_every_steps=config.log_every_steps,
        checkpoint_every_steps=config.checkpoint.every_steps, checkpoint_keep=config.checkpoint.keep,
        async_save=config.checkpoint.async_save, model_config_json=model.config.to_json(),
        run_config_json=config.to_json_best_effort(), save_at_evaluations=True,
    )  # fmt: skip
    initial_probe = None
    if head_init == "probe":
        # the starting encoder's probe (features cached, so cheap again on a resume, which needs its
        # mean and std for the head's coordinates)
        initial_probe = encoder_probe(initial, encoder, splits, config, workdir, "init")
    coordinates = HeadCoordinates.from_config(config, initial_probe)
    with loop:
        # --- checkpoint restore (with the early-stopping state and best parameters) or fresh state
        restored = loop.restore(json_items=("early_stopping",), array_items={"best_params": loop.abstract_state["params"]})
        if restored is not None:
            state, early, best_params = restored.state, restored.extras["early_stopping"], restored.extras["best_params"]
        else:
            early = {"best_value": None, "best_step": 0, "evals_since_best": 0, "stopped": False, "history": []}
            if initial_probe is not None:  # start from the frozen encoder's linear probe (docs/evaluate.md)
                params = coordinates.from_model(probe_head(params, initial_probe["_readout"]))
                print(f"head initialised from the linear probe of the starting encoder: validation "
                      f"{config.probe.selection_metric} {initial_probe['validation'][config.probe.selection_metric]:.4f}", flush=True)
            state = loop.init_state(params)
            best_params = jax.tree.map(jnp.copy, state["params"])
        start_step = int(jax.device_get(state["step"]))
        predict_step = make_predict_step(graphdef, config, num_outputs, mesh, coordinates.to_model)
        validate = EarlyStopping(early, best_params, lambda params: evaluate_split(
            predict_step, params, splits, "validation", config, info, scaler)[0], config, loop.writer)

        if start_step == 0 and not early["history"]:
            # the starting point is a candidate too: early stopping never returns worse than it
            validate(0, state["params"], "before training, ")
        step_times: list[float] = []
        if start_step < total_steps and not early["stopped"]:
            batches = iterate_batches(TrainBatches(splits, order, scaler), start_step, total_steps, prefetch=2)
            first = next(batches)
            fields = tuple(name for name in TrainBatches.FIELDS if name in first)
            gradients = supervised_gradients(graphdef, config, num_outputs, coordinates.to_model)
            compiled = loop.compile(make_train_step(gradients, optimizer, schedule), first, fields)
            result = loop.run(
                compiled, state, itertools.chain([first], batches), eval_every_steps=eval_every,
                evaluate=lambda done, state, train: validate(done, state["params"], f"train loss {train['loss']:.4f}, "),
                extra_items=lambda: ({"early_stopping": early}, {"best_params": validate.best_params}),
            )  # fmt: skip
            state, step_times = result.state, result.step_times
            if result.preempted:
                return {"preempted_at_step": result.end_step}
            if result.stopped:
                print(f"early stopping at step {result.end_step}: no validation improvement in "
                      f"{config.early_stopping.patience} evaluations; best step {early['best_step']}", flush=True)  # fmt: skip

    # --- test with the best parameters, saved as WORKDIR/best/
    best_params = validate.best_params
    end_step = int(jax.device_get(state["step"]))
    test, prediction, truth = evaluate_split(predict_step, best_params, splits, "test", config, info, scaler)
    best_model = nnx.merge(graphdef, coordinates.to_model(best_params))
    best_dir = workdir / "best"
    storage.remove_tree(best_dir)
    save_model_checkpoint(best_dir, best_model, step=int(early["best_step"]))
    training = training_record(config, early, order, total_steps, start_step, end_step, step_times, scaler)
    best_history = [h for h in early["history"] if h["step"] == early["best_step"]]
    record = {
        "metrics": test, "validation": best_history[0] if best_history else {}, "training": training,
        "summary": f"best step {early['best_step']}", "encoder": {k: v for k, v in encoder.items() if k != "model_config"},
        "_predictions": prediction, "_targets": truth if info.task == "regression" else None,
    }  # fmt: skip

    return write_results(config, workdir, record, initial, encoder, initial_probe, splits, start_time)


def write_results(config: ml_collections.ConfigDict, workdir, record: dict, initial, encoder: dict,
                  initial_probe: dict | None, splits: Splits, start_time: float) -> dict:  # fmt: skip
    """The fine-tune `record` beside its baselines (the frozen evaluated encoder's probe, a random
    encoder's probe, classic features): results.json, report.md and plots in `workdir`."""
    info = splits.info
    methods = {"finetune": record}
    if config.baselines.frozen_probe:
        methods["probe"] = initial_probe or encoder_probe(initial, encoder, splits, config, workdir, "init")
    methods.update(baselines(initial, encoder, splits, config, workdir))
    results = report.results_record("finetune", config, encoder, info, main="finetune", methods=methods,
                                    wall_time_s=time.perf_counter() - start_time)  # fmt: skip
    report.write_outputs(workdir, results, methods, info, fs=info.fs)
    results["wall_time_s"] = time.perf_counter() - start_time
    storage.write_atomic(workdir / "results.json", json.dumps(results, indent=2))
    return results
