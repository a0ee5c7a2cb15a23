"""Linear probe of a frozen encoder on a downstream benchmark, with its baselines.

    tinymyo probe --config configs/probe/epn612.py --workdir runs/probe_epn612 \\
        --config.init=runs/pretrain/checkpoints --config.data.data_dir=runs/tfds

Stages: data -> encoder -> features (cached) -> read-out fitted on train, L2 chosen on
validation -> test metrics -> the same probe on a random encoder -> the classic pipeline ->
results.json, report.md, plots. `run_probe(config, workdir)` is the library entry point (the
demo calls it; `format_table(results)` prints the table).
"""

from __future__ import annotations

import json
import logging
import sys
import time

import jax.numpy as jnp
import ml_collections
import numpy as np

from tinymyo_jax import storage
from tinymyo_jax.config_files import require_fields
from tinymyo_jax.errors import UserError
from tinymyo_jax.evaluate import report
from tinymyo_jax.evaluate.classic import fit_lda, window_features
from tinymyo_jax.evaluate.config import probe_config
from tinymyo_jax.evaluate.data import SPLIT_KEYS, DatasetInfo, Splits, segment_means
from tinymyo_jax.evaluate.encoders import encoder_warnings, load_initial_model, random_like
from tinymyo_jax.evaluate.features import cached, encoder_features, rows_digest
from tinymyo_jax.evaluate.linear import Standardizer, choose, fit_logistic, fit_ridge
from tinymyo_jax.evaluate.metrics import classification_metrics, regression_metrics, score
from tinymyo_jax.models.heads import linear_resize
from tinymyo_jax.models.tinymyo import TinyMyo

log = logging.getLogger("tinymyo.evaluate")

format_table = report.format_table  # re-exported: run_probe(...) then print(format_table(results))


# ----------------------------------------------------------------------------- read-outs


def fit_readout(data: dict[str, dict[str, np.ndarray]], info: DatasetInfo, config: ml_collections.ConfigDict) -> dict:
    """Linear read-out on features (N, S, F): fit on train per L2, choose on validation, test.

    Returns the method record (test `metrics`, `validation` metrics, `selection`), under
    "_predictions" the test predictions (labels (N,), or (N, W, K) trajectories) for plots, and
    for classification under "_readout" the chosen read-out {"w" (F, K), "b" (K,), "mean" (F,),
    "std" (F,)}: logits = ((features − mean) / std) @ w + b (fine-tuning starts its head there).
    """
    grid = [float(v) for v in config.probe.l2_grid]
    metric = config.probe.selection_metric
    # classification: one vector per window (segments side by side); regression: one per segment
    flatten = _windows if info.task == "classification" else _rows
    standardize = Standardizer.fit(flatten(data["train"]["features"]))
    x = {key: standardize(flatten(data[key]["features"])) for key in SPLIT_KEYS}
    start = time.perf_counter()
    if info.task == "classification":
        w, b, iterations = fit_logistic(x["train"], data["train"]["label"], info.num_classes, grid,
                                        max_iterations=config.probe.max_iterations, tolerance=config.probe.tolerance)

        def predict(key: str, i: int) -> np.ndarray:
            return np.argmax(x[key] @ w[i] + b[i], axis=1)

        def evaluate(key: str, prediction: np.ndarray) -> dict:
            return classification_metrics(data[key]["label"], prediction, info.num_classes, data[key]["subject"])

        extra = {"lbfgs_iterations": iterations.tolist()}
        readout = lambda i: {"w": w[i], "b": b[i], "mean": standardize.mean, "std": standardize.std}  # noqa: E731
    else:
        segments = data["train"]["features"].shape[1]
        w, b = fit_ridge(x["train"], _rows(data["train"]["target"]), grid)

        def predict(key: str, i: int) -> np.ndarray:
            return (x[key] @ w[i] + b[i]).reshape(-1, segments, w.shape[-1])

        def evaluate(key: str, prediction: np.ndarray) -> dict:
            return regression_metrics(data[key]["target"], prediction, info.target_names, data[key]["subject"])

        extra = {}
        readout = None
    record = _select_and_test(grid, "l2", metric, predict, evaluate, data, info, extra, time.perf_counter() - start)
    if readout is not None:  # the chosen read-out, for a fine-tune head that starts from it
        record["_readout"] = readout(grid.index(record["selection"]["chosen"]))
    return record


def _select_and_test(grid, parameter, metric, predict, evaluate, data, info, extra, fit_seconds) -> dict:
    validation = [evaluate("validation", predict("validation", i)) for i in range(len(grid))]
    scores = [score(m, metric) for m in validation]
    chosen = choose(scores, grid)
    test_prediction = predict("test", chosen)
    if info.task == "regression":  # segment predictions -> per-sample trajectories (N, W, K)
        test_prediction = upsample(test_prediction, info.window)
        metrics = regression_metrics(data["test"]["target_full"], test_prediction, info.target_names, data["test"]["subject"])
    else:
        metrics = evaluate("test", test_prediction)
    return {
        "metrics": metrics,
        "validation": _scalars(validation[chosen]),
        "selection": {"parameter": parameter, "grid": list(grid), "metric": metric, "validation_scores":
                      [float(m[metric]) for m in validation], "chosen": grid[chosen],
                      # the best value sits at an end of the grid: widen the grid in the config
                      "at_grid_edge": grid[chosen] in (min(grid), max(grid)), **extra},
        "fit_seconds": fit_seconds,
        "_predictions": test_prediction,
        "_targets": data["test"].get("target_full"),
    }  # fmt: skip


def upsample(segment_predictions: np.ndarray, window: int) -> np.ndarray:
    """(N, S, K) per-segment values -> (N, W, K) by linear interpolation between segment centres
    (`heads.linear_resize`, the regression head's own upsampling rule)."""
    return np.asarray(linear_resize(jnp.asarray(segment_predictions, jnp.float32), window), np.float64)


def _rows(a: np.ndarray) -> np.ndarray:
    """(N, S, D) -> (N·S, D): every segment is a sample of the read-out."""
    return a.reshape(-1, a.shape[-1])


def _windows(a: np.ndarray) -> np.ndarray:
    """(N, S, D) -> (N, S·D): one sample per window, its segments' features side by side."""
    return a.reshape(a.shape[0], -1)


def _scalars(metrics: dict) -> dict:
    return {k: v for k, v in metrics.items() if not isinstance(v, (list, dict))}


# ----------------------------------------------------------------------------- methods


def encoder_probe(model: TinyMyo, encoder: dict, splits: Splits, config: ml_collections.ConfigDict, workdir: storage.PathLike, tag: str) -> dict:
    """The linear probe on one encoder's features: the method record of `fit_readout` plus timings."""
    start = time.perf_counter()
    data = encoder_features(model, encoder["checkpoint_hash"], splits, config, workdir, tag)
    feature_seconds = time.perf_counter() - start
    record = fit_readout(data, splits.info, config)
    record.update(encoder={k: v for k, v in encoder.items() if k != "model_config"},
                  feature_dim=int(data["train"]["features"].shape[-1]), feature_seconds=feature_seconds)  # fmt: skip
    return record


def classic_baseline(splits: Splits, config: ml_collections.ConfigDict, workdir: storage.PathLike) -> dict:
    """RMS, MAV, WL, ZC, SSC per channel -> LDA (classification) or ridge (regression)."""
    info = splits.info
    segments = config.features.segments if info.task == "regression" else 1
    start = time.perf_counter()

    def compute(key: str):
        def run() -> dict[str, np.ndarray]:
            parts: dict[str, list] = {}
            for batch in splits.batches(key, max(config.data.batch_size, 256)):
                parts.setdefault("features", []).append(window_features(
                    batch["emg"], segments, channel_mask=batch["channel_mask"],
                    zc_threshold=config.classic.zc_threshold, ssc_threshold=config.classic.ssc_threshold))
                parts.setdefault("subject", []).append(batch["subject"])
                if info.task == "classification":
                    parts.setdefault("label", []).append(batch["label"])
                else:
                    parts.setdefault("target", []).append(segment_means(batch["target"], segments))
                    if key == "test":
                        parts.setdefault("target_full", []).append(batch["target"])
            return {k: np.concatenate(v) for k, v in parts.items()}

        settings = {"dataset": info.fingerprint, "split": key, "rows": rows_digest(splits.indices[key]), "segments": segments,
                    "zc": config.classic.zc_threshold, "ssc": config.classic.ssc_threshold, "channels": info.channels,
                    "channel_mask": True}  # fmt: skip
        return cached(workdir, f"classic-{key}", settings, config.features.cache, run)

    data = {key: compute(key) for key in SPLIT_KEYS}
    feature_seconds = time.perf_counter() - start
    flatten = _windows if info.task == "classification" else _rows
    standardize = Standardizer.fit(flatten(data["train"]["features"]))
    x = {key: standardize(flatten(data[key]["features"])).astype(np.float64) for key in SPLIT_KEYS}
    start = time.perf_counter()
    if info.task == "classification":
        grid = [float(v) for v in config.classic.shrinkage_grid]
        models = fit_lda(x["train"], data["train"]["label"], grid)
        record = _select_and_test(
            grid, "shrinkage", config.probe.selection_metric, lambda key, i: models[i].predict(x[key]),
            lambda key, p: classification_metrics(data[key]["label"], p, info.num_classes, data[key]["subject"]),
            data, info, {}, time.perf_counter() - start,
        )  # fmt: skip
    else:
        grid = [float(v) for v in config.classic.l2_grid]
        w, b = fit_ridge(x["train"], _rows(data["train"]["target"]), grid)
        record = _select_and_test(
            grid, "l2", config.probe.selection_metric,
            lambda key, i: (x[key] @ w[i] + b[i]).reshape(-1, segments, w.shape[-1]),
            lambda key, p: regression_metrics(data[key]["target"], p, info.target_names, data[key]["subject"]),
            data, info, {}, time.perf_counter() - start,
        )  # fmt: skip
    record.update(feature_dim=int(x["train"].shape[1]), feature_seconds=feature_seconds)
    return record


def baselines(model: TinyMyo, encoder: dict, splits: Splits, config: ml_collections.ConfigDict, workdir: storage.PathLike) -> dict:
    """The configured baselines: the same probe on a random encoder of the same architecture
    (unless the evaluated encoder is itself random), and the classic pipeline."""
    out = {}
    if config.baselines.random_encoder and encoder["init"] != "random":
        random_model, random_encoder = random_like(model.config, config.seed)
        out["random_encoder_probe"] = encoder_probe(random_model, random_encoder, splits, config, workdir, "random")
    if config.baselines.classic:
        out["classic_lda" if splits.info.task == "classification" else "classic_ridge"] = classic_baseline(splits, config, workdir)
    return out


# ----------------------------------------------------------------------------- run


def run_probe(config: ml_collections.ConfigDict, workdir: storage.PathLike) -> dict:
    """Probe `config.init`'s encoder on `config.benchmark`; writes WORKDIR/results.json,
    report.md and plots; returns the results dict (see `report.results_record`)."""
    start = time.perf_counter()
    if config.get("kind", "probe") != "probe":
        raise UserError(f"run_probe needs a probe config; this one is a {config.kind} config")
    require_fields(config, probe_config("uci_emg"), "evaluate.config.probe_config(BENCHMARK) (as configs/probe/*.py do)")
    workdir = storage.mkdir(workdir)
    storage.write_atomic(workdir / "config.json", config.to_json_best_effort(indent=2, sort_keys=True))
    splits = Splits(config)
    model, encoder = load_initial_model(config)
    print(f"probe {config.benchmark}: encoder {encoder['source']} (hash {encoder['checkpoint_hash']}), "
          f"splits {splits.info.split_sizes}, {splits.info.channels} channels x {splits.info.window} samples", flush=True)
    for warning in encoder_warnings(encoder, config.benchmark, splits.info.fs):
        print(f"warning: {warning}", file=sys.stderr, flush=True)
    name = "random_encoder_probe" if encoder["init"] == "random" else "probe"
    methods = {name: encoder_probe(model, encoder, splits, config, workdir, "init" if name == "probe" else "random")}
    methods.update(baselines(model, encoder, splits, config, workdir))
    results = report.results_record(
        "probe", config, encoder, splits.info, main=name, methods=methods, wall_time_s=time.perf_counter() - start
    )
    report.write_outputs(workdir, results, methods, splits.info, fs=splits.info.fs)
    results["wall_time_s"] = time.perf_counter() - start
    storage.write_atomic(workdir / "results.json", json.dumps(results, indent=2))
    return results

