"""The backend's plain-data pieces: windows of a layer, shelf packing with replicas and epochs,
first-fit memory by liveness, list scheduling."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from imcc.compiler.backend import memory
from imcc.compiler.backend.packing import LayerDemand, place, split
from imcc.compiler.backend.windows import layer_matrix
from imcc.compiler.precision.numerics.crossbar import gather_rows, tiles


def test_windows_follow_tiles_and_adc_groups():
    rng = np.random.default_rng(0)
    cells = rng.integers(-1, 2, size=(2, 1, 5, 20)).astype(np.int8)  # P=2, S=1, O=5, K=20
    ts = [(s.start, s.stop) for s in tiles(20, 8)]
    shift = np.zeros((2, 1, len(ts), 3), np.int64)  # groups of 2 columns
    shift[1, 0, :, 2] = 3  # plane 1's last group reads with another step
    m = layer_matrix("l", cells, ts, shift, 2)
    assert m.cells.shape == (20, 10) and m.tiles == [(0, 8), (8, 16), (16, 20)]
    wins = m.windows(max_cols=4)
    assert [(w.tile, w.c0, w.c1, w.shift) for w in wins if w.tile == 0] == [
        (0, 0, 4, 0), (0, 4, 8, 0), (0, 8, 9, 0), (0, 9, 10, 3)
    ]  # fmt: skip
    np.testing.assert_array_equal(m.block(wins[1]), cells.reshape(10, 20).T[0:8, 4:8])
    exact = m.windows(max_cols=16, same_shift=False)  # digital arrays: no ADC step to share
    assert [(w.c0, w.c1) for w in exact] == [(0, 10)] * 3


@pytest.mark.parametrize(
    "rows,run,runs,want",
    [
        (256, 192, 3, 192),
        (256, 27, 3, 243),
        (256, 288, 3, 144),
        (256, 1536, 3, 256),
        (256, 320, 1, 256),
    ],
)
def test_conv_row_tiles_never_straddle_kernel_rows(rows, run, runs, want):
    got = gather_rows(rows, run, runs)
    assert got == want and (runs == 1 or run % got == 0 or got % run == 0)


def test_packing_shares_arrays_replicates_and_reprograms():
    small = [
        LayerDemand(f"l{i}", [(64, 32)], cycles=10.0 * (i + 1), max_replicas=4) for i in range(3)
    ]
    p = place(small, first=0, count=4, rows=256, cols=256)
    assert p.arrays_needed == 1 and not p.reprograms
    # free arrays go to the slowest copy each time: per-copy cycles end at 10, 20/2, 30/3
    assert [len(s) for s in p.slots] == [1, 2, 3]
    assert {slot.array for s in p.slots[:2] for slot in s[0]} == {0}  # small layers share
    big = [LayerDemand(f"b{i}", [(256, 256)] * 3, cycles=1.0) for i in range(3)]
    q = place(big, first=10, count=4, rows=256, cols=256)
    assert q.reprograms and q.epochs == [0, 1, 2] and q.arrays_needed == 9
    assert all(10 <= slot.array < 14 for s in q.slots for slot in s[0])
    assert q.utilisation == 1.0
    # a layer larger than the chip runs over several epochs, its windows in order
    h = place([LayerDemand("huge", [(256, 256)] * 5, 1.0)], 0, 4, 256, 256)
    assert h.epochs_of(0) == [0, 0, 0, 0, 1] and h.programmed_arrays == 5
    assert any("larger than the chip" in n for n in h.notes)
    # after a smaller layer it starts in the same epoch, on the arrays left
    m = place(
        [LayerDemand("a", [(256, 256)], 1.0), LayerDemand("b", [(256, 256)] * 5, 1.0)],
        0,
        4,
        256,
        256,
    )
    assert m.epochs_of(0) == [0] and m.epochs_of(1) == [0, 0, 0, 1, 1]


def test_split_covers_every_job_once():
    assert split(10, 3) == [(0, 4), (4, 7), (7, 10)]
    assert split(2, 5) == [(0, 1), (1, 2)]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(1, 300), st.integers(0, 20), st.integers(0, 5)), max_size=25))
def test_first_fit_never_overlaps_live_blocks(specs):
    blocks = [
        memory.Block(i, size, start, start + span) for i, (size, start, span) in enumerate(specs)
    ]
    left = memory.first_fit(blocks, capacity=1024)
    placed = [b for b in blocks if b not in left]
    for a in placed:
        assert a.offset % memory.ALIGN == 0 and a.offset + a.size <= 1024
        for b in placed:
            if a is not b and a.start <= b.end and b.start <= a.end:
                assert a.offset + a.size <= b.offset or b.offset + b.size <= a.offset
    for b in left:  # refused only when it really had no room at that time
        assert b.size > 0
