"""The cost model against hand-computed cycle counts, and the FAT paper's arithmetic."""

from __future__ import annotations

import numpy as np
import pytest
from _simkit import program, tiny_target
from imcc.runtime.isa.encoding import Instr
from imcc.runtime.isa.entries import DebugInfo
from imcc.runtime.sim.cost.cost import (
    analog_job_cycles,
    cost,
    digital_add_cycles,
    write_cycles,
)
from imcc.runtime.sim.cost.report import unit_kind
from imcc.runtime.sim.machine.machine import Machine
from imcc.runtime.sim.present.trace import build_trace
from imcc.runtime.sim.runner import run_program
from imcc.runtime.targets import load_target

CLUSTER = load_target("cluster")
FAT = load_target("fat")
PARAPIM = FAT.with_overrides({"arrays.fat.addition": "parapim"})


def _cost(target, machine, mnemonic, **fields):
    return cost(Instr.make(mnemonic, fields), target, machine or Machine(target))


def _mvm(array=0, rows=16, cols=16, n_inner=1, n_outer=1, **kw):
    return dict(
        array=array,
        row0=0,
        col0=0,
        rows=rows,
        cols=cols,
        src_mem="L1",
        src_addr=0,
        seg_len=rows,
        inner_stride=rows,
        n_inner=n_inner,
        n_outer=n_outer,
        dst_mem="L1",
        dst_addr=0x3800,
        dst_stride=4 * cols,
        **kw,
    )


# --- hand-computed cycle counts (cluster preset: 500 MHz, 130 ns = 65 cycles) ------------------


def test_ima_job_formula_by_hand():
    ima = CLUSTER.arrays[0]
    # 2 idle + (ceil(100/64) + 2) in + (ceil(200/64) + 2) out + 65 evaluate
    assert analog_job_cycles(CLUSTER, ima, 100, 200) == 2 + 4 + 6 + 65
    assert analog_job_cycles(CLUSTER, ima, 256, 256) == 2 + 6 + 6 + 65
    assert analog_job_cycles(CLUSTER, ima, 1, 1) == 2 + 3 + 3 + 65
    work = _cost(CLUSTER, None, "xb.mvm", **_mvm(rows=100, cols=200, n_inner=3, n_outer=2))
    assert work.cycles == 6 * 77 and work.macs == 6 * 100 * 200


def test_weight_programming_is_1000ns_per_8_weights():
    ima = CLUSTER.arrays[0]
    full = write_cycles(CLUSTER, ima, 256 * 256)
    assert full == 8192 * 500
    assert CLUSTER.seconds(full) == pytest.approx(8.192e-3)  # "about 8.2 ms for a full array"
    work = _cost(
        CLUSTER,
        None,
        "xb.prog",
        array=3,
        row0=0,
        col0=0,
        rows=3,
        cols=5,
        fmt="t2",
        src_mem="L2",
        src_addr=0,
    )
    assert work.cycles == 2 * 500  # 15 weights = 2 groups of 8


def test_dma_cores_dw_and_nl_by_hand():
    assert (
        _cost(
            CLUSTER,
            None,
            "dma",
            src_mem="L2",
            src_addr=0,
            dst_mem="L1",
            dst_addr=0,
            rows=4,
            row_bytes=100,
            src_stride=100,
            dst_stride=100,
        ).cycles
        == 20 + 4 + 50
    )
    req = dict(
        src_mem="L1",
        src_addr=0,
        dst_mem="L1",
        dst_addr=4096,
        dst_dtype="i8",
        rows=10,
        channels=30,
        scale_mem="L2",
        scale_addr=0,
        bias_mem="L2",
        bias_addr=0,
    )
    # setup 60 + ceil(300 / ncores) elements x 2 cycles
    assert _cost(CLUSTER, None, "cl.requant", ncores=8, **req).cycles == 60 + 38 * 2
    assert _cost(CLUSTER, None, "cl.requant", ncores=3, **req).cycles == 60 + 100 * 2
    assert _cost(CLUSTER, None, "cl.requant", ncores=3, **req).servers == 3
    geo = dict(
        src_mem="L1",
        src_addr=0,
        wgt_mem="L1",
        wgt_addr=0,
        dst_mem="L1",
        dst_addr=0,
        h=8,
        w=8,
        c=8,
        kh=3,
        kw=3,
        pad_t=1,
        pad_l=1,
        pad_b=1,
        pad_r=1,
    )
    # 8*8*8*9 = 4608 MACs at 72 MAC/cycle + 20 setup
    assert _cost(CLUSTER, None, "dw.conv", **geo).cycles == 20 + 64
    # same work on 8 cores at 2 cycles/MAC
    assert _cost(CLUSTER, None, "cl.dwconv", ncores=8, **geo).cycles == 60 + 576 * 2
    bert = load_target("bert-chip")
    nl = _cost(
        bert,
        Machine(tiny_target()),
        "nl.softmax",
        src_mem="L1",
        src_addr=0,
        dst_mem="L1",
        dst_addr=0,
        rows=4,
        n=100,
    )
    assert nl.cycles == 10 + 400 * 0.5


# --- FAT (Zhu et al.): 2.00x addition, ~10x at 80 % sparsity ------------------------------------


def test_fat_addition_is_two_times_faster_than_parapim():
    for bits in (4, 8, 16, 32):
        ratio = digital_add_cycles(PARAPIM.arrays[0], bits) / digital_add_cycles(
            FAT.arrays[0], bits
        )
        assert ratio == 2.0


def _fat_layer(target, sparsity, jobs=256, seed=0):
    """Cost and array energy of a 256x256 ternary layer with the given fraction of zeros."""
    rng = np.random.default_rng(seed)
    m = Machine(target)
    w = rng.choice(np.array([-1, 1], np.int8), size=(256, 256))
    zeros = rng.permutation(w.size)[: int(round(sparsity * w.size))]
    w.reshape(-1)[zeros] = 0
    m.write_cells(0, 0, 0, w)
    work = _cost(target, m, "xb.mvm", **_mvm(rows=256, cols=256, n_inner=jobs))
    return work.cycles, work.energy["array.add"]


def test_fat_speedup_and_energy_at_80_percent_zeros():
    fat_cycles, fat_energy = _fat_layer(FAT, 0.8)
    pp_cycles, pp_energy = _fat_layer(PARAPIM, 0.8)
    # by hand: FAT 8 + 13107 nnz * 16 bits * 1 cycle; ParaPIM 8 + 65536 * 16 * 2; both stream
    # 256*256/64 bytes in and 256*256*2/64 out
    assert fat_cycles == 8 + 13107 * 16 + 1024 + 2048
    assert pp_cycles == 8 + 65536 * 32 + 1024 + 2048
    assert pp_cycles / fat_cycles == pytest.approx(10.02, rel=0.02)  # the paper's 10.02x
    assert pp_energy / fat_energy == pytest.approx(12.19, rel=0.01)  # and 12.19x energy


@pytest.mark.parametrize("sparsity", [0.5, 0.6, 0.7, 0.8, 0.9])
def test_fat_speedup_follows_two_over_density(sparsity):
    fat_cycles, _ = _fat_layer(FAT, sparsity)
    pp_cycles, _ = _fat_layer(PARAPIM, sparsity)
    assert pp_cycles / fat_cycles == pytest.approx(2 / (1 - sparsity), rel=0.04)


def test_fat_dense_layer_gains_only_the_fast_adder():
    fat_cycles, _ = _fat_layer(FAT, 0.0)
    pp_cycles, _ = _fat_layer(PARAPIM, 0.0)
    assert 1.99 < pp_cycles / fat_cycles <= 2.0


def test_parapim_switch_keeps_the_fingerprint():
    assert PARAPIM.fingerprint == FAT.fingerprint
    assert PARAPIM.params_fingerprint != FAT.params_fingerprint


# --- scheduling: units overlap, dependencies order ----------------------------------------------


def _timeline(instrs):
    result = run_program(program(instrs), target=tiny_target())
    return [(r.slot.start, r.slot.end) for r in result.records], result


def test_independent_arrays_overlap_and_one_array_serializes():
    a = ("xb.mvm", _mvm(array=0, n_inner=4))
    b = ("xb.mvm", {**_mvm(array=1, n_inner=4), "dst_addr": 0x1000})
    c = ("xb.mvm", {**_mvm(array=1, n_inner=4), "dst_addr": 0x2000})
    (sa, ea), (sb, eb), (sc, ec) = _timeline([a, b, c])[0]
    assert sa == 0 and sb == 1  # dispatched one cycle apart, run side by side
    assert sc == eb  # same array: in order
    assert ea - sa == 4 * (2 + 3 + 3 + 65)


def test_read_after_write_and_write_after_read():
    mvm = ("xb.mvm", {**_mvm(n_inner=4), "dst_addr": 0x1000})
    requant = (
        "cl.requant",
        dict(
            src_mem="L1",
            src_addr=0x1000,
            dst_mem="L1",
            dst_addr=0x2000,
            dst_dtype="i8",
            rows=4,
            channels=16,
            scale_mem="L2",
            scale_addr=0,
            bias_mem="L2",
            bias_addr=0,
        ),
    )
    overwrite = ("fill", dict(dst_mem="L1", dst_addr=0x1000, bytes=4))
    unrelated = ("fill", dict(dst_mem="L1", dst_addr=0x3000, bytes=4))
    times, _ = _timeline([mvm, requant, overwrite, unrelated])
    assert times[1][0] == times[0][1]  # requant starts when the mvm result is complete
    assert times[2][0] >= times[1][1]  # the fill waits until requant has read the buffer
    assert times[3][0] < times[0][1]  # a fill elsewhere does not wait at all


def test_cores_are_a_pool_and_barrier_drains():
    def kernel(n, dst):
        return (
            "cl.exp",
            dict(ncores=n, src_mem="L1", src_addr=0, dst_mem="L1", dst_addr=dst, count=800),
        )

    times, _ = _timeline([kernel(4, 0x1000), kernel(4, 0x2000), kernel(8, 0x3000)])
    assert times[1][0] < times[0][1]  # two 4-core kernels share the 8 cores
    assert times[2][0] >= max(times[0][1], times[1][1])  # an 8-core one waits for both
    times, _ = _timeline(
        [kernel(4, 0x1000), ("barrier", {}), ("fill", dict(dst_mem="L2", dst_addr=0, bytes=4))]
    )
    assert times[2][0] >= times[0][1]


def test_wait_for_signal_orders_timing():
    slow = (
        "cl.exp",
        dict(ncores=1, src_mem="L1", src_addr=0, dst_mem="L1", dst_addr=0x1000, count=1000),
    )
    fill = ("fill", dict(dst_mem="L2", dst_addr=0, bytes=4))
    times, _ = _timeline([slow, ("signal", {"ev": 1}), ("wait", {"ev": 1}), fill])
    assert times[3][0] >= times[0][1]
    times, _ = _timeline([slow, fill])
    assert times[1][0] < times[0][1]


def test_report_totals_match_the_timeline():
    times, result = _timeline([("xb.mvm", _mvm(n_inner=2)), ("halt", {})])
    rep = result.report.to_dict()
    assert rep["total"]["cycles"] == max(end for _, end in times) == 2 * 73
    array0 = next(u for u in rep["units"] if u["unit"] == "array0")
    assert array0["busy_cycles"] == 146 and array0["utilization"] == 1.0
    ima = tiny_target().arrays[0]
    want = 2 * (
        ima.energy_job + 256 * ima.energy_per_cell + 16 * ima.energy_dac + 16 * ima.energy_adc
    )
    assert sum(v for k, v in rep["energy_pj"].items() if k.startswith("array.")) == pytest.approx(
        want
    )
    static = tiny_target().chip.static_power * 1e-3 * (146 / 500e6) * 1e12
    assert rep["energy_pj"]["static"] == pytest.approx(static)


def test_report_has_a_row_per_head_that_adds_up_to_the_layer():
    mvm = [("xb.mvm", {**_mvm(array=a, n_inner=2), "dst_addr": 0x1000 * (k + 1)}) for k, a in
           enumerate((0, 1, 1))]  # fmt: skip
    fill = ("fill", dict(dst_mem="L1", dst_addr=0x3800, bytes=64))
    debug = {
        0: DebugInfo("imc.mvm", "attn QK", 0),
        1: DebugInfo("imc.mvm", "attn QK", 1),
        2: DebugInfo("imc.mvm", "attn QK", 1),
        3: DebugInfo("imc.fill", "attn QK"),  # in the layer, for no head in particular
        4: DebugInfo("imc.fill", "other"),
    }
    p = program([*mvm, fill, fill, ("halt", {})], debug=debug)
    result = run_program(p, target=tiny_target())
    layers = {lay["name"]: lay for lay in result.report.to_dict()["layers"]}
    assert "heads" not in layers["other"]
    attn = layers["attn QK"]
    heads = attn["heads"]
    assert [h["head"] for h in heads] == [0, 1] and [h["instructions"] for h in heads] == [1, 2]
    slots = [r.slot for r in result.records]
    assert heads[0]["start"] == slots[0].start and heads[0]["end"] == slots[0].end
    assert heads[1]["span_cycles"] == max(s.end for s in slots[1:3]) - slots[1].start
    assert heads[1]["busy_cycles"] == {"array": sum(s.end - s.start for s in slots[1:3])}
    # the heads add up to the layer's per-head instructions: all but the fill
    fill_cycles = slots[3].end - slots[3].start
    assert attn["instructions"] == sum(h["instructions"] for h in heads) + 1
    assert attn["busy_cycles"]["array"] == sum(h["busy_cycles"]["array"] for h in heads)
    assert attn["busy_cycles"][unit_kind(slots[3].unit)] == fill_cycles
    energy = [sum(r.energy(tiny_target()).values()) for r in result.records]
    assert [h["energy_pj"] for h in heads] == pytest.approx([energy[0], energy[1] + energy[2]])
    assert attn["energy_pj"] == pytest.approx(sum(energy[:4]))
    text = result.report.to_text()
    assert "attention heads: 1 layers run per head (2 heads each)" in text
    assert "  attn QK (2 heads)" in text and "more layers with heads" not in text
    slices = [
        e for e in build_trace(tiny_target(), p, result.records)["traceEvents"] if e["ph"] == "X"
    ]
    heads = {e["args"]["index"]: e["args"].get("head") for e in slices}
    assert [heads[i] for i in range(5)] == [0, 1, 1, None, None]


def test_report_text_lists_the_first_heads_and_sums_up_the_rest():
    fills, debug = [], {}
    for layer in range(3):
        for head in range(12):
            debug[len(fills)] = DebugInfo("imc.fill", f"/layers.{layer}/attn PV", head)
            fills.append(("fill", dict(dst_mem="L1", dst_addr=64 * len(fills), bytes=4 + head)))
    p = program([*fills, ("halt", {})], debug=debug)
    rep = run_program(p, target=tiny_target()).report
    assert [len(lay.get("heads", ())) for lay in rep.to_dict()["layers"]] == [12, 12, 12]
    text = rep.to_text()
    section = text[text.index("attention heads: 3 layers run per head (12 heads each)") :]
    # whole layers while at most HEAD_ROWS (32) heads: the first two, then a line per layer
    assert "/layers.0/attn PV (12 heads)" in section and "/layers.1/attn PV (12 heads)" in section
    assert "/layers.2/attn PV (12 heads)" not in section
    assert "(1 more layers with heads: see the JSON)" in section
    summary = section[section.index(" busy min ") :].splitlines()[1:]
    assert [line.split()[0] for line in summary] == [f"/layers.{i}/attn" for i in range(3)]
    assert all(line.split()[2] == "12" for line in summary)
