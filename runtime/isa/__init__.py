"""imcc: runtime isa — the IMC ISA table, its encoding, the prog.bin format, assembler and disassembler."""

from .asm import AsmError, assemble, assemble_file
from .disasm import disassemble, format_instr
from .encoding import Instr, decode, decode_all, encode, encode_all
from .entries import Const, DebugInfo, Tensor
from .errors import BinaryFormatError, FieldError, ProgramError
from .program import Program, fingerprint_of
from .table import BY_MNEMONIC, BY_OPCODE, TABLE

__all__ = [
    "BY_MNEMONIC",
    "BY_OPCODE",
    "TABLE",
    "AsmError",
    "BinaryFormatError",
    "Const",
    "DebugInfo",
    "FieldError",
    "Instr",
    "Program",
    "ProgramError",
    "Tensor",
    "assemble",
    "assemble_file",
    "decode",
    "decode_all",
    "disassemble",
    "encode",
    "encode_all",
    "fingerprint_of",
    "format_instr",
]
