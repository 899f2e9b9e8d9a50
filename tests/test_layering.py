"""Layers of the tree, checked on the source: which part may import which.

Imports are read with ``ast`` from every ``.py`` file, function-local ones included (a lazy import
is still a dependency), and so are ``importlib.import_module("name")`` calls with a constant name.
Relative imports are resolved to installed names (``runtime/`` installs as ``imcc.runtime``).

One test function per rule. The helpers take any folder of the repository, so a rule for another
part of the tree is a few lines: `imports` lists a file's imports, `module_graph` and
`package_graph` build networkx graphs of a folder's modules or packages, `assert_acyclic` explains
a cycle by the import lines that make it.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

import networkx as nx

ROOT = Path(__file__).resolve().parents[1]
#: Top-level folders of the repository and the package each one installs as (see setup.py).
INSTALLED = {"runtime": "imcc.runtime", "compiler": "imcc.compiler", "imcc": "imcc"}


@dataclass(frozen=True)
class Import:
    """One imported module (absolute name) and where the import is."""

    path: Path
    line: int
    name: str

    def __str__(self) -> str:
        return f"{self.path.relative_to(ROOT)}:{self.line}: imports {self.name}"


def source_files(folder: str) -> list[Path]:
    """Every ``.py`` file under ``folder`` (relative to the repository: ``runtime``,
    ``runtime/sim``)."""
    return sorted(p for p in (ROOT / folder).rglob("*.py") if "__pycache__" not in p.parts)


def module_name(path: Path) -> str:
    """``runtime/sim/session.py`` -> ``imcc.runtime.sim.session``; a package's ``__init__.py``
    is the package."""
    top, *parts = path.relative_to(ROOT).with_suffix("").parts
    if parts and parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join((INSTALLED[top], *parts))


def imports(path: Path, modules: set[str] = frozenset()) -> list[Import]:
    """The modules ``path`` imports, anywhere in the file. ``from a import b`` imports ``a.b``
    when that is one of ``modules`` (a submodule), else ``a``."""
    here = module_name(path)
    package = here if path.name == "__init__.py" else here.rpartition(".")[0]
    out = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            out += [Import(path, node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # from ..x import y: ``level - 1`` packages up from this one
                parts = package.split(".")
                parts = parts[: len(parts) - node.level + 1]
                base = ".".join([*parts, node.module] if node.module else parts)
            for alias in node.names:
                sub = f"{base}.{alias.name}"
                out.append(Import(path, node.lineno, sub if sub in modules else base))
        elif _is_import_module_call(node):
            out.append(Import(path, node.lineno, node.args[0].value))
    return sorted(set(out), key=lambda imp: (imp.line, imp.name))


def _is_import_module_call(node: ast.AST) -> bool:
    """``importlib.import_module("a.b")`` (or a bare ``import_module``) with a constant name."""
    if not isinstance(node, ast.Call) or not node.args:
        return False
    func, arg = node.func, node.args[0]
    name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
    return name == "import_module" and isinstance(arg, ast.Constant) and isinstance(arg.value, str)


def within(name: str, package: str) -> bool:
    """Whether module ``name`` is ``package`` or inside it."""
    return name == package or name.startswith(package + ".")


def _graph(folder: str, node_of) -> nx.DiGraph:
    """Edges ``node_of(importer) -> node_of(imported)`` between different nodes, for the
    imports among ``folder``'s modules; each edge lists its imports under ``"imports"``."""
    files = source_files(folder)
    modules = {module_name(p) for p in files}
    graph = nx.DiGraph()
    graph.add_nodes_from({node_of(m) for m in modules})
    for path in files:
        source = node_of(module_name(path))
        for imp in imports(path, modules):
            if imp.name not in modules or node_of(imp.name) == source:
                continue
            target = node_of(imp.name)
            if not graph.has_edge(source, target):
                graph.add_edge(source, target, imports=[])
            graph.edges[source, target]["imports"].append(imp)
    return graph


def module_graph(folder: str) -> nx.DiGraph:
    """The modules under ``folder`` (a package is its ``__init__``) and which imports which."""
    return _graph(folder, lambda module: module)


def package_graph(folder: str) -> nx.DiGraph:
    """The packages under ``folder`` and which imports which: ``a -> b`` when a module of package
    ``a`` (its own, not its sub-packages') imports a module of package ``b``."""
    packages = {module_name(p) for p in source_files(folder) if p.name == "__init__.py"}

    def package_of(module: str) -> str:
        while module and module not in packages:
            module = module.rpartition(".")[0]
        return module

    return _graph(folder, package_of)


def assert_acyclic(graph: nx.DiGraph, what: str) -> None:
    """Fail with one cycle of ``graph`` and the import lines along it."""
    if nx.is_directed_acyclic_graph(graph):
        return
    cycle = nx.find_cycle(graph)
    steps = " -> ".join([a for a, _ in cycle] + [cycle[0][0]])
    lines = [str(imp) for a, b in cycle for imp in graph.edges[a, b]["imports"]]
    raise AssertionError(f"import cycle between {what}: {steps}\n" + "\n".join(lines))


# --- rules --------------------------------------------------------------------------------------


def test_runtime_never_imports_the_compiler():
    """The runtime stands alone: none of its modules imports the compiler, nor anything of the
    ``imcc`` facade outside ``imcc.runtime`` (``imcc.compile`` and ``imcc-run`` load the
    compiler)."""
    bad = [
        str(imp)
        for path in source_files("runtime")
        for imp in imports(path)
        if within(imp.name, "compiler")
        or (within(imp.name, "imcc") and not within(imp.name, "imcc.runtime"))
    ]
    assert not bad, "the runtime imports the compiler:\n" + "\n".join(bad)


def test_runtime_packages_import_no_cycle():
    """The runtime's packages (``isa``, ``kernels``, ``sim``, ``sim.machine``, ``sim.fast``,
    ``targets``, ``tools``, ...) depend on each other without a cycle."""
    graph = package_graph("runtime")
    expected = {"imcc.runtime.isa", "imcc.runtime.sim", "imcc.runtime.sim.machine"}
    assert expected <= set(graph), f"packages not found: {sorted(expected - set(graph))}"
    assert_acyclic(graph, "packages of the runtime")


def test_runtime_modules_import_no_cycle():
    """Within a package too: no two runtime modules import each other, directly or through
    others, even with function-local imports."""
    assert_acyclic(module_graph("runtime"), "modules of the runtime")
