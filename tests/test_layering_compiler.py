"""The compiler's layers, checked on its source: what each part may import.

Imports are read with ``ast`` from every ``.py`` file, function-local and ``TYPE_CHECKING`` ones
included (a lazy import is still a dependency), with relative imports resolved. The import graph
between packages (every folder with an ``__init__.py``: ``ir``, ``dialects``, ``dialects/onnx``,
``precision``, ``precision/numerics``, ...) and between modules must have no cycle; ``ir`` knows no
dialect; ``precision/numerics`` is pure numpy; passes and tools match ops by class.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import networkx as nx

ROOT = Path(__file__).resolve().parents[1]
COMPILER = ROOT / "compiler"
PACKAGE = "imcc.compiler"


def module_name(path: Path) -> str:
    """``compiler/ir/core.py`` -> ``imcc.compiler.ir.core`` (a package names its ``__init__``)."""
    parts = path.relative_to(COMPILER).with_suffix("").parts
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join((PACKAGE, *parts))


def imported_names(path: Path) -> list[tuple[str, int]]:
    """Every module name ``path`` imports, with its line: for ``from a import b`` both ``a`` and
    ``a.b`` (``b`` may be a submodule)."""
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    out = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            out += [(alias.name, node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module
            out.append((module, node.lineno))
            out += [(f"{module}.{alias.name}", node.lineno) for alias in node.names]
    return out


def compiler_files(under: Path = COMPILER) -> list[Path]:
    return sorted(p for p in under.rglob("*.py") if "__pycache__" not in p.parts)


def _modules() -> dict[str, Path]:
    return {module_name(p): p for p in compiler_files()}


def _resolve(name: str, modules: dict[str, Path]) -> str | None:
    """The compiler module an imported name refers to (the longest known prefix), if any."""
    while name and name not in modules:
        name = name.rpartition(".")[0]
    return name or None


def _package(module: str, modules: dict[str, Path]) -> str:
    """The package a module belongs to (a package is its own)."""
    return module if modules[module].name == "__init__.py" else module.rpartition(".")[0]


def import_graphs() -> tuple[nx.DiGraph, nx.DiGraph]:
    """(module graph, package graph) of the compiler: an edge for every import."""
    modules = _modules()
    by_module, by_package = nx.DiGraph(), nx.DiGraph()
    by_module.add_nodes_from(modules)
    by_package.add_nodes_from({_package(m, modules) for m in modules})
    for module, path in modules.items():
        for name, line in imported_names(path):
            target = _resolve(name, modules)
            if target is None or target == module:
                continue
            where = f"{path.relative_to(ROOT)}:{line}"
            by_module.add_edge(module, target, where=where)
            source, dest = _package(module, modules), _package(target, modules)
            if source != dest:
                by_package.add_edge(source, dest, where=where)
    return by_module, by_package


def _describe_cycle(graph: nx.DiGraph, cycle: list) -> str:
    return "\n".join(f"  {a} -> {b}  ({graph.edges[a, b]['where']})" for a, b in cycle)


def _assert_acyclic(graph: nx.DiGraph, what: str) -> None:
    try:
        cycle = nx.find_cycle(graph)
    except nx.NetworkXNoCycle:
        return
    raise AssertionError(f"import cycle between {what}:\n" + _describe_cycle(graph, cycle))


def test_no_import_cycle_between_the_packages_of_the_compiler():
    _, packages = import_graphs()
    assert {"imcc.compiler.ir", "imcc.compiler.precision.numerics"} <= set(packages)
    _assert_acyclic(packages, "packages")


def test_no_import_cycle_between_the_modules_of_the_compiler():
    modules, _ = import_graphs()
    _assert_acyclic(modules, "modules")


def test_the_ir_imports_no_dialect_nor_anything_else_of_the_compiler():
    ir = f"{PACKAGE}.ir"
    bad = [
        f"{path.relative_to(ROOT)}:{line}: imports {name}"
        for path in compiler_files(COMPILER / "ir")
        for name, line in imported_names(path)
        if name.startswith(PACKAGE + ".") and not name.startswith(ir)
    ]
    assert not bad, "compiler/ir is dialect-agnostic:\n" + "\n".join(bad)


def test_precision_numerics_imports_nothing_of_the_compiler():
    numerics = COMPILER / "precision" / "numerics"
    own = f"{PACKAGE}.precision.numerics"
    bad = [
        f"{path.relative_to(ROOT)}:{line}: imports {name}"
        for path in compiler_files(numerics)
        for name, line in imported_names(path)
        if (name == PACKAGE or name.startswith(PACKAGE + ".")) and not name.startswith(own)
    ]
    assert not bad, "compiler/precision/numerics is pure numpy:\n" + "\n".join(bad)


def test_importing_precision_numerics_loads_no_ir():
    code = (
        "import sys, imcc.compiler.precision.numerics\n"
        "print('\\n'.join(sorted(m for m in sys.modules if m.startswith('imcc.compiler'))))"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.split()
    parents = {PACKAGE, f"{PACKAGE}.precision"}
    others = [
        m for m in loaded if m not in parents and not m.startswith(f"{PACKAGE}.precision.numerics")
    ]
    assert not others, f"importing the numerics loads {others}"


def test_no_op_name_literals_outside_the_dialects_and_the_ir():
    """Passes, the interpreter, the precision code and the tools match ops by class
    (``isinstance(op, SoftmaxOp)``, patterns rooted on a class, ``register_interpreter(Op)``),
    so a renamed op fails at import instead of silently never matching."""
    import imcc.compiler.dialects  # noqa: F401  (registers every op)
    from imcc.compiler.ir.ops import OP_REGISTRY

    outside = [
        p
        for p in [*compiler_files(), *sorted((ROOT / "imcc").rglob("*.py"))]
        if p.parent.name != "__pycache__"
        and not p.is_relative_to(COMPILER / "dialects")
        and not p.is_relative_to(COMPILER / "ir")
    ]
    found = [
        f"{path.relative_to(ROOT)}:{node.lineno}: {node.value!r}"
        for path in outside
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        if isinstance(node, ast.Constant) and isinstance(node.value, str)
        and node.value in OP_REGISTRY
    ]  # fmt: skip
    assert len(found) == 0, "op names spelled as strings:\n" + "\n".join(found)
