"""The reference PyTorch TinyMyo's forward and pretraining step, timed (the comparison of
benchmarks/forward.py and benchmarks/train_step.py).

Imports only torch and numpy, so it runs in a separate environment with CPU torch (the project
does not depend on torch); the JAX benchmarks start it as a subprocess with `--torch-python`
and read the JSON line it prints. The module below is written to the reference's structure and
kernels (pulp-bio/BioFoundation `models/TinyMyo.py`): Conv2d (1, 20) patch embedding, pre-LN
blocks with a fused qkv Linear, the reference's rotary embedding (applied to (B, heads, N, hd),
so it rotates by head index), `F.scaled_dot_product_attention`, a Linear-GELU-Linear MLP,
dropout 0.1 on attention / projections and drop path 0.1 in training. `--check-golden` proves
it computes the reference's function: it loads the reference's golden weights
(/work/shared/golden) and compares its logits with the reference's own output.

  PY=/path/to/torch-venv/bin/python
  $PY benchmarks/reference_torch.py check-golden --golden /work/shared/golden
  $PY benchmarks/reference_torch.py forward --batch 64 --repeats 3
  $PY benchmarks/reference_torch.py train-step --batch 32 --steps 3
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import statistics
import time

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn


class ReferenceRope(nn.Module):
    """The reference's rotary embedding: position = index along axis 1 of its input."""

    def __init__(self, head_dim: int, max_len: int = 1024, base: float = 10_000.0):
        super().__init__()
        theta = 1.0 / base ** (torch.arange(0, head_dim, 2)[: head_dim // 2].float() / head_dim)
        angles = torch.outer(torch.arange(max_len, dtype=torch.float32), theta)
        self.register_buffer("cache", torch.stack([angles.cos(), angles.sin()], dim=-1), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pairs = x.float().reshape(*x.shape[:-1], -1, 2)
        cache = self.cache[: x.shape[1]].view(-1, pairs.shape[1], 1, pairs.shape[3], 2)
        even, odd = pairs[..., 0], pairs[..., 1]
        rotated = torch.stack([even * cache[..., 0] - odd * cache[..., 1], odd * cache[..., 0] + even * cache[..., 1]], -1)
        return rotated.flatten(3).type_as(x)


class DropPath(nn.Module):
    def __init__(self, rate: float):
        super().__init__()
        self.rate = rate

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.rate == 0.0:
            return x
        keep = x.new_empty((x.shape[0],) + (1,) * (x.ndim - 1)).bernoulli_(1.0 - self.rate)
        return x * keep / (1.0 - self.rate)


class Block(nn.Module):
    def __init__(self, dim: int, heads: int, drop: float, attn_drop: float, drop_path: float):
        super().__init__()
        self.heads, self.attn_drop = heads, attn_drop
        self.norm1, self.norm2 = nn.LayerNorm(dim), nn.LayerNorm(dim)
        self.qkv, self.proj = nn.Linear(dim, 3 * dim), nn.Linear(dim, dim)
        self.rope = ReferenceRope(dim // heads)
        self.fc1, self.fc2 = nn.Linear(dim, 4 * dim), nn.Linear(4 * dim, dim)
        self.drop, self.drop_path = nn.Dropout(drop), DropPath(drop_path)

    def attention(self, x: torch.Tensor) -> torch.Tensor:
        b, n, d = x.shape
        q, k, v = self.qkv(x).reshape(b, n, 3, self.heads, d // self.heads).permute(2, 0, 3, 1, 4).unbind(0)
        q, k = self.rope(q), self.rope(k)
        out = F.scaled_dot_product_attention(q, k, v, dropout_p=self.attn_drop if self.training else 0.0)
        return self.drop(self.proj(out.transpose(2, 1).reshape(b, n, d)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.drop_path(self.attention(self.norm1(x)))
        mlp = self.drop(self.fc2(self.drop(F.gelu(self.fc1(self.norm2(x))))))
        return x + self.drop_path(mlp)


class ReferenceTinyMyo(nn.Module):
    """Encoder + the reference's pretraining head (Linear to the patch) or classification head
    (concat over channels, mean over patches, Linear)."""

    def __init__(self, channels=16, samples=1000, patch=20, dim=192, depth=8, heads=3, drop=0.1, num_classes=0):
        super().__init__()
        self.channels, self.patch = channels, patch
        self.patch_embed = nn.Conv2d(1, dim, kernel_size=(1, patch), stride=(1, patch))
        self.mask_token = nn.Parameter(torch.zeros(1, 1, dim))
        self.blocks = nn.ModuleList([Block(dim, heads, drop, drop, drop) for _ in range(depth)])
        self.norm = nn.LayerNorm(dim)
        self.head = nn.Linear(dim, patch) if num_classes == 0 else nn.Linear(channels * dim, num_classes)
        self.num_classes = num_classes
        with torch.no_grad():
            nn.init.trunc_normal_(self.mask_token, std=0.02, a=-0.02, b=0.02)
            for module in self.modules():
                if isinstance(module, nn.Linear):
                    nn.init.xavier_uniform_(module.weight)
                    nn.init.zeros_(module.bias)
            for i, block in enumerate(self.blocks):
                block.proj.weight.div_(math.sqrt(2.0 * (i + 1)))
                block.fc2.weight.div_(math.sqrt(2.0 * (i + 1)))

    def forward(self, x: torch.Tensor, token_mask: torch.Tensor | None = None) -> torch.Tensor:
        tokens = self.patch_embed(x.unsqueeze(1))  # (B, D, C, P)
        tokens = tokens.permute(0, 2, 3, 1).flatten(1, 2)  # (B, C·P, D), channel-major
        if token_mask is not None:
            tokens = torch.where(token_mask[..., None], self.mask_token.to(tokens.dtype), tokens)
        for block in self.blocks:
            tokens = block(tokens)
        latent = self.norm(tokens)
        if self.num_classes == 0:
            return self.head(latent)
        b, n, d = latent.shape
        per_patch = latent.reshape(b, self.channels, n // self.channels, d).permute(0, 2, 1, 3).flatten(2)
        return self.head(per_patch.mean(dim=1))

    def load_reference_state(self, weights: dict[str, np.ndarray]) -> None:
        """Reference state_dict keys -> this module's parameters."""
        names = {"patch_embedding.patch_embed.proj": "patch_embed", "model_head.classifier": "head",
                 "model_head.decoder_pred": "head", "attn.qkv": "qkv", "attn.proj": "proj", "mlp.fc1": "fc1", "mlp.fc2": "fc2"}
        state = {}
        for key, value in weights.items():
            key = key.removeprefix("model.")
            for old, new in names.items():
                key = key.replace(old, new)
            state[key] = torch.from_numpy(np.array(value))
        self.load_state_dict(state, strict=False)


def check_golden(golden: str) -> dict:
    from safetensors.numpy import load_file

    io = np.load(os.path.join(golden, "classification_perturbed_io.npz"))
    meta = json.loads(str(io["meta_json"]))["model_kwargs"]
    model = ReferenceTinyMyo(meta["in_chans"], meta["img_size"], meta["patch_size"], meta["embed_dim"], meta["n_layer"],
                             meta["n_head"], num_classes=meta["num_classes"]).eval()
    model.load_reference_state(load_file(os.path.join(golden, "classification_perturbed.safetensors")))
    with torch.inference_mode():
        out = model(torch.from_numpy(io["x"]).float()).numpy()
    return {"max_abs_diff_vs_reference_golden": float(np.abs(out - io["output"]).max())}


def time_forward(batch: int, repeats: int, channels: int, samples: int) -> dict:
    model = ReferenceTinyMyo(channels, samples).eval()
    x = torch.randn(batch, channels, samples)
    with torch.inference_mode():
        model(x)  # warm-up
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            model(x)
            times.append(time.perf_counter() - start)
    seconds = statistics.median(times)
    return {"batch": batch, "windows_per_s": batch / seconds, "step_s_all": times}


def time_train_step(batch: int, steps: int, channels: int, samples: int, mask_ratio: float = 0.5) -> dict:
    """The reference's pretraining step: masked patches replaced by the mask token, SmoothL1 on
    masked + 0.1 x visible samples, backward, grad-norm clip 1.0, AdamW."""
    torch.manual_seed(0)
    model = ReferenceTinyMyo(channels, samples).train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4, betas=(0.9, 0.98), weight_decay=0.01)
    x = torch.randn(batch, channels, samples)
    patches = channels * samples // model.patch
    target = x.reshape(batch, patches, model.patch)

    def step():
        token_mask = torch.rand(batch, patches) < mask_ratio
        out = model(x, token_mask)
        element = F.smooth_l1_loss(out, target, reduction="none")
        masked = token_mask[..., None].expand_as(element)
        loss = element[masked].mean() + 0.1 * element[~masked].mean()
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        return float(loss)

    step()  # warm-up
    times = []
    for _ in range(steps):
        start = time.perf_counter()
        step()
        times.append(time.perf_counter() - start)
    seconds = statistics.median(times)
    return {"batch": batch, "windows_per_s": batch / seconds, "step_s_all": times}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("what", choices=["forward", "train-step", "check-golden"])
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=3, help="timed forward calls (forward)")
    parser.add_argument("--steps", type=int, default=3, help="timed steps (train-step)")
    parser.add_argument("--channels", type=int, default=16)
    parser.add_argument("--samples", type=int, default=1000)
    parser.add_argument("--threads", type=int, default=os.cpu_count())
    parser.add_argument("--golden", default="/work/shared/golden")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    if args.what == "check-golden":
        result = check_golden(args.golden)
    elif args.what == "forward":
        result = time_forward(args.batch, args.repeats, args.channels, args.samples)
    else:
        result = time_train_step(args.batch, args.steps, args.channels, args.samples)
    peak_rss_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB
    print(json.dumps({"reference": "pytorch", "what": args.what, "torch": torch.__version__, "threads": torch.get_num_threads(),
                      **result, "peak_rss_mib": peak_rss_mib}))


if __name__ == "__main__":
    main()
