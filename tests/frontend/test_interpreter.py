"""The reference interpreter: the INTERPRETERS registry as an extension point, type checks, and
freeing values after their last use."""

from __future__ import annotations

import numpy as np
import pytest
from imcc.compiler.dialects.func import FuncOp, ReturnOp
from imcc.compiler.dialects.testing import AddOp
from imcc.compiler.interp import interpreter as interp
from imcc.compiler.ir import ModuleOp
from imcc.compiler.ir.types import f32, tensor


def _test_add_module(result_type=None):
    t = tensor((2,), f32)
    func = FuncOp.build("main", [t, t], [])
    add = func.body.append(AddOp.create(list(func.body.args), [result_type or t]))
    func.body.append(ReturnOp.create([add.results[0]]))
    func.update_function_type()
    return ModuleOp.build([func])


@pytest.fixture()
def test_add_interpreter():
    """Register an interpreter for 'test.add' the way a new dialect would, and remove it after."""

    @interp.register_interpreter("test.add")
    def run_add(op, inputs, interpreter):
        return [inputs[0] + inputs[1]]

    yield run_add
    del interp.INTERPRETERS["test.add"]


def test_other_dialects_extend_the_registry(test_add_interpreter):
    result = interp.run_module(_test_add_module(), [np.ones(2, np.float32), np.ones(2, np.float32)])
    np.testing.assert_array_equal(result["out0"], [2.0, 2.0])
    with pytest.raises(ValueError, match="two interpreters"):
        interp.register_interpreter("test.add")(lambda op, inputs, i: inputs)


def test_unknown_op_is_reported():
    with pytest.raises(interp.InterpreterError, match="cannot run 'test.add'"):
        interp.run_module(_test_add_module(), [np.ones(2, np.float32)] * 2)


def test_results_are_checked_against_their_types(test_add_interpreter):
    module = _test_add_module(tensor((3,), f32))
    with pytest.raises(
        interp.InterpreterError, match="shape \\[2\\], but the IR says tensor<3xf32>"
    ):
        interp.run_module(module, [np.ones(2, np.float32)] * 2)
    assert interp.run_module(module, [np.ones(2, np.float32)] * 2, check_types=False)


def test_values_are_freed_after_their_last_use():
    """In a chain x -> a -> b -> c -> d, each intermediate array dies once its user has run."""
    import weakref

    t = tensor((1000,), f32)
    func = FuncOp.build("main", [t, t], [])
    value, y = func.body.args
    for _ in range(4):
        value = func.body.append(AddOp.create([value, y], [t])).results[0]
    func.body.append(ReturnOp.create([value]))
    func.update_function_type()
    produced: list[weakref.ref] = []
    alive_at_each_step: list[int] = []

    @interp.register_interpreter("test.add")
    def run_add(op, inputs, interpreter):
        alive_at_each_step.append(sum(ref() is not None for ref in produced))
        out = inputs[0] + inputs[1]
        produced.append(weakref.ref(out))
        return [out]

    try:
        interp.run_module(ModuleOp.build([func]), [np.ones(1000, np.float32)] * 2)
    finally:
        del interp.INTERPRETERS["test.add"]
    # When op k runs, only its own input (op k-1's result) is still alive.
    assert alive_at_each_step == [0, 1, 1, 1]


def test_elided_constants_refuse_to_run(onnx_models):
    from imcc.compiler.frontend.importer import import_model
    from imcc.compiler.ir import parse_module, print_ir

    text = print_ir(import_model(onnx_models.conv_model(), notes=None), elide_resources=True)
    with pytest.raises(interp.InterpreterError, match="left out of the IR text"):
        interp.run_module(parse_module(text), [np.zeros((1, 3, 6, 6), np.float32)])


def test_op_modules_are_loaded_by_convention():
    import glob
    import os

    folder = os.path.dirname(interp.__file__)
    expected = sorted(os.path.basename(p)[:-3] for p in glob.glob(os.path.join(folder, "*_ops.py")))
    assert interp.load_op_modules() == expected
