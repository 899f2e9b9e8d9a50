"""The text assembler: .s source to a validated `Program`.

One statement per line; ``#`` starts a comment. A line may begin with a label (``name:``), which
marks the position of the next instruction for readers (v1 has no branches). Statements:

    .target NAME [fingerprint=32HEX]
    .meta KEY "value"
    .const NAME DTYPE [v, v, ...]          # inline values, or
    .const NAME DTYPE "weights.npy"        # a .npy file next to (or below) the .s file
    .tensor NAME ROLE [d0, d1, ...] DTYPE MEM ADDR [scale=F] [zp=I] [scales=CONST] [axis=I]
    .debug "ir op" "onnx node" [head=N]    # attaches to the next instruction (N: attention head)
    .call {JSON}                           # the next call table entry (see `calls`)
    MNEMONIC field=value, field=value, ... # or positional values in table order

Values: integers (decimal, 0x.., 0b..), floats (f32 fields), names for mem/dtype/enum fields,
true/false or 1/0 for bools; an address field also accepts a tensor name with an optional
``+N``/``-N`` offset. Omitted fields take their table default.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..fileio import load_npy, read_file
from .calls import CallError, call_from_json
from .encoding import Instr, check_value
from .entries import MAX_HEAD, NAME_RE, ROLES, Const, DebugInfo, Tensor
from .errors import FieldError, ProgramError
from .program import Program
from .table import BY_MNEMONIC, DTYPES, MEMS, Field

_NAME = r"[A-Za-z_][A-Za-z0-9_./]*"
_TOKEN = re.compile(
    r"""(?P<ws>\s+)|(?P<comment>\#.*)
    |(?P<str>"(?:[^"\\\n]|\\.)*")
    |(?P<num>[+-]?(?:0[xX][0-9a-fA-F]+|0[bB][01]+|(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?|inf)
        (?![A-Za-z0-9_.]))
    |(?P<dir>\.[A-Za-z_]+)|(?P<name>"""
    + _NAME
    + r""")|(?P<punct>[=,\[\]:+-])""",
    re.VERBOSE,
)
_TARGET = re.compile(
    r"\s*\.target(?:\s+(?!fingerprint=)([A-Za-z0-9_.-]+))?"
    r"(?:\s+fingerprint=([0-9a-fA-F]{32}))?\s*(?:#.*)?"
)
_CONST_HEAD = re.compile(r"(\s*\.const\s+)(\S+)(\s+)(\S+)(\s+)")
_INT = r"\s*[+-]?\d+\s*"
_FLOAT = r"\s*[+-]?(?:(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?|inf)\s*"
_FLOAT_OR_NAN = r"\s*(?:[+-]?(?:(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?|inf)|nan)\s*"


class AsmError(Exception):
    """An error in assembly source, formatted ``FILE:LINE:COL: error: MESSAGE`` + line + caret."""

    def __init__(self, message: str, path: str, line: int, col: int, source: str):
        super().__init__(message)
        self.message, self.path, self.line, self.col, self.source = (
            message,
            path,
            line,
            col,
            source,
        )

    def __str__(self) -> str:
        caret = " " * (self.col - 1) + "^"
        return f"{self.path}:{self.line}:{self.col}: error: {self.message}\n{self.source}\n{caret}"


@dataclass(frozen=True)
class Tok:
    """A token: kind (str/num/dir/name/punct), its text and 1-based column."""

    kind: str
    text: str
    col: int


@dataclass
class _Pending:
    """An instruction whose values are converted once every tensor is known."""

    line: int
    mnemonic: Tok
    args: dict[str, list[Tok]]


class Assembler:
    """Parses one source text; `run` returns the Program or raises AsmError."""

    def __init__(self, text: str, path: str = "<input>", base_dir: Path | None = None):
        self.lines = text.splitlines()
        self.path, self.base_dir = path, base_dir
        self.program = Program()
        self.pending: list[_Pending] = []
        self.labels: dict[str, int] = {}
        self.decl_line: dict[tuple[str, str], int] = {}
        self.debug_next: tuple[int, DebugInfo] | None = None
        self.lineno = 0
        self.target_line = 0

    def error(self, message: str, col: int = 1, line: int | None = None) -> AsmError:
        """An AsmError at ``col`` of the current (or given) line."""
        line = self.lineno if line is None else line
        source = self.lines[line - 1] if 0 < line <= len(self.lines) else ""
        return AsmError(message, self.path, line, col, source)

    def run(self) -> Program:
        """Assemble every line, resolve instruction operands and validate the program."""
        for lineno, text in enumerate(self.lines, start=1):
            self.lineno = lineno
            self.statement(text)
        if self.debug_next is not None:
            raise self.error(".debug is not followed by an instruction", 1, self.debug_next[0])
        self.program.instrs = [self.resolve(p) for p in self.pending]
        try:
            self.program.validate()
        except ProgramError as e:
            raise self.locate(str(e)) from None
        return self.program

    def locate(self, message: str) -> AsmError:
        """Point a program-level error at the directive that declared the named object."""
        m = re.match(r"(tensor|const) (\S+?):", message)
        line = self.decl_line.get((m.group(1), m.group(2)), 1) if m else 1
        self.lineno = line
        return self.error(message, 1)

    # -- lexing ----------------------------------------------------------------------------------

    def lex(self, text: str, start: int = 0) -> list[Tok]:
        """Split ``text[start:]`` into tokens, dropping blanks and comments."""
        out, pos = [], start
        while pos < len(text):
            m = _TOKEN.match(text, pos)
            if m is None:
                raise self.error(f"unexpected character {text[pos]!r}", pos + 1)
            if m.lastgroup not in ("ws", "comment"):
                out.append(Tok(m.lastgroup, m.group(), pos + 1))
            pos = m.end()
        return out

    # -- statements --------------------------------------------------------------------------------

    def statement(self, text: str) -> None:
        """Handle one source line."""
        stripped = text.lstrip()
        if stripped.startswith(".const"):
            return self.const(text)
        if stripped.startswith(".target"):
            return self.target(text)
        if stripped.startswith(".call"):
            return self.call(text)
        toks = self.lex(text)
        if len(toks) >= 2 and toks[0].kind == "name" and toks[1].text == ":":
            if toks[0].text in self.labels:
                raise self.error(f"label {toks[0].text!r} defined twice", toks[0].col)
            self.labels[toks[0].text] = len(self.pending)
            toks = toks[2:]
        if not toks:
            return
        head = toks[0]
        if head.kind == "dir":
            handler = {".tensor": self.tensor, ".meta": self.meta, ".debug": self.debug}
            if head.text not in handler:
                raise self.error(f"unknown directive {head.text!r}", head.col)
            return handler[head.text](head, toks[1:])
        if head.kind != "name":
            raise self.error(f"expected an instruction or directive, got {head.text!r}", head.col)
        self.instruction(head, toks[1:])

    def expect(self, toks: list[Tok], i: int, kind: str, what: str, after: Tok) -> Tok:
        """Token ``i`` of ``toks`` if it has ``kind``, else an error naming ``what`` is missing."""
        if i >= len(toks):
            raise self.error(f"expected {what}", after.col + len(after.text) + 1)
        if toks[i].kind != kind:
            raise self.error(f"expected {what}, got {toks[i].text!r}", toks[i].col)
        return toks[i]

    def string(self, tok: Tok) -> str:
        """The value of a string token."""
        try:
            return json.loads(tok.text)
        except ValueError:
            raise self.error("malformed string literal", tok.col) from None

    def target(self, text: str) -> None:
        """Handle ``.target NAME [fingerprint=HEX]`` (parsed whole: names may contain '-')."""
        m = _TARGET.fullmatch(text)
        if m is None:
            raise self.error("expected .target NAME [fingerprint=<32 hex digits>]", 1)
        if self.target_line:
            raise self.error(f".target already given on line {self.target_line}", 1)
        self.target_line = self.lineno
        self.program.target = m.group(1) or ""
        if m.group(2):
            self.program.fingerprint = bytes.fromhex(m.group(2))

    def meta(self, head: Tok, toks: list[Tok]) -> None:
        """Handle ``.meta KEY "value"``."""
        key = self.expect(toks, 0, "name", "a meta key", head)
        value = self.expect(toks, 1, "str", "a quoted meta value", key)
        self.no_more(toks, 2)
        if key.text in self.program.meta:
            raise self.error(f"meta key {key.text!r} given twice", key.col)
        self.program.meta[key.text] = self.string(value)

    def debug(self, head: Tok, toks: list[Tok]) -> None:
        """Handle ``.debug "ir op" "onnx node" [head=N]`` for the next instruction."""
        ir_op = self.expect(toks, 0, "str", "a quoted IR op name", head)
        node = self.expect(toks, 1, "str", "a quoted ONNX node name", ir_op)
        index = None
        if len(toks) > 2:
            key = toks[2]
            if key.kind != "name" or key.text != "head":
                raise self.error(f"unexpected {key.text!r} (expected head=N)", key.col)
            if len(toks) < 5 or toks[3].text != "=":
                raise self.error("expected head=N", key.col)
            index = self.scalar(toks[4], "int")
            if not 0 <= index <= MAX_HEAD:
                raise self.error(f"head {index} out of range 0..{MAX_HEAD}", toks[4].col)
            self.no_more(toks, 5)
        if self.debug_next is not None:
            raise self.error("two .debug lines for one instruction", head.col)
        info = DebugInfo(self.string(ir_op), self.string(node), index)
        self.debug_next = (self.lineno, info)

    def no_more(self, toks: list[Tok], n: int) -> None:
        """Reject anything after the first ``n`` tokens."""
        if len(toks) > n:
            raise self.error(f"unexpected {toks[n].text!r}", toks[n].col)

    def tensor(self, head: Tok, toks: list[Tok]) -> None:
        """Handle a ``.tensor`` declaration."""
        name = self.expect(toks, 0, "name", "a tensor name", head)
        role = self.expect(toks, 1, "name", "a role", name)
        shape, i = self.int_list(toks, 2, role)
        dtype = self.expect(toks, i, "name", "a dtype", toks[i - 1])
        mem = self.expect(toks, i + 1, "name", "a memory space", dtype)
        addr = self.expect(toks, i + 2, "num", "an address", mem)
        opts: dict[str, object] = {}
        kinds = {"scale": "f32", "zp": "int", "scales": "name", "axis": "int"}
        rest = toks[i + 3 :]
        for j in range(0, len(rest), 3):
            key = rest[j]
            if key.kind != "name" or key.text not in kinds or key.text in opts:
                raise self.error(f"unknown or repeated tensor option {key.text!r}", key.col)
            if j + 2 >= len(rest) or rest[j + 1].text != "=":
                raise self.error(f"expected {key.text}=VALUE", key.col)
            opts[key.text] = self.scalar(rest[j + 2], kinds[key.text])
        for tok, allowed in ((name, None), (role, ROLES), (dtype, DTYPES), (mem, MEMS)):
            if allowed is None and not NAME_RE.fullmatch(tok.text):
                raise self.error(f"bad tensor name {tok.text!r}", tok.col)
            if allowed is not None and tok.text not in allowed:
                raise self.error(f"expected one of {', '.join(allowed)}, got {tok.text!r}", tok.col)
        if ("tensor", name.text) in self.decl_line:
            raise self.error(f"tensor {name.text!r} declared twice", name.col)
        self.decl_line[("tensor", name.text)] = self.lineno
        try:
            t = Tensor(
                name.text,
                role.text,
                dtype.text,
                tuple(shape),
                mem.text,
                self.scalar(addr, "int"),
                **opts,
            )
        except ProgramError as e:
            raise self.error(str(e), name.col) from None
        if opts.get("scales") is not None and "axis" not in opts:
            t.axis = max(len(t.shape) - 1, 0)
        self.program.tensors.append(t)

    def int_list(self, toks: list[Tok], i: int, after: Tok) -> tuple[list[int], int]:
        """Parse ``[n, n, ...]`` starting at token ``i``; return values and the next index."""
        self.expect(toks, i, "punct", "'[' starting a shape", after)
        if toks[i].text != "[":
            raise self.error("expected '['", toks[i].col)
        values, i = [], i + 1
        while i < len(toks) and toks[i].text != "]":
            values.append(self.scalar(toks[i], "int"))
            i += 1
            if i < len(toks) and toks[i].text == ",":
                i += 1
        if i >= len(toks):
            raise self.error("unterminated '['", after.col)
        return values, i + 1

    def scalar(self, tok: Tok, kind: str):
        """Convert one token to an int, float or name."""
        if kind == "name":
            if tok.kind != "name":
                raise self.error(f"expected a name, got {tok.text!r}", tok.col)
            return tok.text
        if tok.kind != "num":
            raise self.error(f"expected a number, got {tok.text!r}", tok.col)
        text = tok.text.lower()
        if kind == "int" and (text.lstrip("+-").startswith(("0x", "0b")) or _int_ok(text)):
            return int(text, 0) if text.lstrip("+-").startswith(("0x", "0b")) else int(text, 10)
        if kind == "int":
            raise self.error(f"expected an integer, got {tok.text!r}", tok.col)
        return float(int(text, 0)) if text.lstrip("+-").startswith(("0x", "0b")) else float(text)

    def const(self, text: str) -> None:
        """Handle ``.const`` (parsed from the raw line so long lists skip the tokenizer)."""
        m = _CONST_HEAD.match(text)
        if m is None:
            raise self.error('expected .const NAME DTYPE [values] or .const NAME DTYPE "file"')
        name, dtype, data_col = m.group(2), m.group(4), m.end() + 1
        if not NAME_RE.fullmatch(name):
            raise self.error(f"bad const name {name!r}", len(m.group(1)) + 1)
        if dtype not in DTYPES:
            raise self.error(f"expected one of {', '.join(DTYPES)}, got {dtype!r}", m.start(4) + 1)
        if ("const", name) in self.decl_line:
            raise self.error(f"const {name!r} defined twice", len(m.group(1)) + 1)
        self.decl_line[("const", name)] = self.lineno
        rest = text[m.end() :]
        if rest.startswith("["):
            close = rest.find("]")
            if close < 0:
                raise self.error("unterminated '['", data_col)
            self.no_more(self.lex(text, m.end() + close + 1), 0)
            values = self.number_list(rest[1:close], dtype, data_col + 1)
        else:
            toks = self.lex(text, m.end())
            if not toks or toks[0].kind != "str":
                raise self.error("expected '[' or a quoted .npy path", data_col)
            self.no_more(toks, 1)
            values = self.load_npy(self.string(toks[0]), toks[0].col)
        try:
            self.program.consts.append(Const.from_values(name, dtype, values))
        except ProgramError as e:
            raise self.error(str(e), data_col) from None

    def call(self, text: str) -> None:
        """Handle ``.call {JSON}``: append one call table entry."""
        body = text.lstrip()[len(".call") :]
        col = len(text) - len(body) + 1
        try:
            self.program.calls.append(call_from_json(json.loads(body)))
        except json.JSONDecodeError as e:
            raise self.error(f"bad .call JSON: {e.msg}", col + e.pos) from None
        except CallError as e:
            raise self.error(str(e), col) from None

    def number_list(self, body: str, dtype: str, col: int) -> np.ndarray:
        """Parse comma-separated numbers vectorized (lists can hold millions of weights)."""
        floats = dtype in ("f32", "f16", "f64")
        item = (_FLOAT_OR_NAN if dtype in ("f16", "f64") else _FLOAT) if floats else _INT
        if not body.strip():
            return np.zeros(0, dtype=np.float64 if floats else np.int64)
        if re.fullmatch(f"{item}(?:,{item})*", body) is None:
            pos = 0
            for part in body.split(","):  # error path only: find the bad element
                if re.fullmatch(item, part) is None:
                    pos += len(part) - len(part.lstrip())
                    break
                pos += len(part) + 1
            kind = "number" if floats else "integer"
            raise self.error(f"expected a decimal {kind} list for {dtype}", col + pos)
        try:
            return np.array(body.split(",")).astype(np.float64 if floats else np.int64)
        except (OverflowError, ValueError):
            raise self.error(f"value out of range for {dtype}", col) from None

    def load_npy(self, rel: str, col: int) -> np.ndarray:
        """Load a .npy file given relative to the source file, refusing paths outside its folder."""
        if self.base_dir is None:
            raise self.error("const files need a source file (its folder anchors the path)", col)
        base = self.base_dir.resolve()
        path = (base / rel).resolve()
        if Path(rel).is_absolute() or not path.is_relative_to(base):
            raise self.error(f"const file {rel!r} lies outside the source file's folder", col)
        try:
            return load_npy(read_file(path), rel)
        except (OSError, ValueError) as e:
            raise self.error(f"cannot load const file {rel!r}: {e}", col) from None

    # -- instructions ------------------------------------------------------------------------------

    def instruction(self, head: Tok, toks: list[Tok]) -> None:
        """Collect an instruction's operands, by position or by ``field=value``."""
        spec = BY_MNEMONIC.get(head.text)
        if spec is None:
            raise self.error(f"unknown mnemonic {head.text!r}", head.col)
        groups: list[list[Tok]] = [[]]
        for t in toks:
            if t.text == ",":
                groups.append([])
            else:
                groups[-1].append(t)
        if groups == [[]]:
            groups = []
        args: dict[str, list[Tok]] = {}
        names = [f.name for f in spec.fields]
        keyword_seen = False
        for i, g in enumerate(groups):
            if not g:
                raise self.error("empty operand", head.col)
            at = g[0]
            if len(g) >= 2 and g[0].kind == "name" and g[1].text == "=":
                name, g, keyword_seen = at.text, g[2:], True
                if name not in names:
                    raise self.error(f"{spec.mnemonic} has no field {name!r}", at.col)
            elif keyword_seen:
                raise self.error("positional operand after a keyword operand", at.col)
            elif i >= len(names):
                raise self.error(f"{spec.mnemonic} takes {len(names)} operands", at.col)
            else:
                name = names[i]
            if name in args:
                raise self.error(f"field {name!r} given twice", at.col)
            if not g:
                raise self.error(f"missing value for {name!r}", at.col)
            args[name] = g
        self.pending.append(_Pending(self.lineno, head, args))
        if self.debug_next is not None:
            self.program.debug[len(self.pending) - 1] = self.debug_next[1]
            self.debug_next = None

    def resolve(self, p: _Pending) -> Instr:
        """Convert an instruction's operand tokens now that tensor addresses are known."""
        self.lineno = p.line
        spec = BY_MNEMONIC[p.mnemonic.text]
        fields = {}
        for f in spec.fields:
            if f.name not in p.args:
                if f.default is None:
                    raise self.error(f"{spec.mnemonic}: missing field {f.name!r}", p.mnemonic.col)
                fields[f.name] = f.default
                continue
            toks = p.args[f.name]
            try:
                fields[f.name] = check_value(spec, f, self.value(f, toks))
            except FieldError as e:
                raise self.error(str(e), toks[0].col) from None
        return Instr(spec.mnemonic, fields)

    def value(self, f: Field, toks: list[Tok]):
        """The Python value of one operand for field ``f``."""
        first = toks[0]
        if f.kind == "addr" and first.kind == "name":
            return self.symbol(toks)
        if len(toks) > 1:
            raise self.error(f"unexpected {toks[1].text!r}", toks[1].col)
        if f.kind in ("mem", "dtype", "enum"):
            return self.scalar(first, "name")
        if f.kind == "bool" and first.kind == "name":
            if first.text not in ("true", "false"):
                raise self.error(f"expected true or false, got {first.text!r}", first.col)
            return first.text == "true"
        return self.scalar(first, "f32" if f.kind == "f32" else "int")

    def symbol(self, toks: list[Tok]) -> int:
        """``tensor``, ``tensor+N`` or ``tensor-N`` as an address."""
        name = toks[0].text
        try:
            base = self.program.tensor(name).addr
        except KeyError:
            raise self.error(f"unknown tensor {name!r}", toks[0].col) from None
        rest = toks[1:]
        if rest and rest[0].text in "+-" and len(rest) == 2:
            sign = -1 if rest[0].text == "-" else 1
            return base + sign * self.scalar(rest[1], "int")
        if len(rest) == 1 and rest[0].kind == "num" and rest[0].text[0] in "+-":
            return base + self.scalar(rest[0], "int")
        if rest:
            raise self.error("expected TENSOR, TENSOR+N or TENSOR-N", rest[0].col)
        return base


def _int_ok(text: str) -> bool:
    return re.fullmatch(r"[+-]?\d+", text) is not None


def assemble(text: str, path: str = "<input>", base_dir: str | Path | None = None) -> Program:
    """Assemble source text; ``base_dir`` anchors .npy paths (None: no const files allowed)."""
    return Assembler(text, path, Path(base_dir) if base_dir is not None else None).run()


def assemble_file(path: str | Path) -> Program:
    """Assemble a .s file (const files resolve relative to its folder)."""
    path = Path(path)
    try:
        text = read_file(path).decode("utf-8")
    except UnicodeDecodeError as e:
        raise AsmError(f"not UTF-8 text ({e.reason})", str(path), 1, 1, "") from None
    return assemble(text, str(path), path.parent)
