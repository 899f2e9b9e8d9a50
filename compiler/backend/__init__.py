"""Code generation: from the ``quant`` level to a program for the chip.

The passes of the ``imc`` and ``isa`` levels (``compiler/passes``) are thin; the work they share
lives here, one concern per module: the target the module is compiled for (`target`), crossbar
layers cut into array windows (`windows`) and packed onto arrays (`packing`), memory planning
(`memory`), scheduling (`scheduling`) and emission of the runtime's `Program` (`emit`).
"""
