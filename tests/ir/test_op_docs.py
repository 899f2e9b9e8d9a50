"""Every registered op documents its semantics and shows one textual example."""

from __future__ import annotations

import imcc.compiler.dialects  # noqa: F401
import pytest
from imcc.compiler.ir.ops import OP_REGISTRY


@pytest.mark.parametrize("name", sorted(OP_REGISTRY))
def test_op_has_docstring_with_example(name):
    doc = OP_REGISTRY[name].__doc__ or ""
    assert len(doc.strip()) > 20, f"{name} has no real docstring"
    assert "Example" in doc, f"{name} docstring lacks an example"
    assert f'"{name}"' in doc, f"{name} example does not show the op in generic form"
