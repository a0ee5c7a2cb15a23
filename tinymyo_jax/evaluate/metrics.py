"""Downstream metrics, in numpy: what every probe, fine-tune and baseline reports.

Classification (labels are integer class indices):
  accuracy            correct / windows.
  balanced_accuracy   mean recall over the classes present in y_true.
  macro_f1            mean F1 = 2·TP / (2·TP + FP + FN) over the classes present in y_true or
                      y_pred (a class predicted but never true counts with F1 = 0).
  per_subject_accuracy  {subject id (str): accuracy on that subject's windows}.
  confusion_matrix    counts [true class][predicted class], num_classes × num_classes.

Regression (targets (N, W, K): windows × samples × degrees of actuation, in degrees):
  mae, rmse           over every window, sample and target dimension (mae is also the mean of the
                      per-dimension MAEs, the dimensions having equal counts).
  r2                  mean over dimensions of 1 − SS_res / SS_tot, SS_tot around the dimension's
                      mean over the evaluated windows (scikit-learn's "uniform_average").
  *_per_target        the same per dimension, keyed by target name.
  per_subject_mae     {subject id (str): MAE on that subject's windows}.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np


def confusion_matrix(y_true: np.ndarray, y_pred: np.ndarray, num_classes: int) -> np.ndarray:
    """(num_classes, num_classes) int64 counts, rows = true class, columns = predicted class."""
    y_true, y_pred = np.asarray(y_true, np.int64), np.asarray(y_pred, np.int64)
    matrix = np.zeros((num_classes, num_classes), np.int64)
    np.add.at(matrix, (y_true, y_pred), 1)
    return matrix


def classification_metrics(
    y_true: np.ndarray, y_pred: np.ndarray, num_classes: int, subjects: np.ndarray | None = None
) -> dict:
    """The classification metrics of the module docstring (floats, a dict and a nested list)."""
    y_true, y_pred = np.asarray(y_true, np.int64), np.asarray(y_pred, np.int64)
    if y_true.shape != y_pred.shape or y_true.ndim != 1:
        raise ValueError(f"y_true {y_true.shape} and y_pred {y_pred.shape} must be equal 1-D shapes")
    matrix = confusion_matrix(y_true, y_pred, num_classes)
    true_counts, pred_counts, hits = matrix.sum(1), matrix.sum(0), np.diag(matrix)
    present = true_counts > 0
    recall = hits[present] / true_counts[present]
    in_either = present | (pred_counts > 0)
    f1 = 2 * hits[in_either] / (true_counts[in_either] + pred_counts[in_either])
    metrics = {
        "accuracy": float(np.mean(y_true == y_pred)) if y_true.size else float("nan"),
        "balanced_accuracy": float(recall.mean()) if recall.size else float("nan"),
        "macro_f1": float(f1.mean()) if f1.size else float("nan"),
        "num_windows": int(y_true.size),
        "confusion_matrix": matrix.tolist(),
    }
    if subjects is not None:
        metrics["per_subject_accuracy"] = per_group(np.asarray(subjects), (y_true == y_pred).astype(np.float64))
    return metrics


def regression_metrics(
    y_true: np.ndarray, y_pred: np.ndarray, target_names: Sequence[str], subjects: np.ndarray | None = None
) -> dict:
    """The regression metrics of the module docstring; y_true, y_pred (N, W, K) or (N, K)."""
    y_true, y_pred = np.asarray(y_true, np.float64), np.asarray(y_pred, np.float64)
    if y_true.shape != y_pred.shape:
        raise ValueError(f"y_true {y_true.shape} and y_pred {y_pred.shape} differ in shape")
    k = y_true.shape[-1]
    if len(target_names) != k:
        raise ValueError(f"{len(target_names)} target names for {k} target dimensions")
    error = (y_pred - y_true).reshape(-1, k)
    truth = y_true.reshape(-1, k)
    mae_per = np.abs(error).mean(0)
    mse_per = (error**2).mean(0)
    ss_tot = ((truth - truth.mean(0)) ** 2).sum(0)
    ss_res = (error**2).sum(0)
    with np.errstate(divide="ignore", invalid="ignore"):
        r2_per = np.where(ss_tot > 0, 1.0 - ss_res / ss_tot, np.nan)
    metrics = {
        "mae": float(np.abs(error).mean()),
        "rmse": float(np.sqrt((error**2).mean())),
        "r2": float(np.mean(r2_per)),
        "mae_per_target": dict(zip(target_names, map(float, mae_per))),
        "rmse_per_target": dict(zip(target_names, map(float, np.sqrt(mse_per)))),
        "r2_per_target": dict(zip(target_names, map(float, r2_per))),
        "num_windows": int(y_true.shape[0]),
    }
    if subjects is not None:
        per_window = np.abs(y_pred - y_true).reshape(y_true.shape[0], -1).mean(1)
        metrics["per_subject_mae"] = per_group(np.asarray(subjects), per_window)
    return metrics


def per_group(groups: np.ndarray, values: np.ndarray) -> dict[str, float]:
    """{str(group): mean of values over the group's rows}, groups in sorted order."""
    return {str(int(g)): float(values[groups == g].mean()) for g in np.unique(groups)}


# The metric a selection maximises, and its sign: selection code compares `sign · value`.
HIGHER_IS_BETTER = {"accuracy": True, "balanced_accuracy": True, "macro_f1": True, "mae": False, "rmse": False, "r2": True}


def score(metrics: dict, name: str) -> float:
    """A metric turned into "higher is better" (errors negated), for model selection."""
    if name not in HIGHER_IS_BETTER:
        raise ValueError(f"cannot select on {name!r}; choose from {sorted(HIGHER_IS_BETTER)}")
    value = float(metrics[name])
    return value if HIGHER_IS_BETTER[name] else -value
