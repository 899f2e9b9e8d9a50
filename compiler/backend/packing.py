"""Windows onto arrays: shelf packing, replication of the layers that bound the pipeline, and
epochs of reprogramming when a network does not fit the chip.

The unit of work is a *layer group*: the windows of one layer (or of one replica of it). Packing
keeps program order: layers fill arrays one after another, several small layers sharing an array,
each window on one shelf (a band of rows as high as its first window). Everything here is plain
data in, plain data out; the ``combined-stationary-map`` pass turns the result into IR.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Slot:
    """Where a window sits: global array index, first row, first column."""

    array: int
    row0: int
    col0: int


@dataclass
class LayerDemand:
    """What one layer asks of the arrays: its windows (rows, cols) and the estimated cycles of
    all its jobs on one copy of its weights; ``max_replicas`` bounds how finely its jobs split."""

    name: str
    windows: list[tuple[int, int]]
    cycles: float
    max_replicas: int = 1


@dataclass
class Placement:
    """The mapping of every layer: ``slots[layer][replica][window]``, the epoch each layer is
    programmed in (0 when everything fits), and the figures the report prints."""

    slots: list[list[list[Slot]]]
    epochs: list[int]
    arrays_available: int
    arrays_needed: int
    arrays_used: int
    cells_used: int
    cells_per_array: int
    notes: list[str] = field(default_factory=list)

    #: Arrays programmed over all epochs (an array reprogrammed counts each time).
    programmed_arrays: int = 0
    #: Per layer, the epoch of each window (of its only copy) when the network reprograms;
    #: empty when everything fits (epoch 0).
    window_epochs: list[list[int]] = field(default_factory=list)

    def epochs_of(self, layer: int) -> list[int]:
        """The epoch each window of ``layer`` is programmed in."""
        if self.window_epochs:
            return self.window_epochs[layer]
        return [self.epochs[layer]] * len(self.slots[layer][0])

    @property
    def utilisation(self) -> float:
        """Programmed cells over the cells of the arrays programmed."""
        arrays = self.programmed_arrays or self.arrays_used
        return self.cells_used / max(arrays * self.cells_per_array, 1)

    @property
    def reprograms(self) -> bool:
        return max(self.epochs, default=0) > 0

    def replicas(self, layer: int) -> int:
        return len(self.slots[layer])


class _Shelves:
    """First-fit decreasing-height shelf packer over arrays ``first, first + 1, ...``.

    Every array is cut into horizontal shelves, each as high as the first window placed on it;
    a window goes to the lowest shelf (in any array already opened) it fits on, else onto a new
    shelf of the last array, else into a new array. Windows of one group are placed tallest
    first, so short windows fill the gaps beside tall ones.
    """

    def __init__(self, first: int, count: int, rows: int, cols: int):
        self.first, self.count, self.rows, self.cols = first, count, rows, cols
        self.opened = 0  # arrays opened so far
        self.shelves: list[list[int]] = []  # [array, y, height, x used]
        self.floor = 0  # first free row of the last array

    def _new_array(self) -> bool:
        if self.opened >= self.count:
            return False
        self.opened += 1
        self.floor = 0
        return True

    def place(self, rows: int, cols: int, min_array: int = 0) -> Slot | None:
        """A slot for a rows x cols window (in arrays ``min_array`` and later, relative), or
        None when the arrays are full."""
        if rows > self.rows or cols > self.cols:
            raise ValueError(f"window {rows}x{cols} exceeds a {self.rows}x{self.cols} array")
        # best fit: the lowest shelf the window fits on (ties: the earliest)
        best = None
        for shelf in self.shelves:
            array, y, h, x = shelf
            if array >= min_array and rows <= h and x + cols <= self.cols:
                if best is None or h < best[2]:
                    best = shelf
        if best is not None:
            best[3] += cols
            return Slot(self.first + best[0], best[1], best[3] - cols)
        if self.opened == 0 or self.opened - 1 < min_array or self.floor + rows > self.rows:
            if not self._new_array():
                return None
        array = self.opened - 1
        self.shelves.append([array, self.floor, rows, cols])
        self.floor += rows
        return Slot(self.first + array, self.floor - rows, 0)

    def place_all(self, windows, fresh: bool = False) -> list[Slot] | None:
        """Slots for all ``windows`` (in their order), tallest placed first; ``fresh``: only in
        arrays opened for them. None when they do not fit (nothing is rolled back: use on a
        scratch copy)."""
        min_array = self.opened if fresh else 0
        out: list[Slot | None] = [None] * len(windows)
        order = sorted(range(len(windows)), key=lambda i: (-windows[i][0], i))
        for i in order:
            slot = self.place(*windows[i], min_array=min_array)
            if slot is None:
                return None
            out[i] = slot
        return out

    def copy(self) -> _Shelves:
        other = _Shelves(self.first, self.count, self.rows, self.cols)
        other.opened, other.floor = self.opened, self.floor
        other.shelves = [list(s) for s in self.shelves]
        return other


def _place_together(shelves: _Shelves, layers: list[LayerDemand]) -> list[list[Slot]] | None:
    """Every layer's windows placed as one group (tallest first across layers); per layer its
    slots, or None when they do not fit."""
    flat = [w for layer in layers for w in layer.windows]
    got = shelves.place_all(flat)
    if got is None:
        return None
    out, at = [], 0
    for layer in layers:
        out.append(got[at : at + len(layer.windows)])
        at += len(layer.windows)
    return out


def arrays_needed(layers: list[LayerDemand], rows: int, cols: int) -> int:
    """Arrays that hold every layer's windows once."""
    shelves = _Shelves(0, 1 << 30, rows, cols)
    _place_together(shelves, layers)
    return shelves.opened


def place(
    layers: list[LayerDemand],
    first: int,
    count: int,
    rows: int,
    cols: int,
    replicate: bool = True,
) -> Placement:
    """Pack ``layers`` (in program order) onto ``count`` arrays starting at global index ``first``.

    When everything fits, free arrays take replicas of the layer whose jobs take longest per
    copy, as long as a whole replica fits and the layer's jobs can still be split. Otherwise
    layers are cut into epochs that each fit the chip; an epoch's weights are programmed after
    the previous epoch's jobs (reprogramming, paid on every inference).
    """
    needed = arrays_needed(layers, rows, cols)
    cells_per_array = rows * cols
    cells = sum(r * c for layer in layers for r, c in layer.windows)
    if needed <= count:
        shelves = _Shelves(first, count, rows, cols)
        slots = [[got] for got in _place_together(shelves, layers)]
        notes = []
        if replicate:
            notes = _replicate(layers, slots, shelves)
        replicated = sum(
            r * c for layer, s in zip(layers, slots) for r, c in layer.windows * (len(s) - 1)
        )
        return Placement(
            slots,
            [0] * len(layers),
            count,
            needed,
            shelves.opened,
            cells + replicated,
            cells_per_array,
            notes,
        )
    slots, epochs, window_epochs, opened = [], [], [], 0
    epoch, shelves = 0, _Shelves(first, count, rows, cols)
    for layer in layers:
        trial = shelves.copy()
        got = trial.place_all(layer.windows)
        if got is not None:
            shelves = trial
            wepochs = [epoch] * len(layer.windows)
        else:
            fresh = _Shelves(first, count, rows, cols)
            got = fresh.place_all(layer.windows)
            if got is not None:
                epoch += 1
                opened += shelves.opened
                shelves = fresh
                wepochs = [epoch] * len(layer.windows)
            else:
                # larger than the chip: its windows, in order, fill epoch after epoch (a row
                # tile's partial sums wait in the accumulator for the next programming)
                got, wepochs = [], []
                for w in layer.windows:
                    slot = shelves.place(*w)
                    if slot is None:
                        epoch += 1
                        opened += shelves.opened
                        shelves = _Shelves(first, count, rows, cols)
                        slot = shelves.place(*w)
                    got.append(slot)
                    wepochs.append(epoch)
        slots.append([got])
        epochs.append(wepochs[0] if wepochs else epoch)
        window_epochs.append(wepochs)
    opened += shelves.opened
    note = (
        f"the weights need {needed} arrays, the chip has {count}: {epoch + 1} epochs, "
        "arrays reprogrammed between them on every inference"
    )
    split_layers = [la.name for la, we in zip(layers, window_epochs) if len(set(we)) > 1]
    notes = [note]
    if split_layers:
        notes.append(
            f"{len(split_layers)} layer(s) larger than the chip run over several epochs: "
            + ", ".join(split_layers[:4])
            + (" ..." if len(split_layers) > 4 else "")
        )
    # utilisation over every array programming (an array reprogrammed counts each time)
    p = Placement(slots, epochs, count, needed, count, cells, cells_per_array, notes)
    p.programmed_arrays = opened
    p.window_epochs = window_epochs
    return p


def _replicate(layers: list[LayerDemand], slots, shelves: _Shelves) -> list[str]:
    """Give free arrays to replicas of the slowest layers (estimated cycles per copy)."""
    notes = []
    while True:
        order = sorted(
            range(len(layers)),
            key=lambda i: (-layers[i].cycles / len(slots[i]), i),
        )
        best = next(
            (i for i in order if len(slots[i]) < layers[i].max_replicas and layers[i].cycles > 0),
            None,
        )
        if best is None:
            break
        # a replica gets arrays of its own, so its jobs never wait for another layer's
        trial = shelves.copy()
        got = trial.place_all(layers[best].windows, fresh=True)
        if got is None:
            break
        shelves.__dict__.update(trial.__dict__)
        slots[best].append(got)
    for i, s in enumerate(slots):
        if len(s) > 1:
            notes.append(f"layer '{layers[i].name}' replicated {len(s)}x")
    return notes


def split(n: int, parts: int) -> list[tuple[int, int]]:
    """``n`` jobs in ``parts`` contiguous chunks as equal as possible (first ones larger)."""
    parts = max(1, min(parts, n))
    base, extra = divmod(n, parts)
    out, start = [], 0
    for i in range(parts):
        size = base + (1 if i < extra else 0)
        out.append((start, start + size))
        start += size
    return out


def ceil_div(a: int, b: int) -> int:
    return -(-a // b)
