"""Forward + backward time of one block's attention at the published shape, three formulations.

Prints one JSON object with milliseconds per call (median of timed calls after compilation):

- `attend`: the model's attention (`tinymyo_jax.models.encoder.attend`) with the paper's 0.1
  attention dropout: hash-based keep masks, softmax normalisation deferred past the product;
- `threefry_softmax`: the textbook form it replaced, written out here as the comparison:
  softmax, then `jax.random.bernoulli` dropout on the N x N weights, then the value product;
- `no_dropout`: `attend` with attention dropout 0.

  .venv/bin/python benchmarks/attention.py
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import time

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from tinymyo_jax.models.encoder import attend


def threefry_softmax(q, k, v, rate, key):
    q, k, v = (a.transpose(0, 2, 1, 3) for a in (q, k, v))
    weights = jax.nn.softmax((q / math.sqrt(q.shape[-1])) @ k.swapaxes(-1, -2), axis=-1)
    keep = jax.random.bernoulli(key, 1.0 - rate, weights.shape)
    weights = jnp.where(keep, weights / (1.0 - rate), 0.0)
    return (weights @ v).transpose(0, 2, 1, 3)


def model_attend(q, k, v, rate, key):
    return attend(q, k, v, None, rate, nnx.Rngs(dropout=key) if rate else None)


def time_forward_backward(fn, inputs, rate: float, repeats: int) -> float:
    q, k, v, cotangent = inputs
    grad = jax.jit(jax.grad(lambda q, k, v, key: (fn(q, k, v, rate, key) * cotangent).sum(), argnums=(0, 1, 2)))
    jax.block_until_ready(grad(q, k, v, jax.random.key(0)))
    times = []
    for i in range(repeats):
        start = time.perf_counter()
        jax.block_until_ready(grad(q, k, v, jax.random.key(i + 1)))
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1e3


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tokens", type=int, default=800)
    parser.add_argument("--heads", type=int, default=3)
    parser.add_argument("--head-dim", type=int, default=64)
    parser.add_argument("--rate", type=float, default=0.1)
    parser.add_argument("--repeats", type=int, default=20)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    inputs = [jnp.asarray(rng.normal(size=(1, args.tokens, args.heads, args.head_dim)), jnp.float32) for _ in range(4)]
    result = {
        "benchmark": "attention_forward_backward",
        "shape": [1, args.tokens, args.heads, args.head_dim],
        "attention_dropout": args.rate,
        "device": jax.devices()[0].device_kind,
        "ms_attend": time_forward_backward(model_attend, inputs, args.rate, args.repeats),
        "ms_threefry_softmax": time_forward_backward(threefry_softmax, inputs, args.rate, args.repeats),
        "ms_no_dropout": time_forward_backward(model_attend, inputs, 0.0, args.repeats),
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
