"""Differential checking of one model through every level: the interpreter on the quant and imc
levels and the simulator on the emitted binary must agree bit for bit."""

from __future__ import annotations

import numpy as np
from imcc.compiler.backend.emit import emit_program
from imcc.compiler.interp.interpreter import run_module
from imcc.compiler.pipelines import LEVELS
from imcc.compiler.pm import PassManager, parse_pipeline
from imcc.runtime.sim.runner import run_program

import imcc

STEPS = {lv.name: lv.steps for lv in LEVELS}


def run_levels(model, inputs: dict, precision: str, target: str = "cluster", **compile_kw):
    """(quant outputs, imc outputs, binary outputs, run result) for ``model`` on ``inputs``."""
    shapes = {k: v.shape for k, v in inputs.items()}
    module = imcc.compile(
        model,
        emit="quant",
        precision=precision,
        target=target,
        input_shapes=shapes,
        notes=lambda m: None,
        **compile_kw,
    )
    quant = run_module(module, inputs).as_list()
    PassManager(parse_pipeline(",".join(STEPS["imc"]))).run(module)
    imc = run_module(module, inputs).as_list()
    PassManager(parse_pipeline(",".join(STEPS["isa"]))).run(module)
    program = emit_program(module)
    result = run_program(program, _by_table_name(program, inputs))
    binary = [result.outputs[t.name] for t in program.tensors if t.role == "output"]
    return quant, imc, binary, result


def _by_table_name(program, inputs):
    import json

    names = json.loads(program.meta["inputs"])
    return {table: inputs[model] for table, model in names.items()}


def assert_same_bits(a: list[np.ndarray], b: list[np.ndarray], what: str) -> None:
    assert len(a) == len(b), what
    for i, (x, y) in enumerate(zip(a, b)):
        assert x.dtype == y.dtype and x.shape == y.shape, f"{what}: output {i} differs in type"
        diff = np.abs(x.astype(np.float64) - y.astype(np.float64)).max() if x.size else 0.0
        assert np.array_equal(x, y, equal_nan=True), f"{what}: output {i} differs by {diff}"
