"""No function in tinymyo_jax/ is longer than 100 lines (issue 22): a longer one becomes a few
named steps a reader can follow (export/pipeline.py's export_model and train/finetune.py's
finetune are examples). Read with `ast`, nothing imported."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "tinymyo_jax"
MAX_LINES = 100


def long_functions(root: Path = PACKAGE, limit: int = MAX_LINES) -> list[str]:
    """`path:line name (N lines)` of every function or method (nested ones too) longer than `limit`
    lines, decorators and docstring included."""
    found = []
    for path in sorted(root.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                first = min([node.lineno, *(d.lineno for d in node.decorator_list)])
                length = node.end_lineno - first + 1
                if length > limit:
                    found.append(f"{path.relative_to(root.parent)}:{node.lineno} {node.name} ({length} lines)")
    return found


def test_no_function_is_longer_than_100_lines():
    found = long_functions()
    assert not found, f"functions over {MAX_LINES} lines (split them into named steps):\n" + "\n".join(found)


def test_the_count_includes_every_line_of_a_function(tmp_path):
    (tmp_path / "m.py").write_text("def f():\n" + "    x = 1\n" * 100 + "\n\ndef g():\n    pass\n")
    assert long_functions(tmp_path) == [f"{tmp_path.name}/m.py:1 f (101 lines)"]
    assert long_functions(tmp_path, limit=101) == []
