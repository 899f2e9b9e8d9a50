"""Prepared execution: `Session.run` gives exactly what a fresh one-shot run gives, every time.

The oracle is `reference_run`, the simulator's run loop written the plain way: a fresh machine,
constants and inputs stored in table order, then every instruction through `semantics.execute`
with its cost and schedule, no prefix, no restore, no compiled steps. Sessions must match it
bit for bit (outputs) and number for number (report) over repeated runs with changing inputs,
on the benchmark-like programs and on randomly generated ones that read memory before writing it,
accumulate into stale results, rewrite arrays while running and leave outputs half written.
"""

from __future__ import annotations

import numpy as np
import pytest
from _simkit import ANALOG, DIGITAL, DYNAMIC, program, tiny_target
from imcc.runtime.isa.encoding import Instr
from imcc.runtime.isa.packing import pack
from imcc.runtime.isa.program import Const, Program, Tensor
from imcc.runtime.sim import RunError, run_program
from imcc.runtime.sim.cost.cost import cost
from imcc.runtime.sim.cost.report import Record, build_report
from imcc.runtime.sim.cost.schedule import Scheduler
from imcc.runtime.sim.machine.footprint import CheckError, check_program
from imcc.runtime.sim.machine.machine import Machine, SimError
from imcc.runtime.sim.machine.semantics import execute
from imcc.runtime.sim.session import Session, prefix_length
from imcc.runtime.sim.validate import check_inputs

TINY = tiny_target()


def reference_run(prog: Program, inputs, target, mode="adc", seed=0, drift_time=None):
    """(outputs, report dict) of one run done the plain way (see the module docstring)."""
    footprints = check_program(prog, target)
    values = check_inputs(prog, inputs)
    m = Machine(target, mode, seed, drift_time)
    for t in prog.tensors:
        if t.role == "const":
            raw = np.frombuffer(prog.const(t.name).raw, dtype=np.uint8)
            m.region(t.mem, t.addr, raw.size)[:] = raw
        elif t.role == "input":
            m.store(t.mem, t.addr, values[t.name], t.dtype)
    sched = Scheduler(
        target.chip.issue_cycles, {"cores": target.cores.count, "dma": target.dma.count}
    )
    records = []
    with np.errstate(all="ignore"):
        for i, (ins, fp) in enumerate(zip(prog.instrs, footprints)):
            work = cost(ins, target, m)
            slot = sched.place(i, ins.mnemonic, ins.fields, fp, work.cycles, work.servers)
            execute(m, ins)
            records.append(Record(slot, ins.mnemonic, fp, work))
            if m.halted:
                break
    outputs = {
        t.name: m.load(t.mem, t.addr, t.dtype, t.shape) for t in prog.tensors if t.role == "output"
    }
    return outputs, build_report(target, prog, records, m, seed, drift_time).to_dict()


def assert_same(result, expected) -> None:
    """A `RunResult` equals reference (outputs, report dict) exactly."""
    outputs, report = expected
    assert list(result.outputs) == list(outputs)
    for name, want in outputs.items():
        got = result.outputs[name]
        assert got.dtype == want.dtype and got.shape == want.shape
        assert got.tobytes() == want.tobytes(), name
    assert result.report.to_dict() == report


# --- a small network with a prefix, on every mode -----------------------------------------------


def _mlp_program() -> Program:
    """x (8 x 32 i8) -> analog window -> requant -> dynamic array written per run -> y."""
    rng = np.random.default_rng(0)
    w = rng.integers(-7, 8, (32, 16))
    tensors = [
        Tensor("x", "input", "i8", (8, 32), "L1", 0),
        Tensor("w", "const", "i4", (32, 16), "L2", 0),
        Tensor("s", "const", "f32", (16,), "L2", 512),
        Tensor("acc", "scratch", "i32", (8, 16), "L1", 1024),
        Tensor("h", "scratch", "i8", (8, 16), "L1", 2048),
        Tensor("y", "output", "i32", (8, 16), "L1", 3072),
    ]
    consts = [Const.from_values("w", "i4", w), Const.from_values("s", "f32", rng.random(16) / 50)]
    mvm = {"row0": 0, "col0": 0, "cols": 16, "src_mem": "L1", "dst_mem": "L1", "n_inner": 8}
    instrs = [
        (
            "xb.prog",
            {
                "array": ANALOG,
                "row0": 0,
                "col0": 0,
                "rows": 32,
                "cols": 16,
                "fmt": "i4",
                "src_mem": "L2",
                "src_addr": 0,
            },
        ),
        ("barrier", {}),
        (
            "xb.mvm",
            {
                **mvm,
                "array": ANALOG,
                "rows": 32,
                "src_addr": 0,
                "seg_len": 32,
                "inner_stride": 32,
                "dst_addr": 1024,
                "dst_stride": 64,
                "adc_shift": 3,
            },
        ),
        (
            "cl.requant",
            {
                "src_mem": "L1",
                "src_addr": 1024,
                "dst_mem": "L1",
                "dst_addr": 2048,
                "dst_dtype": "i8",
                "rows": 8,
                "channels": 16,
                "scale_mem": "L2",
                "scale_addr": 512,
                "bias_mem": "L2",
                "bias_addr": 512,
                "lo": -100.0,
                "hi": 100.0,
            },
        ),
        # the requantized activations become the weights of a dynamic array, then its input
        (
            "xb.write",
            {
                "array": DYNAMIC,
                "row0": 0,
                "col0": 0,
                "rows": 8,
                "cols": 16,
                "src_mem": "L1",
                "src_addr": 2048,
                "src_stride": 16,
            },
        ),
        (
            "xb.mvm",
            {
                **mvm,
                "array": DYNAMIC,
                "rows": 8,
                "src_addr": 0,
                "seg_len": 8,
                "inner_stride": 32,
                "dst_addr": 3072,
                "dst_stride": 64,
                "adc_shift": 4,
            },
        ),
        ("halt", {}),
    ]
    return program(instrs, tensors, consts)


@pytest.mark.parametrize("mode", ["ideal", "adc", "noisy", "drift"])
def test_repeated_runs_equal_fresh_one_shot_runs(mode):
    prog = _mlp_program()
    drift = 1e4 if mode == "drift" else None
    session = Session(prog, TINY, mode, seed=5, drift_time=drift)
    assert session.prefix_len == 2
    rng = np.random.default_rng(1)
    for _ in range(3):
        x = rng.integers(-128, 128, (8, 32), dtype=np.int8)
        want = reference_run(prog, {"x": x}, TINY, mode, 5, drift)
        assert_same(session.run({"x": x}), want)
        assert_same(run_program(prog, {"x": x}, TINY, mode, 5, drift), want)


def test_cached_costs_equal_recomputed_costs():
    prog = _mlp_program()
    cached, fresh = Session(prog, TINY), Session(prog, TINY, cache=False)
    assert cached.cached_costs and not fresh.cached_costs and not cached.dynamic_costs
    x = np.ones((8, 32), np.int8)
    for _ in range(3):
        a, b = cached.run({"x": x}), fresh.run({"x": x})
        assert a.report.to_dict() == b.report.to_dict()
        assert [(r.slot, r.work) for r in a.records] == [(r.slot, r.work) for r in b.records]


def test_reports_are_copies_that_later_runs_do_not_share():
    session = Session(_mlp_program(), TINY)
    x = np.zeros((8, 32), np.int8)
    first, second = session.run({"x": x}), session.run({"x": x})
    second.report.to_dict()["total"]["cycles"] = -1
    assert session.run({"x": x}).report.cycles == first.report.cycles > 0


# --- the prefix rule ----------------------------------------------------------------------------


def _prefix_of(instrs, tensors=()) -> int:
    prog = program(instrs, tensors)
    return prefix_length(prog, check_program(prog, TINY))


FILL = ("fill", {"dst_mem": "L1", "dst_addr": 512, "bytes": 16, "value": 3})
READ_X = ("cl.copy", {"src_mem": "L1", "src_addr": 0, "dst_mem": "L1", "dst_addr": 256, "bytes": 4})
X_IN = [Tensor("x", "input", "i8", (16,), "L1", 0)]


def test_prefix_ends_at_the_first_barrier():
    assert _prefix_of([FILL, ("barrier", {}), FILL, ("barrier", {})]) == 2
    assert _prefix_of([FILL, FILL]) == 0  # no barrier: no prefix
    assert _prefix_of([("halt", {}), ("barrier", {})]) == 0  # never reached


def test_an_instruction_touching_an_input_empties_the_prefix():
    assert _prefix_of([READ_X, ("barrier", {})], X_IN) == 0
    write_x = ("fill", {"dst_mem": "L1", "dst_addr": 8, "bytes": 4, "value": 0})
    assert _prefix_of([write_x, ("barrier", {})], X_IN) == 0
    assert _prefix_of([FILL, ("barrier", {}), READ_X], X_IN) == 2


# --- run-time behaviour -------------------------------------------------------------------------


def test_a_fault_in_one_run_leaves_the_session_usable():
    tensors = [
        Tensor("i", "input", "i32", (2,), "L1", 0),
        Tensor("t", "const", "u8", (4, 4), "L1", 64),
        Tensor("y", "output", "u8", (2, 4), "L1", 128),
    ]
    gather = {
        "table_mem": "L1",
        "table_addr": 64,
        "idx_mem": "L1",
        "idx_addr": 0,
        "dst_mem": "L1",
        "dst_addr": 128,
        "count": 2,
        "n_rows": 4,
        "row_bytes": 4,
    }
    consts = [Const.from_values("t", "u8", np.arange(16).reshape(4, 4))]
    prog = program([("cl.gather", gather), ("halt", {})], tensors, consts)
    session = Session(prog, TINY)
    with pytest.raises(RunError, match=r"instruction 0 \(cl.gather\): gather index 9"):
        session.run({"i": np.array([1, 9], np.int32)})
    good = np.array([3, 0], np.int32)
    assert_same(session.run({"i": good}), reference_run(prog, {"i": good}, TINY))


def test_bad_inputs_and_spent_one_shot_sessions_are_errors():
    session = Session(_mlp_program(), TINY)
    with pytest.raises(RunError, match="missing input 'x'"):
        session.run({})
    once = Session(_mlp_program(), TINY, reusable=False)
    once.run({"x": np.zeros((8, 32), np.int8)})
    with pytest.raises(RunError, match="one run"):
        once.run({"x": np.zeros((8, 32), np.int8)})


def test_fat_costs_that_depend_on_the_inputs_are_recomputed():
    # the body programs a FAT array from the input: zero skipping makes cycles data-dependent
    tensors = [
        Tensor("w", "input", "u8", (64,), "L1", 0),
        Tensor("x", "const", "i8", (4, 16), "L1", 256),
        Tensor("y", "output", "i32", (4, 16), "L1", 512),
    ]
    consts = [Const.from_values("x", "i8", np.arange(64).reshape(4, 16) - 32)]
    win = {"array": DIGITAL, "row0": 0, "col0": 0, "rows": 16, "cols": 16}
    instrs = [
        ("barrier", {}),
        ("xb.prog", {**win, "fmt": "t2", "src_mem": "L1", "src_addr": 0}),
        (
            "xb.mvm",
            {
                **win,
                "src_mem": "L1",
                "src_addr": 256,
                "seg_len": 16,
                "inner_stride": 16,
                "n_inner": 4,
                "dst_mem": "L1",
                "dst_addr": 512,
                "dst_stride": 64,
            },
        ),
    ]
    prog = program(instrs, tensors, consts)
    session = Session(prog, TINY)
    assert session.dynamic_costs and not session.cached_costs
    rng = np.random.default_rng(2)
    cycles = set()
    for density in (0.1, 0.5, 0.9):
        t = np.where(rng.random(256) < density, rng.choice([-1, 1], 256), 0)
        w = {"w": np.frombuffer(pack("t2", t), np.uint8)}
        result = session.run(w)
        assert_same(result, reference_run(prog, w, TINY))
        cycles.add(result.report.cycles)
    assert len(cycles) == 3


def test_constants_that_the_body_rewrites_are_read_every_run():
    # the scales of a requant come from the input: nothing may be frozen at preparation time
    tensors = [
        Tensor("s", "input", "f32", (4,), "L1", 0),
        Tensor("x", "const", "i32", (16, 4), "L1", 64),
        Tensor("dw", "const", "i8", (3, 3, 4), "L1", 512),
        Tensor("y", "output", "i8", (16, 4), "L1", 1024),
        Tensor("z", "output", "i32", (4, 4, 4), "L1", 2048),
    ]
    consts = [
        Const.from_values("x", "i32", np.arange(64).reshape(16, 4) - 30),
        Const.from_values("dw", "i8", np.arange(36).reshape(3, 3, 4) - 18),
    ]
    rq = {
        "src_mem": "L1",
        "src_addr": 64,
        "dst_mem": "L1",
        "dst_addr": 1024,
        "dst_dtype": "i8",
        "rows": 16,
        "channels": 4,
        "scale_mem": "L1",
        "scale_addr": 256,
        "has_bias": True,
        "bias_mem": "L1",
        "bias_addr": 256,
    }
    dw = {
        "src_mem": "L1",
        "src_addr": 1024,
        "wgt_mem": "L1",
        "wgt_addr": 512,
        "dst_mem": "L1",
        "dst_addr": 2048,
        "h": 4,
        "w": 4,
        "c": 4,
        "kh": 3,
        "kw": 3,
        "pad_t": 1,
        "pad_l": 1,
        "pad_b": 1,
        "pad_r": 1,
    }
    copy = {"src_mem": "L1", "src_addr": 0, "dst_mem": "L1", "bytes": 16}
    instrs = [
        ("barrier", {}),
        ("cl.copy", {**copy, "dst_addr": 256}),
        ("cl.requant", rq),
        ("cl.copy", {**copy, "dst_addr": 512}),  # and the depthwise weights too
        ("dw.conv", dw),
    ]
    prog = program(instrs, tensors, consts)
    session = Session(prog, TINY)
    for scale in ([0.5, 1, 2, 3], [-1, 0.25, 4, 1e-3]):
        s = {"s": np.array(scale, np.float32)}
        assert_same(session.run(s), reference_run(prog, s, TINY))


def test_constants_overlapping_an_input_win_as_in_table_order():
    tensors = [
        Tensor("a", "const", "u8", (4,), "L1", 0),  # before x: x overwrites a[2:]
        Tensor("x", "input", "u8", (8,), "L1", 2),
        Tensor("c", "const", "u8", (6,), "L1", 8),  # after x: overwrites x[6:], and beyond it
        Tensor("y", "output", "u8", (16,), "L1", 64),
    ]
    consts = [Const.from_values("a", "u8", [1] * 4), Const.from_values("c", "u8", [9] * 6)]
    fill = {"dst_mem": "L1", "dst_addr": 12, "bytes": 2, "value": 7}  # c's bytes outside x
    copy = {"src_mem": "L1", "src_addr": 0, "dst_mem": "L1", "dst_addr": 64, "bytes": 16}
    prog = program([("fill", fill), ("barrier", {}), ("cl.copy", copy)], tensors, consts)
    session = Session(prog, TINY)
    assert session.prefix_len == 2
    for x in (np.arange(8, dtype=np.uint8), np.full(8, 200, np.uint8)):
        assert_same(session.run({"x": x}), reference_run(prog, {"x": x}, TINY))


# --- random programs ----------------------------------------------------------------------------

L1_SPAN = 1536  # every operand lies in the first bytes of L1, so instructions collide often


def _addr(rng, nbytes, align=1) -> int:
    return int(rng.integers(0, (L1_SPAN - nbytes) // align + 1)) * align


def _random_instr(rng) -> tuple[str, dict]:
    kind = rng.choice(
        [
            "fill",
            "dma",
            "copy",
            "mvm",
            "mvm",
            "requant",
            "quant",
            "eltwise",
            "write",
            "prog",
            "dwconv",
        ]
    )
    if kind == "fill":
        n = int(rng.integers(1, 64))
        return "fill", {
            "dst_mem": "L1",
            "dst_addr": _addr(rng, n),
            "bytes": n,
            "value": int(rng.integers(0, 256)),
        }
    if kind == "dma":
        rows, width = int(rng.integers(1, 6)), int(rng.integers(1, 24))
        s1, s2 = width + int(rng.integers(0, 8)), width + int(rng.integers(0, 8))
        return "dma", {
            "src_mem": "L1",
            "src_addr": _addr(rng, rows * s1),
            "dst_mem": "L1",
            "dst_addr": _addr(rng, rows * s2),
            "rows": rows,
            "row_bytes": width,
            "src_stride": s1,
            "dst_stride": s2,
        }
    if kind == "copy":
        n = int(rng.integers(1, 64))
        return "cl.copy", {
            "src_mem": "L1",
            "src_addr": _addr(rng, n),
            "dst_mem": "L1",
            "dst_addr": _addr(rng, n),
            "bytes": n,
        }
    if kind in ("mvm", "write", "prog"):
        array = int(rng.choice([ANALOG, ANALOG + 1, DYNAMIC, DIGITAL]))
        size = 16 if array == DYNAMIC else 32
        rows, cols = int(rng.integers(1, size + 1)), int(rng.integers(1, size + 1))
        r0, c0 = int(rng.integers(0, size - rows + 1)), int(rng.integers(0, size - cols + 1))
        win = {"array": array, "row0": r0, "col0": c0, "rows": rows, "cols": cols}
        if kind == "write":
            return "xb.write", {
                **win,
                "array": DYNAMIC,
                "row0": 0,
                "col0": 0,
                "rows": min(rows, 16),
                "cols": min(cols, 16),
                "src_mem": "L1",
                "src_addr": _addr(rng, 16 * 16),
                "src_stride": 16,
            }
        if kind == "prog":  # from the packed constant in L2: always valid codes
            return "xb.prog", {**win, "fmt": "t2", "src_mem": "L2", "src_addr": 0}
        jobs = int(rng.integers(1, 9))
        dst_stride = 4 * cols + 4 * int(rng.integers(0, 3))
        return "xb.mvm", {
            **win,
            "src_mem": "L1",
            "src_addr": _addr(rng, jobs * rows),
            "src_dtype": str(rng.choice(["i8", "u8"])),
            "seg_len": rows,
            "inner_stride": rows,
            "n_inner": jobs,
            "dst_mem": "L1",
            "dst_addr": _addr(rng, jobs * dst_stride, 4),
            "dst_stride": dst_stride,
            "acc": bool(rng.random() < 0.4),
            "adc_shift": int(rng.integers(0, 6)),
        }
    if kind == "requant":
        rows, ch = int(rng.integers(1, 6)), int(rng.integers(1, 12))
        return "cl.requant", {
            "src_mem": "L1",
            "src_addr": _addr(rng, 4 * rows * ch, 4),
            "dst_mem": "L1",
            "dst_addr": _addr(rng, 4 * rows * ch, 4),
            "dst_dtype": str(rng.choice(["i8", "u8", "i32", "f32"])),
            "rows": rows,
            "channels": ch,
            "scale_mem": "L2",
            "scale_addr": 1024,
            "has_bias": bool(rng.random() < 0.5),
            "bias_mem": "L2",
            "bias_addr": 1024 + 4 * int(rng.integers(0, 8)),
            "lo": -50.0,
            "hi": 60.0,
        }
    if kind == "quant":
        n = int(rng.integers(1, 40))
        return "cl.quant", {
            "src_mem": "L1",
            "src_addr": _addr(rng, 4 * n, 4),
            "dst_mem": "L1",
            "dst_addr": _addr(rng, n),
            "dst_dtype": str(rng.choice(["i8", "u8"])),
            "count": n,
            "scale": 0.25,
            "zp": 3,
        }
    if kind == "eltwise":
        rows, n = int(rng.integers(1, 5)), int(rng.integers(1, 10))
        bcast = bool(rng.random() < 0.5)
        return "cl.eltwise", {
            "op": str(rng.choice(["add", "mul", "max"])),
            "dtype": str(rng.choice(["f32", "i32"])),
            "bcast": bcast,
            "src_mem": "L1",
            "src_addr": _addr(rng, 4 * rows * n, 4),
            "src2_mem": "L1",
            "src2_addr": _addr(rng, 4 * rows * n, 4),
            "dst_mem": "L1",
            "dst_addr": _addr(rng, 4 * rows * n, 4),
            "rows": rows,
            "n": n,
        }
    h, w, c = (int(v) for v in rng.integers(1, 6, 3))
    oh, ow = h, w
    return "dw.conv", {
        "src_mem": "L1",
        "src_addr": _addr(rng, h * w * c),
        "wgt_mem": "L2",
        "wgt_addr": 2048,
        "dst_mem": "L1",
        "dst_addr": _addr(rng, 4 * oh * ow * c, 4),
        "h": h,
        "w": w,
        "c": c,
        "kh": 3,
        "kw": 3,
        "pad_t": 1,
        "pad_l": 1,
        "pad_b": 1,
        "pad_r": 1,
        "pad_value": int(rng.integers(-3, 4)),
    }


def _random_program(rng) -> Program | None:
    consts = [
        Const.from_values("wt", "t2", rng.integers(-1, 2, 32 * 32)),
        Const.from_values("sc", "f32", rng.standard_normal(16).astype(np.float32)),
        Const.from_values("wd", "i8", rng.integers(-128, 128, 3 * 3 * 8)),
    ]
    nx, ny = int(rng.integers(1, 64)), int(rng.integers(1, 64))
    tensors = [
        Tensor("wt", "const", "t2", (32 * 32,), "L2", 0),
        Tensor("sc", "const", "f32", (16,), "L2", 1024),
        Tensor("wd", "const", "i8", (3 * 3 * 8,), "L2", 2048),
        Tensor("x", "input", "u8", (nx,), "L1", _addr(rng, nx)),
        Tensor("y", "output", "u8", (ny,), "L1", _addr(rng, ny)),
    ]
    body = [_random_instr(rng) for _ in range(int(rng.integers(2, 10)))]
    head = [_random_instr(rng) for _ in range(int(rng.integers(0, 3)))]
    head = [
        (
            "xb.prog",
            {
                "array": ANALOG,
                "row0": 0,
                "col0": 0,
                "rows": 32,
                "cols": 32,
                "fmt": "t2",
                "src_mem": "L2",
                "src_addr": 0,
            },
        )
    ] + head
    instrs = head + [("barrier", {})] + body
    try:
        prog = Program(
            instrs=[Instr.make(mn, f) for mn, f in instrs],
            tensors=tensors,
            consts=consts,
            target="tiny",
        )
        prog.validate()
        check_program(prog, TINY)
    except CheckError:
        return None
    return prog


@pytest.mark.parametrize("seed", range(4))
def test_random_programs_run_like_fresh_machines(seed):
    rng = np.random.default_rng(100 + seed)
    checked = with_prefix = restoring = 0
    while checked < 40:
        prog = _random_program(rng)
        if prog is None:
            continue
        mode = str(rng.choice(["ideal", "adc", "noisy"]))
        try:
            session = Session(prog, TINY, mode, seed=seed)
        except RunError:  # a run-time fault in the prefix: the one-shot run fails alike
            with pytest.raises(RunError):
                run_program(
                    prog, {"x": np.zeros(prog.tensor("x").shape, np.uint8)}, TINY, mode, seed
                )
            continue
        checked += 1
        with_prefix += session.prefix_len > 1
        restoring += bool(session.restore_bytes or session._arrays0)
        for _ in range(3):
            x = {"x": rng.integers(0, 256, prog.tensor("x").shape, dtype=np.uint8)}
            try:
                want = reference_run(prog, x, TINY, mode, seed)
            except SimError:
                with pytest.raises(RunError):
                    session.run(x)
                continue
            assert_same(session.run(x), want)
    # the generator exercises what it is meant to
    assert with_prefix > 10 and restoring > 10


def _reprogramming_program() -> Program:
    """One analog window reprogrammed by the body (a model larger than the chip): read with the
    prefix's weights, reprogrammed from constant weights and read, reprogrammed from the input
    (weights no run can know in advance) and read."""
    rng = np.random.default_rng(3)
    w1, w2 = rng.integers(-7, 8, (32, 16)), rng.integers(-7, 8, (32, 16))
    tensors = [
        Tensor("x", "input", "i8", (8, 32), "L1", 0),
        Tensor("w1", "const", "i4", (32, 16), "L2", 0),
        Tensor("w2", "const", "i4", (32, 16), "L2", 256),
        *(Tensor(f"y{i}", "output", "i32", (8, 16), "L1", 1024 + 512 * i) for i in range(3)),
    ]
    consts = [Const.from_values("w1", "i4", w1), Const.from_values("w2", "i4", w2)]
    prog = {"array": ANALOG, "row0": 0, "col0": 0, "rows": 32, "cols": 16, "fmt": "i4"}
    mvm = {"array": ANALOG, "row0": 0, "col0": 0, "rows": 32, "cols": 16, "src_mem": "L1"}
    mvm.update(src_addr=0, seg_len=32, inner_stride=32, n_inner=8, dst_mem="L1", dst_stride=64)
    instrs = [
        ("xb.prog", {**prog, "src_mem": "L2", "src_addr": 0}),
        ("barrier", {}),
        ("xb.mvm", {**mvm, "dst_addr": 1024, "adc_shift": 3}),
        ("xb.prog", {**prog, "src_mem": "L2", "src_addr": 256}),
        ("xb.mvm", {**mvm, "dst_addr": 1536, "adc_shift": 2}),
        ("xb.prog", {**prog, "src_mem": "L1", "src_addr": 0}),
        ("xb.mvm", {**mvm, "dst_addr": 2048, "adc_shift": 3}),
        ("halt", {}),
    ]
    return program(instrs, tensors, consts)


@pytest.mark.parametrize("mode", ["ideal", "adc", "noisy"])
def test_windows_the_body_reprograms_alike_in_every_run(mode):
    prog = _reprogramming_program()
    session = Session(prog, TINY, mode, seed=2)
    steady = session._ctx
    if mode == "noisy":  # programming noise: no window is the same twice
        assert not steady.steady_windows and not steady.steady_progs
    else:  # the first two reads and the constant programming; not what the input programs
        assert sorted(steady.steady_windows) == [0, 2] and sorted(steady.steady_progs) == [1]
        assert steady.engine_steps == 2
    rng = np.random.default_rng(4)
    for _ in range(3):  # the input, read as packed int4 weights, never holds the code -8
        x = rng.integers(0, 8, (8, 32)) | (rng.integers(0, 8, (8, 32)) << 4)
        x = x.astype(np.int8)
        want = reference_run(prog, {"x": x}, TINY, mode, 2)
        assert_same(session.run({"x": x}), want)
        assert_same(run_program(prog, {"x": x}, TINY, mode, 2), want)


def test_an_array_read_before_the_body_first_programs_it():
    """An array weight programming left empty, read (its cells are zeros) and then programmed
    by the body: not a window every run knows, so the read takes the plain semantics, and the
    requantization after it reads memory, not a float copy from an earlier step."""
    rng = np.random.default_rng(0)
    tensors = [
        Tensor("x", "input", "i8", (8, 32), "L1", 0),
        Tensor("w", "const", "i4", (32, 16), "L2", 0),
        Tensor("s", "const", "f32", (16,), "L2", 512),
        Tensor("y0", "output", "i8", (8, 16), "L1", 3072),
        Tensor("y", "output", "i8", (8, 16), "L1", 2048),
    ]
    consts = [
        Const.from_values("w", "i4", rng.integers(-7, 8, (32, 16))),
        Const.from_values("s", "f32", rng.random(16) / 50),
    ]
    prog = {"row0": 0, "col0": 0, "rows": 32, "cols": 16, "fmt": "i4", "src_mem": "L2"}
    mvm = {"row0": 0, "col0": 0, "rows": 32, "cols": 16, "src_mem": "L1", "src_addr": 0}
    mvm.update(seg_len=32, inner_stride=32, n_inner=8, dst_mem="L1", dst_stride=64, adc_shift=1)
    req = {"src_mem": "L1", "dst_mem": "L1", "dst_dtype": "i8", "rows": 8, "channels": 16}
    req.update(scale_mem="L2", scale_addr=512, bias_mem="L2", bias_addr=512, lo=-100.0, hi=100.0)
    instrs = [
        ("xb.prog", {**prog, "array": ANALOG + 1, "src_addr": 0}),
        ("barrier", {}),
        ("xb.mvm", {**mvm, "array": ANALOG + 1, "dst_addr": 4096}),  # fills the float copy
        ("cl.requant", {**req, "src_addr": 4096, "dst_addr": 3072}),
        ("xb.mvm", {**mvm, "array": ANALOG, "dst_addr": 1024}),  # no cells yet: zeros
        ("cl.requant", {**req, "src_addr": 1024, "dst_addr": 2048}),
        ("xb.prog", {**prog, "array": ANALOG, "src_addr": 0}),
        ("halt", {}),
    ]
    prog_ = program(instrs, tensors, consts)
    session = Session(prog_, TINY, "adc")
    for _ in range(2):
        x = rng.integers(-128, 128, (8, 32)).astype(np.int8)
        want = reference_run(prog_, {"x": x}, TINY, "adc", 0)
        assert_same(session.run({"x": x}), want)
        assert_same(run_program(prog_, {"x": x}, TINY, "adc", 0), want)


@pytest.mark.parametrize("whole", [False, True], ids=["halves", "whole-bounds"])
def test_a_requantization_writing_over_its_own_scales(whole):
    """dst overlaps the scale vector: every scale is read before any result is written."""
    tensors = [
        Tensor("x", "input", "i32", (4, 4), "L1", 0),
        Tensor("s", "const", "f32", (4,), "L1", 256),
        Tensor("y", "output", "i8", (4, 4), "L1", 256),
    ]
    consts = [Const.from_values("s", "f32", np.array([0.5, 0.25, 1.5, 2.0], np.float32))]
    req = {"src_mem": "L1", "src_addr": 0, "src_dtype": "i32", "dst_mem": "L1"}
    req.update(dst_addr=256, dst_dtype="i8", rows=4, channels=4, scale_mem="L1", scale_addr=256)
    bounds = (-127.0, 127.0) if whole else (-127.5, 126.5)  # whole: computed in scratch
    req.update(bias_mem="L1", bias_addr=256, lo=bounds[0], hi=bounds[1])
    prog_ = program([("barrier", {}), ("cl.requant", req), ("halt", {})], tensors, consts)
    session = Session(prog_, TINY, "adc")
    rng = np.random.default_rng(1)
    for _ in range(2):
        x = rng.integers(-100, 100, (4, 4)).astype(np.int32)
        want = reference_run(prog_, {"x": x}, TINY, "adc", 0)
        assert_same(session.run({"x": x}), want)
