"""Build BERT-family encoders as ONNX graphs shaped like a PyTorch (TorchScript exporter) export.

One builder serves every config: the full MiniLM sentence encoder (embeddings, N layers, mean
pooling, L2 norm) and a single BERT-Large encoder layer. Node and value names follow the exporter's
scope scheme (`/encoder/layer.0/attention/self/query/MatMul`, outputs `<node>_output_0`); weights
keep their HuggingFace names, with Linear weights stored transposed (`<name>.weight.T`) because
the exporter folds `x @ W.T` into a MatMul against a pre-transposed initializer.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper
from transformer_io import ModelScriptError

LAYERNORM_FORMS = ("decomposed", "fused")
SCALE_FORMS = ("div", "mul")
# The builder emits reductions with `axes` as attribute or input depending on the opset, so any
# opset in this range yields a valid graph; LayerNormalization exists from opset 17 on.
MIN_OPSET, MAX_OPSET = 13, 18
FUSED_LAYERNORM_MIN_OPSET = 17


@dataclass(frozen=True)
class BertConfig:
    """Sizes of a BERT encoder, as in a HuggingFace `config.json`."""

    hidden: int
    heads: int
    intermediate: int
    layers: int
    vocab: int = 0
    max_positions: int = 512
    type_vocab: int = 2
    eps: float = 1e-12

    @property
    def head_dim(self) -> int:
        """Width of one attention head."""
        return self.hidden // self.heads

    @classmethod
    def from_hf(cls, config: dict, where: str) -> BertConfig:
        """Read and validate a HuggingFace BERT `config.json` already parsed into a dict."""
        fields = {
            "hidden": "hidden_size",
            "heads": "num_attention_heads",
            "intermediate": "intermediate_size",
            "layers": "num_hidden_layers",
            "vocab": "vocab_size",
            "max_positions": "max_position_embeddings",
            "type_vocab": "type_vocab_size",
        }
        values = {}
        for field, key in fields.items():
            value = config.get(key)
            if not isinstance(value, int) or value <= 0:
                raise ModelScriptError(
                    f"{where}: field {key!r} must be a positive integer, got {value!r}"
                )
            values[field] = value
        eps = config.get("layer_norm_eps", 1e-12)
        if not isinstance(eps, (int, float)) or eps <= 0:
            raise ModelScriptError(
                f"{where}: field 'layer_norm_eps' must be a positive number, got {eps!r}"
            )
        if config.get("hidden_act", "gelu") != "gelu":
            raise ModelScriptError(
                f"{where}: field 'hidden_act' is {config['hidden_act']!r}; only 'gelu' is supported"
            )
        if config.get("position_embedding_type", "absolute") != "absolute":
            raise ModelScriptError(f"{where}: field 'position_embedding_type' must be 'absolute'")
        cfg = cls(eps=float(eps), **values)
        if cfg.hidden % cfg.heads:
            raise ModelScriptError(
                f"{where}: hidden_size {cfg.hidden} is not divisible by num_attention_heads {cfg.heads}"
            )
        return cfg


@dataclass(frozen=True)
class ExportStyle:
    """How the graph is spelled: shapes, opset and which op patterns stand for LayerNorm and scaling."""

    seq_len: int = 128
    batch: int | None = None  # None: a symbolic "batch" dimension, as with exporter dynamic axes
    opset: int = 14
    layernorm: str = "decomposed"
    scale: str = "div"

    def validate(self) -> None:
        """Reject combinations that cannot be expressed as a valid graph."""
        if self.seq_len <= 0:
            raise ModelScriptError(f"--seq-len must be positive, got {self.seq_len}")
        if self.batch is not None and self.batch <= 0:
            raise ModelScriptError(f"--batch must be positive, got {self.batch}")
        if not MIN_OPSET <= self.opset <= MAX_OPSET:
            raise ModelScriptError(f"--opset must be in {MIN_OPSET}..{MAX_OPSET}, got {self.opset}")
        if self.layernorm not in LAYERNORM_FORMS:
            raise ModelScriptError(
                f"--layernorm must be one of {', '.join(LAYERNORM_FORMS)}, got {self.layernorm!r}"
            )
        if self.scale not in SCALE_FORMS:
            raise ModelScriptError(
                f"--scale must be one of {', '.join(SCALE_FORMS)}, got {self.scale!r}"
            )
        if self.layernorm == "fused" and self.opset < FUSED_LAYERNORM_MIN_OPSET:
            raise ModelScriptError(
                f"--layernorm fused needs --opset {FUSED_LAYERNORM_MIN_OPSET} or later, got {self.opset}"
            )

    @property
    def batch_dim(self) -> int | str:
        """The batch dimension as it appears in value infos."""
        return "batch" if self.batch is None else self.batch

    @property
    def reshape_batch(self) -> int:
        """The batch entry of Reshape targets: -1 lets a symbolic batch flow through."""
        return -1 if self.batch is None else self.batch


class GraphBuilder:
    """Collects nodes and initializers in emission order, naming them the way the exporter does."""

    def __init__(self, opset: int):
        self.opset = opset
        self.nodes: list[onnx.NodeProto] = []
        self.initializers: list[onnx.TensorProto] = []
        self._uses: dict[str, int] = {}

    def _node_name(self, scope: str, op_type: str) -> str:
        base = f"{scope}/{op_type}"
        count = self._uses.get(base, 0)
        self._uses[base] = count + 1
        return base if count == 0 else f"{base}_{count}"

    def op(
        self, op_type: str, inputs: list[str], scope: str, *, output: str | None = None, **attrs
    ) -> str:
        """Append one node with a single output and return that output's name."""
        name = self._node_name(scope, op_type)
        out = output or f"{name}_output_0"
        self.nodes.append(helper.make_node(op_type, inputs, [out], name=name, **attrs))
        return out

    def const(self, value, scope: str, dtype=np.float32) -> str:
        """A Constant node, as the exporter emits for scalars and shape vectors."""
        name = self._node_name(scope, "Constant")
        out = f"{name}_output_0"
        tensor = numpy_helper.from_array(np.asarray(value, dtype=dtype), out)
        self.nodes.append(helper.make_node("Constant", [], [out], name=name, value=tensor))
        return out

    def param(self, name: str, array: np.ndarray) -> str:
        """A named initializer (a model parameter or a folded constant buffer)."""
        self.initializers.append(numpy_helper.from_array(np.ascontiguousarray(array), name))
        return name

    def reduce(
        self, op_type: str, x: str, axes: list[int], scope: str, *, keepdims: int, output=None
    ) -> str:
        """A Reduce* node; `axes` moved from attribute to input in opset 13 (ReduceSum) or 18 (others)."""
        axes_as_input = self.opset >= (13 if op_type == "ReduceSum" else 18)
        if axes_as_input:
            axes_value = self.const(axes, scope, dtype=np.int64)
            return self.op(op_type, [x, axes_value], scope, keepdims=keepdims, output=output)
        return self.op(op_type, [x], scope, axes=list(axes), keepdims=keepdims, output=output)

    def unsqueeze(self, x: str, axes: list[int], scope: str) -> str:
        """Unsqueeze with its axes as an input (opset 13 and later)."""
        return self.op("Unsqueeze", [x, self.const(axes, scope, dtype=np.int64)], scope)


def require_weight(weights: dict[str, np.ndarray], name: str, shape: tuple[int, ...]) -> np.ndarray:
    """Fetch a float32 weight, failing with one line if it is missing or has the wrong shape."""
    if name not in weights:
        raise ModelScriptError(f"weights: tensor {name!r} is missing")
    array = weights[name]
    if tuple(array.shape) != shape:
        raise ModelScriptError(
            f"weights: tensor {name!r} has shape {tuple(array.shape)}, config needs {shape}"
        )
    return np.asarray(array, dtype=np.float32)


def linear(
    g: GraphBuilder,
    x: str,
    weights: dict,
    prefix: str,
    shape: tuple[int, int],
    scope: str,
    output=None,
) -> str:
    """`x @ W.T + b` as MatMul then Add(bias, ·), the exporter's form for a 3-D Linear input."""
    w = require_weight(weights, f"{prefix}.weight", shape)
    b = require_weight(weights, f"{prefix}.bias", (shape[0],))
    y = g.op("MatMul", [x, g.param(f"{prefix}.weight.T", w.T)], f"{scope}")
    return g.op("Add", [g.param(f"{prefix}.bias", b), y], scope, output=output)


def layer_norm(
    g: GraphBuilder,
    x: str,
    weights: dict,
    prefix: str,
    cfg: BertConfig,
    style: ExportStyle,
    scope: str,
    output=None,
) -> str:
    """LayerNorm over the last axis, fused or decomposed exactly as opset <= 16 exports spell it."""
    gamma = g.param(f"{prefix}.weight", require_weight(weights, f"{prefix}.weight", (cfg.hidden,)))
    beta = g.param(f"{prefix}.bias", require_weight(weights, f"{prefix}.bias", (cfg.hidden,)))
    if style.layernorm == "fused":
        return g.op(
            "LayerNormalization", [x, gamma, beta], scope, axis=-1, epsilon=cfg.eps, output=output
        )
    mean = g.reduce("ReduceMean", x, [-1], scope, keepdims=1)
    centred = g.op("Sub", [x, mean], scope)
    squared = g.op("Pow", [centred, g.const(2.0, scope)], scope)
    variance = g.reduce("ReduceMean", squared, [-1], scope, keepdims=1)
    shifted = g.op("Add", [variance, g.const(cfg.eps, scope)], scope)
    std = g.op("Sqrt", [shifted], scope)
    normed = g.op("Div", [centred, std], scope)
    scaled = g.op("Mul", [normed, gamma], scope)
    return g.op("Add", [scaled, beta], scope, output=output)


def gelu_erf(g: GraphBuilder, x: str, scope: str) -> str:
    """Exact GELU, `x * 0.5 * (1 + erf(x / sqrt(2)))`, in the exporter's Div/Erf/Add/Mul/Mul order."""
    scaled = g.op("Div", [x, g.const(np.sqrt(2.0), scope)], scope)
    erf = g.op("Erf", [scaled], scope)
    shifted = g.op("Add", [erf, g.const(1.0, scope)], scope)
    gated = g.op("Mul", [x, shifted], scope)
    return g.op("Mul", [gated, g.const(0.5, scope)], scope)


def extended_attention_mask(g: GraphBuilder, mask: str) -> str:
    """HF's `(1.0 - mask[:, None, None, :].float()) * finfo.min`: 0 where attended, very negative elsewhere."""
    expanded = g.unsqueeze(g.unsqueeze(mask, [1], ""), [2], "")
    as_float = g.op("Cast", [expanded], "", to=TensorProto.FLOAT)
    inverted = g.op("Sub", [g.const(1.0, ""), as_float], "")
    return g.op("Mul", [inverted, g.const(np.finfo(np.float32).min, "")], "")


def split_heads(
    g: GraphBuilder, x: str, cfg: BertConfig, style: ExportStyle, perm: list[int], scope: str
) -> str:
    """[b, s, hidden] -> [b, s, heads, head_dim] -> transposed by `perm`."""
    shape = g.const(
        [style.reshape_batch, style.seq_len, cfg.heads, cfg.head_dim], scope, dtype=np.int64
    )
    return g.op("Transpose", [g.op("Reshape", [x, shape], scope)], scope, perm=perm)


def self_attention(
    g: GraphBuilder,
    x: str,
    mask: str,
    weights: dict,
    prefix: str,
    cfg: BertConfig,
    style: ExportStyle,
    scope: str,
) -> str:
    """Multi-head scaled dot-product attention with an additive mask; returns [b, s, hidden]."""
    square = (cfg.hidden, cfg.hidden)
    query = linear(g, x, weights, f"{prefix}.query", square, f"{scope}/query")
    key = linear(g, x, weights, f"{prefix}.key", square, f"{scope}/key")
    value = linear(g, x, weights, f"{prefix}.value", square, f"{scope}/value")
    # The exporter fuses key's permute(0,2,1,3) with the later transpose(-1,-2) into one perm.
    key_t = split_heads(g, key, cfg, style, [0, 2, 3, 1], scope)
    value_h = split_heads(g, value, cfg, style, [0, 2, 1, 3], scope)
    query_h = split_heads(g, query, cfg, style, [0, 2, 1, 3], scope)
    scores = g.op("MatMul", [query_h, key_t], scope)
    if style.scale == "div":
        scores = g.op("Div", [scores, g.const(np.sqrt(cfg.head_dim), scope)], scope)
    else:
        scores = g.op("Mul", [scores, g.const(1.0 / np.sqrt(cfg.head_dim), scope)], scope)
    probs = g.op("Softmax", [g.op("Add", [scores, mask], scope)], scope, axis=-1)
    context = g.op("Transpose", [g.op("MatMul", [probs, value_h], scope)], scope, perm=[0, 2, 1, 3])
    merged = g.const([style.reshape_batch, style.seq_len, cfg.hidden], scope, dtype=np.int64)
    return g.op("Reshape", [context, merged], scope)


def encoder_layer(
    g: GraphBuilder,
    x: str,
    mask: str,
    weights: dict,
    index: int,
    cfg: BertConfig,
    style: ExportStyle,
    output=None,
) -> str:
    """One post-LN BERT layer: attention, Add & LayerNorm, GELU feed-forward, Add & LayerNorm."""
    prefix, scope = f"encoder.layer.{index}", f"/encoder/layer.{index}"
    context = self_attention(
        g, x, mask, weights, f"{prefix}.attention.self", cfg, style, f"{scope}/attention/self"
    )
    attended = linear(
        g,
        context,
        weights,
        f"{prefix}.attention.output.dense",
        (cfg.hidden, cfg.hidden),
        f"{scope}/attention/output/dense",
    )
    attended = g.op("Add", [attended, x], f"{scope}/attention/output")
    attended = layer_norm(
        g,
        attended,
        weights,
        f"{prefix}.attention.output.LayerNorm",
        cfg,
        style,
        f"{scope}/attention/output/LayerNorm",
    )
    inner = linear(
        g,
        attended,
        weights,
        f"{prefix}.intermediate.dense",
        (cfg.intermediate, cfg.hidden),
        f"{scope}/intermediate/dense",
    )
    inner = gelu_erf(g, inner, f"{scope}/intermediate/intermediate_act_fn")
    out = linear(
        g,
        inner,
        weights,
        f"{prefix}.output.dense",
        (cfg.hidden, cfg.intermediate),
        f"{scope}/output/dense",
    )
    out = g.op("Add", [out, attended], f"{scope}/output")
    return layer_norm(
        g,
        out,
        weights,
        f"{prefix}.output.LayerNorm",
        cfg,
        style,
        f"{scope}/output/LayerNorm",
        output=output,
    )


def embeddings(
    g: GraphBuilder,
    input_ids: str,
    token_type_ids: str,
    weights: dict,
    cfg: BertConfig,
    style: ExportStyle,
) -> str:
    """Word + token-type + position embedding Gathers, summed, then LayerNorm."""
    word_table = require_weight(
        weights, "embeddings.word_embeddings.weight", (cfg.vocab, cfg.hidden)
    )
    type_table = require_weight(
        weights, "embeddings.token_type_embeddings.weight", (cfg.type_vocab, cfg.hidden)
    )
    pos_table = require_weight(
        weights, "embeddings.position_embeddings.weight", (cfg.max_positions, cfg.hidden)
    )
    words = g.op(
        "Gather",
        [g.param("embeddings.word_embeddings.weight", word_table), input_ids],
        "/embeddings/word_embeddings",
    )
    types = g.op(
        "Gather",
        [g.param("embeddings.token_type_embeddings.weight", type_table), token_type_ids],
        "/embeddings/token_type_embeddings",
    )
    summed = g.op("Add", [words, types], "/embeddings")
    # With a static sequence length the exporter folds position_ids[:, :seq] into a constant buffer.
    position_ids = g.param(
        "embeddings.position_ids", np.arange(style.seq_len, dtype=np.int64)[None, :]
    )
    positions = g.op(
        "Gather",
        [g.param("embeddings.position_embeddings.weight", pos_table), position_ids],
        "/embeddings/position_embeddings",
    )
    summed = g.op("Add", [summed, positions], "/embeddings")
    return layer_norm(
        g, summed, weights, "embeddings.LayerNorm", cfg, style, "/embeddings/LayerNorm"
    )


def mean_pool_l2(g: GraphBuilder, tokens: str, mask: str, output: str) -> str:
    """sentence-transformers Pooling(mean) then Normalize, as their modules export."""
    scope = "/pooling"
    expanded = g.op(
        "Expand", [g.unsqueeze(mask, [-1], scope), g.op("Shape", [tokens], scope)], scope
    )
    weights = g.op("Cast", [expanded], scope, to=TensorProto.FLOAT)
    summed = g.reduce("ReduceSum", g.op("Mul", [tokens, weights], scope), [1], scope, keepdims=0)
    counts = g.reduce("ReduceSum", weights, [1], scope, keepdims=0)
    counts = g.op("Clip", [counts, g.const(1e-9, scope), ""], scope)
    pooled = g.op("Div", [summed, counts], scope)
    scope = "/normalize"
    norm = g.reduce("ReduceL2", pooled, [1], scope, keepdims=1)
    norm = g.op("Clip", [norm, g.const(1e-12, scope), ""], scope)
    norm = g.op("Expand", [norm, g.op("Shape", [pooled], scope)], scope)
    return g.op("Div", [pooled, norm], scope, output=output)


def _ir_version(opset: int) -> int:
    # The oldest IR version that knows the opset keeps the file loadable by older runtimes.
    return 8 if opset <= 17 else 9


def _finish(
    g: GraphBuilder, name: str, inputs, outputs, style: ExportStyle, doc: str
) -> onnx.ModelProto:
    graph = helper.make_graph(g.nodes, name, inputs, outputs, initializer=g.initializers)
    model = helper.make_model(
        graph,
        opset_imports=[helper.make_opsetid("", style.opset)],
        ir_version=_ir_version(style.opset),
        producer_name="imcc-models",
        producer_version="1",
        doc_string=doc,
    )
    return model


def build_sentence_encoder(
    cfg: BertConfig, style: ExportStyle, weights: dict[str, np.ndarray], name: str
) -> onnx.ModelProto:
    """The full encoder: token embeddings [b, s, hidden] and a mean-pooled unit sentence embedding."""
    style.validate()
    if style.seq_len > cfg.max_positions:
        raise ModelScriptError(
            f"--seq-len {style.seq_len} exceeds the model's {cfg.max_positions} positions"
        )
    g = GraphBuilder(style.opset)
    b, s = style.batch_dim, style.seq_len
    inputs = [
        helper.make_tensor_value_info(n, TensorProto.INT64, [b, s])
        for n in ("input_ids", "attention_mask", "token_type_ids")
    ]
    mask = extended_attention_mask(g, "attention_mask")
    x = embeddings(g, "input_ids", "token_type_ids", weights, cfg, style)
    for index in range(cfg.layers):
        last = index == cfg.layers - 1
        x = encoder_layer(
            g, x, mask, weights, index, cfg, style, output="token_embeddings" if last else None
        )
    mean_pool_l2(g, x, "attention_mask", output="sentence_embedding")
    outputs = [
        helper.make_tensor_value_info("token_embeddings", TensorProto.FLOAT, [b, s, cfg.hidden]),
        helper.make_tensor_value_info("sentence_embedding", TensorProto.FLOAT, [b, cfg.hidden]),
    ]
    doc = f"BERT sentence encoder: {cfg.layers} layers, hidden {cfg.hidden}, {cfg.heads} heads; mean pooling + L2 norm"
    return _finish(g, name, inputs, outputs, style, doc)


def build_encoder_layer(
    cfg: BertConfig,
    style: ExportStyle,
    weights: dict[str, np.ndarray],
    name: str,
    index: int = 0,
    layers: int = 1,
) -> onnx.ModelProto:
    """``layers`` encoder layers (numbered from ``index``) taking hidden states [b, s, hidden] and
    an int64 attention mask [b, s]."""
    style.validate()
    g = GraphBuilder(style.opset)
    b, s = style.batch_dim, style.seq_len
    inputs = [
        helper.make_tensor_value_info("hidden_states", TensorProto.FLOAT, [b, s, cfg.hidden]),
        helper.make_tensor_value_info("attention_mask", TensorProto.INT64, [b, s]),
    ]
    mask = extended_attention_mask(g, "attention_mask")
    x = "hidden_states"
    for i in range(index, index + layers):
        last = i == index + layers - 1
        x = encoder_layer(
            g, x, mask, weights, i, cfg, style, output="layer_output" if last else None
        )
    outputs = [helper.make_tensor_value_info("layer_output", TensorProto.FLOAT, [b, s, cfg.hidden])]
    doc = f"{layers} BERT encoder layer(s): hidden {cfg.hidden}, {cfg.heads} heads, FFN {cfg.intermediate}"
    return _finish(g, name, inputs, outputs, style, doc)


def op_histogram(model: onnx.ModelProto) -> dict[str, int]:
    """Count nodes per op type, sorted by op type name."""
    counts: dict[str, int] = {}
    for node in model.graph.node:
        counts[node.op_type] = counts.get(node.op_type, 0) + 1
    return dict(sorted(counts.items()))


def add_style_options(parser) -> None:
    """The command-line options both graph builders share (sequence, batch, export spelling)."""
    parser.add_argument("--out", required=True, help="output .onnx path")
    parser.add_argument(
        "--seq-len", type=int, default=128, help="static sequence length (default 128)"
    )
    parser.add_argument(
        "--batch", type=int, default=None, help="static batch size (default: symbolic 'batch')"
    )
    parser.add_argument(
        "--layernorm",
        choices=LAYERNORM_FORMS,
        default="decomposed",
        help="LayerNorm spelling (default decomposed)",
    )
    parser.add_argument(
        "--scale",
        choices=SCALE_FORMS,
        default="div",
        help="attention score scaling op (default div)",
    )
    parser.add_argument(
        "--opset",
        type=int,
        default=None,
        help="ONNX opset (default 14, or 17 with --layernorm fused)",
    )
    parser.add_argument("--quiet", action="store_true", help="do not print the op histogram")


def style_from_args(args) -> ExportStyle:
    """The validated export style the options of :func:`add_style_options` describe."""
    opset = args.opset if args.opset is not None else (17 if args.layernorm == "fused" else 14)
    style = ExportStyle(
        seq_len=args.seq_len,
        batch=args.batch,
        opset=opset,
        layernorm=args.layernorm,
        scale=args.scale,
    )
    style.validate()
    return style


def save_model(path, model: onnx.ModelProto, quiet: bool, write) -> None:
    """Write ``model`` with ``write(path, bytes)`` and, unless ``quiet``, print a one-line summary."""
    data = model.SerializeToString()
    write(path, data)
    if not quiet:
        ops = ", ".join(f"{op} {n}" for op, n in op_histogram(model).items())
        print(f"wrote {path}: {len(data)} bytes, {len(model.graph.node)} nodes ({ops})")
