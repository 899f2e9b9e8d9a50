"""The array parameters the precision passes need, read from a target description.

The weight-holding arrays of a target are its first ``analog`` array group, else its first group
(FAT's digital ternary arrays). A digital array adds exactly, so it has no ADC (``adc_bits`` 0);
its activation width defaults to 8 bits (FAT streams activations bit-serially, any width works).
"""

from __future__ import annotations

from dataclasses import dataclass

from imcc.runtime.targets import Target

DEFAULT_ACT_BITS = 8


@dataclass(frozen=True)
class ArrayParams:
    """Rows and columns of one array, DAC and ADC widths (0: exact digital sums)."""

    target: str
    rows: int
    cols: int
    dac_bits: int
    adc_bits: int


def array_params(t: Target) -> ArrayParams:
    """The weight arrays of target ``t`` (the module's: `module_target`)."""
    groups = [g for g in t.arrays if g.kind == "analog"] or list(t.arrays)
    g = groups[0]
    dac = g.get("dac_bits") or DEFAULT_ACT_BITS
    adc = g.get("adc_bits") or 0
    return ArrayParams(t.name, int(g.rows), int(g.cols), int(dac), int(adc))
