"""strip-calibration: remove the calibration set the precision passes read from the module."""

from __future__ import annotations

from dataclasses import dataclass

from ..ir.builtin import ModuleOp
from ..pm import Pass, register_pass
from ..precision.calibration import strip_calibration


@register_pass
@dataclass(frozen=True)
class StripCalibrationPass(Pass):
    """Removes the module's ``imcc.calibration`` attribute (the calibration inputs, labels and
    float reference outputs the precision passes share, see compiler/precision/calibration.py).
    The last step of the quant level: the passes after it need no calibration data, and the
    compiled program should not carry the user's data. Until then every dump holds the set, so
    ``imcc-opt`` reproduces any precision pass from a dumped file."""

    name = "strip-calibration"
    summary = "Remove the calibration data (imcc.calibration) from the module"

    def run(self, module: ModuleOp) -> bool:
        return strip_calibration(module)
