"""tile-layers: a crossbar layer whose working set does not fit L1 runs tile by tile.

After ``combined-stationary-map`` a layer is an accumulator (``imc.empty``), the ``imc.mvm``
jobs that fill it from one input, and the ``imc.requant`` that turns it into the output. When
input, accumulator and output together exceed the tile budget (default three quarters of L1),
the layer is cut into tiles, as large as the budget allows for two input tiles, the
accumulator and the output tile:

- a convolution into groups of whole images, or, when one image is too large, into bands of
  output rows; each band brings its input rows with the halo the kernel needs;
- a linear layer into bands of rows (tokens, batch samples).

Each tile is an ``imc.extract`` of its input (DMA into a buffer of its own), the layer's jobs
re-aimed at that buffer, a requant of its accumulator rows and an ``imc.insert`` of the result
into the layer's output. The extract of tile i+1 is issued before the jobs of tile i, so two
input tiles are live at once and the DMA fills one while the arrays read the other (double
buffering; ``schedule`` overlaps them). ``plan-memory`` keeps what tiles stream from and into in
L2 and gives the tiles L1.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from ..backend.packing import split
from ..backend.places import nbytes
from ..backend.target import module_target
from ..dialects import imc
from ..dialects.func import FuncOp
from ..dialects.onnx import NoValueOp
from ..dialects.quant import CrossbarLayerOp
from ..ir.attributes import ArrayAttr, IntegerAttr, StringAttr
from ..ir.builder import Builder
from ..ir.builtin import ModuleOp
from ..ir.core import Operation, Value
from ..ir.types import RankedTensorType
from ..pm import Pass, PassFailure, register_pass


@dataclass
class _Layer:
    """One mapped layer: its accumulator, jobs (in order) and requant."""

    empty: imc.EmptyOp
    mvms: list[imc.MvmOp]
    requant: imc.RequantOp

    @property
    def x(self) -> Value:
        return self.mvms[0].operands[0]

    @property
    def name(self) -> str:
        return self.requant.layer or self.mvms[0].layer

    def working_set(self) -> int:
        rs = self.requant.operand("row_scale")
        extra = nbytes(rs) if rs is not None else 0
        return (
            nbytes(self.x) + nbytes(self.empty.results[0]) + nbytes(self.requant.results[0]) + extra
        )


@register_pass
@dataclass(frozen=True)
class TileLayersPass(Pass):
    """Cuts every mapped layer whose input, accumulator and output exceed ``budget`` bytes into
    tiles (image groups or row bands with halos for convolutions, row bands for linear layers),
    each streamed through L1 with DMA, double-buffered."""

    name = "tile-layers"
    summary = "Cut layers larger than L1 into tiles streamed by DMA (halos, double buffering)"

    budget: int = field(
        default=0,
        metadata={
            "help": "bytes a layer's tiles may take in L1 at once: two input tiles, the "
            "accumulator and the output tile (0: three quarters of the target's L1)"
        },
    )

    def requires(self, module: ModuleOp) -> None:
        for op in module.walk():
            if isinstance(op, CrossbarLayerOp):
                raise PassFailure(
                    f"'{op.name}' must be mapped (combined-stationary-map) before tiling",
                    op.location,
                )

    def run(self, module: ModuleOp) -> bool:
        target = module_target(module)
        budget = self.budget or target.mem_size("L1") * 3 // 4
        changed = False
        for func in [op for op in module.body.ops if isinstance(op, FuncOp)]:
            for layer in _layers(func):
                if layer.working_set() <= budget or _reprograms_inside(layer):
                    continue
                _hoist_none(layer)
                if len(layer.x.type.shape) == 4 and len(layer.requant.results[0].type.shape) == 4:
                    _tile_conv(layer, budget)
                else:
                    _tile_linear(layer, budget)
                changed = True
        return changed

    def ensures(self, module: ModuleOp) -> None:
        target = module_target(module)
        budget = self.budget or target.mem_size("L1") * 3 // 4
        for func in [op for op in module.body.ops if isinstance(op, FuncOp)]:
            for layer in _layers(func):
                x = layer.x.owner
                tiled = isinstance(x, imc.ExtractOp) or _reprograms_inside(layer)
                if not tiled and layer.working_set() > budget:
                    raise PassFailure(
                        f"layer '{layer.name}' was left untiled", layer.requant.location
                    )


def _reprograms_inside(layer: _Layer) -> bool:
    """Whether arrays are reprogrammed between the layer's jobs (a layer larger than the chip):
    such a layer keeps its accumulator whole and is not tiled."""
    block = layer.empty.parent
    lo, hi = block.index_of(layer.empty), block.index_of(layer.requant)
    return any(isinstance(op, imc.WeightsOp | imc.BarrierOp) for op in block.ops[lo:hi])


def _hoist_none(layer: _Layer) -> None:
    """Move an absent row scale's ``onnx.NoValue`` before the layer, where the tiles use it."""
    rs = layer.requant.operands[1]
    block = layer.empty.parent
    if isinstance(rs.owner, NoValueOp) and block.index_of(rs.owner) > block.index_of(layer.empty):
        Builder.before(layer.empty).insert(rs.owner.detach())


def _layers(func: FuncOp) -> list[_Layer]:
    out = []
    for op in list(func.body.ops):
        if not isinstance(op, imc.RequantOp):
            continue
        mvms, v = [], op.operands[0]
        while isinstance(v.owner, imc.MvmOp):
            mvms.append(v.owner)
            v = v.owner.operands[2]
        if not mvms or not isinstance(v.owner, imc.EmptyOp):
            continue
        mvms.reverse()
        if len({id(m.operands[0]) for m in mvms}) == 1:
            out.append(_Layer(v.owner, mvms, op))
    return out


def _balanced(total: int, most: int) -> int:
    """The even tile size for ``total`` items in tiles of at most ``most``."""
    return -(-total // -(-total // most))


def _i(v: int) -> IntegerAttr:
    return IntegerAttr(int(v))


def _offsets(*values: int) -> ArrayAttr:
    return ArrayAttr(tuple(_i(v) for v in values))


def _too_large(layer: _Layer, unit: str, need: int, budget: int) -> PassFailure:
    return PassFailure(
        f"layer '{layer.name}' cannot be tiled: {unit} needs {need} bytes, a tile may take "
        f"{budget} (raise memory.L1.size or the tile-layers budget)",
        layer.requant.location,
    )


@dataclass(frozen=True)
class _Job:
    """One original mvm re-expressed: its images ``i0..i1`` and rows ``r0..r1`` (output rows of
    each image for a convolution, accumulator rows for a linear layer) and the gather offset
    within one row."""

    op: imc.MvmOp
    i0: int
    i1: int
    r0: int
    r1: int
    koff: int


def _replicas(jobs: list[_Job]) -> list[list[_Job]]:
    """The jobs of each copy of the layer's weights (``combined-stationary-map`` gives each copy
    one chunk of images or rows and the same windows in the same order), in program order."""
    chunks: dict[tuple[int, int, int, int], list[_Job]] = {}
    for j in jobs:
        chunks.setdefault((j.i0, j.i1, j.r0, j.r1), []).append(j)
    copies = list(chunks.values())
    if len({len(c) for c in copies}) != 1:
        return [jobs]  # not one chunk per copy: keep the jobs together, in order
    return copies


def _emit_tiles(layer: _Layer, tiles, extract, jobs_in, requant_type, insert_at, y_whole):
    """Replace the layer's jobs by one group per tile (see module doc). ``extract(b, tile)``
    inserts the tile's input; ``jobs_in(tile)`` yields (job, new gather attrs) per mvm;
    ``insert_at(tile)`` the offsets of its output in ``y_whole``."""
    rq = layer.requant
    loc = rq.location
    b = Builder.before(layer.empty)
    y = b.insert(
        imc.EmptyOp.create(
            result_types=[y_whole], attributes={"buffers": imc.unallocated()}, location=loc
        )
    ).results[0]
    inputs = {0: extract(b, tiles[0])}
    for i, tile in enumerate(tiles):
        if i + 1 < len(tiles):
            inputs[i + 1] = extract(b, tiles[i + 1])  # double buffering: the next tile's DMA first
        xb, rsb = inputs.pop(i)
        acc_type = RankedTensorType(
            (tile.acc_rows, layer.empty.results[0].type.shape[1]),
            layer.empty.results[0].type.element_type,
        )
        acc = b.insert(
            imc.EmptyOp.create(
                result_types=[acc_type], attributes={"buffers": imc.unallocated()}, location=loc
            )
        ).results[0]
        for job, gather in jobs_in(tile):
            attrs = {k: v for k, v in job.op.attributes.items() if k not in imc.BATCH_KEYS}
            attrs.update({k: _i(v) for k, v in gather.items()})
            attrs["buffers"] = imc.unallocated()
            mvm = imc.MvmOp.create(
                [xb, job.op.operands[1], acc], [acc_type], attrs, location=job.op.location
            )
            acc = b.insert(mvm).results[0]
        attrs = dict(rq.attributes)
        attrs["buffers"] = imc.unallocated()
        part = b.insert(
            imc.RequantOp.create([acc, rsb], [requant_type(tile)], attrs, location=loc)
        ).results[0]
        ins = imc.InsertOp.create(
            [part, y],
            [y_whole],
            {
                "offsets": _offsets(*insert_at(tile)),
                "unit": StringAttr("dma"),
                "layer": StringAttr(layer.name),
                "buffers": imc.unallocated(),
            },
            location=loc,
        )
        y = b.insert(ins).results[0]
    return b, y


def _replace(layer: _Layer, y: Value) -> None:
    layer.requant.results[0].replace_all_uses_with(y)
    layer.empty.parent.erase_ops([layer.requant, *reversed(layer.mvms), layer.empty])


def _extract_op(x: Value, offsets, shape, layer: str, loc) -> Operation:
    t = RankedTensorType(tuple(shape), x.type.element_type)
    return imc.ExtractOp.create(
        [x],
        [t],
        {
            "offsets": _offsets(*offsets),
            "unit": StringAttr("dma"),
            "layer": StringAttr(layer),
            "buffers": imc.unallocated(),
        },
        location=loc,
    )


# --- convolutions -------------------------------------------------------------------------------


@dataclass(frozen=True)
class _ConvTile:
    i0: int
    i1: int
    b0: int  # output rows b0..b1
    b1: int
    in0: int  # input rows in0..in1
    in1: int
    wo: int

    @property
    def acc_rows(self) -> int:
        return (self.i1 - self.i0) * (self.b1 - self.b0) * self.wo


def _tile_conv(layer: _Layer, budget: int) -> None:
    x, rq = layer.x, layer.requant
    n, hp, wp, c = x.type.shape
    _, ho, wo, o = rq.results[0].type.shape
    row = wp * c
    cols = layer.empty.results[0].type.shape[1]
    yb = rq.results[0].type.element_type
    item_x = nbytes(x) // max(math.prod(x.type.shape), 1)
    item_y = nbytes(rq.results[0]) // max(math.prod(rq.results[0].type.shape), 1)
    jobs, ext = [], 1
    sh = layer.mvms[0].gather()["outer_stride"] // row
    for m in layer.mvms:
        g = m.gather()
        dst = int(m.get_attr("dst_row"))
        img, rest = divmod(dst, ho * wo)
        y0 = rest // wo
        nb = g["n_batch"]
        if (
            g["n_inner"] != wo
            or rest % wo
            or (nb > 1 and (g["batch_stride"] != hp * row or g["n_outer"] != ho))
        ):
            raise PassFailure(
                f"layer '{layer.name}': a job's gather does not walk whole output rows",
                m.location,
            )
        if g["outer_stride"] != sh * row:
            raise PassFailure(f"layer '{layer.name}': its jobs step rows unevenly", m.location)
        koff = g["x_offset"] - img * hp * row - y0 * sh * row
        last = (
            koff
            + (wo - 1) * g["inner_stride"]
            + (g["seg_count"] - 1) * g["seg_stride"]
            + g["seg_len"]
        )
        ext = max(ext, -(-last // row))
        jobs.append(_Job(m, img, img + nb, y0, y0 + g["n_outer"], koff))

    def in_rows(b0: int, b1: int) -> tuple[int, int]:
        return b0 * sh, min(hp, (b1 - 1) * sh + ext)

    def size(images: int, b0: int, b1: int) -> int:
        r0, r1 = in_rows(b0, b1)
        out = (b1 - b0) * wo
        return images * (2 * (r1 - r0) * row * item_x + out * cols * 4 + out * o * item_y)

    per_image = size(1, 0, ho)
    tiles = []
    if per_image <= budget:
        k = _balanced(n, max(1, budget // per_image))
        for i0 in range(0, n, k):
            r0, r1 = in_rows(0, ho)
            tiles.append(_ConvTile(i0, min(n, i0 + k), 0, ho, r0, r1, wo))
    else:
        band = 0
        while band < ho and size(1, 0, band + 1) <= budget:
            band += 1
        if band == 0:
            raise _too_large(layer, "one output row", size(1, 0, 1), budget)
        band = _balanced(ho, band)
        for i in range(n):
            for b0 in range(0, ho, band):
                b1 = min(ho, b0 + band)
                r0, r1 = in_rows(b0, b1)
                tiles.append(_ConvTile(i, i + 1, b0, b1, r0, r1, wo))

    def extract(b: Builder, t: _ConvTile):
        op = _extract_op(
            x, (t.i0, t.in0, 0, 0), (t.i1 - t.i0, t.in1 - t.in0, wp, c), layer.name, rq.location
        )
        return b.insert(op).results[0], rq.operands[1]

    copies = _replicas(jobs)

    def jobs_in(t: _ConvTile):
        # the tile's work is shared out anew among the layer's copies: its images, or the rows
        # of its one image
        hb = t.in1 - t.in0
        if t.i1 - t.i0 > 1:
            parts = [(t.i0 + a, t.i0 + z, t.b0, t.b1) for a, z in split(t.i1 - t.i0, len(copies))]
        else:
            parts = [(t.i0, t.i1, t.b0 + a, t.b0 + z) for a, z in split(t.b1 - t.b0, len(copies))]
        for copy, (g0, g1, a, z) in zip(copies, parts):
            for j in copy:
                local = g0 - t.i0
                gather = {
                    "x_offset": local * hb * row + (a * sh - t.in0) * row + j.koff,
                    "n_outer": z - a,
                    "dst_row": local * (t.b1 - t.b0) * wo + (a - t.b0) * wo,
                }
                if g1 - g0 > 1:
                    gather.update(n_batch=g1 - g0, batch_stride=hb * row)
                yield j, gather

    def requant_type(t: _ConvTile):
        return RankedTensorType((t.i1 - t.i0, t.b1 - t.b0, wo, o), yb)

    _, y = _emit_tiles(
        layer,
        tiles,
        extract,
        jobs_in,
        requant_type,
        lambda t: (t.i0, t.b0, 0, 0),
        rq.results[0].type,
    )
    _replace(layer, y)


# --- linear layers ------------------------------------------------------------------------------


@dataclass(frozen=True)
class _RowTile:
    r0: int
    r1: int

    @property
    def acc_rows(self) -> int:
        return self.r1 - self.r0


def _tile_linear(layer: _Layer, budget: int) -> None:
    x, rq = layer.x, layer.requant
    loc = rq.location
    rows_total = layer.empty.results[0].type.shape[0]
    k = math.prod(x.type.shape) // rows_total
    cols = layer.empty.results[0].type.shape[1]
    y_type = rq.results[0].type
    o = math.prod(y_type.shape) // rows_total
    rs = rq.operand("row_scale")
    per_row = 2 * nbytes(x) // rows_total + cols * 4 + nbytes(rq.results[0]) // rows_total
    if rs is not None:
        per_row += 2 * nbytes(rs) // rows_total
    if per_row > budget:
        raise _too_large(layer, "one row", per_row, budget)
    band = _balanced(rows_total, budget // per_row)
    tiles = [_RowTile(r, min(rows_total, r + band)) for r in range(0, rows_total, band)]
    jobs = []
    for m in layer.mvms:
        g = m.gather()
        r0 = int(m.get_attr("dst_row"))
        if g["n_outer"] != 1 or g["n_batch"] != 1 or g["inner_stride"] != k:
            raise PassFailure(
                f"layer '{layer.name}': a job's gather does not walk rows", m.location
            )
        jobs.append(_Job(m, 0, 1, r0, r0 + g["n_inner"], g["x_offset"] - r0 * k))

    b = Builder.before(layer.empty)

    def view(v: Value, shape) -> Value:
        t = RankedTensorType(tuple(shape), v.type.element_type)
        if v.type == t:
            return v
        return b.insert(imc.ReshapeOp.create([v], [t], location=loc)).results[0]

    x2 = view(x, (rows_total, k))
    rs2 = view(rs, (rows_total, 1)) if rs is not None else rq.operands[1]

    def extract(bb: Builder, t: _RowTile):
        xt = bb.insert(_extract_op(x2, (t.r0, 0), (t.acc_rows, k), layer.name, loc)).results[0]
        if rs is None:
            return xt, rs2
        rt = bb.insert(_extract_op(rs2, (t.r0, 0), (t.acc_rows, 1), layer.name, loc)).results[0]
        return xt, rt

    copies = _replicas(jobs)

    def jobs_in(t: _RowTile):
        for copy, (a, z) in zip(copies, split(t.acc_rows, len(copies))):
            for j in copy:
                yield j, {"x_offset": a * k + j.koff, "n_inner": z - a, "dst_row": a}

    def requant_type(t: _RowTile):
        return RankedTensorType((t.acc_rows, o), y_type.element_type)

    flat = RankedTensorType((rows_total, o), y_type.element_type)
    bb, y = _emit_tiles(layer, tiles, extract, jobs_in, requant_type, lambda t: (t.r0, 0), flat)
    if flat != y_type:
        y = bb.insert(imc.ReshapeOp.create([y], [y_type], location=loc)).results[0]
    _replace(layer, y)
