"""The import contract (docs/architecture.md): imports run one way, and no module imports itself back.

    commands, cli  ->  train  ->  evaluate | export  ->  data | models  ->  base

base = storage, errors, replace, config_files and the package's own __init__. A package may import
its own modules and any package of a lower layer; packages side by side in a layer (evaluate and
export, data and models) import nothing from each other. The graph is read from the source with
`ast`, every import counted, at the top of a file or inside a function, relative ones resolved;
nothing is imported, so this takes well under a second.

An import inside a function outside commands/ and cli.py (which import lazily on purpose, for a
fast `tinymyo --help`) must be listed in LAZY_IMPORTS with its reason: an import inside a function
that only dodges a circle hides the circle from every reader.
"""

from __future__ import annotations

import ast
import dataclasses
import functools
from pathlib import Path
from typing import Sequence

PACKAGE = Path(__file__).resolve().parents[1] / "tinymyo_jax"

# Top-level package or module of tinymyo_jax -> its layer (higher imports lower, never upward).
LAYERS: dict[str, int] = {
    "cli": 4, "commands": 4,
    "train": 3,
    "evaluate": 2, "export": 2,
    "data": 1, "models": 1,
    "": 0, "storage": 0, "errors": 0, "replace": 0, "config_files": 0, "platforms": 0,
}  # fmt: skip
# Siblings of one layer that must stay independent of each other.
INDEPENDENT = [("evaluate", "export"), ("data", "models")]

# (importing module, imported module) -> why it is imported inside a function, outside commands/.
LAZY_IMPORTS: dict[tuple[str, str], str] = {
    ("tinymyo_jax.data.readers.generic", "tinymyo_jax.data.readers.matfile"):
        "matfile imports h5py and scipy.io; only .mat files need them, and the corpus registry "
        "(read by `tinymyo --help`) imports the generic reader",
}  # fmt: skip


@dataclasses.dataclass(frozen=True)
class Import:
    source: str  # the importing module, dotted
    target: str  # the imported module of tinymyo_jax, dotted
    line: int
    in_function: bool

    def __str__(self) -> str:
        return f"{self.source}:{self.line} imports {self.target}{' (inside a function)' if self.in_function else ''}"


def modules() -> dict[str, Path]:
    """Dotted name -> file of every module of the package (a package is its __init__.py)."""
    found = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


def _targets(node: ast.Import | ast.ImportFrom, module: str, path: Path, known: dict[str, Path]) -> list[str]:
    """The package modules an import statement names (`from a import b` is module a.b when b is one)."""
    if isinstance(node, ast.Import):
        names = [alias.name for alias in node.names]
    else:
        base = node.module or ""
        if node.level:  # relative: resolved against the importing module's package
            package = module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
            package = package[: len(package) - (node.level - 1)]
            base = ".".join(package + ([node.module] if node.module else []))
        names = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base for alias in node.names]
    targets = []
    for name in names:
        if name != "tinymyo_jax" and not name.startswith("tinymyo_jax."):
            continue
        while name not in known and "." in name:
            name = name.rsplit(".", 1)[0]
        targets.append(name)
    return targets


@functools.lru_cache(maxsize=1)  # parsed once for the tests of this file
def import_graph() -> tuple[Import, ...]:
    known = modules()
    imports = []
    for module, path in known.items():
        tree = ast.parse(path.read_text(), filename=str(path))
        inside = {id(node) for function in ast.walk(tree) if isinstance(function, (ast.FunctionDef, ast.AsyncFunctionDef))
                  for node in ast.walk(function)}  # fmt: skip
        for node in ast.walk(tree):
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                for target in _targets(node, module, path, known):
                    if target != module:
                        imports.append(Import(module, target, node.lineno, id(node) in inside))
    return tuple(imports)


def package_of(module: str) -> str:
    """The top-level package or module of tinymyo_jax a module belongs to ("" for the package itself)."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def upward_imports(imports: Sequence[Import]) -> list[str]:
    problems = []
    for imp in imports:
        source, target = package_of(imp.source), package_of(imp.target)
        if source == target:
            continue
        if LAYERS[target] > LAYERS[source]:
            problems.append(f"{imp}: {source or 'tinymyo_jax'} (layer {LAYERS[source]}) may not import "
                            f"{target} (layer {LAYERS[target]})")  # fmt: skip
        elif (source, target) in INDEPENDENT or (target, source) in INDEPENDENT:
            problems.append(f"{imp}: {source} and {target} are independent siblings")
    return problems


def circles(imports: Sequence[Import]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan's algorithm)."""
    graph: dict[str, set[str]] = {}
    for imp in imports:
        graph.setdefault(imp.source, set()).add(imp.target)
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_every_package_has_a_layer():
    unplaced = sorted({package_of(m) for m in modules()} - set(LAYERS))
    assert not unplaced, f"place {unplaced} in a layer of LAYERS (and docs/architecture.md)"


def test_imports_run_down_the_layers():
    problems = upward_imports(import_graph())
    assert not problems, "upward or sideways imports (docs/architecture.md):\n" + "\n".join(problems)


def test_no_module_imports_itself_back():
    found = circles(import_graph())
    assert not found, "import circles (move the shared piece down):\n" + "\n".join(" <-> ".join(c) for c in found)


def test_imports_inside_functions_are_only_the_listed_ones():
    lazy = [imp for imp in import_graph() if imp.in_function and package_of(imp.source) not in ("commands", "cli")]
    unlisted = [str(imp) for imp in lazy if (imp.source, imp.target) not in LAZY_IMPORTS]
    assert not unlisted, ("imports inside functions outside commands/: move them to the top of the file, or list "
                          "them in LAZY_IMPORTS with the reason:\n" + "\n".join(unlisted))  # fmt: skip
    stale = sorted(set(LAZY_IMPORTS) - {(imp.source, imp.target) for imp in lazy})
    assert not stale, f"LAZY_IMPORTS lists imports that are gone: {stale}"


def test_the_contract_sees_relative_and_in_function_imports(tmp_path):
    """The graph itself: a relative import inside a function is resolved and counted as one."""
    source = ast.parse("def f():\n    from ..models import config\n")
    node = source.body[0].body[0]
    known = {"tinymyo_jax.data.x": tmp_path / "x.py", "tinymyo_jax.models.config": tmp_path / "config.py"}
    assert _targets(node, "tinymyo_jax.data.x", tmp_path / "x.py", known) == ["tinymyo_jax.models.config"]
    imports = [Import("tinymyo_jax.data.x", "tinymyo_jax.train.loop", 3, True)]
    assert upward_imports(imports) == ["tinymyo_jax.data.x:3 imports tinymyo_jax.train.loop (inside a function): "
                                       "data (layer 1) may not import train (layer 3)"]  # fmt: skip
    assert circles([Import("a", "b", 1, False), Import("b", "c", 1, True), Import("c", "a", 1, False)]) == [["a", "b", "c"]]
