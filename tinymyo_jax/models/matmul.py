"""The model's products with bfloat16 operands and float32 results (`matmul_dtype`).

A float32 model whose Linear layers and attention products (q·kᵀ, weights·v) round their
operands to bfloat16 and accumulate and return float32: the parameters, activations, LayerNorms, softmax, loss and gradients stay float32; only
the multiplications see bfloat16. On a CPU with AMX / AVX512_BF16, XLA:CPU multiplies bf16
operands into an f32 result several times faster than f32 operands, while a bf16 x bf16 -> bf16
product (what `compute_dtype=bfloat16` gives every op) runs at the f32 speed (measured in
docs/pretrain.md). On TPUs this is what f32 matmuls at default precision already do; on GPUs it
is the usual mixed precision of the products.

Both gradients of each product use the same rule (bf16 operands, f32 result), through custom
VJPs: JAX's own transpose of a mixed-precision product would multiply the f32 cotangent by the
bf16 operand in f32.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from flax import nnx

MATMUL_DTYPES: tuple[str, ...] = ("float32", "bfloat16")


@jax.custom_vjp
def bf16_matmul(a: jax.Array, b: jax.Array) -> jax.Array:
    """a (..., n, k) @ b with bf16 operands and an f32 result; b is a kernel (k, m) shared by
    every leading index of a (a Linear layer) or (..., k, m) with a's leading dims (attention)."""
    return jnp.matmul(a.astype(jnp.bfloat16), b.astype(jnp.bfloat16), preferred_element_type=jnp.float32)


def _matmul_forward(a, b):
    if b.ndim != 2 and a.shape[:-2] != b.shape[:-2]:
        raise ValueError(f"bf16_matmul needs a 2-D kernel or a's batch dims, got {a.shape} and {b.shape}")
    a16, b16 = a.astype(jnp.bfloat16), b.astype(jnp.bfloat16)
    out = jnp.matmul(a16, b16, preferred_element_type=jnp.float32)
    # zero-size stand-ins carry the primal dtypes (a residual must be an array)
    return out, (a16, b16, jnp.zeros((0,), a.dtype), jnp.zeros((0,), b.dtype))


def _matmul_backward(saved, cotangent):
    a16, b16, a_like, b_like = saved
    g16 = cotangent.astype(jnp.bfloat16)
    da = jnp.matmul(g16, b16.swapaxes(-1, -2), preferred_element_type=jnp.float32)
    if b16.ndim == 2:  # a shared kernel: its gradient sums over every leading index of a
        db = jax.lax.dot_general(a16.reshape(-1, a16.shape[-1]), g16.reshape(-1, g16.shape[-1]),
                                 (((0,), (0,)), ((), ())), preferred_element_type=jnp.float32)  # fmt: skip
    else:
        db = jnp.matmul(a16.swapaxes(-1, -2), g16, preferred_element_type=jnp.float32)
    return da.astype(a_like.dtype), db.astype(b_like.dtype)


bf16_matmul.defvjp(_matmul_forward, _matmul_backward)


def product_for(matmul_dtype: str):
    """The batched product of the attention: jnp.matmul (float32) or bf16_matmul."""
    if matmul_dtype not in MATMUL_DTYPES:
        raise ValueError(f"matmul_dtype must be one of {MATMUL_DTYPES}, got {matmul_dtype!r}")
    return jnp.matmul if matmul_dtype == "float32" else bf16_matmul


def bf16_dot_general(lhs, rhs, dimension_numbers, precision=None, preferred_element_type=None, out_sharding=None):
    """`nnx.Linear`'s dot_general with bf16 operands: it contracts the input's last axis with the
    kernel's first, the one contraction this supports."""
    (lhs_contract, rhs_contract), batch = dimension_numbers
    if tuple(lhs_contract) != (lhs.ndim - 1,) or tuple(rhs_contract) != (0,) or any(batch):
        raise ValueError(f"bf16_dot_general supports Linear's contraction only, got {dimension_numbers}")
    return bf16_matmul(lhs, rhs)


def set_matmul_dtype(model: nnx.Module, matmul_dtype: str) -> nnx.Module:
    """Sets every Linear layer and every module with a `matmul_dtype` attribute (the attention)
    of `model` to multiply in `matmul_dtype` ("float32": the plain products; "bfloat16": bf16
    operands, f32 results); returns the model. For the copy a step merges from its parameters:
    the choice is a static attribute, not a parameter."""
    product_for(matmul_dtype)  # refuses an unknown dtype
    linear_product = jax.lax.dot_general if matmul_dtype == "float32" else bf16_dot_general
    for _, module in nnx.iter_graph(model):
        if isinstance(module, nnx.Linear):
            module.dot_general = linear_product
        elif isinstance(module, nnx.Module) and hasattr(module, "matmul_dtype"):
            module.matmul_dtype = matmul_dtype
    return model
