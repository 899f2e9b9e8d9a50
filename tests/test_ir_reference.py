"""docs/IR_REFERENCE.md is generated from the passes, ops and pipelines and must be up to date."""

from __future__ import annotations

from pathlib import Path

from imcc.compiler import irdoc
from imcc.compiler.ir.ops import OP_REGISTRY
from imcc.compiler.pm.pass_base import all_passes

DOC = Path(__file__).resolve().parents[1] / "docs" / "IR_REFERENCE.md"


def test_the_reference_is_up_to_date():
    assert DOC.read_text(encoding="utf-8") == irdoc.render(), (
        "docs/IR_REFERENCE.md is stale: run `make docs`"
    )


def test_every_pass_and_backend_op_is_documented():
    text = irdoc.render()
    for cls in all_passes():
        assert f"### `{cls.name}`" in text
    for name in OP_REGISTRY:
        if name.split(".", 1)[0] in irdoc.DIALECTS:
            assert f"#### `{name}`" in text
