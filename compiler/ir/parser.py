"""Parse the generic textual form (grammar.lark) back into IR.

Lark's LALR parser builds a tree; this module walks it, resolving SSA names with scoping (ops that are
isolated from above start a fresh scope), building registered op classes, and reporting every problem
as an :class:`IRError` at ``file:line:col``.
"""

from __future__ import annotations

import functools
import re
from importlib import resources as importlib_resources

import lark
import numpy as np
from imcc.runtime import budget

from .attributes import (
    ArrayAttr,
    Attribute,
    BoolAttr,
    DenseArrayAttr,
    DenseElementsAttr,
    DialectAttr,
    DictAttr,
    FloatAttr,
    IntegerAttr,
    StringAttr,
    SymbolRefAttr,
    TypeAttr,
    UnallocatedAttr,
    UnitAttr,
)
from .builtin import ModuleOp
from .core import Block, Operation, Region, Value
from .diagnostics import FileLineColLoc, IRError, Location, NameLoc, UnknownLoc
from .ops import IsolatedFromAbove, lookup_op
from .printer import ELIDED, ElidedElementsAttr
from .types import (
    DialectType,
    FloatType,
    FunctionType,
    IndexType,
    IntegerType,
    NoneType,
    RankedTensorType,
    Type,
    f32,
    i1,
    i64,
    index,
    numpy_dtype,
)


def grammar_text() -> str:
    return importlib_resources.files(__package__).joinpath("grammar.lark").read_text()


@functools.cache
def _lark() -> lark.Lark:
    # The grammar is checked for terminal collisions with strict=True in the tests (that needs the
    # optional 'interegular' package); parsing itself behaves the same without it.
    return lark.Lark(
        grammar_text(), parser="lalr", propagate_positions=True, maybe_placeholders=True
    )


_DIMS_RE = re.compile(r"(?:(?:[0-9]+|\?)x)*")


def parse_scalar_type(text: str) -> Type:
    if text == "index":
        return index
    if text.startswith(("i", "ui")) and text.lstrip("ui").isdigit():
        width = int(text.lstrip("ui"))
        if not 1 <= width <= 64:
            raise IRError(f"integer type '{text}': the width must be 1 to 64 bits")
        return IntegerType(width, unsigned=text.startswith("ui"))
    return FloatType(text)


def parse_tensor_type(text: str) -> RankedTensorType:
    body = text[len("tensor<") : -1]
    m = _DIMS_RE.match(body)
    dims = tuple(None if d == "?" else int(d) for d in m.group(0).split("x")[:-1])
    return RankedTensorType(dims, parse_scalar_type(body[m.end() :]))


def unescape(token: str) -> str:
    """Decode a quoted string token with MLIR-style escapes."""
    body = token[1:-1]
    out, i = [], 0
    while i < len(body):
        ch = body[i]
        if ch != "\\":
            out.append(ch)
            i += 1
            continue
        nxt = body[i + 1]
        if nxt in "\\\"'":
            out.append(nxt)
            i += 2
        elif nxt == "n":
            out.append("\n")
            i += 2
        elif nxt == "t":
            out.append("\t")
            i += 2
        elif re.fullmatch(r"[0-9A-Fa-f]{2}", body[i + 1 : i + 3]):
            out.append(chr(int(body[i + 1 : i + 3], 16)))
            i += 3
        else:
            raise ValueError(f"unknown escape '\\{nxt}'")
    return "".join(out)


class _Builder:
    """Walks the lark tree of one file."""

    def __init__(self, filename: str, source: str, allow_unregistered: bool):
        self.filename = filename
        self.source = source
        self.allow_unregistered = allow_unregistered
        self.resources: dict[str, bytes] = {}
        self.scopes: list[dict[str, Value]] = []

    # -- errors -----------------------------------------------------------------------------------
    def loc(self, item) -> FileLineColLoc:
        line = getattr(item, "line", None)
        col = getattr(item, "column", None)
        if line is None and hasattr(item, "meta") and not item.meta.empty:
            line, col = item.meta.line, item.meta.column
        return FileLineColLoc(self.filename, line or 0, col or 0)

    def error(self, message: str, item) -> IRError:
        return IRError(message, self.loc(item), self.source)

    # -- top level --------------------------------------------------------------------------------
    def build(self, tree: lark.Tree) -> list[Operation]:
        for child in tree.children:
            if isinstance(child, lark.Tree) and child.data == "resources":
                self.resources_section(child)
        self.scopes.append({})
        return [
            self.operation(child)
            for child in tree.children
            if isinstance(child, lark.Tree) and child.data == "operation"
        ]

    def resources_section(self, tree: lark.Tree) -> None:
        for dialect in tree.children:
            if dialect is None:
                continue
            for entry in dialect.children[1:]:
                if entry is None:
                    continue
                key, text = entry.children
                blob = self.unescape(text)
                if not blob.startswith("0x") or len(blob) % 2:
                    raise self.error(f"resource '{key}' must be a hex string \"0x...\"", text)
                try:
                    data = bytes.fromhex(blob[2:])
                except ValueError:
                    raise self.error(f"resource '{key}' is not valid hex", text) from None
                if len(data) < 4:
                    raise self.error(f"resource '{key}' lacks its 4-byte alignment header", text)
                if str(key) in self.resources:
                    raise self.error(f"resource '{key}' defined twice", key)
                self.resources[str(key)] = data[4:]

    # -- values -----------------------------------------------------------------------------------
    def lookup(self, token) -> Value:
        name = str(token)
        for scope in reversed(self.scopes):
            if name in scope:
                return scope[name]
            if scope.get("__isolated__"):
                break
        raise self.error(f"use of undeclared SSA value name {name}", token)

    def define(self, token, value: Value) -> None:
        name = str(token)
        scope = self.scopes[-1]
        if name in scope:
            raise self.error(f"redefinition of SSA value {name}", token)
        scope[name] = value

    # -- operations -------------------------------------------------------------------------------
    def operation(self, tree: lark.Tree) -> Operation:
        results, name_tok, *rest = tree.children
        rest = [c for c in rest if c is not None]
        ftype_tree = next(c for c in rest if isinstance(c, lark.Tree) and c.data == "function_type")
        uses = [c for c in rest if isinstance(c, lark.Tree) and c.data == "value_use"]
        region_tree = next(
            (c for c in rest if isinstance(c, lark.Tree) and c.data == "regions"), None
        )
        attr_tree = next(
            (c for c in rest if isinstance(c, lark.Tree) and c.data == "attr_dict"), None
        )
        loc_tree = next(
            (c for c in rest if isinstance(c, lark.Tree) and c.data == "location"), None
        )

        op_name = self.unescape(name_tok)
        cls = lookup_op(op_name)
        if cls is None and not self.allow_unregistered:
            raise self.error(f"unknown operation '{op_name}'", name_tok)
        ftype = self.function_type(ftype_tree)
        operands = [self.lookup(u.children[0]) for u in uses]
        if len(operands) != len(ftype.inputs):
            raise self.error(
                f"'{op_name}' has {len(operands)} operand(s) but its type lists {len(ftype.inputs)}",
                ftype_tree,
            )
        for use, value, declared in zip(uses, operands, ftype.inputs):
            if value.type != declared:
                raise self.error(
                    f"use of value '{use.children[0]}' expects type {declared}, "
                    f"but it was defined as {value.type}",
                    use.children[0],
                )
        attributes = self.attr_dict(attr_tree) if attr_tree is not None else {}
        location = self.location(loc_tree) if loc_tree is not None else self.loc(name_tok)

        isolated = cls is not None and cls.has_trait(IsolatedFromAbove)
        regions = self.regions(region_tree, isolated) if region_tree is not None else []
        if cls is not None:
            op = cls(operands, list(ftype.results), attributes, regions, location)
        else:
            op = Operation(
                operands, list(ftype.results), attributes, regions, location, name=op_name
            )
        self.bind_results(results, op, ftype_tree)
        return op

    def bind_results(self, results, op: Operation, where) -> None:
        groups = [] if results is None else results.children
        declared = 0
        for group in groups:
            tok, count = group.children
            declared += int(count) if count is not None else 1
        if declared != len(op.results):
            raise self.error(
                f"'{op.name}' defines {declared} result(s) but its type lists {len(op.results)}",
                where,
            )
        pos = 0
        for group in groups:
            tok, count = group.children
            n = int(count) if count is not None else 1
            if n == 1:
                self.define(tok, op.results[pos])
            else:
                for i in range(n):
                    self.define(f"{tok}#{i}", op.results[pos + i])
            pos += n

    def regions(self, tree: lark.Tree, isolated: bool) -> list[Region]:
        return [self.region(r, isolated) for r in tree.children]

    def region(self, tree: lark.Tree, isolated: bool) -> Region:
        self.scopes.append({"__isolated__": isolated} if isolated else {})
        try:
            entry_ops = [c for c in tree.children if c.data == "operation"]
            labeled = [c for c in tree.children if c.data == "labeled_block"]
            region = Region()
            # Blocks are created (and their arguments defined) before any op is parsed.
            pending: list[tuple[Block, list]] = []
            if entry_ops or not labeled:
                block = Block()
                region.add_block(block)
                pending.append((block, entry_ops))
            for lb in labeled:
                block = Block()
                region.add_block(block)
                label, args_tree, *ops = lb.children
                if args_tree is not None:
                    for arg in args_tree.children:
                        if arg is None:
                            continue
                        tok, type_tree, _loc = arg.children
                        self.define(tok, block.add_arg(self.type(type_tree)))
                pending.append((block, [o for o in ops if o is not None]))
            for block, ops in pending:
                for op_tree in ops:
                    block.append(self.operation(op_tree))
            return region
        finally:
            self.scopes.pop()

    # -- types ------------------------------------------------------------------------------------
    def type(self, tree) -> Type:
        kind = tree.data
        if kind == "tensor_type":
            return parse_tensor_type(str(tree.children[0]))
        if kind in ("int_type", "float_type"):
            return parse_scalar_type(str(tree.children[0]))
        if kind == "index_type":
            return IndexType()
        if kind == "none_type":
            return NoneType()
        if kind == "dialect_type":
            return _dialect_thing(str(tree.children[0])[1:], DialectType)
        if kind == "function_type":
            return self.function_type(tree)
        raise self.error(f"unexpected type form {kind}", tree)  # pragma: no cover

    def function_type(self, tree: lark.Tree) -> FunctionType:
        *ins, res = tree.children
        inputs = tuple(self.type(t) for t in ins if t is not None)
        if isinstance(res, lark.Tree) and res.data == "type_list":
            results = tuple(self.type(t) for t in res.children if t is not None)
        else:
            results = (self.type(res),)
        return FunctionType(inputs, results)

    # -- attributes -------------------------------------------------------------------------------
    def attr_dict(self, tree: lark.Tree) -> dict[str, Attribute]:
        out: dict[str, Attribute] = {}
        for entry in tree.children:
            if entry is None:
                continue
            key_tree, value = entry.children
            tok = key_tree.children[0]
            key = self.unescape(tok) if tok.type == "STRING" else str(tok)
            if key in out:
                raise self.error(f"duplicate attribute '{key}'", tok)
            out[key] = UnitAttr() if value is None else self.attribute(value)
        return out

    def attribute(self, tree) -> Attribute:
        kind = tree.data
        ch = tree.children
        if kind == "integer_attr":
            t = self.type(ch[1]) if ch[1] is not None else i64
            if isinstance(t, FloatType):
                return FloatAttr(float(int(ch[0])), t)
            if t == i1:
                return BoolAttr(bool(int(ch[0])))
            return IntegerAttr(int(ch[0]), t)
        if kind == "float_attr":
            t = self.type(ch[1]) if ch[1] is not None else f32
            if not isinstance(t, FloatType):
                raise self.error(f"float literal with non-float type {t}", ch[0])
            return FloatAttr(float(str(ch[0])), t)
        if kind == "true_attr":
            return BoolAttr(True)
        if kind == "false_attr":
            return BoolAttr(False)
        if kind == "unit_attr":
            return UnitAttr()
        if kind == "unallocated_attr":
            return UnallocatedAttr()
        if kind == "string_attr":
            return StringAttr(self.unescape(ch[0]))
        if kind == "type_attr":
            return TypeAttr(self.type(ch[0]))
        if kind == "array_attr":
            return ArrayAttr(tuple(self.attribute(c) for c in ch if c is not None))
        if kind == "dict_attr":
            return DictAttr(tuple(self.attr_dict(ch[0]).items()))
        if kind == "dense_array_attr":
            t = self.type(ch[0])
            return DenseArrayAttr(t, tuple(self.scalar(c, t) for c in ch[1:] if c is not None))
        if kind == "dense_attr":
            return self.dense(ch[0], parse_tensor_type(str(ch[1])), ch[1])
        if kind == "dense_resource_attr":
            return self.dense_resource(ch[0], parse_tensor_type(str(ch[1])))
        if kind == "symbol_attr":
            text = str(ch[0])[1:]
            return SymbolRefAttr(self.unescape(ch[0], text) if text.startswith('"') else text)
        if kind == "dialect_attr":
            return _dialect_thing(str(ch[0])[1:], DialectAttr)
        raise self.error(f"unexpected attribute form {kind}", tree)  # pragma: no cover

    def scalar(self, tree, t: Type):
        tok = tree.children[0]
        text = str(tok)
        if tok.type in ("TRUE", "FALSE"):
            return text == "true"
        if isinstance(t, FloatType):
            return float(text)
        if tok.type != "INT":
            raise self.error(f"expected an integer for element type {t}, got '{text}'", tok)
        return int(text)

    def dense(self, lit, t: RankedTensorType, where) -> DenseElementsAttr:
        if not t.is_static:
            raise self.error(f"dense attribute needs a static shape, got {t}", where)
        dtype = numpy_dtype(t.element_type)
        self.within_budget(t, dtype, where)
        if isinstance(lit, lark.Tree) and lit.data == "scalar":
            value = self.scalar(lit, t.element_type)
            return DenseElementsAttr(np.full(t.shape, value, dtype=dtype), t)
        values = self.nested(lit, t.element_type)
        try:
            arr = np.array(values, dtype=dtype)
        except (ValueError, OverflowError) as exc:
            raise self.error(f"bad dense literal for {t}: {exc}", where) from None
        if arr.shape != t.shape:
            raise self.error(
                f"dense literal has shape {list(arr.shape)} but the type says {list(t.shape)}",
                where,
            )
        return DenseElementsAttr(arr, t)

    def unescape(self, tok, text: str | None = None) -> str:
        """The string a quoted token spells; a bad escape is an error at the token."""
        try:
            return unescape(str(tok) if text is None else text)
        except ValueError as exc:
            raise self.error(str(exc), tok) from None

    def within_budget(self, t: RankedTensorType, dtype, where) -> None:
        """Refuse a constant whose type declares more bytes than imcc may allocate."""
        try:
            budget.check((t.num_elements or 0) * dtype.itemsize, f"a constant of type {t}")
        except budget.BudgetError as exc:
            raise self.error(str(exc), where) from None

    def nested(self, lit, et):
        if isinstance(lit, lark.Tree) and lit.data == "scalar":
            return self.scalar(lit, et)
        return [self.nested(c, et) for c in lit.children if c is not None]

    def dense_resource(self, name_tok, t: RankedTensorType) -> DenseElementsAttr:
        name = str(name_tok)
        dtype = numpy_dtype(t.element_type)
        if name == ELIDED:
            self.within_budget(t, dtype, name_tok)
            return ElidedElementsAttr(np.zeros(t.shape, dtype=dtype), t, None)
        data = self.resources.get(name)
        if data is None:
            raise self.error(f"unknown resource '{name}'", name_tok)
        count = t.num_elements
        if count is None or len(data) != count * dtype.itemsize:
            raise self.error(
                f"resource '{name}' holds {len(data)} bytes, but {t} needs "
                f"{(count or 0) * dtype.itemsize}",
                name_tok,
            )
        arr = np.frombuffer(data, dtype=dtype).reshape(t.shape)
        return DenseElementsAttr(arr, t, hint=name)

    # -- locations --------------------------------------------------------------------------------
    def location(self, tree: lark.Tree) -> Location:
        body = tree.children[0]
        if body.data == "name_loc":
            return NameLoc(self.unescape(body.children[0]))
        if body.data == "file_loc":
            f, line, col = body.children
            return FileLineColLoc(self.unescape(f), int(line), int(col))
        return UnknownLoc()


def _dialect_thing(text: str, cls):
    head, sep, body = text.partition("<")
    dialect, _, name = head.partition(".")
    return cls(dialect, name, body[:-1] if sep else None)


#: Deepest nesting of brackets, braces and parentheses the parser follows (regions, attributes,
#: literals); deeper text is refused with its position rather than exhausting Python's stack.
MAX_NESTING = 200
_STRING_RE = re.compile(r'"(?:[^"\\\n]|\\.)*"')


def _check_nesting(source: str, filename: str) -> None:
    """Refuse text nested deeper than `MAX_NESTING`, at the first bracket beyond it."""
    text = _STRING_RE.sub(lambda m: " " * len(m.group()), source)  # brackets in strings count not
    data = np.frombuffer(text.encode("utf-8", "surrogatepass"), dtype=np.uint8)
    step = np.zeros(256, dtype=np.int8)
    step[[ord(c) for c in "[{("]] = 1
    step[[ord(c) for c in "]})"]] = -1
    depth = np.cumsum(step[data], dtype=np.int64)
    if depth.size == 0 or depth.max() <= MAX_NESTING:
        return
    at = int(np.argmax(depth > MAX_NESTING))
    before = text.encode("utf-8", "surrogatepass")[:at].decode("utf-8", "replace")
    line = before.count("\n") + 1
    col = at - (before.rfind("\n") + 1) + 1 if "\n" in before else at + 1
    raise IRError(
        f"nested more than {MAX_NESTING} levels deep (brackets, braces or parentheses)",
        FileLineColLoc(filename, line, col),
        source,
    )


def parse_ops(
    source: str, filename: str = "<string>", allow_unregistered: bool = False
) -> list[Operation]:
    """Parse text into a list of top-level ops."""
    _check_nesting(source, filename)
    try:
        tree = _lark().parse(source)
    except lark.exceptions.UnexpectedInput as exc:
        raise IRError(
            _syntax_message(exc), FileLineColLoc(filename, exc.line, exc.column), source
        ) from None
    return _Builder(filename, source, allow_unregistered).build(tree)


def parse_module(
    source: str, filename: str = "<string>", allow_unregistered: bool = False
) -> ModuleOp:
    """Parse text into a module; top-level ops other than one ``builtin.module`` get wrapped in one."""
    ops = parse_ops(source, filename, allow_unregistered)
    if len(ops) == 1 and isinstance(ops[0], ModuleOp):
        return ops[0]
    return ModuleOp.build(ops, FileLineColLoc(filename, 1, 1))


_TOKEN_NAMES = {
    "LPAR": "'('", "RPAR": "')'", "LBRACE": "'{'", "RBRACE": "'}'", "LSQB": "'['", "RSQB": "']'",
    "COLON": "':'", "COMMA": "','", "EQUAL": "'='", "MORETHAN": "'>'", "LESSTHAN": "'<'",
    "VALUE_ID": "SSA value", "STRING": "string", "BARE_ID": "identifier", "INT": "integer",
    "FLOAT": "float", "TENSOR_TYPE": "tensor type", "BLOCK_ID": "block label", "__ANON_0": "'->'",
}  # fmt: skip


def _syntax_message(exc: lark.exceptions.UnexpectedInput) -> str:
    if isinstance(exc, lark.exceptions.UnexpectedCharacters):
        return f"unexpected character '{exc.char}'"
    if isinstance(exc, lark.exceptions.UnexpectedEOF):
        return "unexpected end of input"
    if isinstance(exc, lark.exceptions.UnexpectedToken):
        got = "end of input" if exc.token.type == "$END" else f"'{exc.token}'"
        expected = sorted({_TOKEN_NAMES.get(e, e.lower()) for e in exc.expected})
        if len(expected) > 6:
            return f"unexpected {got}"
        return f"unexpected {got}, expected {' or '.join(expected)}"
    return str(exc).splitlines()[0]
