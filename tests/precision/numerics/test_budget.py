"""Budget search: greedy vs exhaustive on synthetic error functions."""

import numpy as np
import pytest
from imcc.compiler.precision.numerics import Option, exhaustive_assign, greedy_assign, total_columns

LADDER = ("t1", "t2", "t3", "int8")


def instance(seed, layers=5):
    """Options with plane-like costs and an additive error with diminishing returns per layer."""
    rng = np.random.default_rng(seed)
    base = rng.integers(8, 64, size=layers)
    options = [[Option(n, int(b * c)) for n, c in zip(LADDER, (1, 2, 3, 4))] for b in base]
    first = rng.uniform(0.2, 2.0, size=layers)
    table = first[:, None] * np.array([1.0, 0.3, 0.1, 0.02])[None, :]

    def error(assignment):
        return float(sum(table[layer, i] for layer, i in enumerate(assignment)))

    return options, error, table


@pytest.mark.parametrize("seed", range(6))
def test_greedy_meets_budget_and_is_close_to_optimal(seed):
    options, error, table = instance(seed)
    budget = 0.35 * table[:, 0].sum()
    g = greedy_assign(options, error, budget)
    best = exhaustive_assign(options, error, budget)
    assert g.met and best.met and g.error <= budget
    assert best.columns <= g.columns <= 1.25 * best.columns
    assert g.columns == total_columns(options, g.assignment)
    # After pruning no single downgrade keeps the budget.
    for layer, i in enumerate(g.assignment):
        for j in range(i):
            down = g.assignment[:layer] + (j,) + g.assignment[layer + 1 :]
            assert error(down) > budget


def test_greedy_finds_the_known_optimum():
    options = [[Option("t1", 10), Option("t2", 20)], [Option("t1", 10), Option("t2", 20)]]
    errors = {(0, 0): 1.0, (1, 0): 0.9, (0, 1): 0.4, (1, 1): 0.3}
    g = greedy_assign(options, errors.__getitem__, 0.5)
    assert g.assignment == (0, 1) and g.columns == 30 and g.names(options) == ["t1", "t2"]


def test_budget_already_met_costs_nothing():
    options, error, table = instance(7)
    g = greedy_assign(options, error, table[:, 0].sum() + 1)
    assert g.assignment == (0,) * len(options) and g.trace == ()


def test_infeasible_budget_is_reported():
    options, error, _ = instance(8)
    g = greedy_assign(options, error, -1.0)
    assert not g.met and g.assignment == tuple(len(o) - 1 for o in options)
    assert not exhaustive_assign(options, error, -1.0).met


def test_sensitivity_mode_uses_fewer_evaluations():
    options, error, table = instance(9, layers=8)
    budget = 0.3 * table[:, 0].sum()
    full = greedy_assign(options, error, budget)
    fast = greedy_assign(options, error, budget, remeasure=False)
    assert fast.met and fast.evaluations < full.evaluations
    # The error is additive here, so one-off sensitivities are exact and both agree.
    assert fast.assignment == full.assignment


def test_interacting_layers_still_meet_budget():
    # Layer errors compound multiplicatively (as in a deep net), so sensitivities shift.
    options, _, table = instance(10)
    rel = table / table[:, :1]

    def error(assignment):
        return float(np.prod([1 + rel[layer, i] for layer, i in enumerate(assignment)]) - 1)

    for remeasure in (True, False):
        g = greedy_assign(options, error, 1.0, remeasure=remeasure)
        assert g.met and g.error <= 1.0


def test_search_is_deterministic():
    options, error, table = instance(11)
    a = greedy_assign(options, error, 0.3 * table[:, 0].sum())
    b = greedy_assign(options, error, 0.3 * table[:, 0].sum())
    assert a == b


def test_bad_options_are_rejected():
    with pytest.raises(ValueError, match="non-negative integers"):
        greedy_assign([[Option("a", -5), Option("b", 1)]], lambda a: 0.0, 1.0)
    with pytest.raises(ValueError, match="no candidate"):
        greedy_assign([[]], lambda a: 0.0, 1.0)
    with pytest.raises(ValueError, match="limit"):
        exhaustive_assign([[Option("a", 1)] * 10] * 6, lambda a: 0.0, 1.0)


def test_unsorted_options_and_dominated_choices():
    # int8 (2 columns per channel) is cheaper and better than three ternary planes here.
    options = [[Option("t1", 10), Option("t2", 20), Option("t3", 30), Option("int8", 20)]] * 2
    table = {0: 1.0, 1: 0.5, 2: 0.3, 3: 0.05}

    def error(assignment):
        return sum(table[i] for i in assignment)

    g = greedy_assign(options, error, 0.2)
    assert g.met and g.assignment == (3, 3) and g.columns == 40
    assert exhaustive_assign(options, error, 0.2).assignment == (3, 3)
    assert greedy_assign(options, error, 10.0).assignment == (0, 0)
