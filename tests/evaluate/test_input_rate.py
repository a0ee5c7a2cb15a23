"""The sampling rate of the windows travels from preparation to the checkpoint, and a probe or
fine-tune says so when it feeds an encoder windows at another rate than it learnt from.

The model runs at any rate; what changes is the duration a patch of 20 samples spans (100 ms at
the Myo's 200 Hz, 10 ms at 2 kHz), so an encoder read at the wrong rate silently describes
another time scale.
"""

from __future__ import annotations

import json

import pytest

from tinymyo_jax.data import corpora
from tinymyo_jax.data.builder import prepared_metadata
from tinymyo_jax.data.corpora import myo_armband, uci_emg
from tinymyo_jax.data.protocols import window_rate
from tinymyo_jax.evaluate.config import finetune_config
from tinymyo_jax.evaluate.data import DatasetInfo
from tinymyo_jax.evaluate.encoders import describe, encoder_warnings, rate_mismatch
from tinymyo_jax.evaluate.report import report_markdown, results_record
from tinymyo_jax.models.checkpoint import load_model_checkpoint, save_model_checkpoint
from tinymyo_jax.models.config import preset
from tinymyo_jax.models.tinymyo import build_model
from tinymyo_jax.train.config import base_config
from tinymyo_jax.train.finetune import finetune_model_config
from tinymyo_jax.train.pretrain import mixture_rate, run_record, model_config_from

SMALL = dict(embed_dim=16, depth=1, num_heads=2)


@pytest.mark.parametrize(("corpus", "config", "rate"), [
    ("myo_armband", "w200", 200.0), ("myo_armband", "w1000", 1000.0),  # resampled per config
    ("uci_emg", "w200", 200.0), ("uci_emg", "w1000", None),  # w1000: each file's own (~1 kHz)
    ("ninapro_db5", "w200", 200.0), ("ninapro_db8", "w200", 2000.0), ("ninapro_db6", "w1000", 2000.0),
])  # fmt: skip
def test_a_configs_windows_are_at_its_resampled_rate_else_at_the_protocols(corpus, config, rate):
    protocol = corpora.protocol(corpus)
    assert window_rate(protocol, protocol.config(config)) == rate


def test_prepared_metadata_records_the_windows_rate_not_the_raw_files():
    # myo_armband/w1000 resamples the 200-Hz armband to 1 kHz; its metadata said 200 Hz before
    protocol = corpora.protocol("myo_armband")
    assert prepared_metadata(protocol, myo_armband.W1000, {"channels": 8})["fs"] == 1000.0
    assert prepared_metadata(protocol, myo_armband.W200, {"channels": 8})["fs"] == 200.0
    assert prepared_metadata(corpora.protocol("uci_emg"), uci_emg.W200, {"channels": 8})["fs"] == 200.0


def _prepared(data_dir, name: str, config: str, fs: float | None) -> None:
    """A prepared dataset's two description files, as `tinymyo prep` writes them."""
    folder = data_dir / name / config / "1.0.0"
    folder.mkdir(parents=True)
    (folder / "dataset_info.json").write_text(json.dumps({"name": name}))
    (folder / "metadata.json").write_text(json.dumps({"corpus": name, "channels": 8, "fs": fs}))


def _pretraining(data_dir, mixture: dict) -> object:
    config = base_config()
    config.data.data_dir, config.data.mixture = str(data_dir), mixture
    return config


def test_pretraining_takes_the_rate_its_mixture_shares_and_none_when_they_differ(tmp_path):
    _prepared(tmp_path, "myo_armband", "w200", 200.0)
    _prepared(tmp_path, "uci_emg", "w200", 200.0)
    _prepared(tmp_path, "uci_emg", "w1000", None)
    _prepared(tmp_path, "ninapro_db6", "w1000", 2000.0)
    assert mixture_rate(_pretraining(tmp_path, {"myo_armband/w200": 0.9, "uci_emg/w200": 0.1})) == 200.0
    assert mixture_rate(_pretraining(tmp_path, {"myo_armband/w200": 0.5, "ninapro_db6/w1000": 0.5})) is None
    assert mixture_rate(_pretraining(tmp_path, {"uci_emg/w1000": 1.0})) is None


def test_the_rate_is_in_the_checkpoint_but_not_in_the_run_record(tmp_path):
    """A workdir recorded before the field existed resumes: the data's fingerprints pin the rate."""
    config = base_config()
    config.model.preset, config.model.embed_dim, config.model.depth, config.model.num_heads = "tinyissimo", 16, 1, 2
    model = build_model(model_config_from(config).replace(input_rate_hz=200.0))
    save_model_checkpoint(tmp_path / "ckpt", model)
    assert load_model_checkpoint(tmp_path / "ckpt").config.input_rate_hz == 200.0
    _prepared(tmp_path, "myo_armband", "w200", 200.0)
    record = run_record(_pretraining(tmp_path, {"myo_armband/w200": 1.0}), model.config)
    assert "input_rate_hz" not in record["model"] and record["model"]["embed_dim"] == 16
    with pytest.raises(ValueError, match="input_rate_hz"):
        preset("tinyissimo", input_rate_hz=0.0)


def test_the_warning_names_both_rates_and_the_duration_of_a_patch():
    encoder = preset("tinyissimo", head="none", input_rate_hz=200.0, **SMALL)
    note = rate_mismatch(encoder, 2000.0, "generic/lab")
    assert "200 Hz" in note and "generic/lab holds windows at 2000 Hz" in note
    assert "span 10 ms here against 100 ms in training" in note and "--config w200" in note and "--rate 200" in note
    assert rate_mismatch(encoder, 201.0, "x") is None  # within 1 %: the same rate
    assert rate_mismatch(encoder, None, "x") is None  # the data's rate unknown (each file's own)
    assert rate_mismatch(encoder.replace(input_rate_hz=None), 2000.0, "x") is None  # unknown encoder


def _info(fs: float | None) -> DatasetInfo:
    return DatasetInfo(name="uci_emg", directory="/data/uci_emg/w200/1.0.0", task="classification", window=200,
                       channels=8, num_classes=3, class_names=("a", "b", "c"), target_names=(), fingerprint="0" * 64,
                       split_sizes={"train": 3, "validation": 3, "test": 3}, fs=fs)  # fmt: skip


@pytest.mark.parametrize(("trained", "warned"), [(1000.0, True), (200.0, False), (None, False)])
def test_results_and_report_carry_the_warning(trained, warned):
    model = build_model(preset("tinyissimo", head="none", input_rate_hz=trained, **SMALL), seed=0)
    encoder = describe(model, "CKPT", "/ckpt")
    config = finetune_config("uci_emg")
    metrics = {"accuracy": 0.5, "balanced_accuracy": 0.5, "macro_f1": 0.5}
    results = results_record("probe", config, encoder, _info(200.0), main="probe", methods={"probe": {"metrics": metrics}},
                             wall_time_s=1.0)  # fmt: skip
    assert results["data"]["rate_hz"] == 200.0
    assert results["warnings"] == encoder_warnings(encoder, config.benchmark, 200.0)
    assert bool(results["warnings"]) == warned
    assert ("**warning**: the encoder learnt from windows at 1000 Hz" in report_markdown(results)) == warned


def test_a_fine_tuned_checkpoint_records_the_rate_of_its_benchmark():
    initial = preset("tinyissimo", head="none", input_rate_hz=200.0, **SMALL)
    config = finetune_config("uci_emg")
    assert finetune_model_config(initial, config, _info(200.0)).input_rate_hz == 200.0
    assert finetune_model_config(initial, config, _info(None)).input_rate_hz is None
