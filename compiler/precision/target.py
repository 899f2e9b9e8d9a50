"""The array parameters the precision passes need, read from the module's target.

The target is recorded once on the module (``imcc.target``, see compiler/backend/target.py);
its weight-holding arrays are the group the backend maps weights to (:func:`weight_group`: the
first ``analog`` group, else the first digital one, FAT's ternary arrays). A digital array adds
exactly, so it has no ADC (``adc_bits`` 0); its activation width defaults to 8 bits (FAT streams
activations bit-serially, any width works).
"""

from __future__ import annotations

from dataclasses import dataclass

from ..backend.target import module_target, weight_group
from ..ir.builtin import ModuleOp

DEFAULT_ACT_BITS = 8


@dataclass(frozen=True)
class ArrayParams:
    """Rows and columns of one array, DAC and ADC widths (0: exact digital sums)."""

    target: str
    rows: int
    cols: int
    dac_bits: int
    adc_bits: int


def array_params(module: ModuleOp) -> ArrayParams:
    """The weight arrays of the target ``module`` is compiled for (``cluster`` unless recorded)."""
    t = module_target(module)
    g = weight_group(t)
    dac = g.get("dac_bits") or DEFAULT_ACT_BITS
    adc = g.get("adc_bits") or 0
    return ArrayParams(t.name, int(g.rows), int(g.cols), int(dac), int(adc))
