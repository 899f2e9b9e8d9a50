"""Text nested deeper than the parser follows is one located error, not a RecursionError."""

from __future__ import annotations

import pytest
from imcc.compiler.ir import IRError, parse_module, print_ir
from imcc.compiler.ir.parser import MAX_NESTING

FUNC = """"func.func"() ({{
^bb0(%x: tensor<2xf32>):
  "func.return"(%x) : (tensor<2xf32>) -> ()
}}) {{function_type = (tensor<2xf32>) -> tensor<2xf32>, sym_name = "main", deep = {attr}}} : () -> ()
"""


def _text(depth: int) -> str:
    return FUNC.format(attr="[" * depth + "1" + "]" * depth)


def test_nesting_up_to_the_limit_parses_and_round_trips():
    module = parse_module(_text(MAX_NESTING - 10), "ok.mlir")
    assert print_ir(parse_module(print_ir(module), "again.mlir")) == print_ir(module)


@pytest.mark.parametrize("depth", [MAX_NESTING + 5, 5000])
def test_deeper_nesting_is_one_located_error(depth):
    with pytest.raises(IRError, match=f"nested more than {MAX_NESTING} levels deep") as err:
        parse_module(_text(depth), "deep.mlir")
    assert "deep.mlir:4:" in err.value.render()


def test_brackets_inside_strings_do_not_count():
    text = FUNC.format(attr='"' + "[" * (MAX_NESTING + 50) + '"')
    parse_module(text, "strings.mlir")
