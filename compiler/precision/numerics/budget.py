"""Precision assignment under an error budget: fewest crossbar columns with model error ≤ budget.

Every layer has candidate configurations (1, 2, 3 ternary planes, int8, ...) with a column cost; an
error function scores a whole assignment (e.g. output MSE or accuracy drop on calibration data).
:func:`greedy_assign` starts from the cheapest configuration everywhere and repeatedly upgrades the
layer with the best measured error reduction per added column, then prunes upgrades the budget
no longer needs. :func:`exhaustive_assign` is the exact answer for small problems, and the
yardstick the greedy search is tested against.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass

Assignment = tuple[int, ...]
ErrorFn = Callable[[Assignment], float]


@dataclass(frozen=True)
class Option:
    """One configuration of one layer: a name (e.g. ``"t2"``, ``"int8"``) and its column cost."""

    name: str
    columns: int


@dataclass(frozen=True)
class BudgetResult:
    """Chosen option index per layer, its error and columns, whether the budget was met.

    ``trace`` lists every accepted move as ``(layer, option, error, columns)``; ``evaluations``
    counts distinct calls of the error function.
    """

    assignment: Assignment
    error: float
    columns: int
    met: bool
    evaluations: int
    trace: tuple[tuple[int, int, float, int], ...]

    def names(self, options: Sequence[Sequence[Option]]) -> list[str]:
        """The option names of the assignment, layer by layer."""
        return [options[layer][i].name for layer, i in enumerate(self.assignment)]


def total_columns(options: Sequence[Sequence[Option]], assignment: Assignment) -> int:
    """Columns used by an assignment."""
    return sum(options[layer][i].columns for layer, i in enumerate(assignment))


def _check_options(options: Sequence[Sequence[Option]]) -> None:
    if not options:
        raise ValueError("budget search needs at least one layer")
    for layer, opts in enumerate(options):
        if not opts:
            raise ValueError(f"layer {layer} has no candidate configurations")
        cols = [o.columns for o in opts]
        if any(int(c) != c or c < 0 for c in cols):
            raise ValueError(
                f"layer {layer}: option costs must be non-negative integers, got {cols}"
            )


class _Memo:
    """Error function with a cache, so repeated assignments are evaluated once."""

    def __init__(self, error_fn: ErrorFn):
        self.error_fn, self.cache = error_fn, {}

    def __call__(self, assignment: Assignment) -> float:
        if assignment not in self.cache:
            self.cache[assignment] = float(self.error_fn(assignment))
        return self.cache[assignment]


def _with(assignment: Assignment, layer: int, option: int) -> Assignment:
    return assignment[:layer] + (option,) + assignment[layer + 1 :]


def greedy_assign(
    options: Sequence[Sequence[Option]],
    error_fn: ErrorFn,
    budget: float,
    *,
    start: Assignment | None = None,
    remeasure: bool = True,
    prune: bool = True,
) -> BudgetResult:
    """Greedy upgrade by error reduction per added column until ``error_fn ≤ budget``.

    The search starts from ``start``, by default each layer's cheapest option (options need not be
    sorted by cost). Each step considers every (layer, costlier option) move. With ``remeasure`` (default) its gain
    is measured on the current assignment; without it, gains come from a one-off sensitivity scan
    (each move alone on the start assignment), which costs one evaluation per step afterwards and
    suits models with many layers. Ties pick the lowest layer, then the cheaper option. ``prune``
    finally downgrades layers, largest saving first, while the budget still holds.
    """
    _check_options(options)
    err = _Memo(error_fn)
    cheapest = tuple(min(range(len(o)), key=lambda j, o=o: (o[j].columns, j)) for o in options)
    current = tuple(start) if start is not None else cheapest
    if len(current) != len(options):
        raise ValueError(f"start assignment has {len(current)} layers, expected {len(options)}")
    trace = []
    sensitivity = None if remeasure else _sensitivity(options, err, current)
    while err(current) > budget:
        move = _best_move(options, err, current, sensitivity)
        if move is None:
            break
        current = _with(current, *move)
        trace.append((*move, err(current), total_columns(options, current)))
    if prune and err(current) <= budget:
        current = _prune(options, err, current, budget, trace)
    return BudgetResult(
        current,
        err(current),
        total_columns(options, current),
        err(current) <= budget,
        len(err.cache),
        tuple(trace),
    )


def _sensitivity(options, err, start) -> list[list[float]]:
    """Error reduction of each layer's every option, that layer alone moved on ``start``."""
    base = err(start)
    return [
        [base - err(_with(start, layer, j)) for j in range(len(opts))]
        for layer, opts in enumerate(options)
    ]


def _best_move(options, err, current, sensitivity):
    base = err(current)
    best, best_gain = None, 0.0
    for layer, opts in enumerate(options):
        for j in range(len(opts)):
            added = opts[j].columns - opts[current[layer]].columns
            if added <= 0:
                continue
            if sensitivity is None:
                reduction = base - err(_with(current, layer, j))
            else:
                reduction = sensitivity[layer][j] - sensitivity[layer][current[layer]]
            gain = reduction / added
            if gain > best_gain:
                best, best_gain = (layer, j), gain
    return best


def _prune(options, err, current, budget, trace) -> Assignment:
    while True:
        # Largest saving first; among equal savings the lowest layer, then the cheaper option.
        moves = sorted(
            (opts[j].columns - opts[current[layer]].columns, layer, j)
            for layer, opts in enumerate(options)
            for j in range(len(opts))
            if opts[j].columns < opts[current[layer]].columns
        )
        for _, layer, j in moves:
            cand = _with(current, layer, j)
            if err(cand) <= budget:
                current = cand
                trace.append((layer, j, err(cand), total_columns(options, cand)))
                break
        else:
            return current


def exhaustive_assign(
    options: Sequence[Sequence[Option]],
    error_fn: ErrorFn,
    budget: float,
    *,
    max_evaluations: int = 100_000,
) -> BudgetResult:
    """The exact optimum: fewest columns with error ≤ budget (ties: lower error, then lexicographic).

    When no assignment meets the budget, the result (``met=False``) is the lowest-error one.
    """
    _check_options(options)
    count = 1
    for opts in options:
        count *= len(opts)
    if count > max_evaluations:
        raise ValueError(f"exhaustive search needs {count} evaluations, limit is {max_evaluations}")
    err = _Memo(error_fn)
    best, lowest = None, None
    for cand in itertools.product(*(range(len(o)) for o in options)):
        e = err(cand)
        lowest = min(lowest or (e, cand), (e, cand))
        if e > budget:
            continue
        key = (total_columns(options, cand), e, cand)
        if best is None or key < best:
            best = key
    if best is None:
        e, cand = lowest
        return BudgetResult(cand, e, total_columns(options, cand), False, len(err.cache), ())
    cols, e, cand = best
    return BudgetResult(cand, e, cols, True, len(err.cache), ())
