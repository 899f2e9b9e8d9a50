"""The compiler's layers, checked on its source: what each part may import.

Imports are read with ``ast`` from every ``.py`` file, function-local and ``TYPE_CHECKING`` ones
included (a lazy import is still a dependency), with relative imports resolved.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

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
