"""The reference interpreter: runs a module's ``main`` function op by op with numpy.

It is the executable definition of the graph-level dialects: every stage of the compiler can be
run and compared with onnxruntime and with the stage before. Each op class registers one function
in :data:`INTERPRETERS`, ``fn(op, inputs, interpreter) -> outputs`` (absent values are ``None``).
onnx ops run through the kernel library (runtime/kernels/onnx), with their attributes turned back
into plain values: the dialect lists its op types, and this module checks at import that the library
has a kernel for each (:func:`check_kernels`). Other dialects register their ops the same way::

    @register_interpreter(imc.MvmOp)
    def _mvm(op, inputs, interp):
        return [...]

By convention such functions live in ``compiler/interp/<dialect>_ops.py``; the interpreter imports
every ``*_ops`` module of this package before its first run (:func:`load_op_modules`), so a dialect
needs no line anywhere else to become runnable.

Values are dropped as soon as their last user has run, so peak memory follows the live tensors.
"""

from __future__ import annotations

import importlib
import os
import pkgutil
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from imcc.runtime.kernels.onnx import KERNELS, KernelContext, KernelError, kernel_for

from ..dialects.func import FuncOp
from ..dialects.onnx import ONNX_OPS, ConstantOp, NoValueOp, module_opset, plain_attributes
from ..ir.builtin import ModuleOp
from ..ir.core import Block, Operation, Value
from ..ir.diagnostics import IRError
from ..ir.ops import Terminator
from ..ir.printer import ElidedElementsAttr
from ..ir.types import NoneType, RankedTensorType, numpy_dtype

Array = np.ndarray | None
OpInterpreter = Callable[[Operation, list[Array], "Interpreter"], list[Array]]

#: Op name -> the function that evaluates it (filled by :func:`register_interpreter`).
INTERPRETERS: dict[str, OpInterpreter] = {}

#: Levels that are whole programs rather than functions of ops (the isa level): a predicate on
#: the module and the function that runs it, ``runner(module, inputs) -> {name: array}``.
MODULE_RUNNERS: list[tuple[Callable[[ModuleOp], bool], Callable]] = []


def register_interpreter(*ops: type[Operation] | str) -> Callable[[OpInterpreter], OpInterpreter]:
    """Decorator: make ``fn`` the interpreter of the op classes ``ops`` (a renamed op keeps its
    interpreter; a name string only for an op that has no class, of an unregistered dialect)."""
    names = [op if isinstance(op, str) else op.name for op in ops]

    def register(fn: OpInterpreter) -> OpInterpreter:
        for name in names:
            if name in INTERPRETERS and INTERPRETERS[name] is not fn:
                raise ValueError(f"op {name} has two interpreters")
            INTERPRETERS[name] = fn
        return fn

    return register


def load_op_modules() -> list[str]:
    """Import every ``*_ops`` module next to this one (each registers its dialect's ops); returns
    their names, sorted."""
    package = __name__.rpartition(".")[0]
    folder = os.path.dirname(os.path.abspath(__file__))
    names = sorted(m.name for m in pkgutil.iter_modules([folder]) if m.name.endswith("_ops"))
    for name in names:
        importlib.import_module(f"{package}.{name}")
    return names


class InterpreterError(IRError):
    """An op could not be evaluated (bad inputs, an unsupported attribute value, a type clash)."""


class InputMismatchError(InterpreterError):
    """The inputs given do not match the function's arguments (names, count, shapes, types)."""


@dataclass
class RunResult:
    """What a run produced: ``outputs`` maps each output name to its array, in output order."""

    outputs: dict[str, np.ndarray]

    def __getitem__(self, name: str) -> np.ndarray:
        return self.outputs[name]

    def as_list(self) -> list[np.ndarray]:
        return list(self.outputs.values())


def main_function(module: ModuleOp) -> FuncOp:
    """The function a module runs: ``@main``, or its only function."""
    funcs = [op for op in module.body.ops if isinstance(op, FuncOp)]
    for func in funcs:
        if func.sym_name == "main":
            return func
    if len(funcs) == 1:
        return funcs[0]
    raise InterpreterError(f"module has {len(funcs)} functions and none is called 'main'")


def arg_names(func: FuncOp) -> list[str]:
    """Names of the function's inputs (``arg_names``, else ``arg0``, ``arg1``, ...)."""
    names = func.get_attr("arg_names")
    return list(names) if names else [f"arg{i}" for i in range(len(func.body.args))]


def result_names(func: FuncOp) -> list[str]:
    """Names of the function's outputs (``result_names``, else ``out0``, ``out1``, ...)."""
    names = func.get_attr("result_names")
    return list(names) if names else [f"out{i}" for i in range(len(func.function_type.results))]


class Interpreter:
    """Runs one module. ``check_types`` compares every produced array with its IR type, which
    catches a wrong shape inference or kernel at the op that caused it."""

    def __init__(self, module: ModuleOp, check_types: bool = True):
        load_op_modules()
        self.module = module
        self.check_types = check_types
        self.runner = next((run for match, run in MODULE_RUNNERS if match(module)), None)
        if self.runner is not None:
            return
        self.func = main_function(module)
        #: The onnx opset of the module (kernels need it).
        self.opset = module_opset(module)

    def run(self, inputs: Mapping[str, np.ndarray] | Sequence[np.ndarray]) -> RunResult:
        """Run ``main`` on inputs given by name or in argument order."""
        if self.runner is not None:
            return RunResult(self.runner(self.module, inputs))
        args = bind_inputs(self.func, inputs)
        outputs = self.run_block(self.func.body, args)
        return RunResult(dict(zip(result_names(self.func), outputs)))

    def run_block(self, block: Block, args: Sequence[Array]) -> list[Array]:
        """Evaluate a block and return the operands of its terminator."""
        env: dict[int, Array] = {id(a): v for a, v in zip(block.args, args)}
        last_use = _last_uses(block)
        for index, op in enumerate(block.ops):
            inputs = [env[id(v)] for v in op.operands]
            if op.has_trait(Terminator):
                return inputs
            outputs = self.evaluate(op, inputs)
            for result, out in zip(op.results, outputs):
                env[id(result)] = out
            for value in last_use.pop(index, ()):
                env.pop(id(value), None)
        raise InterpreterError(
            "block has no terminator", block.parent_op.location if block.parent_op else None
        )

    def evaluate(self, op: Operation, inputs: list[Array]) -> list[Array]:
        """Evaluate one op through its registered interpreter."""
        fn = INTERPRETERS.get(op.name)
        if fn is None:
            raise InterpreterError(f"the interpreter cannot run '{op.name}'", op.location)
        outputs = fn(op, inputs, self)
        if len(outputs) != len(op.results):
            raise InterpreterError(
                f"'{op.name}' produced {len(outputs)} values for {len(op.results)} results",
                op.location,
            )
        if self.check_types:
            for i, (result, out) in enumerate(zip(op.results, outputs)):
                _check_value(op, i, result, out)
        return outputs


def _last_uses(block: Block) -> dict[int, list[Value]]:
    """Op index -> values (defined in this block) whose last use is that op."""
    last: dict[int, tuple[int, Value]] = {}
    for index, op in enumerate(block.ops):
        for value in op.operands:
            last[id(value)] = (index, value)
    out: dict[int, list[Value]] = {}
    for index, value in last.values():
        out.setdefault(index, []).append(value)
    return out


def _check_value(op: Operation, index: int, result: Value, out: Array) -> None:
    t = result.type
    if isinstance(t, NoneType):
        if out is not None:
            raise InterpreterError(f"'{op.name}' result #{index} should be absent", op.location)
        return
    if not isinstance(t, RankedTensorType):
        return
    if not isinstance(out, np.ndarray):
        raise InterpreterError(f"'{op.name}' result #{index} is missing", op.location)
    shape_ok = out.ndim == t.rank and all(d is None or d == s for d, s in zip(t.shape, out.shape))
    if out.dtype != numpy_dtype(t.element_type) or not shape_ok:
        raise InterpreterError(
            f"'{op.name}' result #{index} is a {out.dtype} array of shape {list(out.shape)}, but the "
            f"IR says {t}",
            op.location,
        )


def bind_inputs(
    func: FuncOp, inputs: Mapping[str, np.ndarray] | Sequence[np.ndarray]
) -> list[np.ndarray]:
    """Check ``inputs`` against the function's arguments and return them in argument order.

    Names must match exactly; element types must be equal (no silent casts); every static
    dimension must match.
    """
    names = arg_names(func)
    if isinstance(inputs, Mapping):
        missing = [n for n in names if n not in inputs]
        unknown = sorted(set(inputs) - set(names))
        if missing or unknown:
            parts = []
            if missing:
                parts.append(f"missing {missing}")
            if unknown:
                parts.append(f"unknown {unknown}")
            raise InputMismatchError(
                f"inputs do not match the model's inputs {names}: {'; '.join(parts)}"
            )
        values = [inputs[n] for n in names]
    else:
        values = list(inputs)
        if len(values) != len(names):
            raise InputMismatchError(
                f"the model takes {len(names)} input(s) {names}, got {len(values)}"
            )
    out = []
    for name, arg, value in zip(names, func.body.args, values):
        array = np.asarray(value)
        t = arg.type
        if isinstance(t, RankedTensorType):
            want = numpy_dtype(t.element_type)
            if array.dtype != want:
                raise InputMismatchError(
                    f"input '{name}' has element type {array.dtype}, the model expects {want} ({t})"
                )
            shape_ok = array.ndim == t.rank and all(
                d is None or d == s for d, s in zip(t.shape, array.shape)
            )
            if not shape_ok:
                raise InputMismatchError(
                    f"input '{name}' has shape {list(array.shape)}, the model expects {t}"
                )
        out.append(array)
    return out


def run_module(module: ModuleOp, inputs, check_types: bool = True) -> RunResult:
    """Run ``module``'s main function on ``inputs`` (by name or in order)."""
    return Interpreter(module, check_types).run(inputs)


# --- built-in ops -----------------------------------------------------------------------------------


@register_interpreter(ConstantOp)
def _constant(op: Operation, inputs: list[Array], interp: Interpreter) -> list[Array]:
    value = op.attributes["value"]
    if isinstance(value, ElidedElementsAttr):
        raise InterpreterError(
            "this constant's data was left out of the IR text (--elide-resources); "
            "emit the IR again without it to run it",
            op.location,
        )
    return [value.array]


@register_interpreter(NoValueOp)
def _no_value(op: Operation, inputs: list[Array], interp: Interpreter) -> list[Array]:
    return [None]


def _onnx_op(op: Operation, inputs: list[Array], interp: Interpreter) -> list[Array]:
    """Any generated onnx op: its kernel, with plain attributes and the module's opset."""
    present = [i for i, r in enumerate(op.results) if not isinstance(r.type, NoneType)]
    num_outputs = present[-1] + 1 if present else 0
    try:
        kernel = kernel_for(op.op_type, interp.opset)
        outputs = kernel(inputs, plain_attributes(op), KernelContext(interp.opset, num_outputs))
    except KernelError as exc:
        raise InterpreterError(f"'{op.name}' failed: {exc}", op.location) from None
    outputs = list(outputs) + [None] * (len(op.results) - len(outputs))
    return [None if isinstance(r.type, NoneType) else out for r, out in zip(op.results, outputs)]


def check_kernels(op_types, kernels) -> None:
    """Fail, naming them, when the onnx dialect defines op types the kernel library cannot run
    (``onnx.Constant`` is evaluated here, not by a kernel)."""
    missing = [t for t in op_types if t != "Constant" and t not in kernels]
    if missing:
        raise ImportError(
            f"the onnx dialect defines {', '.join('onnx.' + t for t in missing)}, but the kernel "
            "library (imcc.runtime.kernels.onnx.KERNELS) has no kernel for "
            + ("them" if len(missing) > 1 else "it")
        )


# The dialect defines the op set, the interpreter implements it: every listed op needs a kernel.
check_kernels(ONNX_OPS, KERNELS)
register_interpreter(*(cls for cls in ONNX_OPS.values() if cls is not ConstantOp))(_onnx_op)
