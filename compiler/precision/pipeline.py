"""The steps of the ``quant`` level for each ``--precision`` mode.

Every mode that quantizes first splits attention per head (``attention-split``: Q·Kᵀ and P·V on
the target's dynamic arrays, or kept on the cores with ``attention="cores"``).

- ``fp32``: nothing — the ideal analog machine, float weights and activations (conformance);
- ``int8``: per-channel int8 weights, then int8 activations and calibrated ADC ranges;
- ``ternary`` (default): one data-aware ternary plane per layer, then activations and ADC;
- ``auto``: per layer 1, 2 or 3 ternary planes or int8, the fewest crossbar columns whose
  measured model error stays within ``--accuracy-budget`` (accuracy drop with labels, else
  relative output error), activations and ADC included.

Every mode that quantizes also makes depthwise convolutions 8-bit jobs for the depthwise unit
(``quantize-depthwise``), lets layers emit the next layer's codes where their float result feeds
nothing else (``fuse-output-quant``) and ends with ``cse`` (one conversion per tensor shared by the
layers reading it, e.g. Q/K/V) and ``precision-report`` (the table on stderr). Every mode, ``fp32``
included, ends with ``strip-calibration``: the calibration set travels on the module up to there
(compiler/precision/calibration.py), and the program does not carry it.
"""

from __future__ import annotations

PRECISIONS = ("fp32", "int8", "ternary", "auto")
#: Where attention's run-time products go (``attention-split``'s ``placement``).
ATTENTION_PLACEMENTS = ("auto", "dynamic-arrays", "cores")
DEFAULT_PRECISION = "ternary"
DEFAULT_BUDGET = 0.01


def precision_steps(
    precision: str = DEFAULT_PRECISION,
    accuracy_budget: float | None = None,
    report: bool = True,
    attention: str = "auto",
) -> tuple[str, ...]:
    """Pipeline elements of the quant level for ``precision``; ``attention`` places attention's
    run-time products (see ``attention-split``; fp32 programs keep attention on the cores)."""
    if attention not in ATTENTION_PLACEMENTS:
        raise ValueError(
            f"unknown attention placement '{attention}' (expected one of "
            f"{', '.join(ATTENTION_PLACEMENTS)})"
        )
    if precision not in PRECISIONS:
        raise ValueError(
            f"unknown precision '{precision}' (expected one of {', '.join(PRECISIONS)})"
        )
    if accuracy_budget is not None and precision != "auto":
        raise ValueError("an accuracy budget applies to --precision auto only")
    budget = DEFAULT_BUDGET if accuracy_budget is None else float(accuracy_budget)
    if not budget >= 0:
        raise ValueError(f"the accuracy budget must be non-negative, got {budget}")
    steps = {
        "fp32": (),
        "int8": ("quantize-weights", "quantize-activations", "quantize-depthwise"),
        "ternary": ("ternarize", "quantize-activations", "quantize-depthwise"),
        "auto": (f"precision-auto{{budget={budget!r}}}", "quantize-depthwise"),
    }[precision]
    if steps:
        # Attention first: the precision passes after it then see (and budget) its error.
        split = "attention-split" + ("" if attention == "auto" else f"{{placement={attention}}}")
        steps = (
            split,
            *steps,
            "fuse-output-quant",
            "cse",
            *(("precision-report",) if report else ()),
        )
    # Last: the calibration data (module attribute) has served; the program does not carry it.
    return (*steps, "strip-calibration")
