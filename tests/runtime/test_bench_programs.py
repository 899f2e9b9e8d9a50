"""The benchmark programs of bench/sim_speed.py compute what they claim, bit for bit.

Each workload (MobileNetV2 bottleneck, MLP, BERT FFN) is built at the benchmark's size and at a
small size that exercises row and column tiling over several arrays; the simulator must match the
int-exact numpy reference exactly in modes ideal and adc, and the fp32 ONNX twin must agree with
the dequantized output up to quantization error.
"""

from __future__ import annotations

import sys
from dataclasses import replace

import numpy as np
import onnxruntime as ort
import pytest
from _simkit import REPO
from imcc.runtime.isa.program import Const, Program
from imcc.runtime.sim import run_program
from imcc.runtime.sim.session import Session

sys.path.insert(0, str(REPO / "bench"))
import sim_models  # noqa: E402
import sim_quant  # noqa: E402
from simprog import ProgramBuilder  # noqa: E402
from test_sim_session import assert_same, reference_run  # noqa: E402

SMALL = {
    "bottleneck": {"h": 7, "w": 9, "c": 8, "expand": 6},
    "mlp": {"batch": 5, "dims": (300, 40, 20, 10)},  # 300 rows: two row blocks, acc
    "ffn": {"seq": 6, "d": 64, "dff": 1100},  # 1100: two column blocks, then two row blocks
}
CASES = [(name, {}) for name in sim_models.WORKLOADS] + list(SMALL.items())
IDS = [f"{name}-{'small' if kw else 'bench'}" for name, kw in CASES]


@pytest.fixture(scope="module", params=CASES, ids=IDS)
def workload(request):
    name, kwargs = request.param
    return sim_models.WORKLOADS[name](**kwargs)


def _ort(model, feed) -> np.ndarray:
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return session.run(None, feed)[0]


@pytest.mark.parametrize("mode", ["ideal", "adc"])
def test_simulator_matches_the_int_reference_exactly(workload, mode):
    result = run_program(workload.program, workload.inputs, mode=mode)
    got = workload.dequantize(result.outputs)
    want = workload.reference(mode)
    assert got.shape == want.shape
    assert np.array_equal(got, want), f"max |d| = {np.abs(got - want).max()}"


def test_the_adc_changes_the_result(workload):
    # the reference models the ADC, so a simulator that skipped it would fail the test above
    assert not np.array_equal(workload.reference("ideal"), workload.reference("adc"))


def test_the_onnx_twin_computes_the_same_network(workload):
    y = workload.ort_output(_ort(workload.onnx_model, workload.ort_inputs))
    ref = workload.reference("ideal")
    assert y.shape == ref.shape
    assert np.abs(y - ref).max() <= 0.05 * np.abs(y).max()  # activation quantization only


def test_the_prog_bin_image_runs_the_same(workload):
    again = Program.from_bytes(workload.program.to_bytes())
    a = run_program(again, workload.inputs, mode="adc").outputs
    b = run_program(workload.program, workload.inputs, mode="adc").outputs
    assert all(np.array_equal(a[k], b[k]) for k in b)


def _other_inputs(workload, seed: int) -> dict[str, np.ndarray]:
    """Inputs of the workload's shapes and dtypes with other values (in the quantized range)."""
    rng = np.random.default_rng(seed)
    out = {}
    for name, x in workload.inputs.items():
        if x.dtype.kind == "f":
            out[name] = (x * rng.uniform(0.5, 1.5, x.shape)).astype(x.dtype)
        else:
            out[name] = rng.integers(-128, 128, x.shape).astype(x.dtype)
    return out


@pytest.mark.parametrize("mode", ["ideal", "adc"])
def test_a_session_runs_like_one_shot_runs_input_after_input(workload, mode):
    session = Session(workload.program, mode=mode)
    assert session.prefix_len > 1 and session.cached_costs
    first = session.run(workload.inputs)
    assert np.array_equal(workload.dequantize(first.outputs), workload.reference(mode))
    target = first.target
    for inputs in (_other_inputs(workload, 1), workload.inputs, _other_inputs(workload, 2)):
        want = reference_run(workload.program, inputs, target, mode)
        assert_same(session.run(inputs), want)
        assert_same(run_program(workload.program, inputs, mode=mode), want)


def test_a_wrong_weight_is_caught():
    wl = sim_models.mlp(**SMALL["mlp"])
    blob = wl.program.const("fc1.w0")
    w = blob.values()
    w[np.flatnonzero(w)[0]] *= -1
    program = replace(wl.program, consts=list(wl.program.consts))
    program.consts[program.consts.index(blob)] = Const.from_values(blob.name, "t2", w)
    got = wl.dequantize(run_program(program, wl.inputs, mode="ideal").outputs)
    assert not np.array_equal(got, wl.reference("ideal"))


# --- the program-construction helper -------------------------------------------------------------


def test_layers_are_split_over_array_windows_and_row_blocks_accumulate():
    b = ProgramBuilder("cluster")
    t = np.ones((300, 260), np.int8)
    blocks = sim_quant.choose_blocks(np.ones((2, 300), np.int8), t, 256, 256, 8)
    layer = b.ternary_layer("l", t, blocks)
    assert [(w.k0, w.k1, w.n0, w.n1) for w in layer.windows] == [
        (0, 256, 0, 256),
        (0, 256, 256, 260),
        (256, 300, 0, 256),
        (256, 300, 256, 260),
    ]
    assert len({w.array for w in layer.windows}) == 4
    # column sums of ones: 256 > 2·127 needs an ADC step of 4; 44 fits a step of 1
    assert [w.adc_shift for w in layer.windows] == [2, 2, 0, 0]
    x = b.scratch("x", "i8", (2, 300))
    acc = b.scratch("acc", "i32", (2, 260))
    b.matmul(layer, x, acc)
    mvms = [i for i in b.program.instrs if i.mnemonic == "xb.mvm"]
    assert [i.acc for i in mvms] == [False, False, True, True]
    assert [i.src_addr - x.addr for i in mvms] == [0, 0, 256, 256]
    assert [i.dst_addr - acc.addr for i in mvms] == [0, 1024, 0, 1024]


def test_scratch_goes_to_l2_once_l1_is_full_and_operands_fill_dtypes():
    b = ProgramBuilder("cluster")
    big = b.scratch("big", "i32", (100, 1024))  # 400 KiB: fits the 512 KiB L1
    spill = b.scratch("spill", "i32", (100, 1024))
    assert (big.mem, spill.mem) == ("L1", "L2")
    scale = b.const("s", "f32", np.ones(1024, np.float32))
    ins = b.emit("cl.requant", src=big, dst=spill, rows=100, channels=1024, scale=scale, bias=scale)
    assert (ins.src_dtype, ins.dst_dtype, ins.dst_mem) == ("i32", "i32", "L2")


def test_running_out_of_arrays_is_an_error():
    b = ProgramBuilder("cluster")
    t = np.ones((256 * 129, 1), np.int8)  # 129 windows, the cluster has 128 arrays
    blocks = [sim_quant.Block(k, k + 256, 0, 1, 0) for k in range(0, t.shape[0], 256)]
    with pytest.raises(ValueError, match="arrays of group ima are all used"):
        b.ternary_layer("huge", t, blocks)
