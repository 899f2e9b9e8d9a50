"""precision-auto's search: per layer the cheapest weight format that keeps the model in budget.

1. One calibration run records every crossbar layer's float input (and the float outputs).
2. Per layer and candidate (``t1``, ``t2``, ``t3`` ternary planes, ``int8``): the weights (one
   GPTQ run serves every plane count), the ADC shifts for the layer's calibration codes, the
   column cost, and the layer's local output error with its DAC/ADC on its float input.
3. An additive proxy, Σ (local error)², orders the upgrades: the greedy search of
   ``numerics/budget.py`` walks from the cheapest assignment, each step taking the upgrade with
   the largest proxy reduction per added column. Along that path the measured model error
   (the real quantized model run in the interpreter on the calibration set) is bisected for the
   cheapest assignment within budget: about log2(path length) runs, not one per candidate.
4. Optionally the chosen formats are refitted in program order with target-aware GPTQ and
   calibrated activations (the ``ternarize``/``quantize-activations`` engines); the better of
   the two models, by measured error, is kept.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..dialects.quant import CrossbarLayerOp
from ..interp.quant_ops import dynamic_codes, quantize_codes
from ..ir.attributes import DenseElementsAttr, StringAttr
from ..ir.builtin import ModuleOp
from .activations import ActSpec, adc_attrs, convert_layer, input_ops, static_params
from .calibration import Calibration
from .layers import Layer, build_layer_op, float_layers, replace_layer
from .numerics import metrics
from .numerics.budget import Option, greedy_assign
from .numerics.crossbar import (
    CrossbarWeights,
    Readout,
    crossbar_columns,
    crossbar_matmul,
    ideal_matmul,
)
from .numerics.fitting import Fitted, WeightSpec, fit_candidates
from .numerics.metrics import relative_error
from .record import set_float
from .runner import run_streams
from .weights_pass import replacement

#: Attributes of a layer op that differ between candidates.
CANDIDATE_KEYS = ("weights", "format", "scale", "scale_neg", "bias", "adc_shift")
#: Local errors are estimated on at most this many input vectors (evenly spaced).
ERROR_SAMPLE_ROWS = 1024


def parse_candidates(text: str) -> list[WeightSpec]:
    """``"t1,t2,t3,int8"`` → specs; ``tK`` is K data-aware ternary planes, ``tKa`` with TTQ
    scales, ``int8`` per-channel int8 weights."""
    specs = []
    for item in (s.strip() for s in text.split(",")):
        if item == "int8":
            specs.append(WeightSpec("int8"))
            continue
        asym = item.endswith("a")
        digits = item[1:-1] if asym else item[1:]
        if not item.startswith("t") or not digits.isdigit() or not 1 <= int(digits) <= 8:
            raise ValueError(f"unknown candidate '{item}' (expected t1..t8, t1a..t8a or int8)")
        specs.append(WeightSpec("ternary", int(digits), "data", asymmetric=asym))
    if not specs:
        raise ValueError("no candidates given")
    return specs


def spec_columns(spec: WeightSpec, out_channels: int, fan_in: int, rows: int) -> int:
    """Columns of a layer in format ``spec``; an int8 weight takes two 4-bit cells."""
    if spec.fmt == "int8":
        return crossbar_columns(out_channels, fan_in, 1, rows, 2)
    return crossbar_columns(out_channels, fan_in, spec.planes, rows, 2 if spec.asymmetric else 1)


@dataclass(eq=False)
class Candidate:
    """One format of one layer: its fit, cost, layer attributes and local errors."""

    spec: WeightSpec
    fitted: Fitted
    columns: int
    attrs: dict
    error: float
    act_error: float = float("nan")


@dataclass(eq=False)
class Slot:
    """A layer of the search: the original layer, its candidates, its op in the trial module."""

    layer: Layer
    candidates: list[Candidate]
    op: CrossbarLayerOp | None = None


def weight_attrs(w: CrossbarWeights, bias) -> dict:
    """The candidate-dependent weight attributes of a layer op."""
    attrs = {
        "weights": DenseElementsAttr.from_array(np.asarray(w.cells, np.int8)),
        "format": StringAttr(w.fmt),
        "scale": DenseElementsAttr.from_array(np.asarray(w.scale, np.float32)),
    }
    if w.scale_neg is not None:
        attrs["scale_neg"] = DenseElementsAttr.from_array(np.asarray(w.scale_neg, np.float32))
    if bias is not None:
        attrs["bias"] = DenseElementsAttr.from_array(np.asarray(bias, np.float32))
    return attrs


def _sample(n: int, limit: int) -> np.ndarray:
    return np.linspace(0, n - 1, limit).astype(np.int64) if n > limit else np.arange(n)


def build_slot(layer: Layer, specs, x: np.ndarray, act: ActSpec | None, rows: int) -> Slot:
    """Fit the candidates of ``layer`` on its float calibration input ``x``.

    int8 is fitted first. When its error is already at the DAC/ADC floor (within 10 % of the
    error the converters alone add), a ternary candidate with at least int8's columns cannot do
    better (it is read through the same converters, plane by plane) and is not fitted.
    """
    rows = layer.tile_rows(rows)
    x_rows = layer.rows(x)
    o, k = layer.shape
    idx = _sample(x_rows.shape[0], ERROR_SAMPLE_ROWS)
    codes, scale, zp = _codes(layer, x, x_rows, act)
    x_sub = x_rows[idx]
    y_ref = layer.reference(x_sub)

    def candidate(spec: WeightSpec, fit: Fitted) -> Candidate:
        attrs = weight_attrs(fit.weights, fit.bias)
        error, act_err = fit.output_error, float("nan")
        if act is not None:
            attrs.update(adc_attrs(fit.weights, codes, rows, act))
            readout = Readout(rows, act.adc_bits, _shift(attrs), act.adc_group)
            sub_scale = scale[idx] if np.ndim(scale) else scale
            y = crossbar_matmul(codes[idx], sub_scale, zp, fit.weights, readout, fit.bias)
            error = relative_error(y_ref, y)
            act_err = relative_error(ideal_matmul(x_sub, fit.weights, fit.bias), y)
        return Candidate(spec, fit, spec_columns(spec, o, k, rows), attrs, error, act_err)

    cands: dict[int, Candidate] = {}
    for i, spec in enumerate(specs):
        if spec.fmt == "int8":
            cands[i] = candidate(spec, fit_candidates(layer.weight, layer.bias, [spec], x_rows)[0])
    at_floor = [c for c in cands.values() if act is not None and c.error <= 1.1 * c.act_error]
    floor_cols = min((c.columns for c in at_floor), default=None)
    todo = [
        i
        for i, spec in enumerate(specs)
        if spec.fmt != "int8"
        and (floor_cols is None or spec.planes == 1 or spec_columns(spec, o, k, rows) < floor_cols)
    ]
    fits = fit_candidates(layer.weight, layer.bias, [specs[i] for i in todo], x_rows)
    for i, fit in zip(todo, fits):
        cands[i] = candidate(specs[i], fit)
    return Slot(layer, [cands[i] for i in sorted(cands)])


def _shift(attrs: dict):
    a = attrs.get("adc_shift")
    return None if a is None else a.array


def _codes(layer: Layer, x, x_rows, act: ActSpec | None):
    """Calibration codes rows, their scale(s) and zero point (None without activation quant)."""
    if act is None:
        return None, None, 0
    if act.dynamic_for_kind(layer.kind):
        q, s = dynamic_codes(x_rows, act.bits)
        return q, s, 0
    p = static_params(x, act)
    q = quantize_codes(x, p.scale, p.zero_point, p.element_type, act.bits)
    return layer.rows(q, p.zero_point), np.float32(p.scale), p.zero_point


def capture_inputs(module: ModuleOp, cal: Calibration, layers: list[Layer]):
    """One float run: each layer's calibration input (by layer) and the run itself."""
    ids = {id(ly.op) for ly in layers}
    seen: dict[int, np.ndarray] = {}

    def callback(op, ref_ins, q_ins, run):
        key = id(op.operands[0])
        if key not in seen:
            seen[key] = run.samples(q_ins[0])
        inputs[id(op)] = seen[key]
        return None

    inputs: dict[int, np.ndarray] = {}
    run = run_streams(module, cal, lambda op: id(op) in ids, callback, ref=True)
    return [inputs[id(ly.op)] for ly in layers], run


def split_holdout(cal: Calibration, xs, fraction: float):
    """Layer inputs to fit on and the calibration set to measure on.

    With ``fraction`` 0 both are everything. Otherwise the first samples fit the candidates and
    the last ``fraction`` of them (at least one) measure the model error, so small calibration
    sets, which data-aware fits overfit, still measure honestly.
    """
    n = cal.samples
    held = min(max(int(round(fraction * n)), 1), n - 1) if fraction > 0 and n > 1 else 0
    if not held:
        return xs, cal
    k = n - held
    val = Calibration(
        {name: a[k:] for name, a in cal.inputs.items()},
        None if cal.labels is None else cal.labels[k:],
        f"{cal.source} (last {held} of {n} samples held out)",
        cal.synthetic,
        [r[k:] for r in cal.reference],
    )
    return [x[:k] for x in xs], val


def build_trial(module: ModuleOp, slots: list[Slot], xs, act: ActSpec | None, rows: int) -> None:
    """Rewrite ``module`` (a copy of the float model) with every slot at its first candidate;
    each slot remembers its op so candidates can be swapped in place."""
    trial_layers = float_layers(module)
    for slot, layer, x in zip(slots, trial_layers, xs):
        first = slot.candidates[0]
        w, bias = first.fitted.weights, first.fitted.bias
        if act is None:
            op = build_layer_op(layer, w, bias, rows)
            replace_layer(layer.op, [op])
        else:
            conv, codes, scale, in_attrs = input_ops(layer.op, layer.x, x, act, layer.kind)
            op = build_layer_op(layer, w, bias, rows, x=codes, x_scale=scale)
            op.attributes.update(in_attrs)
            replace_layer(layer.op, [conv, op])
        slot.op = op
        set_choice(slot, 0)


def set_choice(slot: Slot, index: int) -> None:
    """Put candidate ``index``'s attributes on the slot's op."""
    cand = slot.candidates[index]
    for key in CANDIDATE_KEYS:
        slot.op.attributes.pop(key, None)
    slot.op.attributes.update(cand.attrs)


def annotate(slot: Slot, index: int) -> None:
    """Record the choice and its measured errors on the slot's op."""
    cand = slot.candidates[index]
    op = slot.op
    op.attributes["quant.choice"] = StringAttr(cand.spec.label)
    set_float(op, "quant.weight_error", cand.fitted.weight_error)
    set_float(op, "quant.output_error", cand.fitted.output_error)
    set_float(op, "quant.act_error", cand.act_error)


@dataclass
class SearchResult:
    """The chosen candidate per layer, its measured error, whether it is within budget."""

    assignment: tuple[int, ...]
    error: float
    met: bool
    evaluations: int
    path_length: int


def greedy_path(slots: list[Slot]) -> tuple[list[tuple[int, ...]], list[float], list[int]]:
    """Assignments from the cheapest upwards, each step the upgrade with the largest reduction
    of the proxy Σ (local error)² per added column (``numerics/budget.py``'s greedy search); with
    each assignment's proxy and columns."""
    options = [[Option(c.spec.label, c.columns) for c in s.candidates] for s in slots]
    errors = [[c.error for c in s.candidates] for s in slots]

    def proxy(assign) -> float:
        return float(sum(errors[i][j] ** 2 for i, j in enumerate(assign)))

    walk = greedy_assign(options, proxy, -1.0, prune=False)
    path = [tuple(min(range(len(o)), key=lambda j, o=o: (o[j].columns, j)) for o in options)]
    for layer, option, _, _ in walk.trace:
        path.append(path[-1][:layer] + (option,) + path[-1][layer + 1 :])
    columns = [sum(options[i][j].columns for i, j in enumerate(a)) for a in path]
    return path, [proxy(a) for a in path], columns


def search(slots: list[Slot], measure, budget: float, max_runs: int = 8) -> SearchResult:
    """The cheapest assignment on the greedy path whose measured error is within ``budget``.

    The most accurate end of the path is measured first (if it misses the budget, nothing on
    the path meets it). The measured error is then modelled as a power of the proxy, log-log
    interpolated between the nearest measured points on either side (√proxy scaling from a
    single point), the predicted cheapest point within budget is measured, and the bracket
    narrows until it is two neighbours wide or ``max_runs`` model runs were spent. The result
    is always a measured assignment, within budget if any measured one is.
    """
    path, proxy, _ = greedy_path(slots)
    logp = np.log(np.asarray(proxy) + 1e-30)
    cache: dict[int, float] = {}

    def err(i: int) -> float:
        if i not in cache:
            cache[i] = float(measure(path[i]))
        return cache[i]

    lo, hi = -1, len(path) - 1  # lo: over budget (-1: none known); hi: within budget
    if err(hi) <= budget:
        slow = 0
        while hi - lo > 1 and len(cache) < max_runs:
            width = hi - lo
            guess = _predict(logp, cache, lo, hi, budget)
            if slow >= 2:
                guess, slow = (lo + hi) // 2 if lo >= 0 else guess, 0
            if err(guess) <= budget:
                hi = guess
            else:
                lo = guess
            slow = slow + 1 if hi - lo > width // 2 else 0
    ok = [i for i in cache if cache[i] <= budget]
    pick = min(ok) if ok else min(cache, key=lambda i: (cache[i], i))
    assign, error = path[pick], cache[pick]
    runs = len(cache)
    if error <= budget:
        known = {path[i]: e for i, e in cache.items()}
        assign, error, runs = _downgrade(
            slots, measure, budget, assign, error, max_runs - runs, known
        )
        runs += len(cache)
    return SearchResult(assign, error, error <= budget, runs, len(path))


def _downgrade(
    slots: list[Slot], measure, budget: float, assign, error: float, runs: int, known: dict
):
    """Spend the runs left on single-layer downgrades off the path (the proxy ranks layers by
    local error, not by how much the model feels it): each is measured and kept when the model
    stays within budget. Returns (assignment, error, runs used)."""
    used = 0
    tried: set[tuple[int, int]] = set()
    seen = set(known)
    while used < runs:
        move = _cheapest_downgrade(slots, assign, tried)
        if move is None:
            break
        tried.add(move)
        trial = assign[: move[0]] + (move[1],) + assign[move[0] + 1 :]
        if trial in seen:
            continue  # a point of the path measured before (and found over budget)
        seen.add(trial)
        e = float(measure(trial))
        used += 1
        if e <= budget:
            assign, error = trial, e
    return assign, error, used


def _cheapest_downgrade(slots: list[Slot], assign, tried) -> tuple[int, int] | None:
    """The untried (layer, cheaper option) with the least proxy increase per column saved."""
    best, best_cost = None, None
    for i, (slot, j) in enumerate(zip(slots, assign)):
        cur = slot.candidates[j]
        for k, cand in enumerate(slot.candidates):
            saved = cur.columns - cand.columns
            if saved <= 0 or (i, k) in tried:
                continue
            cost = (cand.error**2 - cur.error**2) / saved
            if best_cost is None or cost < best_cost:
                best, best_cost = (i, k), cost
    return best


#: Errors below this count as this in the log-log model (an accuracy drop can be exactly 0).
ERROR_FLOOR = 1e-4


def _predict(logp, cache, lo: int, hi: int, budget: float) -> int:
    """Index strictly inside (lo, hi) predicted as the cheapest one within budget."""
    e_hi = np.log(max(cache[hi], ERROR_FLOOR))
    target = np.log(max(budget, ERROR_FLOOR))
    slope = 0.5  # error ∝ √proxy while only one side is known
    if lo >= 0 and logp[lo] > logp[hi]:
        e_lo = np.log(max(cache[lo], ERROR_FLOOR))
        slope = max((e_lo - e_hi) / (logp[lo] - logp[hi]), 1e-3)
    # log err(i) ≈ e_hi + slope·(logp[i] − logp[hi]); the first i (cheapest) predicted within.
    pred = e_hi + slope * (logp[lo + 1 : hi] - logp[hi])
    inside = np.nonzero(pred <= target)[0]
    return lo + 1 + (int(inside[0]) if inside.size else hi - lo - 2)


class Measurer:
    """Assignment → measured model error of the trial module on the calibration set; keeps the
    outputs of every assignment measured."""

    def __init__(
        self, module: ModuleOp, slots: list[Slot], cal: Calibration, metric: str, output=None
    ):
        self.module, self.slots, self.cal, self.metric = module, slots, cal, metric
        self.output = output
        self.outputs: dict[tuple[int, ...], list] = {}

    def apply(self, assign) -> None:
        """Put the assignment's candidates on the trial module."""
        for slot, j in zip(self.slots, assign):
            set_choice(slot, j)

    def __call__(self, assign) -> float:
        self.apply(assign)
        outputs = run_streams(self.module, self.cal, ref=False).outputs("q")
        self.outputs[tuple(assign)] = outputs
        return model_error(self.cal, outputs, self.metric, self.output)


def model_error(cal: Calibration, outputs, metric: str, output: int | None = None) -> float:
    """The error of ``outputs`` against the float reference (only output ``output`` if given)."""
    ref = cal.reference
    if output is not None:
        ref, outputs = [ref[output]], [outputs[output]]
    return metrics.model_error(ref, outputs, metric, cal.labels)


def refit(module: ModuleOp, cal: Calibration, specs, xs_ref, act: ActSpec | None, rows: int):
    """Refit the chosen formats on ``module`` (a copy of the float model) in one run.

    Layers are refitted in program order on the inputs the layers refitted before them produce,
    against the float model's inputs recorded by the capture run (target-aware, as
    ``ternarize``), and each one's activation conversion and ADC are calibrated on the spot.
    Returns the refitted model's outputs on the calibration set.
    """
    layers = float_layers(module)
    plan = {id(ly.op): (ly, spec, x) for ly, spec, x in zip(layers, specs, xs_ref)}

    def callback(op, ref_ins, q_ins, run):
        layer, spec, x_ref = plan[id(op)]
        x_q = run.samples(q_ins[0])
        new = replacement(layer, spec, layer.rows(x_q), layer.rows(x_ref), rows)
        new.attributes["quant.choice"] = StringAttr(spec.label)
        return [new] if act is None else convert_layer(new, x_q, act)

    return run_streams(module, cal, lambda op: id(op) in plan, callback, ref=False).outputs("q")
