"""The ``nn`` dialect: graph-level neural-network ops recovered from decomposed ONNX graphs.

The onnx-level fusion passes (``fuse-linear``, ``fuse-layernorm``, ``fuse-gelu``,
``fuse-attention``) turn the many small ONNX ops an exporter writes into these few ops, so later
passes see the computation a model really does: static weight products (crossbar work), row
normalisations, activations and the dynamic part of attention. Their executable definition is
``compiler/interp/nn_ops.py``; the docstrings below say the same in words.

Conventions shared by every op:

- Element types are floats and every float operand and the result share one element type.
- Optional operands (a bias, a mask) are always present; an absent one is a ``none``-typed value
  (``onnx.NoValue`` at the onnx level).
- Shapes may have dynamic (``?``) dimensions; the verifiers compare the dimensions that are known.
"""

from __future__ import annotations

from collections.abc import Sequence

from ..ir.attributes import FloatAttr, IntegerAttr, StringAttr
from ..ir.core import Value
from ..ir.diagnostics import UNKNOWN_LOC, Location, VerificationError
from ..ir.ops import AttrDef, IROp, OperandDef, Pure, ResultDef, tensor_or_none, tensor_type
from ..ir.types import NoneType, RankedTensorType, is_float

#: The spellings of ``nn.gelu``'s ``approximate`` attribute (as in ONNX Gelu and torch).
GELU_APPROXIMATIONS = ("none", "tanh")


def _present(value: Value) -> bool:
    return not isinstance(value.type, NoneType)


def _same_dim(a: int | None, b: int | None) -> bool:
    """Dimensions agree unless both are known and differ."""
    return a is None or b is None or a == b


def _shape(dims: Sequence[int | None]) -> str:
    return "[" + ", ".join("?" if d is None else str(d) for d in dims) + "]"


def broadcasts(small: Sequence[int | None], big: Sequence[int | None]) -> bool:
    """Whether ``small`` broadcasts to ``big`` in numpy's (unidirectional) sense."""
    if len(small) > len(big):
        return False
    for s, b in zip(reversed(small), reversed(big)):
        if s is not None and s != 1 and not _same_dim(s, b):
            return False
    return True


class NNOp(IROp):
    """Shared helpers of the nn ops: one place for float-type checks and error wording."""

    traits = frozenset({Pure})

    def fail(self, message: str) -> None:
        raise VerificationError(f"'{self.name}' {message}", self.location)

    def check_float_operands(self, *names: str) -> None:
        """Each named operand (if present) and the result share one float element type."""
        want = self.results[0].type.element_type
        if not is_float(want):
            self.fail(f"result must have a float element type, got {want}")
        for name in names:
            value = self.operand(name)
            if value is not None and value.type.element_type != want:
                self.fail(
                    f"operand '{name}' has element type {value.type.element_type}, "
                    f"the result has {want}"
                )

    def check_result_shape(self, expected: Sequence[int | None]) -> None:
        got = self.results[0].type.shape
        if len(got) != len(expected) or not all(map(_same_dim, got, expected)):
            self.fail(f"result shape {_shape(got)} should be {_shape(expected)}")


class LinearOp(NNOp):
    """A fully connected layer with a weight in PyTorch's ``[out, in]`` layout:
    ``y[..., o] = sum_i x[..., i] * weight[o, i] + bias[o]``.

    ``x`` has any rank >= 1 and its last dimension is ``in``; ``y`` has ``x``'s leading dimensions
    and ``out`` as its last one. ``bias`` (``[out]``) is optional (``none``). Each weight row holds
    one output neuron, the unit a crossbar column computes. ``fuse-linear`` creates this op from a
    MatMul or Gemm whose weight is a constant; the weight is then an ``onnx.Constant``.

    Example:
        %y = "nn.linear"(%x, %w, %b) : (tensor<?x128x384xf32>, tensor<1536x384xf32>, tensor<1536xf32>) -> tensor<?x128x1536xf32>
    """

    name = "nn.linear"
    operand_defs = (
        OperandDef("x", tensor_type),
        OperandDef("weight", tensor_type),
        OperandDef("bias", tensor_or_none, optional=True),
    )
    result_defs = (ResultDef("y", tensor_type),)

    @staticmethod
    def build(
        x: Value,
        weight: Value,
        bias: Value,
        location: Location = UNKNOWN_LOC,
        result_type: RankedTensorType | None = None,
    ) -> LinearOp:
        """A linear op; its result type follows from ``x`` and ``weight`` unless given (a fusion
        passes the type of the op it replaces, which may know more)."""
        out = result_type or RankedTensorType(
            (*x.type.shape[:-1], weight.type.shape[0]), x.type.element_type
        )
        return LinearOp.create([x, weight, bias], [out], location=location)

    def verify_(self) -> None:
        self.check_float_operands("x", "weight", "bias")
        x, w = self.operand("x").type, self.operand("weight").type
        if x.rank < 1:
            self.fail("input 'x' must have rank >= 1")
        if w.rank != 2:
            self.fail(f"weight must be 2-D [out, in], got {w}")
        if not _same_dim(x.shape[-1], w.shape[1]):
            self.fail(
                f"input has {x.shape[-1]} features but the weight [out, in] is {_shape(w.shape)}"
            )
        bias = self.operand("bias")
        if bias is not None and (
            bias.type.rank != 1 or not _same_dim(bias.type.shape[0], w.shape[0])
        ):
            self.fail(f"bias must be [{w.shape[0]}], got {bias.type}")
        self.check_result_shape((*x.shape[:-1], w.shape[0]))


class LayerNormOp(NNOp):
    """Layer normalisation over the trailing axes ``[axis, rank)``:
    ``y = (x - mean) / sqrt(var + epsilon) * gamma + beta`` with ``mean`` and the biased ``var``
    taken over those axes (in the element type of ``x``).

    ``gamma`` and ``beta`` have the shape of the normalised axes, ``x.shape[axis:]``; either may be
    absent (``none``: scale 1, shift 0). ``axis`` may be negative. Recovered from
    ``onnx.LayerNormalization`` and from the ReduceMean/Sub/Pow/ReduceMean/Add/Sqrt/Div/Mul/Add
    chain exporters write (``fuse-layernorm``).

    Example:
        %y = "nn.layer_norm"(%x, %gamma, %beta) {axis = -1, epsilon = 1.0e-12} : (tensor<?x128x384xf32>, tensor<384xf32>, tensor<384xf32>) -> tensor<?x128x384xf32>
    """

    name = "nn.layer_norm"
    operand_defs = (
        OperandDef("x", tensor_type),
        OperandDef("gamma", tensor_or_none, optional=True),
        OperandDef("beta", tensor_or_none, optional=True),
    )
    result_defs = (ResultDef("y", tensor_type),)
    attr_defs = (
        AttrDef("axis", IntegerAttr, required=True, doc="first normalised axis (may be negative)"),
        AttrDef("epsilon", FloatAttr, required=True, doc="added to the variance before the sqrt"),
    )

    @property
    def axis(self) -> int:
        """The first normalised axis, made non-negative."""
        axis = self.get_attr("axis")
        return axis + self.operand("x").type.rank if axis < 0 else axis

    def verify_(self) -> None:
        self.check_float_operands("x", "gamma", "beta")
        x = self.operand("x").type
        axis = self.get_attr("axis")
        if not -x.rank <= axis < x.rank:
            self.fail(f"axis {axis} is out of range for rank {x.rank}")
        if self.get_attr("epsilon") < 0:
            self.fail(f"epsilon must not be negative, got {self.get_attr('epsilon')}")
        normalised = x.shape[self.axis :]
        for name in ("gamma", "beta"):
            value = self.operand(name)
            if value is None:
                continue
            dims = value.type.shape
            if len(dims) != len(normalised) or not all(map(_same_dim, dims, normalised)):
                self.fail(
                    f"{name} must have the normalised shape {_shape(normalised)}, got {value.type}"
                )
        self.check_result_shape(x.shape)


class GeluOp(NNOp):
    """The Gaussian error linear unit, elementwise.

    ``approximate = "none"``: ``y = x / 2 * (1 + erf(x / sqrt(2)))``;
    ``approximate = "tanh"``: ``y = x / 2 * (1 + tanh(sqrt(2 / pi) * (x + 0.044715 * x^3)))``.
    Recovered from ``onnx.Gelu`` and from both decomposed forms (``fuse-gelu``).

    Example:
        %y = "nn.gelu"(%x) {approximate = "none"} : (tensor<?x128x1536xf32>) -> tensor<?x128x1536xf32>
    """

    name = "nn.gelu"
    operand_defs = (OperandDef("x", tensor_type),)
    result_defs = (ResultDef("y", tensor_type),)
    attr_defs = (AttrDef("approximate", StringAttr, required=True, doc="'none' or 'tanh'"),)

    def verify_(self) -> None:
        self.check_float_operands("x")
        if self.get_attr("approximate") not in GELU_APPROXIMATIONS:
            self.fail(
                f"approximate must be one of {', '.join(GELU_APPROXIMATIONS)}, got "
                f"'{self.get_attr('approximate')}'"
            )
        self.check_result_shape(self.operand("x").type.shape)


class AttentionOp(NNOp):
    """Multi-head scaled dot-product attention on projected, not yet head-split, inputs.

    Operands: ``q`` ``[*batch, Sq, H*Dk]``, ``k`` ``[*batch, Sk, H*Dk]``, ``v`` ``[*batch, Sk, H*Dv]``
    (the outputs of the Q/K/V projections), an optional additive ``mask`` and an optional boolean
    ``zero_mask``; ``H = num_heads``. The result is ``[*batch, Sq, H*Dv]``, ready for the output
    projection. In numpy terms::

        qh = q.reshape(*batch, Sq, H, Dk).swapaxes(-3, -2)        # [*batch, H, Sq, Dk]
        kh = k.reshape(*batch, Sk, H, Dk).swapaxes(-3, -2)        # [*batch, H, Sk, Dk]
        vh = v.reshape(*batch, Sk, H, Dv).swapaxes(-3, -2)        # [*batch, H, Sk, Dv]
        s = (qh @ kh.swapaxes(-1, -2)) * scale + mask             # mask broadcasts to s
        p = softmax(s, axis=-1)
        p = where(zero_mask, 0, p)                                # zero_mask broadcasts to p
        y = (p @ vh).swapaxes(-3, -2).reshape(*batch, Sq, H*Dv)

    An absent ``mask`` adds nothing and an absent ``zero_mask`` zeroes nothing. ``zero_mask`` is
    what torch's ``probs.masked_fill(padding, 0)`` after the softmax exports to; it only matters for
    rows whose keys are all masked. Everything that depends on the input is inside this op: the
    products ``qh @ khᵀ`` and ``p @ vh`` have no constant operand, so a backend computes them
    digitally while the Q/K/V/output projections around the op (``nn.linear``) stay static.
    Recovered by ``fuse-attention`` together with the head Reshape/Transpose ops around it.

    Example:
        %y = "nn.attention"(%q, %k, %v, %mask, %none) {num_heads = 12, scale = 0.125} : (tensor<1x128x768xf32>, tensor<1x128x768xf32>, tensor<1x128x768xf32>, tensor<1x1x1x128xf32>, none) -> tensor<1x128x768xf32>
    """

    name = "nn.attention"
    operand_defs = (
        OperandDef("q", tensor_type),
        OperandDef("k", tensor_type),
        OperandDef("v", tensor_type),
        OperandDef("mask", tensor_or_none, optional=True),
        OperandDef("zero_mask", tensor_or_none, optional=True),
    )
    result_defs = (ResultDef("y", tensor_type),)
    attr_defs = (
        AttrDef("num_heads", IntegerAttr, required=True, doc="number of heads H"),
        AttrDef("scale", FloatAttr, required=True, doc="factor applied to q @ k^T"),
    )

    @staticmethod
    def build(
        q: Value, k: Value, v: Value, mask: Value, zero_mask: Value, num_heads: int, scale: float,
        location: Location = UNKNOWN_LOC, result_type: RankedTensorType | None = None,
    ) -> AttentionOp:  # fmt: skip
        """An attention op; its result type follows from ``q`` and ``v`` unless given."""
        out = result_type or RankedTensorType(
            (*q.type.shape[:-1], v.type.shape[-1]), q.type.element_type
        )
        attrs = {"num_heads": IntegerAttr(num_heads), "scale": FloatAttr(scale)}
        return AttentionOp.create([q, k, v, mask, zero_mask], [out], attrs, location=location)

    def verify_(self) -> None:
        self.check_float_operands("q", "k", "v", "mask")
        heads = self.get_attr("num_heads")
        if heads < 1:
            self.fail(f"num_heads must be positive, got {heads}")
        q, k, v = (self.operand(n).type for n in ("q", "k", "v"))
        if not q.rank == k.rank == v.rank or q.rank < 2:
            self.fail(f"q, k and v must share one rank >= 2, got {q}, {k} and {v}")
        batch = tuple(d if d is not None else e for d, e in zip(q.shape[:-2], k.shape[:-2]))
        for name, t in (("k", k), ("v", v)):
            if not all(map(_same_dim, q.shape[:-2], t.shape[:-2])):
                self.fail(
                    f"batch dimensions of q {_shape(q.shape)} and {name} {_shape(t.shape)} differ"
                )
        if not _same_dim(k.shape[-2], v.shape[-2]):
            self.fail(f"k has {k.shape[-2]} keys but v has {v.shape[-2]} values")
        if not _same_dim(q.shape[-1], k.shape[-1]):
            self.fail(f"q and k widths differ: {q.shape[-1]} and {k.shape[-1]}")
        for name, t in (("q", q), ("v", v)):
            if t.shape[-1] is not None and t.shape[-1] % heads:
                self.fail(f"{name} width {t.shape[-1]} is not divisible by num_heads {heads}")
        scores = (*batch, heads, q.shape[-2], k.shape[-2])
        for name in ("mask", "zero_mask"):
            value = self.operand(name)
            if value is not None and not broadcasts(value.type.shape, scores):
                self.fail(
                    f"{name} {_shape(value.type.shape)} does not broadcast to the scores "
                    f"{_shape(scores)}"
                )
        zero_mask = self.operand("zero_mask")
        if zero_mask is not None and str(zero_mask.type.element_type) != "i1":
            self.fail(f"zero_mask must be boolean (i1), got {zero_mask.type}")
        self.check_result_shape((*q.shape[:-1], v.shape[-1]))


#: The ops of the dialect, by name.
NN_OPS = {cls.name: cls for cls in (AttentionOp, GeluOp, LayerNormOp, LinearOp)}

__all__ = [
    "GELU_APPROXIMATIONS",
    "NN_OPS",
    "AttentionOp",
    "GeluOp",
    "LayerNormOp",
    "LinearOp",
    "broadcasts",
]
