"""Unit tests of the IR core: use lists, erasure, builder, verifier, rewriter."""

from __future__ import annotations

import imcc.compiler.dialects  # noqa: F401
import numpy as np
import pytest
from imcc.compiler.dialects.func import FuncOp, ReturnOp
from imcc.compiler.dialects.testing import AddOp, ConstantOp, EffectOp
from imcc.compiler.ir import (
    Builder,
    DenseElementsAttr,
    ModuleOp,
    NameLoc,
    VerificationError,
    parse_module,
    print_ir,
    verify,
)
from imcc.compiler.ir.rewriter import GreedyRewriteDriver, NoMatch, RewritePattern
from imcc.compiler.ir.types import f32, tensor
from imcc.compiler.ir.verifier import check_uses

T = tensor((2,), f32)


def _func():
    fn = FuncOp.build("f", [T, T], [T])
    b = Builder.at_end(fn.body)
    a, c = fn.args
    add = b.insert(AddOp.create([a, c], [T], location=NameLoc("add0")))
    b.insert(ReturnOp.create([add.result]))
    return ModuleOp.build([fn]), fn, add


def test_use_lists_follow_operand_changes():
    module, fn, add = _func()
    a, c = fn.args
    assert [u.index for u in a.uses] == [0]
    add.set_operand(1, a)
    assert len(a.uses) == 2 and not c.uses
    a.replace_all_uses_with(c)
    assert not a.uses and len(c.uses) == 2
    check_uses(module)
    verify(module)


def test_erase_refuses_used_results_and_drops_uses():
    module, fn, add = _func()
    with pytest.raises(ValueError, match="still used"):
        add.erase()
    ret = fn.body.ops[-1]
    ret.set_operands([fn.args[0]])
    add.erase()
    assert all(not a.uses for a in fn.args[1:])
    assert len(fn.args[0].uses) == 1
    verify(module)


def test_verifier_catches_use_before_def():
    module, fn, add = _func()
    extra = AddOp.create([fn.args[0], fn.args[0]], [T])
    fn.body.insert(0, extra)
    add.set_operand(0, extra.result)
    verify(module)  # defined before use: fine
    fn.body.remove(extra)
    fn.body.insert(1, extra)  # now after its user
    with pytest.raises(VerificationError, match="does not dominate"):
        verify(module)


def test_module_symbols_unique():
    m = ModuleOp.build([FuncOp.build("f", [], []), FuncOp.build("f", [], [])])
    for fn in m.body.ops:
        Builder.at_end(fn.body).insert(ReturnOp.create([]))
    with pytest.raises(VerificationError, match="redefinition of symbol 'f'"):
        verify(m)


class _SwapToEffect(RewritePattern):
    """Test pattern: explains its refusal unless the add has identical operands."""

    root = "test.add"

    def match_and_rewrite(self, op, rewriter):
        if op.operands[0] is not op.operands[1]:
            return NoMatch("operands differ")
        return NoMatch("never rewrites")


def test_driver_explains_failed_matches():
    module, fn, add = _func()
    driver = GreedyRewriteDriver([_SwapToEffect()], explain=True)
    assert driver.run(module) is False
    assert ("_SwapToEffect", "test.add", "'add0'", "operands differ") in driver.failures


class _Refuse(RewritePattern):
    """Test pattern rooted on a class given at construction: records the ops it sees."""

    def __init__(self, root):
        self.root = root
        self.seen = []

    def match_and_rewrite(self, op, rewriter):
        self.seen.append(op.name)
        return NoMatch("never rewrites")


def test_patterns_are_rooted_on_classes_and_their_base_classes():
    from imcc.compiler.ir.ops import IROp

    module, fn, add = _func()
    on_add, on_base, on_const = _Refuse(AddOp), _Refuse(IROp), _Refuse(ConstantOp)
    GreedyRewriteDriver([on_add, on_base, on_const]).run(module)
    assert on_add.seen == ["test.add"] and on_const.seen == []
    assert "test.add" in on_base.seen and "func.return" in on_base.seen


def test_fold_materializes_constant():
    fn = FuncOp.build("f", [], [T])
    b = Builder.at_end(fn.body)
    one = DenseElementsAttr.from_array(np.array([1, 2], np.float32))
    c0 = b.insert(ConstantOp.create([], [T], {"value": one}))
    s = b.insert(AddOp.create([c0.result, c0.result], [T]))
    b.insert(EffectOp.create([s.result]))
    b.insert(ReturnOp.create([s.result]))
    module = ModuleOp.build([fn])
    assert GreedyRewriteDriver([]).run(module)
    names = [op.name for op in fn.body.ops]
    assert names == ["test.constant", "test.effect", "func.return"]
    np.testing.assert_array_equal(fn.body.ops[0].attributes["value"].array, [2, 4])
    verify(module)


def test_dense_attr_equality_and_hash():
    a = DenseElementsAttr.from_array(np.arange(6, dtype=np.float32).reshape(2, 3), hint="x")
    b = DenseElementsAttr.from_array(np.arange(6, dtype=np.float32).reshape(2, 3), hint="y")
    c = DenseElementsAttr.from_array(np.arange(6, dtype=np.float32).reshape(3, 2))
    assert a == b and hash(a) == hash(b)
    assert a != c
    assert not a.array.flags.writeable


def test_printing_is_deterministic():
    text = print_ir(_func()[0])
    assert text == print_ir(_func()[0])
    assert print_ir(parse_module(text)) == text


def test_grammar_is_collision_free_in_strict_mode():
    """lark's strict mode rejects grammars whose terminals can collide (needs 'interegular')."""
    pytest.importorskip("interegular")
    import lark
    from imcc.compiler.ir.parser import grammar_text

    lark.Lark(grammar_text(), parser="lalr", strict=True, propagate_positions=True)
