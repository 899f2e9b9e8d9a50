"""precision-auto: per layer 1, 2 or 3 ternary planes or int8, fewest columns within a budget."""

from __future__ import annotations

import sys
from dataclasses import dataclass, field

from ..interp.interpreter import main_function, result_names
from ..ir.attributes import BoolAttr, FloatAttr, IntegerAttr
from ..ir.builtin import ModuleOp
from ..pm import Pass, PassFailure, register_pass
from ..precision.activations import MODES, ActSpec
from ..precision.auto import (
    Measurer,
    annotate,
    build_slot,
    build_trial,
    capture_inputs,
    model_error,
    parse_candidates,
    refit,
    search,
    split_holdout,
)
from ..precision.calibration import calibration_for
from ..precision.clone import clone_module, install
from ..precision.layers import float_layers, quant_layers
from ..precision.numerics import metrics
from ..precision.record import record_model, remember_reference
from ..precision.target import array_params


@register_pass
@dataclass(frozen=True)
class PrecisionAutoPass(Pass):
    """Chooses for every float crossbar layer among ``candidates`` (default 1, 2, 3 ternary
    planes and int8) the assignment with the fewest crossbar columns whose measured model error
    on the calibration set is within ``budget``, and quantizes the activations (``act``: as in
    ``quantize-activations``, or ``none`` for float activations). ``metric`` is ``auto``
    (accuracy drop with labels, else relative output error), ``relative``, ``cosine`` (1 − mean
    cosine similarity), ``accuracy`` or ``top1``, on all outputs or the one named ``output``.

    The search walks a greedy path ordered by the layers' local errors, measures the real model
    at a few points of it (at most ``max-runs`` interpreter runs over the calibration set) and
    spends runs left over on single-layer downgrades. ``holdout`` measures on the last fraction
    of the calibration samples only (candidates are fitted on the rest): for small sets, where
    data-aware fits overfit. Without holdout, ``refit`` refits the chosen formats in program
    order (target-aware) and keeps whichever model measures better. Run ``cse`` after it."""

    name = "precision-auto"
    summary = "Per-layer ternary planes or int8: fewest crossbar columns within an accuracy budget"

    budget: float = field(default=0.01, metadata={"help": "allowed model error (see metric)"})
    metric: str = field(
        default="auto", metadata={"help": "auto | relative | cosine | accuracy | top1"}
    )
    candidates: str = field(
        default="t1,t2,t3,int8", metadata={"help": "comma-separated: tK, tKa, int8"}
    )
    act: str = field(default="auto", metadata={"help": "auto | static | dynamic | none"})
    method: str = field(
        default="maxabs", metadata={"help": "static clipping: maxabs | percentile | mse"}
    )
    adc_group: int = field(default=0, metadata={"help": "columns per ADC range (0: array columns)"})
    output: str = field(
        default="", metadata={"help": "model output the metric looks at (all if empty)"}
    )
    holdout: float = field(
        default=0.0,
        metadata={"help": "fraction of calibration samples held out to measure the error"},
    )
    max_runs: int = field(default=8, metadata={"help": "most model runs the search may spend"})
    refit: bool = field(
        default=True, metadata={"help": "refit the chosen formats in program order"}
    )
    calibration: str = field(
        default="", metadata={"help": "calibration .npz (else attached/synthetic)"}
    )

    def __post_init__(self):
        if not self.budget >= 0:
            raise ValueError(f"budget must be non-negative, got {self.budget}")
        if self.metric not in metrics.METRICS:
            raise ValueError(f"metric must be one of {', '.join(metrics.METRICS)}")
        if self.act not in (*MODES, "none"):
            raise ValueError(f"act must be one of {', '.join(MODES)}, none")
        parse_candidates(self.candidates)
        if not 0.0 <= self.holdout < 1.0:
            raise ValueError(f"holdout must be in [0, 1), got {self.holdout}")
        if self.max_runs < 1:
            raise ValueError(f"max-runs must be at least 1, got {self.max_runs}")

    def act_spec(self, module: ModuleOp) -> ActSpec | None:
        """The activation quantization evaluated and applied (None: float activations)."""
        if self.act == "none":
            return None
        arr = array_params(module)
        group = self.adc_group or arr.cols
        return ActSpec(self.act, min(arr.dac_bits, 8), self.method, False, arr.adc_bits, group)

    def output_index(self, module: ModuleOp) -> int | None:
        """The index of the output the metric looks at (None: all)."""
        if not self.output:
            return None
        names = result_names(main_function(module))
        if self.output not in names:
            raise PassFailure(
                f"precision-auto: the model has no output '{self.output}' (outputs: {names})"
            )
        return names.index(self.output)

    def requires(self, module: ModuleOp) -> None:
        if quant_layers(module):
            raise PassFailure(
                "precision-auto expects a float model; its layers are already quantized"
            )

    def run(self, module: ModuleOp) -> bool:
        layers = float_layers(module)
        if not layers:
            return False
        cal = calibration_for(module, self.calibration)
        try:
            metric = metrics.resolve_metric(self.metric, cal.labels is not None)
        except ValueError as exc:
            raise PassFailure(f"precision-auto: {exc}") from None
        output = self.output_index(module)
        rows, act = array_params(module).rows, self.act_spec(module)
        xs, run = capture_inputs(module, cal, layers)
        remember_reference(module, cal, run, True)
        trial, chosen, result = self.choose(module, cal, layers, xs, metric, output)
        winner, error = trial, result.error
        if self.refit and self.holdout == 0 and any(spec.fmt == "ternary" for spec in chosen):
            copy = clone_module(module)
            outputs = refit(copy, cal, chosen, xs, act, rows)
            refit_error = model_error(cal, outputs, metric, output)
            if refit_error <= error:
                record_model(copy, cal, outputs, metric, output)
                winner, error = copy, refit_error
        install(module, winner)
        self.record(module, error, result.evaluations, metric)
        return True

    def choose(self, module, cal, layers, xs, metric: str, output):
        """Fit the candidates, search on a quantized copy of ``module``; returns the copy (with
        the chosen candidates in place), the chosen specs and the search result."""
        rows, act = array_params(module).rows, self.act_spec(module)
        specs = parse_candidates(self.candidates)
        xs_fit, val = split_holdout(cal, xs, self.holdout)
        slots = [build_slot(ly, specs, x, act, rows) for ly, x in zip(layers, xs_fit)]
        trial = clone_module(module)
        build_trial(trial, slots, xs_fit, act, rows)
        measure = Measurer(trial, slots, val, metric, output)
        result = search(slots, measure, self.budget, self.max_runs)
        measure.apply(result.assignment)
        for slot, j in zip(slots, result.assignment):
            annotate(slot, j)
        record_model(trial, val, measure.outputs[result.assignment], metric, output)
        chosen = [s.candidates[j].spec for s, j in zip(slots, result.assignment)]
        return trial, chosen, result

    def record(self, module: ModuleOp, error: float, runs: int, metric: str) -> None:
        """Budget attributes on the module; a warning when the budget was not met."""
        met = error <= self.budget
        attrs = module.attributes
        attrs["quant.budget"] = FloatAttr(self.budget)
        attrs["quant.budget_met"] = BoolAttr(met)
        attrs["quant.search_runs"] = IntegerAttr(runs)
        if not met:
            print(
                f"imcc: warning: precision-auto could not meet the budget {self.budget:g} "
                f"({metric}); the best assignment tried measures {error:.4g}",
                file=sys.stderr,
            )
