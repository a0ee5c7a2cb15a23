"""Metrics against values computed by hand on tiny cases."""

from __future__ import annotations

import numpy as np
import pytest

from tinymyo_jax.evaluate.metrics import classification_metrics, confusion_matrix, regression_metrics, score

Y_TRUE = np.array([0, 0, 1, 1, 2, 2])
Y_PRED = np.array([0, 1, 1, 1, 0, 2])
SUBJECTS = np.array([1, 1, 2, 2, 2, 2])


def test_confusion_matrix_counts_rows_true_columns_predicted():
    expected = [[1, 1, 0, 0], [0, 2, 0, 0], [1, 0, 1, 0], [0, 0, 0, 0]]
    np.testing.assert_array_equal(confusion_matrix(Y_TRUE, Y_PRED, 4), expected)


def test_classification_metrics_match_hand_computed_values():
    m = classification_metrics(Y_TRUE, Y_PRED, num_classes=4, subjects=SUBJECTS)
    assert m["accuracy"] == pytest.approx(4 / 6)
    # recalls 1/2, 2/2, 1/2 over the three classes present (class 3 never occurs)
    assert m["balanced_accuracy"] == pytest.approx((0.5 + 1.0 + 0.5) / 3)
    # F1 = 2TP / (2TP + FP + FN): class 0: 2/4, class 1: 4/5, class 2: 2/3
    assert m["macro_f1"] == pytest.approx((0.5 + 0.8 + 2 / 3) / 3)
    assert m["per_subject_accuracy"] == pytest.approx({"1": 0.5, "2": 0.75})
    assert m["confusion_matrix"][2] == [1, 0, 1, 0] and m["num_windows"] == 6


def test_a_class_predicted_but_never_true_counts_in_macro_f1_not_in_balanced_accuracy():
    m = classification_metrics(np.array([0, 0]), np.array([0, 1]), num_classes=3)
    assert m["balanced_accuracy"] == pytest.approx(0.5)
    assert m["macro_f1"] == pytest.approx((2 / 3 + 0.0) / 2)


def test_regression_metrics_match_hand_computed_values():
    truth = np.array([[[0, 10], [2, 10]], [[4, 20], [6, 20]]], float)  # (N=2, W=2, K=2)
    error = np.array([[[1, 0], [-1, 0]], [[1, 0], [-1, -4]]], float)
    m = regression_metrics(truth, truth + error, ["a", "b"], subjects=np.array([5, 7]))
    assert m["mae_per_target"] == pytest.approx({"a": 1.0, "b": 1.0})
    assert m["mae"] == pytest.approx(1.0)
    assert m["rmse"] == pytest.approx(np.sqrt(20 / 8))
    assert m["rmse_per_target"] == pytest.approx({"a": 1.0, "b": 2.0})
    # a: truth 0,2,4,6 (SS_tot 20), SS_res 4 -> 0.8; b: truth 10,10,20,20 (SS_tot 100), SS_res 16 -> 0.84
    assert m["r2_per_target"] == pytest.approx({"a": 0.8, "b": 0.84})
    assert m["r2"] == pytest.approx(0.82)
    assert m["per_subject_mae"] == pytest.approx({"5": 0.5, "7": 1.5})


def test_score_makes_errors_higher_is_better():
    assert score({"mae": 2.0}, "mae") == -2.0 and score({"accuracy": 0.7}, "accuracy") == 0.7
    with pytest.raises(ValueError, match="cannot select"):
        score({"loss": 1.0}, "loss")
