"""The exceptions of the ISA package: one for bad field values, one for bad binaries."""


class FieldError(ValueError):
    """An instruction field value is missing, unknown, of the wrong type or out of range."""


class BinaryFormatError(ValueError):
    """A prog.bin (or an encoded instruction stream) is malformed; the message says where and why."""


class ProgramError(ValueError):
    """A Program object is inconsistent (bad name, dangling reference, misplaced tensor...)."""
