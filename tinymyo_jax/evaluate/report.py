"""What a downstream run leaves in its workdir: results.json, report.md and plots.

results.json (one dict; `run_probe` and `finetune` return it):
  kind, benchmark, task        "probe" | "finetune", the benchmark, classification | regression
  main                         the evaluated method's name ("probe", "finetune", or
                               "random_encoder_probe" when the evaluated encoder is random)
  metrics                      its test metrics (metrics.py)
  details                      its record: validation metrics, the selection (grid, scores,
                               chosen value), timings, encoder; fine-tuning: training history
  baselines                    {name: record} for random_encoder_probe, classic_lda / classic_ridge
  config, checkpoint, seeds, data, wall_time_s, environment, plots
"""

from __future__ import annotations

import datetime
import io
import json

import jax
import ml_collections
import numpy as np

from tinymyo_jax import storage
from tinymyo_jax.evaluate.data import DatasetInfo
from tinymyo_jax.evaluate.encoders import encoder_warnings

TITLES = {
    "probe": "linear probe, evaluated encoder",
    "finetune": "fine-tuned, evaluated encoder",
    "random_encoder_probe": "linear probe, random encoder",
    "classic_lda": "RMS/MAV/WL/ZC/SSC + LDA",
    "classic_ridge": "RMS/MAV/WL/ZC/SSC + ridge",
}


def results_record(kind: str, config: ml_collections.ConfigDict, encoder: dict, info: DatasetInfo, *, main: str,
                   methods: dict[str, dict], wall_time_s: float, extra: dict | None = None) -> dict:  # fmt: skip
    public = {name: {k: v for k, v in record.items() if not k.startswith("_")} for name, record in methods.items()}
    return {
        "kind": kind,
        "benchmark": config.benchmark,
        "task": info.task,
        "main": main,
        "metrics": public[main]["metrics"],
        "details": public[main],
        "baselines": {name: record for name, record in public.items() if name != main},
        "config": json.loads(config.to_json_best_effort()),
        "checkpoint": {"init": encoder["init"], "source": encoder["source"], "hash": encoder["checkpoint_hash"],
                       "model_config": json.loads(encoder["model_config"])},  # fmt: skip
        "seeds": {"seed": int(config.seed), "random_encoder_seed": int(config.seed)},
        "data": {
            "dataset": info.name, "directory": str(info.directory), "fingerprint": info.fingerprint[:16],
            "window": info.window, "channels": info.channels, "num_classes": info.num_classes,
            "class_names": list(info.class_names), "target_names": list(info.target_names), "split_sizes": info.split_sizes,
            "rate_hz": info.fs,
        },  # fmt: skip
        "warnings": encoder_warnings(encoder, config.benchmark, info.fs),
        "wall_time_s": wall_time_s,
        "environment": {"backend": jax.default_backend(), "devices": jax.device_count(), "jax": jax.__version__},
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        **(extra or {}),
    }


# ----------------------------------------------------------------------------- the table


def _columns(task: str) -> list[tuple[str, str, str]]:
    """(metric key, header, format) per column."""
    if task == "classification":
        return [("accuracy", "accuracy", "pct"), ("balanced_accuracy", "balanced acc.", "pct"), ("macro_f1", "macro-F1", "pct")]
    return [("mae", "MAE (deg)", "f2"), ("rmse", "RMSE (deg)", "f2"), ("r2", "R2", "f3")]


def _format(value: float, kind: str) -> str:
    if value is None or not np.isfinite(value):
        return "n/a"
    return f"{100 * value:.1f}%" if kind == "pct" else f"{value:.2f}" if kind == "f2" else f"{value:.3f}"


def _selection(record: dict) -> str:
    selection = record.get("selection")
    if not selection:
        return record.get("summary", "")
    return f"{selection['parameter']}={selection['chosen']:g}"


def format_table(results: dict) -> str:
    """The results as a Markdown table: the evaluated method first, then the baselines."""
    columns = _columns(results["task"])
    header = ["method", *(h for _, h, _ in columns), "chosen on validation"]
    rows = [[TITLES.get(results["main"], results["main"]), *(_format(results["metrics"][k], f) for k, _, f in columns),
             _selection(results["details"])]]  # fmt: skip
    for name, record in results["baselines"].items():
        rows.append([TITLES.get(name, name), *(_format(record["metrics"][k], f) for k, _, f in columns), _selection(record)])
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    line = lambda cells: "| " + " | ".join(str(c).ljust(w) for c, w in zip(cells, widths)) + " |"  # noqa: E731
    return "\n".join([line(header), "|" + "|".join("-" * (w + 2) for w in widths) + "|", *map(line, rows)])


# ----------------------------------------------------------------------------- report.md and plots


def write_outputs(workdir: storage.PathLike, results: dict, methods: dict[str, dict], info: DatasetInfo, *, fs: float | None = None) -> None:
    """Plots (a confusion matrix per method, or one trajectories figure with every method's
    predictions), then report.md; records the plot paths in results["plots"]."""
    plots = []
    with_predictions = {name: r for name, r in methods.items() if r.get("_predictions") is not None}
    if info.task == "classification":
        for name, record in with_predictions.items():
            path = workdir / "plots" / f"confusion_{name}.png"
            plot_confusion(np.asarray(record["metrics"]["confusion_matrix"]), info.class_names, path,
                           title=f"{results['benchmark']}: {TITLES.get(name, name)} (test)")  # fmt: skip
            plots.append(str(path.relative_to(workdir)))
    elif with_predictions:
        truth = next(r["_targets"] for r in with_predictions.values())
        path = workdir / "plots" / "trajectories.png"
        plot_trajectories(truth, {TITLES.get(n, n): r["_predictions"] for n, r in with_predictions.items()},
                          info.target_names, path, title=f"{results['benchmark']}: true and predicted DoA (test windows)",
                          windows=results["config"]["report"]["trajectory_windows"], fs=fs)  # fmt: skip
        plots.append(str(path.relative_to(workdir)))
    results["plots"] = plots
    storage.write_atomic(workdir / "report.md", report_markdown(results))


def _input_normalization(config: dict, checkpoint: dict) -> str:
    """The normalisation the encoder was fed: "checkpoint" shown with the stored mode it meant."""
    requested = config["data"]["input_normalization"]
    if requested != "checkpoint":
        return requested
    return f"{checkpoint['model_config'].get('normalization', 'minmax_channel')} (the checkpoint's own)"


def report_markdown(results: dict) -> str:
    checkpoint, data = results["checkpoint"], results["data"]
    lines = [
        f"# {results['kind']}: {results['benchmark']} ({results['task']})",
        "",
        format_table(results),
        "",
        f"- encoder: `{checkpoint['source']}` (init `{checkpoint['init']}`, parameter hash `{checkpoint['hash']}`); "
        f"random-encoder baseline seed {results['seeds']['random_encoder_seed']}, run seed {results['seeds']['seed']}",
        f"- data: `{data['directory']}` ({data['channels']} channels x {data['window']} samples), windows per split "
        + ", ".join(f"{k} {v}" for k, v in data["split_sizes"].items()),
    ]
    config = results["config"]
    if "features" in config:
        lines.append(f"- features: fusion `{config['features']['fusion']}`, pooling `{config['features']['pooling']}`, "
                     f"{config['features']['segments']} segment(s) per window, input normalisation "
                     f"`{_input_normalization(config, checkpoint)}`")  # fmt: skip
    training = results["details"].get("training")
    if training:
        lines.append(f"- fine-tuning: {training['steps']} steps ({training['epochs_run']:.1f} epochs), best validation "
                     f"{training['monitor']} {training['best_value']:.4f} at step {training['best_step']}"
                     f"{', stopped early' if training['stopped_early'] else ''}")  # fmt: skip
    lines.extend(f"- **warning**: {warning}" for warning in results.get("warnings", []))
    lines.append(f"- wall time {results['wall_time_s']:.1f} s on {results['environment']['backend']} "
                 f"x{results['environment']['devices']}")  # fmt: skip
    methods = {results["main"]: results["details"], **results["baselines"]}
    per_subject = "per_subject_accuracy" if results["task"] == "classification" else "per_subject_mae"
    subjects = sorted({s for r in methods.values() for s in r["metrics"].get(per_subject, {})}, key=int)
    if subjects:
        heading = "Per-subject accuracy (test)" if results["task"] == "classification" else "Per-subject MAE (test, degrees)"
        lines += ["", f"## {heading}", "",
                  "| method | " + " | ".join(f"S{s}" for s in subjects) + " |", "|---|" + "---|" * len(subjects)]  # fmt: skip
        for name, record in methods.items():
            values = record["metrics"].get(per_subject, {})
            cells = [(_format(values[s], "pct" if results["task"] == "classification" else "f2") if s in values else "")
                     for s in subjects]  # fmt: skip
            lines.append(f"| {TITLES.get(name, name)} | " + " | ".join(cells) + " |")
    if results["task"] == "regression":
        names = data["target_names"]
        lines += ["", "## MAE per degree of actuation (test, degrees)", "",
                  "| method | " + " | ".join(names) + " |", "|---|" + "---|" * len(names)]  # fmt: skip
        for name, record in methods.items():
            lines.append(f"| {TITLES.get(name, name)} | "
                         + " | ".join(f"{record['metrics']['mae_per_target'][t]:.2f}" for t in names) + " |")  # fmt: skip
    lines += ["", "## Selection on the validation split", ""]
    for name, record in methods.items():
        selection = record.get("selection")
        if selection:
            scores = ", ".join(f"{g:g}: {s:.4f}" for g, s in zip(selection["grid"], selection["validation_scores"]))
            edge = " (at the edge of the grid: widen it)" if selection.get("at_grid_edge") else ""
            lines.append(f"- {TITLES.get(name, name)}: {selection['metric']} by {selection['parameter']} ({scores}); "
                         f"chose {selection['chosen']:g}{edge}")  # fmt: skip
    if results.get("plots"):
        lines += ["", "## Plots", ""] + [f"![{p}]({p})" for p in results["plots"]]
    return "\n".join(lines) + "\n"


def _save_png(fig, path: storage.PathLike, *, dpi: int) -> None:
    """Save a matplotlib figure as a PNG at `path` (local or on object storage)."""
    png = io.BytesIO()
    fig.savefig(png, dpi=dpi, format="png")
    storage.write_bytes(path, png.getvalue())


def plot_confusion(matrix: np.ndarray, class_names, path: storage.PathLike, *, title: str) -> storage.PathLike:
    """Row-normalised confusion matrix (recall per true class) with counts in small classes."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    k = matrix.shape[0]
    rates = matrix / np.maximum(matrix.sum(axis=1, keepdims=True), 1)
    size = min(4 + 0.22 * k, 16)
    fig, ax = plt.subplots(figsize=(size, size * 0.9))
    image = ax.imshow(rates, cmap="Blues", vmin=0, vmax=1)
    ticks = np.arange(k)
    labels = list(class_names) if len(class_names) == k else [str(i) for i in ticks]
    ax.set_xticks(ticks, labels, rotation=90, fontsize=7 if k > 12 else 9)
    ax.set_yticks(ticks, labels, fontsize=7 if k > 12 else 9)
    if k <= 12:
        for i in range(k):
            for j in range(k):
                if matrix[i, j]:
                    ax.text(j, i, str(matrix[i, j]), ha="center", va="center", fontsize=8,
                            color="white" if rates[i, j] > 0.5 else "black")  # fmt: skip
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class")
    ax.set_title(title, fontsize=10)
    fig.colorbar(image, ax=ax, fraction=0.046, label="fraction of the true class")
    fig.tight_layout()
    _save_png(fig, path, dpi=90)
    plt.close(fig)
    return path


def plot_trajectories(truth: np.ndarray, predictions: dict[str, np.ndarray], names, path: storage.PathLike, *, title: str,
                      windows: int = 3, fs: float | None = None) -> storage.PathLike:  # fmt: skip
    """True (N, W, K) trajectories of `windows` test windows spread over the split, with each
    method's predictions {label: (N, W, K)} drawn over them."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    n, w, k = truth.shape
    picks = np.unique(np.linspace(0, n - 1, max(1, min(windows, n))).round().astype(int))
    t = np.arange(w) / fs * 1e3 if fs else np.arange(w)
    colors = ["tab:red", "tab:blue", "tab:green", "tab:orange", "tab:purple"]
    fig, axes = plt.subplots(k, len(picks), figsize=(3.2 * len(picks) + 1, 1.6 * k + 0.8), sharex=True, squeeze=False)
    for column, index in enumerate(picks):
        for row in range(k):
            ax = axes[row, column]
            ax.plot(t, truth[index, :, row], color="black", lw=1.4, label="true")
            for (label, prediction), color in zip(predictions.items(), colors):
                ax.plot(t, prediction[index, :, row], color=color, lw=0.9, label=label)
            if column == 0:
                ax.set_ylabel(f"{names[row]} (deg)", fontsize=8)
        axes[0, column].set_title(f"test window {index}", fontsize=9)
        axes[-1, column].set_xlabel("time (ms)" if fs else "sample")
    axes[0, 0].legend(fontsize=6, loc="best")
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    _save_png(fig, path, dpi=80)
    plt.close(fig)
    return path
