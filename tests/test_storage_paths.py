"""Run and data paths go through tinymyo_jax/storage.py: no `open(`, `Path(` or `os.path` on them.

`pathlib.Path("gs://bucket/run")` is `gs:/bucket/run`, a local folder named `gs:`; `open` and
`os.path` cannot reach object stores at all. This test reads every module of the package and
fails on any such call outside the files below, each of which handles only local files by
design (raw recordings, synthetic raw-file writers, the export toolchain's scratch files...).
A new module that needs local-only paths is added here with its reason.
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "tinymyo_jax"

LOCAL_ONLY = {
    "storage.py": "the I/O module itself",
    "replace.py": "local folder swaps (renameat2); object-store targets go through storage.copy_tree",
    "config_files.py": "config .py files are code on the local disk",
    "data/readers": "readers of raw recordings in their published layouts, on local disks (manual_dir)",
    "data/synth": "writers of synthetic raw files for tests and demos",
    "data/prepare.py": "raw-file listing (manual_dir); its outputs go through TFDS/epath",
    "data/embedded.py": "the UCI subset shipped inside the package",
    "data/corpora/generic.py": "raw EDF/BDF/WFDB files on the local disk",
    "data/corpora/emg2pose.py": "the raw corpus's metadata.csv in its local manual_dir",
    "data/corpora/_ninapro.py": "raw NinaPro file names in a local manual_dir",
    "data/protocols.py": "raw-file protocol tables",
    "data/builder.py": "TFDS builder plumbing: raw files from manual_dir",
    "commands/prep.py": "raw-file arguments of `tinymyo prep`",
    "commands/synth.py": "writes synthetic raw files",
    "commands/demo.py": "the demo's local folders",
    "models/torch_io.py": "reads a local .safetensors file (callers pass storage.local_copy)",
    "export/interpreters.py": "TFLite interpreters on local scratch files",
    "export/worker.py": "the TFLite Micro worker process's local scratch files",
    "export/pipeline.py": "exports into a local folder; a gs:// --out is copied there afterwards",
    "export/out_folder.py": "stages a local --out beside it; a gs:// --out goes through storage",
    "export/converter_log.py": "the converter's native log, a local file (copied to a gs:// --out)",
    "data/corpora/myo_armband.py": "the raw .dat files of a round in the local manual_dir",
    "commands/import_torch.py": "the printed path of a local --out (a gs:// --out goes through storage)",
    "platforms.py": "looks for accelerator device nodes on the local machine (/dev, /sys)",
    "models/checkpoint_checks.py": "reads a local .safetensors header (callers pass storage.local_copy)",
}


def _allowed(relative: str) -> bool:
    return any(relative == key or relative.startswith(key + "/") for key in LOCAL_ONLY)


def _local_path_calls(tree: ast.AST) -> list[tuple[int, str]]:
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            func = node.func
            if isinstance(func, ast.Name) and func.id in ("open", "Path"):
                found.append((node.lineno, f"{func.id}("))
            elif isinstance(func, ast.Attribute) and func.attr == "Path" and isinstance(func.value, ast.Name) \
                    and func.value.id == "pathlib":
                found.append((node.lineno, "pathlib.Path("))
        elif isinstance(node, ast.Attribute) and node.attr == "path" and isinstance(node.value, ast.Name) \
                and node.value.id == "os":
            found.append((node.lineno, "os.path"))
    return found


def test_run_and_data_paths_use_the_storage_module_only():
    offences = []
    for module in sorted(PACKAGE.rglob("*.py")):
        relative = module.relative_to(PACKAGE).as_posix()
        if _allowed(relative):
            continue
        for line, call in _local_path_calls(ast.parse(module.read_text(), str(module))):
            offences.append(f"tinymyo_jax/{relative}:{line}: {call}")
    assert not offences, ("local-only path calls on run/data paths; use tinymyo_jax.storage "
                          "(or add the file to LOCAL_ONLY with its reason):\n" + "\n".join(offences))


def test_the_check_finds_each_kind_of_call():
    source = "import os, pathlib\nopen('x')\nPath('gs://b')\npathlib.Path('y')\nos.path.join('a', 'b')\n"
    found = sorted(call for _, call in _local_path_calls(ast.parse(source)))
    assert found == sorted(["open(", "Path(", "pathlib.Path(", "os.path"])


def test_every_allow_listed_file_exists():
    missing = [key for key in LOCAL_ONLY if not (PACKAGE / key).exists()]
    assert not missing, f"LOCAL_ONLY names files that do not exist: {missing}"
