"""benchmarks/transfer.py end to end on real files: a tiny pretraining, two participants, --quick.

Checks what the run writes (every method's accuracies per participant, the checkpoint it
evaluated, the report's table, the plot) and that a rerun only redoes what is missing.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO, real_dir
from tinymyo_jax.models.checkpoint import load_model_checkpoint

PARTICIPANTS = ("PreTrainingDataset/Female0", "PreTrainingDataset/Male3",
                "EvaluationDataset/Male0", "EvaluationDataset/Male1", "EvaluationDataset/Male15")  # fmt: skip


def run_benchmark(raw: Path, workdir: Path) -> subprocess.CompletedProcess:
    command = [sys.executable, str(REPO / "benchmarks" / "transfer.py"), "--workdir", str(workdir), "--quick",
               "--myo-dir", str(raw), "--cycles", "1,4", "--no-uci",
               "--window-config", "w200",  # the default, named: the run must not depend on it
               "--finetune-protocols", "k1"]  # fmt: skip
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    done = subprocess.run(command, capture_output=True, text=True, env=env, cwd=REPO, timeout=900)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    return done


@pytest.mark.slow
def test_a_quick_transfer_run_reports_every_method_and_resumes_only_what_is_missing(tmp_path):
    source = real_dir() / "myo_armband"
    if not (source / "EvaluationDataset").is_dir():
        pytest.skip(f"the real Myo armband corpus is not at {source} (set TINYMYO_REAL)")
    raw = tmp_path / "raw"
    for name in PARTICIPANTS:
        (raw / name).parent.mkdir(parents=True, exist_ok=True)
        os.symlink(source / name, raw / name)
    workdir = tmp_path / "run"
    run_benchmark(raw, workdir)

    results = json.loads((workdir / "results.json").read_text())
    assert Path(results["checkpoint"]).is_dir() and results["checkpoint"].startswith(str(workdir / "pretrain"))
    # the checkpoint knows the rate of the windows it learnt from: myo_armband/w200's 200 Hz
    assert load_model_checkpoint(results["checkpoint"]).config.input_rate_hz == 200.0
    assert results["protocols"] == ["k1", "k4", "new_user"] and results["participants"] == 2
    table = results["results"]
    for method in ("lda", "lda_log", "probe_pretrained", "probe_random_s0"):
        for protocol in results["protocols"]:
            row = table[method][protocol]
            assert set(row["per_participant"]) == {"Male0", "Male1"}
            assert all(0.0 <= a <= 1.0 for a in row["per_participant"].values())
            assert row["hyperparameter"] is not None  # chosen on Male15
    # session-standardised read-outs: the LDA ones on every protocol, the MLP on the new user only
    for method in ("lda_session", "lda_log_session", "ldaprobe_pretrained_session"):
        assert set(table[method]) == {"k1", "k4", "new_user"}
    for method in ("mlp_classic_session", "mlp_logclassic_session", "mlp_pretrained_session", "mlp_random_s0_session"):
        assert set(table[method]) == {"new_user"}
        assert set(table[method]["new_user"]["per_participant"]) == {"Male0", "Male1"}
        assert table[method]["new_user"]["hyperparameter"] in (10, 20, 40)
    # the classic pipeline on real recordings of one user is far above chance (1/7) with 4 cycles
    assert table["lda"]["k4"]["min"] > 0.8
    # fine-tunes: the first participant, 1 cycle, both encoders
    for method in ("finetune_pretrained", "finetune_random_s0"):
        assert set(table[method]["k1"]["per_participant"]) == {"Male0"}
    assert "probe_pretrained vs lda (k1)" in results["comparisons"]
    assert "ldaprobe_pretrained vs lda_log (k4)" in results["comparisons"]
    report = (workdir / "report.md").read_text()
    lda = table["lda"]["k4"]
    assert f"{100 * lda['mean']:.1f} ± {100 * lda['std']:.1f}" in report
    assert "classic RMS/MAV/WL/ZC/SSC + LDA" in report and "Wall time per stage" in report
    assert (workdir / "transfer.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert set(results["timings_s"]) >= {"prepare", "pretrain", "features", "probes_and_lda", "finetunes"}

    # a rerun redoes the one unit that is missing, and only it
    units = sorted((workdir / "units").rglob("*.json"))
    removed = workdir / "units" / "probe_pretrained" / "k1" / "111.json"
    before = json.loads(removed.read_text())
    removed.unlink()
    stamps = {p: p.stat().st_mtime_ns for p in units if p != removed}
    run_benchmark(raw, workdir)
    assert json.loads(removed.read_text())["accuracy"] == before["accuracy"]
    assert {p: p.stat().st_mtime_ns for p in stamps} == stamps


def test_a_fine_tune_takes_its_random_encoders_seed_or_the_first_seed_or_zero_without_seeds(monkeypatch):
    monkeypatch.syspath_prepend(str(REPO / "benchmarks"))  # transfer.py imports its neighbours by name
    from transfer import finetune_seed

    assert finetune_seed("random_s3", [0, 3]) == 3
    assert finetune_seed("pretrained", [2, 5]) == 2
    assert finetune_seed("pretrained", []) == 0  # --seeds '': no random encoder, and no crash
