"""The pretraining config: every field a run reads, with the paper's values as defaults.

Config files in `configs/pretrain/` call `base_config()` and change what their variant needs;
every field can be overridden on the command line (`--config.optimizer.lr=3e-4`).
"""

from __future__ import annotations

import math

import ml_collections

from tinymyo_jax.config_files import require_fields
from tinymyo_jax.errors import UserError
from tinymyo_jax.models.config import DEFAULTS as MODEL_DEFAULTS
from tinymyo_jax.models.matmul import MATMUL_DTYPES
from tinymyo_jax.models.objective import MASK_PATTERNS, TARGETS
from tinymyo_jax.train.config_checks import check_values

# The corpora TinyMyo pretrains on, with the mixture weights we use by default: each corpus
# contributes windows in proportion to its weight in every global batch.
DEFAULT_MIXTURE = {"ninapro_db6": 1.0, "ninapro_db7": 1.0, "emg2pose": 1.0}


def base_config() -> ml_collections.ConfigDict:
    config = ml_collections.ConfigDict()
    config.seed = 0

    config.model = ml_collections.ConfigDict()
    config.model.preset = "tinymyo"  # tinymyo | tinyissimo
    # The architecture is ModelConfig's defaults (models/config.DEFAULTS) but for two choices
    # measured on real recordings (docs/real_emg.md), where pretraining differs from them:
    # 2-D axial RoPE (time and channel) instead of ModelConfig's "time"
    # (time_channel | time | reference | none, models/rope.py);
    config.model.rope = "time_channel"
    # a learned vector per channel index added to every token (models/encoder.py) instead of
    # none ("Channel embedding and learning rate": 0.7-3.6 % lower masked loss on the
    # 16-electrode grid).
    config.model.channel_embedding = "learned"
    config.model.dropout = MODEL_DEFAULTS.dropout
    config.model.attention_dropout = MODEL_DEFAULTS.attention_dropout
    config.model.drop_path = MODEL_DEFAULTS.drop_path
    # Smaller models for smoke runs: 0 keeps the preset's value.
    config.model.embed_dim = 0
    config.model.depth = 0
    config.model.num_heads = 0

    config.data = ml_collections.ConfigDict()
    config.data.data_dir = ""  # "" -> $TFDS_DATA_DIR, else ~/tensorflow_datasets
    config.data.mixture = dict(DEFAULT_MIXTURE)
    config.data.train_split = "train"
    config.data.eval_split = "validation"
    # Input normalisation (models/normalization.py), stored in the checkpoint's model config:
    # minmax_channel (the reference: per-window, per-channel min-max) | window_scale (one scale
    # per window over its real channels) | none (the prepared per-recording z-scores)
    # Default window_scale, chosen on real recordings (docs/real_emg.md): the probes of
    # minmax_channel encoders were at chance on real UCI gestures. reference_behaviour() below
    # (the config arg `reference`) restores the reference's rope and min-max.
    config.data.normalization = "window_scale"
    config.data.use_channel_mask = True  # False reproduces the reference (padding enters attention/loss)
    config.data.worker_count = 0  # grain worker processes per host (0: read in the main process)
    config.data.prefetch = 2

    config.masking = ml_collections.ConfigDict()
    config.masking.ratio = 0.5
    # what one mask hides together (models/objective.py MASK_PATTERNS): random patches (the
    # reference) | channel (whole channels) | time (the same patches on every channel)
    config.masking.pattern = "random"
    config.loss = ml_collections.ConfigDict()
    config.loss.visible_weight = 0.1
    # signal (the reference: the normalised samples) | rectified (|samples|: the local amplitude
    # envelope, models/objective.py; the real_small recipe's choice, docs/transfer.md "Recipe") |
    # log_rectified | log_rms | dct_abs (each patch's |orthonormal DCT-II|) | dct_log: models/objective.py
    config.loss.target = "signal"

    config.optimizer = ml_collections.ConfigDict()
    config.optimizer.lr = 1e-4
    config.optimizer.end_lr = 1e-6
    config.optimizer.warmup_steps = 1000
    config.optimizer.b1 = 0.9
    config.optimizer.b2 = 0.98
    config.optimizer.weight_decay = 0.01
    config.optimizer.clip_norm = 3.0

    config.total_steps = 100_000
    config.global_batch_size = 512
    config.micro_batch_size = 0  # > 0: accumulate gradients over micro-batches of this size
    config.compute_dtype = "float32"  # or bfloat16 (fp32 master weights, fp32 loss)
    # or bfloat16: the model's products (Linear layers, attention) multiply bf16 operands into
    # f32 results, everything else stays float32 (models/matmul.py); on CPUs with AMX the fast
    # bf16 form (docs/pretrain.md)
    config.matmul_dtype = "float32"
    # XLA:CPU speed-ups, off for accelerators; the CPU configs (smoke, runlocal, benchmarks) set
    # it: `materialise_cotangent` between encoder blocks (models/encoder.py, docs/pretrain.md)
    config.xla_cpu_tricks = False

    config.mesh = ml_collections.ConfigDict()
    config.mesh.fsdp = 1  # devices per FSDP group; the rest of the devices form the data axis
    config.mesh.fsdp_min_params = 1 << 16  # parameters smaller than this stay replicated

    config.checkpoint = ml_collections.ConfigDict()
    config.checkpoint.every_steps = 1000
    config.checkpoint.keep = 3
    config.checkpoint.async_save = True
    config.init_from = ""  # checkpoint dir (e.g. from `tinymyo import-torch`) to start from
    # "resume": continue the run in the workdir, refusing one started with other settings;
    # "fresh": move a previous run aside (WORKDIR.previous-<time>) and start over (train/workdir.py)
    config.workdir_mode = "resume"

    config.log_every_steps = 10
    config.eval_every_steps = 1000
    config.eval_batches = 8
    config.plot_every_steps = 1000
    # Evaluators run during training (train/evaluators.py): name -> {type, every_steps, options}.
    # `validation` is the masked loss on config.eval_batches fixed batches of data.eval_split,
    # its every_steps the same field as eval_every_steps (setting either sets both). Add e.g.
    # config.evals.uci_probe = dict(type="linear_probe", every_steps=5000, benchmark="uci_emg").
    config.evals = ml_collections.ConfigDict()
    config.evals.validation = ml_collections.ConfigDict(
        {"type": "masked_loss", "every_steps": config.get_ref("eval_every_steps")})
    config.peak_flops_per_device = 0.0  # 0: look the device kind up in the table in metrics.py
    config.profile_steps = 0  # > 0: capture a jax profiler trace of this many steps after warm-up
    return config


def check_config(config: ml_collections.ConfigDict) -> None:
    """The checks of a pretraining config's own fields that need no model or data: one-line
    UserErrors naming the field, before anything is written or compiled. (The evaluators'
    entries are checked by train/evaluators.check_evals, which opens their datasets.)"""
    require_fields(config, base_config(), "train.config.base_config() (as configs/pretrain/smoke.py does)")
    check_values(config)  # step counts, learning rates, mask ratio, dropout...: their ranges (train/config_checks.py)
    micro_batch_count(config)
    for name, weight in config.data.mixture.items():
        if not isinstance(weight, (int, float)) or isinstance(weight, bool) or not math.isfinite(weight) or weight <= 0:
            raise UserError(f"config.data.mixture[{name!r}] = {weight!r}: weights must be > 0 (remove the entry to leave a dataset out)")
    if config.loss.target not in TARGETS:
        raise UserError(f"config.loss.target must be one of {TARGETS}, got {config.loss.target!r}")
    if config.matmul_dtype not in MATMUL_DTYPES:
        raise UserError(f"config.matmul_dtype must be one of {MATMUL_DTYPES}, got {config.matmul_dtype!r}")
    if config.masking.pattern not in MASK_PATTERNS:
        raise UserError(f"config.masking.pattern must be one of {MASK_PATTERNS}, got {config.masking.pattern!r}")
    if not config.data.mixture:
        raise UserError("config.data.mixture is empty: name at least one prepared dataset")


def micro_batch_count(config: ml_collections.ConfigDict) -> int:
    """Micro-batches per step: global_batch_size / micro_batch_size (1 when micro_batch_size is 0,
    no accumulation). The one check that the micro-batch size divides the global batch."""
    if config.micro_batch_size < 0:
        raise UserError(f"config.micro_batch_size must be >= 0, got {config.micro_batch_size}")
    if config.micro_batch_size and config.global_batch_size % config.micro_batch_size:
        raise UserError(f"config.global_batch_size {config.global_batch_size} is not a multiple of "
                        f"config.micro_batch_size {config.micro_batch_size}")  # fmt: skip
    return config.global_batch_size // (config.micro_batch_size or config.global_batch_size)


REFERENCE_BEHAVIOUR = {"model.rope": "reference", "data.normalization": "minmax_channel", "model.channel_embedding": "none"}


def apply_variants(config: ml_collections.ConfigDict, arg: str | None, known: tuple[str, ...] = ()) -> set[str]:
    """Apply the shared config args; returns the rest (among `known`, the config file's own
    variants) for the config file to handle. An unknown name is refused, as probe configs do.

    `reference`: the published model's behaviour (rope="reference": no positional information;
    per-window, per-channel min-max), e.g. `--config configs/pretrain/smoke.py:reference` or
    `smoke.py:tiny,reference`; field by field: --config.model.rope=reference
    --config.data.normalization=minmax_channel.
    """
    names = {name for name in (arg or "").split(",") if name}
    unknown = sorted(names - {"reference", *known})
    if unknown:
        raise UserError(f"unknown config variant {unknown[0]!r}; choose from {', '.join(sorted({'reference', *known}))} "
                        "(comma-separated, or none)")  # fmt: skip
    if "reference" in names:
        for dotted, value in REFERENCE_BEHAVIOUR.items():
            section, field = dotted.split(".")
            config[section][field] = value
    return names - {"reference"}
