"""print ∘ parse is a fixed point for every .mlir file in the repository's tests that parses."""

from __future__ import annotations

from pathlib import Path

import imcc.compiler.dialects  # noqa: F401
import pytest
from imcc.compiler.ir import IRError, parse_module, print_ir

TESTS = Path(__file__).resolve().parent.parent
FILES = sorted(
    p for p in TESTS.rglob("*.mlir") if "inputs" not in p.parts or "errors" not in p.parts
)


def _parses(path: Path):
    try:
        return parse_module(path.read_text(), str(path), allow_unregistered=True)
    except IRError:
        return None


@pytest.mark.parametrize("path", FILES, ids=lambda p: str(p.relative_to(TESTS)))
@pytest.mark.parametrize("debuginfo", [False, True], ids=["plain", "debuginfo"])
def test_print_parse_fixed_point(path: Path, debuginfo: bool):
    module = _parses(path)
    if module is None:
        pytest.skip("file is a negative test input that does not parse")
    first = print_ir(module, debuginfo=debuginfo)
    again = print_ir(
        parse_module(first, "reprinted.mlir", allow_unregistered=True), debuginfo=debuginfo
    )
    assert again == first


def test_there_are_golden_files():
    assert len(FILES) >= 8
