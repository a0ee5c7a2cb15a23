"""Evaluators during pretraining: `config.evals`, named evaluators that run every N steps.

    config.evals.validation = dict(type="masked_loss", every_steps=1000)
    config.evals.uci_probe = dict(type="linear_probe", every_steps=5000, benchmark="uci_emg",
                                  data_dir="runs/tfds", max_windows=256)

Each entry has a `type` (a key of TYPES), `every_steps` (it runs at every multiple and at the
last step) and its type's options (`OPTIONS` of its class; the ones left out take the defaults
there). Results go through the run's MetricsWriter with the entry's name as prefix
(metrics.jsonl lines with `"split": NAME`, TensorBoard `NAME/<metric>`); summary.json keeps the
last values under NAME.

Types:
  masked_loss   the masked-reconstruction loss over `config.eval_batches` fixed batches of
                `config.data.eval_split`, beside the no-model baselines (train/no_model_baselines.py),
                and a reconstruction plot every `config.plot_every_steps`. At most one (it has
                no options that would tell two apart). The default config names it
                `validation`, its every_steps the same field as `config.eval_every_steps`.
  linear_probe  the frozen encoder of the current params on a prepared labelled benchmark, with
                the code of `tinymyo probe` (evaluate/): features of at most `max_windows`
                windows per split, the read-out fitted on train with its L2 chosen on
                validation, the metrics of test (accuracy, balanced_accuracy, macro_f1; MAE,
                RMSE, R² for a regression benchmark), the chosen `l2` and the `seconds` it took.

`check_evals` (called by the trainer beside train.config.check_config) refuses a bad entry in one line before a run
writes anything; `Evaluators(config, run).run_due(step, params)` is the trainer's one call.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import re
import time
from typing import Any

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
from flax import nnx
from jax.experimental import multihost_utils

from tinymyo_jax.data.pipeline import HostBatchReader
from tinymyo_jax.errors import UserError
from tinymyo_jax.evaluate.config import probe_config
from tinymyo_jax.evaluate.data import SPLIT_KEYS, Splits
from tinymyo_jax.evaluate.features import extract_split, make_feature_fn
from tinymyo_jax.evaluate.probe import fit_readout
from tinymyo_jax.models.config import ModelConfig
from tinymyo_jax.models.objective import combine_loss_terms, smooth_l1
from tinymyo_jax.train.no_model_baselines import baseline_predictions
from tinymyo_jax.train.metrics import MetricsWriter
from tinymyo_jax.train.plots import plot_reconstruction
from tinymyo_jax.train.loop import global_batch
from tinymyo_jax.train.mixture import BATCH_FIELDS, open_sources, validation_order
from tinymyo_jax.train.step import make_eval_step

log = logging.getLogger("tinymyo.pretrain")

COMMON_FIELDS = ("type", "every_steps")
# summary.json and metrics.jsonl already use these names
RESERVED_NAMES = {"train", "start_step", "end_step", "peak_flops_per_device", "peak_source", "median_step_time_s"}


@dataclasses.dataclass(frozen=True)
class RunContext:
    """What an evaluator gets from the trainer."""

    config: ml_collections.ConfigDict
    graphdef: nnx.GraphDef
    model_config: ModelConfig
    data_sharding: jax.sharding.Sharding
    workdir: Any  # storage.path: local or a gs:// URL
    writer: MetricsWriter
    is_main: bool


# ----------------------------------------------------------------------------- masked loss


def evaluate(eval_step, params, eval_reader: HostBatchReader, config, data_sharding, model_config: ModelConfig) -> dict:
    """Validation loss over the fixed batches, the no-model baselines, and a plot example."""
    totals = None
    baseline_sums: dict[str, float] = {}
    baseline_count = 0.0
    example = None
    for index in range(config.eval_batches):
        host_batch = eval_reader(index)
        batch = global_batch(host_batch, BATCH_FIELDS, data_sharding, config.global_batch_size)
        terms, reconstruction, sample_mask, x = eval_step(params, batch, jnp.asarray(index))
        terms = jax.device_get(terms)
        totals = terms if totals is None else {k: totals[k] + terms[k] for k in totals}
        # baselines on this process's rows (its addressable shards), summed over processes below
        x_local = np.concatenate([np.asarray(s.data) for s in x.addressable_shards])
        mask_local = np.concatenate([np.asarray(s.data) for s in sample_mask.addressable_shards])
        channel_local = host_batch["channel_mask"] if config.data.use_channel_mask else np.ones(x_local.shape[:2], bool)
        token_local = mask_local.reshape(*mask_local.shape[:2], -1, model_config.patch_size).any(-1).reshape(len(x_local), -1)
        weight = mask_local & channel_local[:, :, None]
        baseline_count += float(weight.sum())
        for name, predicted in baseline_predictions(x_local, token_local, model_config.patch_size, channel_local).items():
            smooth = np.asarray(smooth_l1(predicted, x_local))  # the trainer's loss, on the baseline
            baseline_sums[name] = baseline_sums.get(name, 0.0) + float((smooth * weight).sum())
        if example is None:
            rec_local = np.concatenate([np.asarray(s.data) for s in reconstruction.addressable_shards])
            example = (x_local[0], rec_local[0], mask_local[0])
            example_channels = channel_local[0]
    metrics = {k: float(v) for k, v in combine_loss_terms(totals, config.loss.visible_weight).items()}
    names = sorted(baseline_sums)
    sums = np.asarray([baseline_sums[n] for n in names] + [baseline_count])
    if jax.process_count() > 1:
        sums = np.asarray(multihost_utils.process_allgather(sums)).reshape(-1, len(sums)).sum(0)
    for name, value in zip(names, sums[:-1]):
        metrics[f"baseline_{name}_masked_loss"] = float(value / max(sums[-1], 1.0))
    return {"metrics": metrics, "example": example, "example_channel_mask": example_channels}


class MaskedLoss:
    """`evaluate` on the run's fixed validation batches, and the reconstruction plot."""

    OPTIONS: dict[str, Any] = {}

    def __init__(self, name: str, options: dict[str, Any], run: RunContext) -> None:
        config = run.config
        self.name, self.run = name, run
        self.eval_step = jax.jit(make_eval_step(run.graphdef, run.model_config, config))
        _, sources, weights = open_sources(config, config.data.eval_split)
        order = validation_order(config, [len(s) for s in sources], weights)
        self.reader = HostBatchReader(sources, order, jax.process_index(), jax.process_count())

    @staticmethod
    def check(name: str, options: dict[str, Any], config: ml_collections.ConfigDict) -> None:
        earlier = sorted(n for n, e in config.evals.items() if e.get("type") == "masked_loss" and n < name)
        if earlier:
            raise UserError(f"config.evals.{name}: {earlier[0]!r} is a masked_loss evaluator too; keep one "
                            "(the masked loss has no options that would make two differ)")

    def __call__(self, step: int, params) -> dict[str, float]:
        config, run = self.run.config, self.run
        evaluation = evaluate(self.eval_step, params, self.reader, config, run.data_sharding, run.model_config)
        if run.is_main and (step % config.plot_every_steps == 0 or step == config.total_steps):
            png = plot_reconstruction(
                *evaluation["example"], run.workdir / "plots" / f"reconstruction_step{step:07d}.png",
                title=f"step {step}: validation window, masked loss {evaluation['metrics']['masked_loss']:.4f}",
                channel_mask=evaluation["example_channel_mask"],
            )
            run.writer.write_image(step, f"{self.name}/reconstruction", png)
        return evaluation["metrics"]


# ----------------------------------------------------------------------------- linear probe


class LinearProbe:
    """The linear probe of `tinymyo probe` on the current encoder, at a capped size.

    Options: `benchmark` (a name of evaluate/config.BENCHMARKS, e.g. uci_emg, or generic/NAME),
    `data_dir` ("" = config.data.data_dir), `max_windows` per split (evenly spaced; 0 = all),
    the three split names, `l2_grid` (empty = the benchmark probe's grid), `max_iterations`
    (0 = the probe's) and `batch_size` (windows per feature call; 0 = the probe's). Everything else (fusion, pooling, the input normalisation the run trains
    with) is the benchmark's probe config (evaluate/config.py).
    """

    OPTIONS: dict[str, Any] = {
        "benchmark": "", "data_dir": "", "max_windows": 256, "train_split": "train",
        "validation_split": "validation", "test_split": "test", "l2_grid": [], "max_iterations": 0, "batch_size": 0,
    }  # fmt: skip
    REQUIRED = ("benchmark",)

    def __init__(self, name: str, options: dict[str, Any], run: RunContext) -> None:
        self.name, self.run = name, run
        self.settings = probe_settings(options, run.config)
        self.splits = Splits(self.settings)
        self._features = None  # the compiled feature function, built at the first evaluation

    @staticmethod
    def check(name: str, options: dict[str, Any], config: ml_collections.ConfigDict) -> None:
        if options["batch_size"] < 0:
            raise UserError(f"config.evals.{name}.batch_size must be >= 0 (0: the probe's), got {options['batch_size']}")
        if options["max_windows"] < 0:
            raise UserError(f"config.evals.{name}.max_windows must be >= 0 (0: every window), got {options['max_windows']}")
        if any(not isinstance(v, (int, float)) or isinstance(v, bool) or v <= 0 for v in options["l2_grid"]):
            raise UserError(f"config.evals.{name}.l2_grid must hold numbers > 0, got {list(options['l2_grid'])}")
        try:
            Splits(probe_settings(options, config))  # the dataset, its splits and labels exist
        except UserError as err:
            raise UserError(f"config.evals.{name}: {err}") from err

    def __call__(self, step: int, params) -> dict[str, float]:
        start = time.perf_counter()
        if jax.process_count() > 1:  # every process probes the whole encoder on its own devices
            params = multihost_utils.process_allgather(params, tiled=True)
        if self._features is None:  # compiled once: every later evaluation only changes the params
            self._features = make_feature_fn(nnx.merge(self.run.graphdef, params), self.settings)[0]
        data = {key: extract_split(self._features, params, self.splits, key, self.settings) for key in SPLIT_KEYS}
        record = fit_readout(data, self.splits.info, self.settings)
        metrics = {k: float(v) for k, v in record["metrics"].items()
                   if isinstance(v, (int, float)) and k != "num_windows"}  # fmt: skip
        metrics["l2"] = float(record["selection"]["chosen"])
        metrics["seconds"] = time.perf_counter() - start
        log.info("%s at step %d: %s", self.name, step, metrics)
        return metrics


def probe_settings(options: dict[str, Any], config: ml_collections.ConfigDict) -> ml_collections.ConfigDict:
    """The probe config (evaluate/config.probe_config) of a linear_probe evaluator."""
    settings = probe_config(options["benchmark"])
    settings.data.data_dir = options["data_dir"] or config.data.data_dir
    settings.data.max_windows = int(options["max_windows"])
    for key in ("train_split", "validation_split", "test_split"):
        settings.data[key] = options[key]
    if options["l2_grid"]:
        settings.probe.l2_grid = [float(v) for v in options["l2_grid"]]
    if options["max_iterations"]:
        settings.probe.max_iterations = int(options["max_iterations"])
    if options["batch_size"]:
        settings.data.batch_size = int(options["batch_size"])
    settings.features.cache = False  # new params at every evaluation: nothing to reuse
    return settings


# ----------------------------------------------------------------------------- config and running


TYPES: dict[str, type] = {"masked_loss": MaskedLoss, "linear_probe": LinearProbe}


def _options(name: str, entry: ml_collections.ConfigDict) -> dict[str, Any]:
    """An entry's type options, the defaults filled in; one-line errors for unknown or mistyped ones."""
    kind = TYPES[entry["type"]]
    given = {k: v for k, v in entry.items() if k not in COMMON_FIELDS}
    unknown = sorted(set(given) - set(kind.OPTIONS))
    if unknown:
        known = ", ".join(sorted(kind.OPTIONS)) or "none"
        raise UserError(f"config.evals.{name}: unknown option(s) {unknown} for type {entry['type']!r} (its options: {known})")
    options = {**kind.OPTIONS, **given}
    for key, default in kind.OPTIONS.items():
        value = options[key]
        if isinstance(default, list):
            ok = isinstance(value, (list, tuple))
        elif isinstance(default, int):
            ok = isinstance(value, int) and not isinstance(value, bool)
        else:
            ok = isinstance(value, type(default))
        if not ok:
            raise UserError(f"config.evals.{name}.{key} must be a {type(default).__name__}, got {value!r}")
    for key in getattr(kind, "REQUIRED", ()):
        if not options[key]:
            raise UserError(f"config.evals.{name} ({entry['type']}) needs `{key}`")
    return options


def check_evals(config: ml_collections.ConfigDict) -> None:
    """Every `config.evals` entry: a known type, every_steps >= 1, known options, and what its
    type checks (a linear probe's dataset and splits exist). One-line UserErrors."""
    for name, entry in config.evals.items():
        if not re.fullmatch(r"[A-Za-z0-9_]+", name) or name in RESERVED_NAMES:
            raise UserError(f"config.evals.{name}: name an evaluator with letters, digits and _ (not {sorted(RESERVED_NAMES)})")
        if not isinstance(entry, (ml_collections.ConfigDict, dict)) or "type" not in entry:
            raise UserError(f"config.evals.{name} must be a dict with a `type` ({', '.join(TYPES)})")
        if entry["type"] not in TYPES:
            raise UserError(f"config.evals.{name}: unknown type {entry['type']!r}; choose from {', '.join(TYPES)}")
        every = entry.get("every_steps")
        if not isinstance(every, int) or isinstance(every, bool) or every < 1:
            raise UserError(f"config.evals.{name}.every_steps must be an integer >= 1, got {every!r}")
        TYPES[entry["type"]].check(name, _options(name, entry), config)


class Evaluators:
    """The run's evaluators, built once (data opened, nothing compiled until first used)."""

    def __init__(self, config: ml_collections.ConfigDict, run: RunContext) -> None:
        self.total_steps = int(config.total_steps)
        self.writer = run.writer
        self.entries = [
            (name, int(entry["every_steps"]), TYPES[entry["type"]](name, _options(name, entry), run))
            for name, entry in sorted(config.evals.items())
        ]

    @property
    def every_steps(self) -> int:
        """How often the training loop must offer an evaluation: the greatest common divisor of
        the evaluators' intervals (the loop syncs with the device only on those steps)."""
        return math.gcd(*(every for _, every, _ in self.entries)) if self.entries else 0

    def run_due(self, step: int, params) -> dict[str, dict[str, float]]:
        """Run the evaluators due after `step` training steps (multiples of their every_steps,
        and the last step) on `params`; writes their metrics, returns {name: metrics}."""
        results = {}
        for name, every, evaluator in self.entries:
            if step % every == 0 or step == self.total_steps:
                results[name] = evaluator(step, params)
                self.writer.write(step, results[name], prefix=name)
        return results
