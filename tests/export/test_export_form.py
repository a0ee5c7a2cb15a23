"""The export form computes the training model's function (JAX, no TFLite involved)."""

from __future__ import annotations

import jax
import numpy as np
import pytest

from tinymyo_jax.errors import UserError
from tinymyo_jax.export.export_form import ExportSpec, check_spec, export_constants, export_function, reference_function
from tinymyo_jax.models.config import ModelConfig
from tinymyo_jax.models.tinymyo import build_model

SMALL = dict(embed_dim=32, depth=1, num_heads=2, patch_size=20)


def _max_error(config: ModelConfig, spec: ExportSpec, *, windows=None) -> float:
    model = build_model(config, seed=3)
    x = np.random.default_rng(0).standard_normal((3, spec.channels, spec.samples)).astype(np.float32)
    constants = export_constants(model, spec, calibration=x if spec.rescale_first_norm else None)
    ours = jax.jit(export_function(constants, config, spec))(x)
    reference = jax.jit(reference_function(model, spec))(x)
    assert ours.shape == reference.shape
    return float(np.abs(np.asarray(ours) - np.asarray(reference)).max())


@pytest.mark.parametrize(
    "model_fields, spec_fields",
    [
        # a concat head built for 16 channels, exported at 6: padded channels folded away
        (dict(head="classification", num_outputs=5, num_channels=16, fusion="concat"), dict(channels=6)),
        (dict(head="classification", num_outputs=5, fusion="mean", rope="reference"), dict(channels=4)),
        (dict(head="regression", num_outputs=3, num_channels=4, reg_target_len=50), dict(channels=4)),
        (dict(head="regression", num_outputs=2, fusion="mean", reg_target_len=30), dict(channels=3)),
        (dict(head="reconstruction", rope="none"), dict(channels=3)),
        (dict(head="classification", num_outputs=5, num_channels=4, rope="time_channel"), dict(channels=4)),
        (dict(head="none", rope="time_channel"), dict(channels=3, output="tokens")),
        # the learned channel embedding folded into a per-token patch bias
        (dict(head="classification", num_outputs=5, num_channels=4, rope="time_channel", channel_embedding="learned"), dict(channels=4)),
        (dict(head="none", rope="time", channel_embedding="learned"), dict(channels=3, output="tokens")),
        (dict(head="none"), dict(channels=4, output="embedding")),
        (dict(head="none"), dict(channels=2, output="tokens")),
    ],
)
def test_export_form_with_exact_gelu_matches_the_training_model(model_fields, spec_fields):
    config = ModelConfig(**SMALL, **model_fields)
    spec = ExportSpec(samples=100, gelu="erf", **spec_fields)
    assert _max_error(config, spec) < 1e-5


@pytest.mark.parametrize("gelu, bound", [("erf_as", 1e-5), ("tanh", 2e-3)])
def test_export_form_deviation_follows_its_gelu_form(gelu, bound):
    config = ModelConfig(**SMALL, head="classification", num_outputs=4, num_channels=4)
    assert _max_error(config, ExportSpec(4, 100, gelu=gelu)) < bound


@pytest.mark.parametrize("channel_embedding", ["none", "learned"])
def test_rescaled_first_norm_keeps_the_function(channel_embedding):
    config = ModelConfig(**SMALL, head="classification", num_outputs=4, num_channels=4, channel_embedding=channel_embedding)
    assert _max_error(config, ExportSpec(4, 100, gelu="erf", rescale_first_norm=True)) < 1e-5


@pytest.mark.parametrize("fusion", ["concat", "mean"])
def test_int8_form_with_ratio_attention_keeps_the_function(fusion):
    """The int8 form's structure (rescaled and staged anchored norms, ratio attention with rows
    rescaled by their sums, head features centred per token before pooling) with exact GELU."""
    config = ModelConfig(**{**SMALL, "depth": 2}, head="classification", num_outputs=4, num_channels=4, rope="time_channel",
                         fusion=fusion, channel_embedding="learned")  # fmt: skip
    spec = ExportSpec(4, 100, gelu="erf", rescale_first_norm=True, attention="ratio", standardize_head=True)
    assert _max_error(config, spec) < 1e-5


def test_impossible_exports_are_user_errors():
    concat = ModelConfig(**SMALL, head="classification", num_outputs=4, num_channels=4)
    with pytest.raises(UserError, match="at most that many"):
        check_spec(concat, ExportSpec(8, 100))
    with pytest.raises(UserError, match="multiple of the patch size"):
        check_spec(concat, ExportSpec(4, 110))
    with pytest.raises(UserError, match="no task head"):
        check_spec(ModelConfig(**SMALL, head="none"), ExportSpec(4, 100, output="head"))
