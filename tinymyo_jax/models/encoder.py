"""The TinyMyo encoder: channel-independent patch embedding and pre-LN rotary Transformer blocks.

Token layout is channel-major throughout: token n = c·P + p for channel c and patch p, as in
the reference, so reference weights and outputs line up index for index.

Dropout is active only when the caller passes `rngs` (an `nnx.Rngs` with a `dropout` stream);
without it every call is deterministic ("eval mode"). Training steps create the stream from
`fold_in(key, step)`, so the modules hold no RNG state and the parameter pytree is all there is.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
from flax import nnx

from tinymyo_jax.models.attention_backend import backend_facts, explicit_attention_chunks, select_attention
from tinymyo_jax.models.config import CHANNEL_EMBEDDING_ROWS, ModelConfig
from tinymyo_jax.models.dropout import Dropout, keep_mask, rows_of
from tinymyo_jax.models.matmul import product_for
from tinymyo_jax.models.rope import apply_rotary, rope_tables_for


def _linear(in_features: int, out_features: int, rngs: nnx.Rngs, *, use_bias: bool = True, scale: float = 1.0) -> nnx.Linear:
    # Xavier-uniform weights and zero biases, as the reference initialises every nn.Linear;
    # `scale` carries the reference's depth rescaling of residual projections.
    init = nnx.initializers.variance_scaling(scale**2, "fan_avg", "uniform")
    return nnx.Linear(in_features, out_features, use_bias=use_bias, kernel_init=init, rngs=rngs)


def _layer_norm(dim: int, config: ModelConfig, rngs: nnx.Rngs) -> nnx.LayerNorm:
    # use_fast_variance=False: the two-pass variance PyTorch uses (parity to 1e-6, not 1e-4).
    return nnx.LayerNorm(dim, epsilon=config.layer_norm_eps, use_fast_variance=False, rngs=rngs)


class PatchEmbed(nnx.Module):
    """(B, C, T) -> (B, C·P, D): one linear map shared by all channels, applied to each patch."""

    def __init__(self, config: ModelConfig, *, rngs: nnx.Rngs):
        self.patch_size = config.patch_size
        self.proj = _linear(config.patch_size, config.embed_dim, rngs)

    def __call__(self, x: jax.Array) -> jax.Array:
        batch, channels, samples = x.shape
        if samples % self.patch_size:
            raise ValueError(f"input length {samples} is not a multiple of the patch size {self.patch_size}")
        patches = x.reshape(batch, channels * (samples // self.patch_size), self.patch_size)
        return self.proj(patches)


class Attention(nnx.Module):
    """Multi-head self-attention with rotary q/k and an optional key mask."""

    def __init__(self, config: ModelConfig, *, layer_index: int, rngs: nnx.Rngs):
        self.num_heads = config.num_heads
        self.head_dim = config.head_dim
        self.attention_dropout = config.attention_dropout
        self.qkv = _linear(config.embed_dim, 3 * config.embed_dim, rngs, use_bias=config.qkv_bias)
        self.proj = _linear(config.embed_dim, config.embed_dim, rngs, scale=1.0 / math.sqrt(2.0 * (layer_index + 1)))
        self.proj_drop = Dropout(config.dropout)
        self.matmul_dtype = "float32"  # of q·kᵀ and weights·v; models/matmul.set_matmul_dtype sets it

    def __call__(self, x: jax.Array, rope: tuple | None, key_mask: jax.Array | None, rngs: nnx.Rngs | None) -> jax.Array:
        batch, tokens, dim = x.shape
        qkv = self.qkv(x).reshape(batch, tokens, 3, self.num_heads, self.head_dim)
        q, k, v = qkv[:, :, 0], qkv[:, :, 1], qkv[:, :, 2]  # (B, N, H, hd)
        if rope is not None:
            q, k = apply_rotary(q, *rope), apply_rotary(k, *rope)
        out = attend(q, k, v, key_mask, self.attention_dropout if rngs is not None else 0.0, rngs,
                     matmul_dtype=self.matmul_dtype)  # fmt: skip
        out = self.proj(out.reshape(batch, tokens, dim))
        return self.proj_drop(out, rngs)


# Added to the logits of keys that must not be attended to. Finite, so that a row whose keys
# are all masked stays finite (uniform weights, as a softmax over equal logits), and far
# below any real logit, so exp(logit - max) is exactly 0 for masked keys otherwise.
_MASKED_KEY_BIAS = -1e30


def attend(
    q: jax.Array,
    k: jax.Array,
    v: jax.Array,
    key_mask: jax.Array | None,
    dropout_rate: float,
    rngs: nnx.Rngs | None,
    *,
    chunks: tuple[int, int] | None = None,
    matmul_dtype: str = "float32",
) -> jax.Array:
    """Scaled dot-product attention, (B, N, heads, hd) in and out; key_mask (B, N) True = attend.

    On GPUs without attention dropout: `jax.nn.dot_product_attention`, with
    implementation="cudnn" (fused flash attention) where cuDNN's constraints hold (fp16/bf16,
    head dim, mask form: `attention_backend.select_attention`), its XLA path otherwise.
    Elsewhere (CPU, TPU) and with attention dropout (which that API lacks): the explicit form
    of `_attention_block`, laid out (B, heads, N, hd) so both products are plain batched
    matmuls, run over blocks of (samples, queries) whose logits stay in cache.

    chunks: (samples per block, queries per block); by default `attention_backend.
    explicit_attention_chunks` picks them from the shapes. Every block computes exactly its part
    of the whole (softmax rows are independent; a block's dropout words are the whole's, keyed
    by global sample and element index), so the result does not depend on the blocking beyond
    float rounding (tests/model/test_attention_chunks.py).

    matmul_dtype "bfloat16": the explicit form's two products from bf16 operands into f32
    (models/matmul.py); the fused API keeps its own.
    """
    implementation = select_attention(backend_facts(), dtype=q.dtype, head_dim=q.shape[-1], tokens=q.shape[1],
                                      dropout_rate=dropout_rate, has_key_mask=key_mask is not None)
    if implementation != "explicit":
        mask = None if key_mask is None else key_mask[:, None, None, :]
        if mask is not None and implementation == "cudnn":
            # cuDNN takes the mask as an additive bias whose last two dims must be the full
            # (queries, keys); only batch and heads may broadcast.
            mask = jnp.broadcast_to(mask, (q.shape[0], 1, q.shape[1], k.shape[1]))
        return jax.nn.dot_product_attention(q, k, v, mask=mask, implementation=implementation)
    batch, tokens, heads, head_dim = q.shape
    keys = k.shape[1]
    if chunks is None:  # blocks only on CPU: accelerators keep the logits in device memory
        chunks = explicit_attention_chunks(batch, heads, tokens, keys) if backend_facts().platform == "cpu" else (batch, tokens)
    samples_per_block, queries_per_block = chunks
    if batch % samples_per_block or tokens % queries_per_block:
        raise ValueError(f"attention blocks {(samples_per_block, queries_per_block)} do not divide (batch, tokens) {(batch, tokens)}")
    q = q * jnp.asarray(1.0 / math.sqrt(head_dim), q.dtype)
    q, k, v = (a.transpose(0, 2, 1, 3) for a in (q, k, v))  # (B, H, N, hd)
    # (B, 1, 1, N) additive bias of padded keys, or None
    bias = None if key_mask is None else jnp.where(key_mask, 0.0, _MASKED_KEY_BIAS)[:, None, None, :]
    dropout_key = rngs.dropout() if dropout_rate > 0.0 else None
    rows = rows_of(rngs) if dropout_rate > 0.0 else None
    if dropout_key is not None and rows is None:
        rows = jnp.arange(batch, dtype=jnp.uint32)  # what keep_mask counts without rows
    product = product_for(matmul_dtype)

    def sample_block(operands):
        qs, ks, vs, bias_s, rows_s = operands
        if queries_per_block == tokens:
            return _attention_block(qs, ks, vs, bias_s, dropout_rate, dropout_key, rows_s, None, tokens, product)
        # (nq, b, H, qb, hd): one query block per step, keys and values of the samples shared
        q_blocks = qs.reshape(*qs.shape[:2], tokens // queries_per_block, queries_per_block, head_dim)
        q_blocks = q_blocks.transpose(2, 0, 1, 3, 4)
        firsts = jnp.arange(0, tokens, queries_per_block, dtype=jnp.uint32)
        out = jax.lax.map(
            lambda block: _attention_block(block[0], ks, vs, bias_s, dropout_rate, dropout_key, rows_s, block[1], tokens,
                                           product),
            (q_blocks, firsts),
        )
        return out.transpose(1, 2, 0, 3, 4).reshape(*qs.shape[:3], vs.shape[-1])

    operands = (q, k, v, bias, rows)
    if samples_per_block == batch:
        out = sample_block(operands)
    else:
        split = lambda a: None if a is None else a.reshape(batch // samples_per_block, samples_per_block, *a.shape[1:])
        out = jax.lax.map(sample_block, jax.tree.map(split, operands, is_leaf=lambda a: a is None))
        out = out.reshape(batch, *out.shape[2:])
    return out.transpose(0, 2, 1, 3)


def _attention_block(q, k, v, bias, dropout_rate: float, dropout_key, rows, first_query, total_queries: int,
                     product=jnp.matmul) -> jax.Array:  # fmt: skip
    """Attention of a block of queries: q (b, H, n, hd), k and v (b, H, N, hd) -> (b, H, n, hd).

    Arranged for XLA:CPU (measured in docs/model.md):
    - softmax normalisation is deferred past the value product: out = (e ⊙ keep) v / (Σe·(1-r))
      with e = exp(logits - max), which equals dropout(softmax(logits)) v but divides n x hd
      numbers instead of n x N, and its backward touches the n x N arrays fewer times;
    - the keep mask is the hash-based one of `models/dropout.py`, not threefry, keyed by the
      global sample (`rows`) and the element's flat index in the whole (H, N, N) weights, so a
      block draws exactly its part of the unblocked mask (`first_query`: its first query of
      `total_queries`; None when the block holds every query);
    - the max is a stop-gradient shift: the result does not depend on it.
    """
    logits = product(q, k.swapaxes(-1, -2)).astype(jnp.float32)
    if bias is not None:
        logits = logits + bias
    unnormalised = jnp.exp(logits - jax.lax.stop_gradient(logits.max(axis=-1, keepdims=True)))
    denominator = unnormalised.sum(axis=-1, keepdims=True)
    if dropout_rate > 0.0:
        heads, queries, keys = unnormalised.shape[1:]
        index = lambda axis: jax.lax.broadcasted_iota(jnp.uint32, (heads, queries, keys), axis)
        # The whole of each sample's weights (first_query None): the flat index over (H, N, N) is
        # what keep_mask counts anyway, without the index arithmetic per element.
        columns = None if first_query is None else (
            (index(0) * jnp.uint32(total_queries) + index(1) + first_query) * jnp.uint32(keys) + index(2))
        keep = keep_mask(dropout_key, unnormalised.shape, dropout_rate, rows, columns)
        unnormalised = jnp.where(keep, unnormalised, 0.0)
        denominator = denominator * (1.0 - dropout_rate)
    out = product(unnormalised.astype(v.dtype), v).astype(jnp.float32) / denominator
    return out.astype(q.dtype)


def gelu(x: jax.Array) -> jax.Array:
    """Exact GELU, x·Φ(x) = x/2·(1 + erf(x/√2)), PyTorch's formula.

    `jax.nn.gelu(approximate=False)` computes it through erfc, which XLA:CPU expands into a
    piecewise approximation; erf is one rational function: forward + backward of an 800 x 768
    activation took 0.93 ms instead of 1.69 ms here, and the two agree to 1e-6 on [-10, 10].
    """
    return 0.5 * x * (1.0 + jax.lax.erf(x * jnp.asarray(math.sqrt(0.5), x.dtype)))


class Mlp(nnx.Module):
    """fc1 -> exact (erf) GELU -> dropout -> fc2 -> dropout, as timm's Mlp."""

    def __init__(self, config: ModelConfig, *, layer_index: int, rngs: nnx.Rngs):
        self.fc1 = _linear(config.embed_dim, config.mlp_hidden_dim, rngs)
        self.fc2 = _linear(config.mlp_hidden_dim, config.embed_dim, rngs, scale=1.0 / math.sqrt(2.0 * (layer_index + 1)))
        self.drop = Dropout(config.dropout)

    def __call__(self, x: jax.Array, rngs: nnx.Rngs | None) -> jax.Array:
        x = self.drop(gelu(self.fc1(x)), rngs)
        return self.drop(self.fc2(x), rngs)


class Block(nnx.Module):
    """Pre-LN Transformer block with stochastic depth on both residual branches."""

    def __init__(self, config: ModelConfig, *, layer_index: int, rngs: nnx.Rngs):
        self.norm1 = _layer_norm(config.embed_dim, config, rngs)
        self.attn = Attention(config, layer_index=layer_index, rngs=rngs)
        self.norm2 = _layer_norm(config.embed_dim, config, rngs)
        self.mlp = Mlp(config, layer_index=layer_index, rngs=rngs)
        # Drop path = dropout of a whole sample's residual branch: one mask value per sample.
        self.drop_path = Dropout(config.drop_path, broadcast_dims=(1, 2))

    def __call__(self, x: jax.Array, rope: tuple | None, key_mask: jax.Array | None, rngs: nnx.Rngs | None) -> jax.Array:
        x = x + self.drop_path(self.attn(self.norm1(x), rope, key_mask, rngs), rngs)
        return x + self.drop_path(self.mlp(self.norm2(x), rngs), rngs)


@jax.custom_vjp
def materialise_cotangent(x: jax.Array) -> jax.Array:
    """Identity whose cotangent passes through a conditional XLA cannot remove.

    Why: the residual stream's gradient is a sum over all later blocks' LayerNorm-backward
    terms. Unrolled, XLA:CPU fused that elementwise chain into every consumer and recomputed
    it in each block (cost quadratic in depth; `jax.lax.optimization_barrier` is dropped
    before fusion on CPU). A conditional on a run-time predicate is a fusion boundary, so the
    cotangent is computed once per block. Both branches return it unchanged. Measured on the
    published train step: 270-290 instead of 322-341 ms per window (docs/model.md). CPU only:
    the encoder applies it only when asked (`materialise_cotangents`, which train steps set
    from the run's `config.xla_cpu_tricks`), and even then not on other backends.
    """
    return x


def _materialise_cotangent_fwd(x):
    return x, None


def _materialise_cotangent_bwd(_, cotangent):
    if jax.default_backend() != "cpu":
        # Accelerators fuse differently, and a conditional there can cost a host round trip.
        return (cotangent,)
    first = cotangent.reshape(-1)[0]
    return (jax.lax.cond(first == first, lambda c: c, lambda c: c * 1.0, cotangent),)


materialise_cotangent.defvjp(_materialise_cotangent_fwd, _materialise_cotangent_bwd)


def channel_embedding_rows(table: jax.Array, channels: int, patches: int) -> jax.Array:
    """(C·P, D): row c of the (CHANNEL_EMBEDDING_ROWS, D) table for every token n = c·P + p."""
    if channels > table.shape[0]:
        raise ValueError(f"the channel embedding has {table.shape[0]} rows; the input has {channels} channels")
    return jnp.repeat(table[:channels], patches, axis=0)


# Most bytes of one group's largest activation (the MLP's hidden layer, float32) that a
# deterministic CPU forward keeps at a time; set by measurement (docs/model.md, "CPU throughput").
GROUP_ACTIVATION_BYTES = 4 << 20


def samples_per_group(platform: str, batch: int, tokens: int, config: ModelConfig,
                      *, budget_bytes: int = GROUP_ACTIVATION_BYTES) -> int:
    """How many samples a deterministic forward runs at once: on CPU the largest divisor of
    `batch` whose MLP activations, (samples, tokens, mlp_hidden_dim) float32, fit `budget_bytes`
    (at least 1); elsewhere the whole batch (accelerators want large batches)."""
    if platform != "cpu":
        return batch
    per_sample = tokens * config.mlp_hidden_dim * 4
    return max(d for d in range(1, batch + 1) if batch % d == 0 and (d == 1 or d * per_sample <= budget_bytes))


class Encoder(nnx.Module):
    """Patch embedding, mask-token substitution, Transformer blocks, final LayerNorm."""

    def __init__(self, config: ModelConfig, *, rngs: nnx.Rngs):
        self.config = config
        self.patch_embed = PatchEmbed(config, rngs=rngs)
        # Reference: trunc_normal(std=0.02) truncated at ±std (not ±2 std).
        self.mask_token = nnx.Param(0.02 * jax.random.truncated_normal(rngs.params(), -1.0, 1.0, (config.embed_dim,)))
        # Optional (not in the reference): one learned vector per channel index, initialised as
        # the mask token, so masked tokens at one time position differ by channel.
        self.channel_embed = (
            nnx.Param(0.02 * jax.random.truncated_normal(rngs.params(), -1.0, 1.0, (CHANNEL_EMBEDDING_ROWS, config.embed_dim)))
            if config.channel_embedding == "learned"
            else None
        )
        self.blocks = nnx.List([Block(config, layer_index=i, rngs=rngs) for i in range(config.depth)])
        self.norm = _layer_norm(config.embed_dim, config, rngs)

    def __call__(
        self,
        x: jax.Array,
        *,
        token_mask: jax.Array | None = None,
        channel_mask: jax.Array | None = None,
        rngs: nnx.Rngs | None = None,
        materialise_cotangents: bool = False,
    ) -> jax.Array:
        """x (B, C, T) -> latent tokens (B, C·P, D).

        token_mask: (B, C·P) bool, True = patch replaced by the learned mask token.
        channel_mask: (B, C) bool, True = real channel; tokens of padded channels are never
            attended to (they still produce outputs, which heads and losses ignore).
        materialise_cotangents: put `materialise_cotangent` between blocks (an XLA:CPU speed-up
            of the backward pass; identity in value and gradient).

        Deterministic calls (no `rngs`: evaluation, features, export, a user's `model(x)`) run
        the batch in groups of `samples_per_group` samples one after another on CPU, so each
        group's activations stay in cache (docs/model.md, "CPU throughput"); every sample's
        result is its own, so the grouping changes nothing but speed. Training calls are
        grouped by the train step's `micro_batch_size` instead, which keeps the gradient
        accumulation and dropout keys of train/step.py.
        """
        batch = x.shape[0]
        group = batch if rngs is not None else samples_per_group(
            backend_facts().platform, batch, x.shape[1] * (x.shape[2] // self.config.patch_size), self.config)
        if group == batch:
            return self._encode(x, token_mask, channel_mask, rngs, materialise_cotangents)
        split = lambda a: None if a is None else a.reshape(batch // group, group, *a.shape[1:])
        operands = jax.tree.map(split, (x, token_mask, channel_mask), is_leaf=lambda a: a is None)
        out = jax.lax.map(lambda o: self._encode(*o, None, materialise_cotangents), operands)
        return out.reshape(batch, *out.shape[2:])

    def _encode(self, x, token_mask, channel_mask, rngs, materialise_cotangents: bool) -> jax.Array:
        batch, channels, samples = x.shape
        patches = samples // self.config.patch_size
        tokens = self.patch_embed(x)
        if token_mask is not None:
            tokens = jnp.where(token_mask[..., None], self.mask_token[...].astype(tokens.dtype), tokens)
        if self.channel_embed is not None:
            tokens = tokens + channel_embedding_rows(self.channel_embed[...], channels, patches).astype(tokens.dtype)
        key_mask = None if channel_mask is None else jnp.repeat(channel_mask, patches, axis=1)
        rope = rope_tables_for(
            self.config.rope,
            num_channels=channels,
            patches_per_channel=patches,
            num_heads=self.config.num_heads,
            head_dim=self.config.head_dim,
            base=self.config.rope_base,
        )
        for block in self.blocks:
            tokens = block(tokens, rope, key_mask, rngs)
            if materialise_cotangents:
                tokens = materialise_cotangent(tokens)
        return self.norm(tokens)
