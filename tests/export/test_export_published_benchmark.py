"""benchmarks/export_published.py's held-out windows: cut from raw UCI files as `tinymyo prep`
cuts them, at a finer stride."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np

from tinymyo_jax.data import embedded

_PATH = Path(__file__).resolve().parents[2] / "benchmarks" / "export_published.py"
_spec = importlib.util.spec_from_file_location("export_published_benchmark", _PATH)
bench = importlib.util.module_from_spec(_spec)
sys.modules[_spec.name] = bench
_spec.loader.exec_module(bench)


def test_raw_uci_windows_at_half_the_stride_hold_every_prepared_window(tmp_path):
    raw = embedded.write_raw(tmp_path / "raw", subjects=(31,))  # a test subject of TinyMyo's split
    fine = bench.raw_uci_windows(raw, ("test",), 250, 8)
    coarse = bench.raw_uci_windows(raw, ("test",), 500, 8)
    assert fine.emg.shape[1:] == (8, 1000) and fine.emg.dtype == np.float32
    assert len(fine.labels) == len(fine.emg) > len(coarse.emg) > 0
    assert "stride 250" in fine.source
    flat = fine.emg.reshape(len(fine.emg), -1)
    for window, label in zip(coarse.emg, coarse.labels):
        match = np.flatnonzero((flat == window.reshape(-1)).all(axis=1))
        assert len(match) == 1 and fine.labels[match[0]] == label
