"""The generated C++ sources compile with g++, against stub TFLite Micro headers (tflm_stub/:
the real classes' names and signatures, no kernels), together with export/mcu_example/main.cc."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from tinymyo_jax.export import c_source
from tinymyo_jax.export.tflite_file import read_tflite

REPO = Path(__file__).resolve().parents[2]
STUB = Path(__file__).parent / "tflm_stub"
EXAMPLE = REPO / "export" / "mcu_example" / "main.cc"

needs_gxx = pytest.mark.skipif(shutil.which("g++") is None, reason="g++ is not installed")


def _gxx(*args: str, cwd: Path) -> None:
    done = subprocess.run(["g++", "-std=c++17", "-Wall", "-Wextra", "-Werror", *args], cwd=cwd, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


def check_generated_sources(folder: Path, tmp_path: Path) -> None:
    """model_data.cc compiles; op_resolver.h, model_data.h, sample_window.h and the MCU example
    compile against the stub headers; the array is aligned, const and starts like a .tflite.
    (The int8 export's sources are checked with it in test_int8_classifier.py, beside the other
    tests of that export, so that one test worker builds it.)"""
    body = (folder / "model_data.cc").read_text()
    assert "alignas(16) const unsigned char kModelData[]" in body
    first = bytes(int(b, 16) for b in re.findall(r"0x([0-9a-f]{2})", body)[:8])
    assert first[4:8] == b"TFL3"
    _gxx("-c", str(folder / "model_data.cc"), "-o", str(tmp_path / "model_data.o"), cwd=folder)
    for name in ("main.cc",):
        shutil.copy(EXAMPLE, tmp_path / name)
    _gxx("-I", str(folder), "-I", str(STUB), "-c", str(tmp_path / "main.cc"), "-o", str(tmp_path / "main.o"), cwd=tmp_path)
    # Linked with the stubs it runs: the resolver fits exactly its kNumOps registrations.
    _gxx(str(tmp_path / "main.o"), str(tmp_path / "model_data.o"), "-o", str(tmp_path / "example"), cwd=tmp_path)
    done = subprocess.run([str(tmp_path / "example")], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.fixture(scope="module")
def tiny_float_export(tmp_path_factory) -> Path:
    """C sources of a tiny float model (no interpreter needed to write them)."""
    from tinymyo_jax.export.convert import convert_float
    from tinymyo_jax.export.export_form import ExportSpec, export_constants, export_function
    from tinymyo_jax.models.config import ModelConfig
    from tinymyo_jax.models.tinymyo import build_model

    config = ModelConfig(embed_dim=16, depth=1, num_heads=2, head="classification", num_outputs=3, num_channels=2)
    spec = ExportSpec(2, 40, gelu="erf_as")
    model_bytes = convert_float(export_function(export_constants(build_model(config), spec), config, spec), (1, 2, 40))
    folder = tmp_path_factory.mktemp("tiny_c")
    summary = read_tflite(model_bytes)
    c_source.write_model_data(folder, model_bytes, summary, arena_bytes=12345, description="tiny test model")
    c_source.write_op_resolver(folder, summary.op_names)
    c_source.write_sample_window(folder, np.zeros((2, 40), np.float32), np.zeros(3, np.float32), input_type="FLOAT32", output_type="FLOAT32")
    return folder


@needs_gxx
def test_float_sources_and_the_mcu_example_compile(tiny_float_export, tmp_path):
    check_generated_sources(tiny_float_export, tmp_path)


def test_a_misspelt_resolver_method_would_not_compile(tmp_path):
    if shutil.which("g++") is None:
        pytest.skip("g++ is not installed")
    c_source.write_op_resolver(tmp_path, ["ADD"])
    text = (tmp_path / "op_resolver.h").read_text().replace("AddAdd", "AddAddition")
    (tmp_path / "op_resolver.h").write_text(text)
    (tmp_path / "use.cc").write_text('#include "op_resolver.h"\nint main() { tinymyo::OpResolver r; return tinymyo::RegisterOps(r); }\n')
    done = subprocess.run(["g++", "-std=c++17", "-I", str(tmp_path), "-I", str(STUB), "-fsyntax-only", "use.cc"], cwd=tmp_path, capture_output=True, text=True)
    assert done.returncode != 0 and "AddAddition" in done.stderr


def test_ops_without_tflm_kernels_are_refused():
    with pytest.raises(ValueError, match="GELU"):
        c_source.resolver_methods(["ADD", "GELU"])
