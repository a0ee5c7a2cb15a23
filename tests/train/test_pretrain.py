"""Pretraining end to end on synthetic shards: outputs, resume after SIGKILL, device/process
counts that change nothing, and clear errors."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pytest

from tests.gcs_emulator import assert_no_scheme_folder, fresh_prefix
from tests.train.conftest import train_losses
from tinymyo_jax import storage
from tinymyo_jax.config_files import load_config
from tinymyo_jax.models.checkpoint import load_model_checkpoint
from tinymyo_jax.train.pretrain import pretrain

REPO = Path(__file__).resolve().parents[2]
TINY = "configs/pretrain/smoke.py:tiny"  # 6 steps, checkpoints at 2, 4, 6
DEADLINE_S = 240


def _command(workdir: Path, data_dir: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "tinymyo_jax.cli", "pretrain", "--config", TINY, "--workdir", str(workdir),
            f"--config.data.data_dir={data_dir}", *extra]


def _env(devices: int) -> dict[str, str]:
    env = dict(os.environ, JAX_PLATFORMS="cpu", JAX_NUM_CPU_DEVICES=str(devices), PYTHONUNBUFFERED="1")
    env.pop("XLA_FLAGS", None)
    return env


def _run(workdir: Path, data_dir: Path, devices: int = 1, *extra: str) -> subprocess.CompletedProcess:
    result = subprocess.run(_command(workdir, data_dir, *extra), cwd=REPO, env=_env(devices), capture_output=True,
                            text=True, timeout=DEADLINE_S)
    assert result.returncode == 0, result.stderr[-3000:]
    return result


def _run_two_processes(workdir: Path, data_dir: Path, port: int, log_dir: Path) -> None:
    """Two processes (launch/multiprocess_local.sh); their logs go to the local `log_dir`."""
    launcher = [str(REPO / "launch" / "multiprocess_local.sh"), "-n", "2", "--port", str(port),
                "--deadline", str(DEADLINE_S), "--log-dir", str(log_dir), "--"]
    result = subprocess.run(launcher + _command(workdir, data_dir), cwd=REPO, env=_env(1), capture_output=True,
                            text=True, timeout=DEADLINE_S + 30)
    logs = "".join(p.read_text()[-2000:] for p in sorted(log_dir.glob("*.log")))
    assert result.returncode == 0, logs


def _assert_same_losses(a: dict[int, float], b: dict[int, float], steps) -> None:
    for step in steps:
        assert a[step] == pytest.approx(b[step], rel=1e-5), f"step {step}: {a[step]} vs {b[step]}"


def _keep_only_checkpoint(workdir, step: int) -> None:
    checkpoints = storage.path(workdir) / "checkpoints"
    for name in storage.listdir(checkpoints):
        if name.isdigit() and int(name) != step:
            storage.remove_tree(checkpoints / name)


def _step_committed(workdir, step: int) -> bool:
    """orbax's checkpoint of `step` is complete: a renamed folder on local disks, a
    commit_success.txt object on GCS (object stores have no rename)."""
    folder = storage.path(workdir) / "checkpoints" / str(step)
    return storage.is_file(folder / "commit_success.txt") if storage.is_remote(folder) else storage.is_dir(folder)


@pytest.fixture(params=["local", "gs"])
def run_place(request, tmp_path, pretrain_data_dir):
    """(where workdirs go, data_dir): local folders, or gs:// URLs on the local GCS emulator;
    afterwards no local folder named "gs:" may exist (pathlib's reading of a gs:// URL)."""
    if request.param == "local":
        yield storage.path(tmp_path), pretrain_data_dir
        return
    bucket, data_dir = request.getfixturevalue("gcs_bucket"), request.getfixturevalue("gcs_pretrain_data_dir")
    yield storage.path(fresh_prefix(bucket, "runs")), data_dir
    assert_no_scheme_folder(REPO, tmp_path, Path(os.environ.get("TINYMYO_CACHE_DIR", tempfile.gettempdir())))
    assert not (Path(tempfile.gettempdir()) / "gs:").exists()


def test_a_run_writes_config_metrics_tensorboard_plots_and_a_loadable_checkpoint(pretrain_data_dir, tmp_path):
    config = load_config(TINY, [f"data.data_dir={pretrain_data_dir}"])
    summary = pretrain(config, tmp_path / "run")
    run = tmp_path / "run"
    assert json.loads((run / "config.json").read_text())["total_steps"] == 6
    losses = train_losses(run)
    assert sorted(losses) == [1, 2, 3, 4, 5, 6] and all(np.isfinite(list(losses.values())))
    record = json.loads((run / "metrics.jsonl").read_text().splitlines()[0])
    for key in ("loss", "masked_loss", "visible_loss", "grad_norm", "lr", "step_time_s", "windows_per_s", "tokens_per_s", "mfu"):
        assert key in record
    assert list((run / "tensorboard").glob("events.out.tfevents.*"))
    assert (run / "plots" / "reconstruction_step0000006.png").stat().st_size > 10_000
    validation = summary["validation"]
    assert validation["masked_loss"] > 0
    for name in ("neighbour_mean", "neighbour_level", "zero"):
        assert validation[f"baseline_{name}_masked_loss"] > 0
    model = load_model_checkpoint(run / "checkpoints")  # the trained model, for evaluation/export
    assert model.config.embed_dim == 32 and model.config.head == "reconstruction"


@pytest.mark.slow
def test_sigkill_then_the_same_command_continues_with_identical_losses(run_place):
    runs, data_dir = run_place
    reference = runs / "uninterrupted"
    _run(reference, data_dir)
    killed = runs / "killed"
    process = subprocess.Popen(_command(killed, data_dir), cwd=REPO, env=_env(1),
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + DEADLINE_S
    while not _step_committed(killed, 4) and process.poll() is None and time.time() < deadline:
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert _step_committed(killed, 4)
    resumed = _run(killed, data_dir)
    assert '"start_step": 4' in storage.read_text(killed / "summary.json")
    _assert_same_losses(train_losses(reference), train_losses(killed), range(1, 7))
    assert resumed.returncode == 0
    assert any(name.startswith("events.out.tfevents.") for name in storage.listdir(killed / "tensorboard"))
    assert storage.is_file(killed / "plots" / "reconstruction_step0000006.png")


@pytest.mark.slow
def test_two_processes_match_one_process_with_two_devices_and_checkpoints_move_between_them(run_place, tmp_path):
    runs, data_dir = run_place
    one_process = runs / "one_process_two_devices"
    _run(one_process, data_dir, 2)
    two_processes = runs / "two_processes"
    _run_two_processes(two_processes, data_dir, port=13000 + os.getpid() % 1000, log_dir=tmp_path / "two_processes_logs")
    reference = train_losses(one_process)
    _assert_same_losses(reference, train_losses(two_processes), range(1, 7))

    # A checkpoint written by 2 devices, resumed on 1 device and on 2 processes.
    for name, resume in (("on_one_device", lambda w: _run(w, data_dir, 1)),
                         ("on_two_processes", lambda w: _run_two_processes(w, data_dir, port=14000 + os.getpid() % 1000,
                                                                           log_dir=tmp_path / "resume_logs"))):
        workdir = runs / name
        storage.copy_tree(one_process, workdir)
        _keep_only_checkpoint(workdir, 4)
        storage.remove_tree(workdir / "metrics.jsonl")
        resume(workdir)
        resumed = train_losses(workdir)
        assert sorted(resumed) == [5, 6]
        _assert_same_losses(reference, resumed, (5, 6))


def test_a_missing_dataset_is_a_one_line_error(tmp_path):
    result = subprocess.run(_command(tmp_path / "run", tmp_path / "empty"), cwd=REPO, env=_env(1), capture_output=True,
                            text=True, timeout=DEADLINE_S)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr and "no prepared dataset" in result.stderr


def test_a_non_finite_loss_stops_the_run_naming_the_step_and_keeps_earlier_checkpoints(pretrain_data_dir, tmp_path):
    workdir = tmp_path / "diverged"
    result = subprocess.run(_command(workdir, pretrain_data_dir, "--config.optimizer.lr=1e30",
                                     "--config.optimizer.warmup_steps=0"),
                            cwd=REPO, env=_env(1), capture_output=True, text=True, timeout=DEADLINE_S)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "non-finite loss at step" in result.stderr
    failed_step = int(result.stderr.split("non-finite loss at step ")[1].split()[0])
    kept = sorted(int(p.name) for p in (workdir / "checkpoints").iterdir() if p.name.isdigit())
    assert kept and max(kept) <= failed_step  # nothing saved from the diverged step on


def test_init_from_loads_the_encoder_of_a_checkpoint(pretrain_data_dir, tmp_path):
    source = tmp_path / "source"
    pretrain(load_config(TINY, [f"data.data_dir={pretrain_data_dir}"]), source)
    # With lr = 0 training leaves the parameters where init_from put them.
    target = tmp_path / "target"
    pretrain(load_config(TINY, [f"data.data_dir={pretrain_data_dir}", f"init_from={source / 'checkpoints'}",
                                "optimizer.lr=0", "seed=9"]), target)
    from tinymyo_jax.models.checkpoint import params_of
    import jax

    loaded = params_of(load_model_checkpoint(source / "checkpoints"))["encoder"]
    trained = params_of(load_model_checkpoint(target / "checkpoints"))["encoder"]
    jax.tree.map(np.testing.assert_array_equal, loaded, trained)


@pytest.mark.slow
def test_fsdp_sharding_gives_the_data_parallel_losses(pretrain_data_dir, tmp_path):
    data_parallel, fsdp = tmp_path / "dp", tmp_path / "fsdp"
    _run(data_parallel, pretrain_data_dir, 2)
    _run(fsdp, pretrain_data_dir, 2, "--config.mesh.fsdp=2", "--config.mesh.fsdp_min_params=1")
    _assert_same_losses(train_losses(data_parallel), train_losses(fsdp), range(1, 7))


@pytest.mark.parametrize(
    "script,args,expected",
    [
        ("local.sh", ["--dry-run", "--", "tinymyo", "pretrain", "--config", "c"], "tinymyo pretrain --config c"),
        ("multiprocess_local.sh", ["-n", "2", "--deadline", "60", "--dry-run", "--", "tinymyo", "pretrain"],
         "TINYMYO_PROCESS_ID=1 timeout -s KILL 60 tinymyo pretrain"),
        ("tpu_vm.sh", ["--tpu", "pod", "--zone", "z", "--dry-run", "--", "tinymyo", "pretrain"], "--worker=all"),
        ("slurm.sbatch", ["--dry-run", "c.py", "runs/w"], "TINYMYO_DISTRIBUTED=auto"),
    ],
)
def test_launchers_print_what_they_would_run(script, args, expected):
    result = subprocess.run(["bash", str(REPO / "launch" / script), *args], capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stderr
    assert expected in result.stdout
