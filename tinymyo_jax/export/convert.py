"""JAX function -> TFLite flatbuffer, float32 or full-integer int8.

The path that works with jax 0.10 / TF 2.21 (see ../shared/notes/export.md): `jax2tf.convert`
(native serialization: one XlaCallModule holding StableHLO) -> `tf.function` with a fixed
input signature -> `TFLiteConverter.from_concrete_functions`, which legalises the StableHLO to
TFLite builtins. Int8 is full-integer: int8 input and output, int8 activations and weights,
int32 biases, calibrated on a representative dataset of real windows.
"""

from __future__ import annotations

import os
import warnings
from typing import Callable

import numpy as np

from tinymyo_jax.export.converter_log import captured_native_output

INPUT_NAME = "emg"


def _tensorflow():
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    with captured_native_output():  # TensorFlow's import notes (oneDNN) ignore the log level
        import tensorflow as tf

    return tf


def _concrete_function(fn: Callable, input_shape: tuple[int, ...]):
    tf = _tensorflow()  # first: jax2tf imports TensorFlow, whose log level is fixed at import
    with captured_native_output():
        from jax.experimental import jax2tf

    converted = jax2tf.convert(fn, with_gradient=False)
    wrapped = tf.function(
        converted, input_signature=[tf.TensorSpec(input_shape, tf.float32, name=INPUT_NAME)], autograph=False
    )
    return wrapped, wrapped.get_concrete_function()


def convert_float(fn: Callable, input_shape: tuple[int, ...]) -> bytes:
    """A float32 TFLite model of `fn` for a fixed input shape, e.g. (1, C, T)."""
    tf = _tensorflow()
    with captured_native_output():
        wrapped, concrete = _concrete_function(fn, input_shape)
        converter = tf.lite.TFLiteConverter.from_concrete_functions([concrete], wrapped)
        return bytes(converter.convert())


def convert_int8(fn: Callable, input_shape: tuple[int, ...], calibration: np.ndarray, *, activations: str = "int8") -> bytes:
    """A full-integer int8 TFLite model of `fn` for input (1, ...); `calibration` (n, ...) windows.

    activations="int16": TFLite's 16x8 mode instead (int8 weights, int16 activations, int16
    input and output; TFLite Micro has the int16 kernels of every op the export form uses).

    Every activation range comes from running `fn` on the calibration windows: outputs outside
    the calibrated range clip, so calibrate on windows like those the device will see.
    """
    tf = _tensorflow()
    calibration = np.asarray(calibration, np.float32)
    if input_shape[0] != 1 or calibration.shape[1:] != tuple(input_shape[1:]):
        raise ValueError(f"calibration windows {calibration.shape} do not match the input shape {input_shape}")

    def representative_dataset():
        for window in calibration:
            yield [window[None]]

    wrapped, concrete = _concrete_function(fn, input_shape)
    converter = tf.lite.TFLiteConverter.from_concrete_functions([concrete], wrapped)
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.representative_dataset = representative_dataset
    if activations == "int8":
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        io_type = tf.int8
    elif activations == "int16":
        converter.target_spec.supported_ops = [tf.lite.OpsSet.EXPERIMENTAL_TFLITE_BUILTINS_ACTIVATIONS_INT16_WEIGHTS_INT8]
        io_type = tf.int16
    else:
        raise ValueError(f"activations must be int8 or int16, got {activations!r}")
    converter.inference_input_type = io_type
    converter.inference_output_type = io_type
    with warnings.catch_warnings(), captured_native_output():
        # "Statistics for quantized inputs were expected": the input's range comes from the
        # representative dataset, which is what we want.
        warnings.filterwarnings("ignore", message="Statistics for quantized inputs")
        return bytes(converter.convert())
