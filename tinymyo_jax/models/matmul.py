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


def _contract_last_with_first(a: jax.Array, b: jax.Array) -> jax.Array:
    return jax.lax.dot_general(a, b, (((a.ndim - 1,), (0,)), ((), ())), preferred_element_type=jnp.float32)


@jax.custom_vjp
def bf16_product(x: jax.Array, kernel: jax.Array) -> jax.Array:
    """x (..., K) @ kernel (K, N) with bf16 operands and an f32 result."""
    return _contract_last_with_first(x.astype(jnp.bfloat16), kernel.astype(jnp.bfloat16))


def _forward(x, kernel):
    x16, k16 = x.astype(jnp.bfloat16), kernel.astype(jnp.bfloat16)
    # zero-size stand-ins carry the primal dtypes (a residual must be an array)
    return _contract_last_with_first(x16, k16), (x16, k16, jnp.zeros((0,), x.dtype), jnp.zeros((0,), kernel.dtype))


def _backward(saved, cotangent):
    x16, k16, x_like, k_like = saved
    g16 = cotangent.astype(jnp.bfloat16)
    dx = _contract_last_with_first(g16, k16.T)
    dk = jax.lax.dot_general(x16.reshape(-1, x16.shape[-1]), g16.reshape(-1, g16.shape[-1]), (((0,), (0,)), ((), ())),
                             preferred_element_type=jnp.float32)  # fmt: skip
    return dx.astype(x_like.dtype), dk.astype(k_like.dtype)


bf16_product.defvjp(_forward, _backward)


@jax.custom_vjp
def bf16_matmul(a: jax.Array, b: jax.Array) -> jax.Array:
    """Batched a (..., n, k) @ b (..., k, m), the same leading dims, bf16 operands, f32 result."""
    return jnp.matmul(a.astype(jnp.bfloat16), b.astype(jnp.bfloat16), preferred_element_type=jnp.float32)


def _matmul_forward(a, b):
    if a.shape[:-2] != b.shape[:-2]:
        raise ValueError(f"bf16_matmul needs the same batch dims, got {a.shape} and {b.shape}")
    a16, b16 = a.astype(jnp.bfloat16), b.astype(jnp.bfloat16)
    out = jnp.matmul(a16, b16, preferred_element_type=jnp.float32)
    return out, (a16, b16, jnp.zeros((0,), a.dtype), jnp.zeros((0,), b.dtype))


def _matmul_backward(saved, cotangent):
    a16, b16, a_like, b_like = saved
    g16 = cotangent.astype(jnp.bfloat16)
    da = jnp.matmul(g16, b16.swapaxes(-1, -2), preferred_element_type=jnp.float32)
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
    return bf16_product(lhs, rhs)


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
