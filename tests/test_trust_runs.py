"""Issue 23, runs / checkpoints / command line: every finding reproduced as the user met it.

Each test names its finding (the issue's numbering) and fails on the code before the fix.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tinymyo_jax.cli import main as tinymyo
from tinymyo_jax.platforms import default_platforms, gpu_attached, tpu_attached
from tests.assertions import one_line_error, tree_digest

REPO = Path(__file__).resolve().parents[1]


# ---------------------------------------------------------------- a quiet command line


@pytest.mark.skipif(tpu_attached() or gpu_attached(), reason="an accelerator host keeps JAX's own platform choice")
def test_summary_prints_nothing_on_stderr_on_a_host_without_an_accelerator():
    # the user set nothing: the venv's libtpu must not print its TPU_WORKER_HOSTNAMES errors
    env = {k: v for k, v in os.environ.items() if not k.startswith(("JAX_", "TPU_"))}
    env["PYTHONPATH"] = str(REPO)
    # libtpu stays silent while another process holds /tmp/libtpu_lockfile (a concurrent test):
    # let it initialise as it would alone on this host
    env["ALLOW_MULTIPLE_LIBTPU_LOAD"] = "1"
    done = subprocess.run([sys.executable, "-m", "tinymyo_jax.cli", "summary"], env=env, capture_output=True, text=True,
                          timeout=300)  # fmt: skip
    assert done.returncode == 0 and "parameters" in done.stdout
    assert done.stderr == ""


def test_accelerator_hosts_and_explicit_choices_keep_jax_defaults():
    assert default_platforms({}, tpu=False, gpu=False) == "cpu"
    assert default_platforms({}, tpu=True, gpu=False) is None  # a TPU VM: JAX picks the TPU
    assert default_platforms({}, tpu=False, gpu=True) is None  # a GPU host: its plugin is found
    assert default_platforms({"JAX_PLATFORMS": "tpu"}, tpu=False, gpu=False) is None  # the user asked
    assert default_platforms({"TPU_WORKER_HOSTNAMES": "10.0.0.2"}, tpu=False, gpu=False) is None


# ---------------------------------------------------------------- finding 5: export --out


@pytest.fixture(scope="module")
def tiny_checkpoint(tmp_path_factory) -> Path:
    from tinymyo_jax.models.checkpoint import save_model_checkpoint
    from tinymyo_jax.models.config import preset
    from tinymyo_jax.models.tinymyo import build_model

    directory = tmp_path_factory.mktemp("trust") / "checkpoint"
    save_model_checkpoint(directory, build_model(preset("tinyissimo", embed_dim=32, depth=1, num_heads=2)))
    return directory


def test_export_refuses_an_earlier_export_and_force_replaces_only_the_exported_files(tiny_checkpoint, tmp_path, capfd):
    out = tmp_path / "export"
    out.mkdir()
    (out / "model_int8.tflite").write_bytes(b"an earlier int8 export")
    (out / "report.json").write_text("{}")
    (out / "notes.txt").write_text("the user's own notes")
    before = tree_digest(out)
    command = ["export", "--checkpoint", str(tiny_checkpoint), "--out", str(out), "--channels", "4", "--samples", "100",
               "--eval-windows", "8"]  # fmt: skip
    assert tinymyo(command) == 2
    assert "--force" in one_line_error(capfd)
    assert tree_digest(out) == before

    assert tinymyo([*command, "--force"]) == 0
    printed = capfd.readouterr()
    assert (out / "notes.txt").read_text() == "the user's own notes"
    # the old int8 model would not match the new float C sources: removed, and said so
    assert not (out / "model_int8.tflite").exists() and f"removed {out / 'model_int8.tflite'}" in printed.out
    assert (out / "model_float.tflite").is_file() and (out / "report.json").read_text() != "{}"
    # TensorFlow's converter notes go to the export's log, not the terminal
    assert "W0000" not in printed.err and "port.cc" not in printed.err
    assert "Ignored output_format" in (out / "converter.log").read_text()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["export"]  # no staging folder left


# ---------------------------------------------------------------- finding 8: config values


@pytest.mark.parametrize(
    "override, phrase",
    [("--config.optimizer.lr=-0.001", "config.optimizer.lr must be >= 0"),
     ("--config.masking.ratio=1.5", "config.masking.ratio must be strictly between 0 and 1"),
     ("--config.masking.ratio=-0.5", "config.masking.ratio must be strictly between 0 and 1"),
     ("--config.model.dropout=1.0", "config.model.dropout must be in [0, 1)"),
     ("--config.total_steps=0", "config.total_steps must be a whole number >= 1")],
)  # fmt: skip
def test_pretrain_config_values_out_of_range_are_one_line_errors(tmp_path, override, phrase, capsys):
    workdir = tmp_path / "run"
    assert tinymyo(["pretrain", "--config", "pretrain/smoke:tiny", "--workdir", str(workdir), override]) == 2
    assert phrase in one_line_error(capsys)
    assert not workdir.exists()


def test_an_unknown_pretrain_preset_variant_is_refused_as_probe_presets_refuse(tmp_path, capsys):
    workdir = tmp_path / "run"
    assert tinymyo(["pretrain", "--config", "pretrain/smoke:bogus", "--workdir", str(workdir)]) == 2
    assert "unknown config variant 'bogus'; choose from reference, tiny" in one_line_error(capsys)
    assert tinymyo(["probe", "--config", "probe/epn612:bogus", "--workdir", str(workdir)]) == 2
    assert "unknown config variant 'bogus'" in one_line_error(capsys)
    assert not workdir.exists()


@pytest.mark.parametrize("command, base", [("pretrain", "train.config.base_config()"),
                                           ("probe", "evaluate.config.probe_config(BENCHMARK)")])  # fmt: skip
def test_a_config_whose_get_config_lacks_fields_is_refused_naming_them(command, base, tmp_path, capsys):
    """Finding 7: a hand-written get_config that starts from an empty ConfigDict died with a
    KeyError traceback deep inside the run."""
    config = tmp_path / "mine.py"
    config.write_text("import ml_collections\n\n\ndef get_config(arg=None):\n"
                      "    config = ml_collections.ConfigDict()\n    config.seed = 1\n    return config\n")
    workdir = tmp_path / "run"
    assert tinymyo([command, "--config", str(config), "--workdir", str(workdir)]) == 2
    message = one_line_error(capsys)
    assert "the config lacks" in message and "data" in message and base in message
    assert not workdir.exists()


# ---------------------------------------------------------------- findings 7, 9: checkpoint paths


def _step_folder(directory: Path) -> Path:
    return next(p for p in directory.iterdir() if p.name.isdigit())


def test_every_checkpoint_reader_accepts_a_workdir_and_a_finetune_workdir_gives_its_selected_model(tmp_path, capsys):
    from tinymyo_jax.evaluate.encoders import params_hash
    from tinymyo_jax.models.checkpoint import load_model_checkpoint, params_of, save_model_checkpoint
    from tinymyo_jax.models.config import preset
    from tinymyo_jax.models.tinymyo import build_model

    config = preset("tinyissimo", embed_dim=32, depth=1, num_heads=2)
    save_model_checkpoint(tmp_path / "pretrain" / "checkpoints", build_model(config, seed=1), step=6)
    # `tinymyo export --checkpoint runs/mine` (docs/data.md) and `summary --checkpoint WORKDIR`
    assert tinymyo(["summary", "--checkpoint", str(tmp_path / "pretrain")]) == 0
    assert "dim 32, 1 blocks" in capsys.readouterr().out
    best = build_model(config, seed=2)
    save_model_checkpoint(tmp_path / "finetune" / "checkpoints", build_model(config, seed=3), step=9)
    save_model_checkpoint(tmp_path / "finetune" / "best", best, step=4)
    loaded = load_model_checkpoint(tmp_path / "finetune")  # export, init_from, probe: this one loader
    assert params_hash(params_of(loaded)) == params_hash(params_of(best))


@pytest.mark.parametrize("damage", ["truncated_ocdbt", "missing_params", "latin1_model_config", "depth_10000"])
def test_a_damaged_checkpoint_is_one_line_naming_its_file(tiny_checkpoint, tmp_path, damage, capfd):
    import json
    import shutil

    checkpoint = tmp_path / "checkpoint"
    shutil.copytree(tiny_checkpoint, checkpoint)
    step = _step_folder(checkpoint)
    if damage == "truncated_ocdbt":
        for data in (step / "params" / "d").iterdir():
            data.write_bytes(data.read_bytes()[: data.stat().st_size // 2])
        named = step / "params"
    elif damage == "missing_params":
        shutil.rmtree(step / "params")
        named = step / "params"
    else:
        metadata = step / "model_config" / "metadata"
        stored = json.loads(metadata.read_text())
        if damage == "latin1_model_config":
            metadata.write_bytes(json.dumps({**stored, "rope": "t\u00e9me"}, ensure_ascii=False).encode("latin-1"))
        else:
            metadata.write_text(json.dumps({**stored, "depth": 10000}))  # built for minutes before
        named = step / "model_config"
    assert tinymyo(["summary", "--checkpoint", str(checkpoint)]) == 2
    err = one_line_error(capfd)
    assert str(named) in err
    if damage == "depth_10000":
        assert "depth=10000 is out of range" in err


def test_a_safetensors_header_announcing_a_4gb_tensor_is_refused_before_anything_is_read(tmp_path, monkeypatch, capsys):
    import json

    from tinymyo_jax.models import torch_io

    header = json.dumps({"patch_embed.proj.weight": {"dtype": "F32", "shape": [1 << 30], "data_offsets": [0, 4 << 30]}}).encode()
    path = tmp_path / "huge.safetensors"
    with open(path, "wb") as handle:
        handle.write(len(header).to_bytes(8, "little") + header)
        handle.truncate(8 + len(header) + (4 << 30))  # sparse: 4 GB announced, no disk used
    loads = []
    monkeypatch.setattr(torch_io, "load_file", lambda *a, **k: loads.append(a) or {})  # what allocated 8 GB
    assert tinymyo(["import-torch", "--safetensors", str(path), "--out", str(tmp_path / "out")]) == 2
    assert "announces 4,294,967,296 bytes" in one_line_error(capsys)
    assert loads == [] and not (tmp_path / "out").exists()


def test_import_torch_force_replaces_the_checkpoint_and_keeps_the_users_other_files(golden, tmp_path, capsys):
    out = tmp_path / "imported"
    (out / "0").mkdir(parents=True)
    (out / "0" / "stale").write_text("an older import")
    (out / "notes.txt").write_text("the user's notes")
    arguments = ["import-torch", "--safetensors", str(golden / "classification_perturbed.safetensors"), "--out", str(out),
                 "--num-heads", "2"]
    assert tinymyo([*arguments, "--force"]) == 0
    assert (out / "notes.txt").read_text() == "the user's notes"
    assert not (out / "0" / "stale").exists() and (out / "0" / "params").is_dir()


def test_import_torch_to_gs_writes_the_checkpoint_there_and_no_local_gs_folder(golden, gcs_bucket, tmp_path, monkeypatch,
                                                                                 capsys):  # fmt: skip
    from tests.gcs_emulator import assert_no_scheme_folder, fresh_prefix
    from tinymyo_jax import storage

    monkeypatch.chdir(tmp_path)
    out = fresh_prefix(gcs_bucket, "imported")
    arguments = ["import-torch", "--safetensors", str(golden / "classification_perturbed.safetensors"), "--out", out,
                 "--num-heads", "2"]
    assert tinymyo(arguments) == 0
    assert storage.is_dir(f"{out}/0/params")
    assert tinymyo([*arguments, "--force"]) == 2  # no atomic swap on an object store: refused
    assert "give a new gs:// prefix" in one_line_error(capsys)
    assert_no_scheme_folder(tmp_path)


@pytest.mark.parametrize("name", ["x" * 300, "abc\n"])
def test_a_corpus_name_too_long_or_ending_in_a_newline_is_refused(tmp_path, name, capsys):
    import numpy as np

    (tmp_path / "raw").mkdir()
    np.save(tmp_path / "raw" / "a.npy", np.zeros((100, 2), np.float32))
    assert tinymyo(["prep", "generic", "--manual_dir", str(tmp_path / "raw"), "--name", name,
                    "--data_dir", str(tmp_path / "tfds")]) == 2  # fmt: skip
    assert "use 1 to 64 letters, digits" in one_line_error(capsys)
    assert not (tmp_path / "tfds").exists()


# ---------------------------------------------------------------- finding 10: a killed --overwrite


def test_a_plain_rerun_of_prep_removes_the_staging_folder_a_killed_overwrite_left(tmp_path, capsys):
    import json

    from tinymyo_jax.data.builder import named_builder

    data_dir = tmp_path / "tfds"
    target = Path(named_builder("uci_emg", None, data_dir).data_dir)
    target.mkdir(parents=True)
    info = json.dumps({"name": "uci_emg", "version": target.name})  # an earlier, complete preparation
    (target / "dataset_info.json").write_text(info)
    killed = target.parent / f".{target.name}.staging-999999999"  # an --overwrite SIGKILLed mid-build (no such pid)
    (killed / "build").mkdir(parents=True)
    (tmp_path / "raw").mkdir()
    (tmp_path / "raw" / "1_raw_data_13-12_22.03.16.txt").write_text("time\tchannel1\n")  # checked, not read
    assert tinymyo(["prep", "uci_emg", "--manual_dir", str(tmp_path / "raw"), "--data_dir", str(data_dir)]) == 0
    assert "already prepared" in capsys.readouterr().out
    assert not killed.exists() and (target / "dataset_info.json").read_text() == info
