"""Read a .tflite flatbuffer without running it: ops, tensor types, constants, input/output.

Parsing never executes the model, so it is safe in-process (LiteRT aborts the process on some
broken int8 models; see interpreters.py for running them). Uses the schema bindings that ship
with ai-edge-litert.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from typing import Any

import numpy as np

TFLITE_IDENTIFIER = b"TFL3"  # bytes 4..8 of every TFLite flatbuffer


def _schema():
    from ai_edge_litert import schema_py_generated as schema

    return schema


def _enum_names(enum_class: Any) -> dict[int, str]:
    return {v: k for k, v in vars(enum_class).items() if not k.startswith("_") and isinstance(v, int)}


@dataclasses.dataclass
class TensorInfo:
    index: int
    name: str
    shape: tuple[int, ...]
    dtype: str  # TFLite type name: "INT8", "FLOAT32", ...
    constant: bool
    scale: tuple[float, ...]
    zero_point: tuple[int, ...]
    nbytes: int  # constant data bytes (0 for activations)


@dataclasses.dataclass
class OperatorInfo:
    op: str  # builtin name: "FULLY_CONNECTED", ...
    inputs: tuple[int, ...]
    outputs: tuple[int, ...]


@dataclasses.dataclass
class TfliteSummary:
    """What a model file holds, for reports, resolvers and checks."""

    size_bytes: int
    tensors: list[TensorInfo]
    operators: list[OperatorInfo]
    inputs: tuple[int, ...]
    outputs: tuple[int, ...]
    subgraphs: int

    @property
    def op_counts(self) -> dict[str, int]:
        return dict(sorted(Counter(op.op for op in self.operators).items()))

    @property
    def op_names(self) -> list[str]:
        """The distinct builtin ops, sorted."""
        return sorted({op.op for op in self.operators})

    def tensor_types(self) -> dict[str, int]:
        return dict(sorted(Counter(t.dtype for t in self.tensors).items()))

    def constant_bytes(self) -> int:
        return sum(t.nbytes for t in self.tensors if t.constant)

    def constant_elements(self) -> dict[str, int]:
        """Elements held in constant tensors, per type (int8 weights, int32 biases and shapes...)."""
        counts: Counter = Counter()
        for t in self.tensors:
            if t.constant:
                counts[t.dtype] += int(np.prod(t.shape)) if t.shape else 1
        return dict(sorted(counts.items()))

    def tensor_name_bytes(self) -> int:
        """Bytes spent on tensor names (debug information the device does not need)."""
        return sum(len(t.name.encode()) for t in self.tensors)

    def io(self, index: int, *, output: bool = False) -> TensorInfo:
        return self.tensors[(self.outputs if output else self.inputs)[index]]

    def float_tensors(self) -> list[TensorInfo]:
        return [t for t in self.tensors if t.dtype in ("FLOAT32", "FLOAT16", "FLOAT64")]


def read_tflite(model: bytes) -> TfliteSummary:
    """Parse a .tflite flatbuffer. Raises ValueError when it is not one."""
    if len(model) < 8 or model[4:8] != TFLITE_IDENTIFIER:
        raise ValueError("not a TFLite flatbuffer: bytes 4..8 are not the 'TFL3' identifier")
    schema = _schema()
    parsed = schema.ModelT.InitFromObj(schema.Model.GetRootAsModel(bytearray(model), 0))
    op_names = _enum_names(schema.BuiltinOperator)
    type_names = _enum_names(schema.TensorType)
    graph = parsed.subgraphs[0]
    tensors = []
    for index, tensor in enumerate(graph.tensors):
        data = parsed.buffers[tensor.buffer].data if tensor.buffer < len(parsed.buffers) else None
        nbytes = 0 if data is None else len(data)
        quant = tensor.quantization
        scale = tuple(float(s) for s in (quant.scale if quant is not None and quant.scale is not None else ()))
        zero = tuple(int(z) for z in (quant.zeroPoint if quant is not None and quant.zeroPoint is not None else ()))
        tensors.append(
            TensorInfo(
                index=index,
                name=(tensor.name or b"").decode(errors="replace"),
                shape=tuple(int(d) for d in (tensor.shape if tensor.shape is not None else ())),
                dtype=type_names.get(tensor.type, str(tensor.type)),
                constant=nbytes > 0,
                scale=scale,
                zero_point=zero,
                nbytes=nbytes,
            )
        )
    operators = []
    for op in graph.operators or []:
        code = parsed.operatorCodes[op.opcodeIndex]
        builtin = max(code.builtinCode, code.deprecatedBuiltinCode)
        operators.append(
            OperatorInfo(
                op=op_names.get(builtin, str(builtin)),
                inputs=tuple(int(i) for i in (op.inputs if op.inputs is not None else ())),
                outputs=tuple(int(i) for i in (op.outputs if op.outputs is not None else ())),
            )
        )
    return TfliteSummary(
        size_bytes=len(model),
        tensors=tensors,
        operators=operators,
        inputs=tuple(int(i) for i in graph.inputs),
        outputs=tuple(int(i) for i in graph.outputs),
        subgraphs=len(parsed.subgraphs),
    )


def check_integer_only(summary: TfliteSummary, io_type: str = "INT8") -> None:
    """Raise ValueError unless the model is full-integer int8: int8 input and output, no float
    tensor anywhere (a float island would need float kernels and DEQUANTIZE/QUANTIZE on the
    device). QUANTIZE from int8 to int8 (a requantisation) is integer-only and allowed."""
    problems = []
    for kind, tensor in (("input", summary.io(0)), ("output", summary.io(0, output=True))):
        if tensor.dtype != io_type:
            problems.append(f"the {kind} tensor {tensor.name!r} is {tensor.dtype}, not {io_type}")
    floats = summary.float_tensors()
    if floats:
        names = ", ".join(f"{t.name!r} ({t.dtype})" for t in floats[:5])
        problems.append(f"{len(floats)} float tensor(s) remain: {names}")
    if problems:
        raise ValueError("the int8 model is not integer-only: " + "; ".join(problems))
