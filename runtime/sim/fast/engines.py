"""Exact integer kernels run by onnxruntime, for the prepared steps of a `Session`.

numpy has no direct depthwise convolution and no int8 matrix product; onnxruntime's CPU kernels
have both. They are used only where their result is provably the exact integer the plain
semantics compute (`numerics` stays the definition):

- **dw.conv** as a float32 grouped ``Conv`` on exact small integers. Every product x·w and every
  partial sum, in whatever order or grouping the kernel adds them (with or without fused
  multiply-adds), is an integer of magnitude at most kh·kw·128·max|w|. When that is at most
  2^24, every such integer is a float32, so every operation is exact and the int32 result is the
  semantics' int32 sum (no int32 wrap-around is possible either).
- **xb.mvm** as ``MatMulInteger`` (int32 out) or ``MatMulIntegerToFloat`` (float32 out, times
  2^-shift): the input bytes as uint8 (int8 inputs flipped by XOR 0x80 = x + 128, undone by a
  zero point of 128), the window's int8 cells as the weights. Exact when no int32 accumulator
  can overflow (rows·255·max|w| < 2^31), when the x86 kernels without VNNI, which add pairs of
  u8·s8 products in saturating int16, cannot saturate (2·255·max|w| ≤ 32767), and, for the
  float output, when |sum| ≤ 2^24 so the conversion and the power-of-two scale are exact.

Both rest on onnxruntime computing sums of products (im2col or direct convolution, integer
GEMMs), not transforms such as Winograd's, which would round. So every kernel is checked once
when it is built, against the numpy definition on seeded random operands over the full value
range; a kernel that cannot be built, or differs, is not used and the step keeps its numpy path.

A kernel is one small ONNX graph in a session on one thread, run on numpy buffers bound in place
(machine memory or scratch: no copies). A depthwise convolution runs as blocks of output rows,
so each block's tensors stay in the CPU cache; it may take its input as float32 and return the
sums as float32 too, for the steps around it (`plan_context`). onnxruntime (and onnx, to build
the graphs) are imported on first use: a one-shot run never needs them.
"""

from __future__ import annotations

from functools import partial

import numpy as np

from ..machine import numerics as nx

F32_EXACT = 1 << 24
INT16_MAX = (1 << 15) - 1
INT32_MAX = (1 << 31) - 1
_OPSETS = (("", 17), ("com.microsoft", 1))
_IR_VERSION = 8  # old enough for every onnxruntime release the runtime supports

_modules = None


def _import():
    """(onnxruntime, onnx.helper, onnx.TensorProto, onnx.numpy_helper), or None if missing."""
    global _modules
    if _modules is None:
        try:
            import onnxruntime
            from onnx import TensorProto, helper, numpy_helper
        except ImportError:  # pragma: no cover - both are dependencies of the package
            _modules = False
        else:
            _modules = (onnxruntime, helper, TensorProto, numpy_helper)
    return _modules or None


class Kernel:
    """A one-graph onnxruntime session on one thread, run on numpy buffers bound in place."""

    def __init__(self, graph, optimize: bool):
        ort, helper, _, _ = _import()
        opsets = [helper.make_opsetid(domain, v) for domain, v in _OPSETS]
        model = helper.make_model(graph, opset_imports=opsets, ir_version=_IR_VERSION)
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = 1
        opts.inter_op_num_threads = 1
        opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        opts.log_severity_level = 3  # warnings would go to stderr
        # the graphs hold only exact integer arithmetic (see the module docstring); what the
        # optimizer may do to them (layout changes, folding transposes) keeps that so, and
        # buys the blocked convolution layout
        level = ort.GraphOptimizationLevel
        opts.graph_optimization_level = level.ORT_ENABLE_ALL if optimize else level.ORT_DISABLE_ALL
        self.session = ort.InferenceSession(
            model.SerializeToString(), opts, providers=["CPUExecutionProvider"]
        )

    def __call__(self, **feeds) -> np.ndarray:
        """Run on ``feeds`` (name → array) and return the single output (for checks)."""
        return self.session.run(None, feeds)[0]

    def bind(self, inputs: dict, outputs: dict):
        """A function of no arguments running the kernel from and into these numpy arrays.

        Each array must be C-contiguous and aligned to its item size (it may be a view of
        machine memory); None when one is not. The arrays must outlive the function, which
        keeps them referenced.
        """
        arrays = {**inputs, **outputs}
        if not all(bindable(a) for a in arrays.values()):
            return None
        io = self.session.io_binding()
        for name, a in inputs.items():
            io.bind_input(name, "cpu", 0, a.dtype, list(a.shape), a.ctypes.data)
        for name, a in outputs.items():
            io.bind_output(name, "cpu", 0, a.dtype, list(a.shape), a.ctypes.data)
        run = self.session.run_with_iobinding

        def step() -> None:
            run(io)

        step.arrays = arrays  # the buffers whose addresses the binding holds
        return step


def bindable(a: np.ndarray) -> bool:
    """Whether `Kernel.bind` can bind ``a``: C-contiguous and aligned to its item size."""
    return a.flags.c_contiguous and a.ctypes.data % a.dtype.itemsize == 0


def absmax(a: np.ndarray) -> int:
    return max(-int(a.min(initial=0)), int(a.max(initial=0)))


def _build(make, check):
    """``make()`` then ``check(kernel)``; None when onnxruntime is missing, fails or differs."""
    if _import() is None:
        return None
    try:
        kernel = make()
        return kernel if check(kernel) else None
    except Exception:  # noqa: BLE001 - any failure only means: keep the numpy path
        return None


def _check_input(rng, shape, dtype) -> np.ndarray:
    """Random values of ``dtype``, the first half of them in runs of its two extremes."""
    info = np.iinfo(dtype)
    x = rng.integers(info.min, info.max, shape, dtype=dtype, endpoint=True)
    flat = x.reshape(-1)
    flat[: flat.size // 4] = info.min  # long runs of extremes: the largest sums
    flat[flat.size // 4 : flat.size // 2] = info.max
    return x


# --- depthwise convolution ------------------------------------------------------------------------


def dwconv_exact(kh: int, kw: int, wgt_absmax: int, x_absmax: int = 128) -> bool:
    """Whether every partial sum of a depthwise window stays within 2^24 (see module doc)."""
    return kh * kw * x_absmax * wgt_absmax <= F32_EXACT


# Output elements per row block of a depthwise kernel: each block's tensors then stay in the
# CPU cache from node to node, and onnxruntime's own buffers stay small (measured: ~10 % faster
# than one block on a 56 x 56 x 144 layer, more when other processes share the cache).
DW_BLOCK_ELEMS = 65536


class DwConv:
    """A depthwise convolution as onnxruntime kernels, one per distinct block of output rows.

    ``blocks``: (kernel, input rows (a, b), output rows (o0, o1)); each kernel convolves input
    rows a..b, padded as that block needs, into output rows o0..o1 (the rows of a block depend
    on nothing outside it, so blocks give exactly the whole convolution).
    """

    def __init__(self, blocks, float_out: bool, int_out: bool):
        self.blocks, self.float_out, self.int_out = blocks, float_out, int_out

    def __call__(self, x: np.ndarray) -> list[np.ndarray]:
        """The outputs ("y", "yf": those built) for input ``x`` (1, h, w, c), block by block."""
        parts = [k.session.run(None, {"x": x[:, a:b]}) for k, (a, b), _ in self.blocks]
        return [np.concatenate([p[i] for p in parts], axis=1) for i in range(len(parts[0]))]

    def bind(self, x: np.ndarray, y: np.ndarray | None, yf: np.ndarray | None = None):
        """`Kernel.bind` for every block: x (1, h, w, c), the outputs it was built with: ``y``
        (1, oh, ow, c) int32, ``yf`` the same as float32. None when one cannot be bound."""
        steps = []
        for kernel, (a, b), (o0, o1) in self.blocks:
            outs = {"y": y[:, o0:o1]} if self.int_out else {}
            if self.float_out:
                outs["yf"] = yf[:, o0:o1]
            step = kernel.bind({"x": x[:, a:b]}, outs)
            if step is None:
                return None
            steps.append(step)
        if len(steps) == 1:
            return steps[0]

        def run() -> None:
            for step in steps:
                step()

        run.arrays = [s.arrays for s in steps]
        return run


def dwconv_kernel(
    shape,
    wgt: np.ndarray,
    stride,
    pads,
    dil,
    pad_value: int,
    float_in=False,
    float_out=False,
    int_out=True,
    x_dtype=np.int8,
):
    """A `DwConv` computing `numerics.dwconv` exactly: input "x" int8 or uint8 (``x_dtype``)
    (1, h, w, c), output "y" int32 (1, oh, ow, c); ``wgt`` (kh, kw, c) int8 is baked in. None
    when not provably exact or not built. ``float_in``: "x" holds the values as float32.
    ``float_out``: a second output "yf", the sums as float32; ``int_out=False``: that one only."""
    h, w, c = shape
    kh, kw, _ = wgt.shape
    (sh, sw), (t, left, b, r), (dh, dw) = stride, pads, dil
    info = np.iinfo(x_dtype)
    x_absmax = max(-int(info.min), int(info.max))
    if not dwconv_exact(kh, kw, absmax(wgt), x_absmax) or not info.min <= pad_value <= info.max:
        return None
    if not (int_out or float_out):
        raise ValueError("a depthwise kernel needs an output")
    oh = nx.out_size(h, kh, sh, t, b, dh)
    ow = nx.out_size(w, kw, sw, left, r, dw)
    if min(h, w, c, oh, ow) < 1:
        return None
    rows = max(1, DW_BLOCK_ELEMS // (ow * c))
    spans = []  # (input rows a..b, top and bottom padding, output rows o0..o1)
    for o0 in range(0, oh, rows):
        o1 = min(o0 + rows, oh)
        lo, hi = o0 * sh - t, (o1 - 1) * sh - t + (kh - 1) * dh + 1  # the rows it reads
        a, z = max(lo, 0), min(hi, h)
        spans.append(((a, z), (a - lo, hi - z), (o0, o1)))
    if any(z <= a for (a, z), _, _ in spans):  # a block of padding only: one block
        spans = [((0, h), (t, b), (0, oh))]
    graph = partial(
        _dw_graph, wgt, w, c, (sh, sw), (left, r), (dh, dw), pad_value, int_out, x_dtype
    )

    def make() -> DwConv:
        kernels = {}
        blocks = []
        for (a, z), vpads, (o0, o1) in spans:
            key = (z - a, vpads, o1 - o0)
            if key not in kernels:
                kernels[key] = Kernel(graph(*key, float_in, float_out), optimize=True)
            blocks.append((kernels[key], (a, z), (o0, o1)))
        return DwConv(blocks, float_out, int_out)

    def check(kernel: DwConv) -> bool:
        x = _check_input(np.random.default_rng(0), (h, w, c), x_dtype)
        want = nx.dwconv(x, wgt, stride, pads, dil, pad_value)[None]
        got = kernel(x[None].astype(np.float32) if float_in else x[None])
        return all(np.array_equal(g, want) for g in got)

    return _build(make, check)


def _dw_graph(
    wgt,
    w,
    c,
    stride,
    hpads,
    dil,
    pad_value,
    int_out,
    x_dtype,
    rows,
    vpads,
    out_rows,
    float_in,
    float_out,
):
    """The ONNX graph of one row block: ``rows`` input rows, ``vpads`` (top, bottom) padding."""
    _, helper, tp, nh = _import()
    kh, kw, _ = wgt.shape
    (t, b), (left, r) = vpads, hpads
    ow = nx.out_size(w, kw, stride[1], left, r, dil[1])
    weights = wgt.astype(np.float32).transpose(2, 0, 1)[:, None]  # (c, 1, kh, kw)
    inits = [_tensor(nh, np.float32, "w", weights)]
    nodes = [] if float_in else [helper.make_node("Cast", ["x"], ["xf"], to=tp.FLOAT)]
    nodes.append(
        helper.make_node("Transpose", ["x" if float_in else "xf"], ["xt"], perm=[0, 3, 1, 2])
    )
    conv_in, conv_pads = "xt", [t, left, b, r]
    if pad_value:  # Conv pads with zeros: pad explicitly with the value first
        inits.append(_tensor(nh, np.int64, "pads", [0, 0, t, left, 0, 0, b, r]))
        inits.append(_tensor(nh, np.float32, "pv", [pad_value], dims=[]))
        nodes.append(helper.make_node("Pad", ["xt", "pads", "pv"], ["xp"]))
        conv_in, conv_pads = "xp", [0, 0, 0, 0]
    conv = {"group": c, "kernel_shape": [kh, kw], "strides": list(stride)}
    conv.update(dilations=list(dil), pads=conv_pads)
    nodes += [
        helper.make_node("Conv", [conv_in, "w"], ["yt"], **conv),
        helper.make_node("Transpose", ["yt"], ["yf"], perm=[0, 2, 3, 1]),
    ]
    shape_out = [1, out_rows, ow, c]
    outs = []
    if int_out:
        nodes.append(helper.make_node("Cast", ["yf"], ["y"], to=tp.INT32))
        outs.append(helper.make_tensor_value_info("y", tp.INT32, shape_out))
    if float_out:
        outs.append(helper.make_tensor_value_info("yf", tp.FLOAT, shape_out))
    int_type = tp.UINT8 if np.dtype(x_dtype) == np.uint8 else tp.INT8
    x_info = helper.make_tensor_value_info("x", tp.FLOAT if float_in else int_type, [1, rows, w, c])
    return helper.make_graph(nodes, "dwconv", [x_info], outs, inits)


# --- matrix products of array windows -------------------------------------------------------------


def mvm_exact(rows: int, x_signed: bool, cells_absmax: int, float_out: bool) -> bool:
    """Whether the integer GEMM of ``rows``-long input vectors with this window is exact."""
    x_max = 128 if x_signed else 255
    return (
        2 * 255 * cells_absmax <= INT16_MAX
        and rows * 255 * cells_absmax <= INT32_MAX
        and (not float_out or rows * x_max * cells_absmax <= F32_EXACT)
    )


def mvm_kernel(jobs: int, cells: np.ndarray, x_signed: bool, shift: int | None):
    """A `Kernel` of input "x" uint8 (jobs, rows), the input bytes (flipped by XOR 0x80 when
    ``x_signed``), times the int8 ``cells`` (rows, cols): output "y" int32 (``shift`` None) or
    float32 times 2^-shift. None when not provably exact or not built."""
    rows, cols = cells.shape
    float_out = shift is not None
    if not jobs or not mvm_exact(rows, x_signed, absmax(cells), float_out):
        return None

    def make() -> Kernel:
        _, helper, tp, nh = _import()
        inits = [_tensor(nh, np.int8, "w", cells)]
        zero = ["zp"] if x_signed else []
        if x_signed:
            inits.append(_tensor(nh, np.uint8, "zp", [128], dims=[]))
        if float_out:
            inits.append(_tensor(nh, np.float32, "sa", [2.0**-shift], dims=[]))
            inits.append(_tensor(nh, np.float32, "sb", [1.0], dims=[]))
            ins = ["x", "w", "sa", "sb", *zero]
            node = helper.make_node("MatMulIntegerToFloat", ins, ["y"], domain="com.microsoft")
        else:
            node = helper.make_node("MatMulInteger", ["x", "w", *zero], ["y"])
        graph = helper.make_graph(
            [node],
            "mvm",
            [helper.make_tensor_value_info("x", tp.UINT8, [jobs, rows])],
            [helper.make_tensor_value_info("y", tp.FLOAT if float_out else tp.INT32, [jobs, cols])],
            inits,
        )
        return Kernel(graph, optimize=False)

    def check(kernel: Kernel) -> bool:
        x = _check_input(np.random.default_rng(0), (jobs, rows), np.uint8)
        values = x.astype(np.int16) - (128 if x_signed else 0)
        exact = nx.exact_matmul(values, cells)  # int64, through a float GEMM when exact
        want = (
            exact.astype(np.float32) * np.float32(2.0**-shift)
            if float_out
            else exact.astype(np.int32)
        )
        return np.array_equal(kernel(x=x), want)

    return _build(make, check)


def _tensor(numpy_helper, dtype, name: str, values, dims=None):
    values = np.asarray(values, dtype=dtype)
    return numpy_helper.from_array(values if dims is None else values.reshape(dims), name)
