"""The pure parts of benchmarks/real_emg.py: its tables and the issue-11 acceptance arithmetic."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

_PATH = Path(__file__).resolve().parent.parent / "benchmarks" / "real_emg.py"
_spec = importlib.util.spec_from_file_location("real_emg_benchmark", _PATH)
bench = importlib.util.module_from_spec(_spec)
sys.modules[_spec.name] = bench  # dataclasses look their module up
_spec.loader.exec_module(bench)


def _row(rope, normalization, loss, corpus="openhdemg", scale=1.0):
    return {"corpus": corpus, "rope": rope, "normalization": normalization, "masked_loss": loss, "windows": 25,
            "baseline_zero_masked_loss": 0.0534 * scale, "baseline_neighbour_level_masked_loss": 0.0647 * scale,
            "baseline_channel_mean_masked_loss": 0.0237 * scale}  # fmt: skip


ROWS = [_row("time", "minmax_channel", 0.0269), _row("time_channel", "minmax_channel", 0.0150),
        _row("time", "window_scale", 0.0100, scale=0.5), _row("time_channel", "window_scale", 0.0080, scale=0.5)]  # fmt: skip


def test_loss_table_lists_each_rope_with_its_ratio_and_bolds_the_lowest():
    table = bench.loss_table(ROWS, ["time", "time_channel"]).splitlines()
    assert table[0] == ("| corpus | normalisation | val. windows | rope=time | rope=time_channel | zero | "
                        "neighbour level | channel mean |")  # fmt: skip
    # 0.0150 / 0.0237 = 0.63; the model is the lowest of the row, so it is bold
    assert table[2] == "| openhdemg | minmax_channel | 25 | 0.0269 (1.14) | **0.0150 (0.63)** | 0.0534 | 0.0647 | 0.0237 |"
    assert table[3].startswith("| openhdemg | window_scale | 25 | 0.0100 (0.84) | **0.0080 (0.68)** | 0.0267 |")
    assert len(table) == 4


def test_acceptance_compares_within_a_normalisation_and_to_the_best_baseline():
    check = bench.acceptance(ROWS, "openhdemg", bench.Variant("time_channel", "minmax_channel"))
    assert check["below_best_baseline"] == pytest.approx(1 - 0.0150 / 0.0237)
    assert check["below_rope_time"] == pytest.approx(1 - 0.0150 / 0.0269)
    assert bench.acceptance(ROWS, "emgflow", bench.Variant("time", "none")) == {}


def test_probe_table_puts_methods_in_rows_and_benchmarks_in_columns():
    rows = [{"benchmark": "uci_emg", "method": "classic", "accuracy": 0.9, "balanced_accuracy": 0.85},
            {"benchmark": "generic/libemg", "method": "classic", "accuracy": 0.5, "balanced_accuracy": 0.5},
            {"benchmark": "uci_emg", "method": "pretrained time-none", "accuracy": 0.75, "balanced_accuracy": 0.7}]  # fmt: skip
    table = bench.probe_table(rows).splitlines()
    assert table[0] == "| method | uci_emg | generic/libemg |"
    assert table[2] == "| classic | 90.0% (bal. 85.0%) | 50.0% (bal. 50.0%) |"
    assert table[3] == "| pretrained time-none | 75.0% (bal. 70.0%) | n/a |"
