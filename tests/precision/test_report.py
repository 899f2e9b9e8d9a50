"""Report helpers."""

import math

import numpy as np
from imcc.compiler.precision.numerics import (
    channel_relative_error,
    crossbar_columns,
    relative_error,
    ternarize_planes,
)
from imcc.compiler.precision.report import format_table, layer_report


def test_relative_errors():
    w = np.array([[3.0, 4.0], [0.0, 0.0]])
    w_hat = np.array([[3.0, 0.0], [0.0, 0.0]])
    assert relative_error(w, w_hat) == 0.8
    assert channel_relative_error(w, w_hat).tolist() == [0.8, 0.0]
    assert relative_error(np.zeros(2), np.ones(2)) == math.inf


def test_columns_count_planes_row_tiles_and_signs():
    assert crossbar_columns(64, 256, planes=1) == 64
    assert crossbar_columns(64, 257, planes=2) == 256
    assert crossbar_columns(10, 64, planes=3, per_plane=2) == 60


def test_layer_report_and_table():
    w = np.random.default_rng(0).normal(size=(8, 3, 3, 3)).astype(np.float32)
    tern = ternarize_planes(w.reshape(8, -1), 2)
    rep = layer_report("conv1", w, tern)
    assert rep.shape == (8, 27) and rep.planes == 2 and rep.columns == 16
    assert 0 < rep.relative_error < 0.3 and 0 < rep.sparsity < 1 and rep.exact_channels == 0
    table = format_table(["layer", "err"], [("conv1", rep.relative_error)])
    assert table.splitlines()[0] == "| layer | err |" and "conv1" in table
