"""How close one set of model outputs is to another, and the task metric, for export reports.

`kind` says what the outputs are: "classification" (logits (n, K): top-1 agreement matters),
"regression" ((n, L, K) curves), "embedding" / "tokens" / "reconstruction" (vectors: relative
error and cosine similarity).
"""

from __future__ import annotations

import numpy as np


def output_kind(head: str, output: str) -> str:
    """The report's kind for a model head and an export output."""
    return head if output == "head" else output


def compare(kind: str, reference: np.ndarray, approx: np.ndarray) -> dict[str, float]:
    """Deviation of `approx` from `reference` (same shape, leading axis = windows)."""
    reference = np.asarray(reference, np.float64)
    approx = np.asarray(approx, np.float64)
    if reference.shape != approx.shape:
        raise ValueError(f"outputs differ in shape: {reference.shape} vs {approx.shape}")
    error = approx - reference
    result = {
        "max_abs_error": float(np.abs(error).max()),
        "relative_rms_error": float(np.sqrt(np.mean(error**2) / max(np.mean(reference**2), 1e-30))),
    }
    if kind == "classification":
        result["top1_agreement"] = float(np.mean(reference.argmax(-1) == approx.argmax(-1)))
    else:
        flat_ref, flat_app = reference.reshape(len(reference), -1), approx.reshape(len(approx), -1)
        cosine = np.sum(flat_ref * flat_app, 1) / np.maximum(
            np.linalg.norm(flat_ref, axis=1) * np.linalg.norm(flat_app, axis=1), 1e-30
        )
        result["mean_cosine_similarity"] = float(cosine.mean())
    return result


def task_metric(kind: str, outputs: np.ndarray, labels: np.ndarray | None, targets: np.ndarray | None) -> dict[str, float] | None:
    """Accuracy (classification with labels) or RMSE / MAE (regression with targets of the
    output's shape); None when the windows carry nothing to score against."""
    outputs = np.asarray(outputs, np.float64)
    if kind == "classification" and labels is not None:
        return {"accuracy": float(np.mean(outputs.argmax(-1) == np.asarray(labels)))}
    if kind == "regression" and targets is not None and np.shape(targets) == outputs.shape:
        error = outputs - np.asarray(targets, np.float64)
        return {"rmse": float(np.sqrt(np.mean(error**2))), "mae": float(np.mean(np.abs(error)))}
    return None


def worst_layers(layers: list[dict], count: int = 5) -> list[dict]:
    """The ops that added the most int8 error (relative RMS, output minus worst input)."""
    ranked = sorted(layers, key=lambda row: row.get("error_added", 0.0), reverse=True)
    keep = ("op", "tensor", "shape", "relative_rms_error", "error_added", "scale", "max_abs_value")
    return [{k: row.get(k) for k in keep} for row in ranked[:count]]
