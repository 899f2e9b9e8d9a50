"""A tiny raster library on numpy: an RGB canvas, rectangles, lines, bitmap text, axes, legends.

Enough to draw the run charts (`plot.py`) without a plotting package, so that the images depend
on nothing installed and come out byte-identical for the same data. Coordinates are integer
pixels, x to the right and y downwards; everything drawn is clipped to the canvas.

The font is our own 5 x 9 bitmap (7 rows above the baseline, 2 below for descenders) for
ASCII 32-126 plus the ellipsis; any other character draws as ``?``.
"""

from __future__ import annotations

import math

import numpy as np

from .png import encode_png

Color = tuple[int, int, int]
WHITE: Color = (255, 255, 255)
BLACK: Color = (0, 0, 0)
DARK: Color = (60, 60, 60)
GREY: Color = (205, 205, 205)
LIGHT: Color = (232, 232, 232)

GLYPH_W, GLYPH_H = 5, 9
ADVANCE = GLYPH_W + 1  # one blank column between characters
ELLIPSIS = "\u2026"

# One glyph per line: the character, then its rows top to bottom ('#' ink, '.' paper). Rows left
# out at the bottom are blank, so only glyphs with descenders spell out rows 8 and 9.
_GLYPHS = r"""
! ..#.. ..#.. ..#.. ..#.. ..#.. ..... ..#..
" .#.#. .#.#. .#.#.
# .#.#. .#.#. ##### .#.#. ##### .#.#. .#.#.
$ ..#.. .#### #.#.. .###. ..#.# ####. ..#..
% ##... ##..# ...#. ..#.. .#... #..## ...##
& .##.. #..#. #.#.. .#... #.#.# #..#. .##.#
' ..#.. ..#.. ..#..
( ...#. ..#.. .#... .#... .#... ..#.. ...#.
) .#... ..#.. ...#. ...#. ...#. ..#.. .#...
* ..... ..#.. #.#.# .###. #.#.# ..#..
+ ..... ..#.. ..#.. ##### ..#.. ..#..
, ..... ..... ..... ..... ..... .##.. ..#.. .#...
- ..... ..... ..... #####
. ..... ..... ..... ..... ..... .##.. .##..
/ ..... ....# ...#. ..#.. .#... #....
0 .###. #...# #..## #.#.# ##..# #...# .###.
1 ..#.. .##.. ..#.. ..#.. ..#.. ..#.. .###.
2 .###. #...# ....# ...#. ..#.. .#... #####
3 ##### ...#. ..#.. ...#. ....# #...# .###.
4 ...#. ..##. .#.#. #..#. ##### ...#. ...#.
5 ##### #.... ####. ....# ....# #...# .###.
6 ..##. .#... #.... ####. #...# #...# .###.
7 ##### ....# ...#. ..#.. .#... .#... .#...
8 .###. #...# #...# .###. #...# #...# .###.
9 .###. #...# #...# .#### ....# ...#. .##..
: ..... .##.. .##.. ..... .##.. .##..
; ..... .##.. .##.. ..... .##.. ..#.. .#...
< ...#. ..#.. .#... #.... .#... ..#.. ...#.
= ..... ..... ##### ..... #####
> .#... ..#.. ...#. ....# ...#. ..#.. .#...
? .###. #...# ....# ...#. ..#.. ..... ..#..
@ .###. #...# #.### #.#.# #.### #.... .####
A .###. #...# #...# ##### #...# #...# #...#
B ####. #...# #...# ####. #...# #...# ####.
C .###. #...# #.... #.... #.... #...# .###.
D ####. #...# #...# #...# #...# #...# ####.
E ##### #.... #.... ####. #.... #.... #####
F ##### #.... #.... ####. #.... #.... #....
G .###. #...# #.... #.### #...# #...# .####
H #...# #...# #...# ##### #...# #...# #...#
I .###. ..#.. ..#.. ..#.. ..#.. ..#.. .###.
J ..### ...#. ...#. ...#. ...#. #..#. .##..
K #...# #..#. #.#.. ##... #.#.. #..#. #...#
L #.... #.... #.... #.... #.... #.... #####
M #...# ##.## #.#.# #.#.# #...# #...# #...#
N #...# #...# ##..# #.#.# #..## #...# #...#
O .###. #...# #...# #...# #...# #...# .###.
P ####. #...# #...# ####. #.... #.... #....
Q .###. #...# #...# #...# #.#.# #..#. .##.#
R ####. #...# #...# ####. #.#.. #..#. #...#
S .#### #.... #.... .###. ....# ....# ####.
T ##### ..#.. ..#.. ..#.. ..#.. ..#.. ..#..
U #...# #...# #...# #...# #...# #...# .###.
V #...# #...# #...# #...# #...# .#.#. ..#..
W #...# #...# #...# #.#.# #.#.# #.#.# .#.#.
X #...# #...# .#.#. ..#.. .#.#. #...# #...#
Y #...# #...# .#.#. ..#.. ..#.. ..#.. ..#..
Z ##### ....# ...#. ..#.. .#... #.... #####
[ .###. .#... .#... .#... .#... .#... .###.
\ ..... #.... .#... ..#.. ...#. ....#
] .###. ...#. ...#. ...#. ...#. ...#. .###.
^ ..#.. .#.#. #...#
_ ..... ..... ..... ..... ..... ..... #####
` .#... ..#.. ...#.
a ..... ..... .###. ....# .#### #...# .####
b #.... #.... ####. #...# #...# #...# ####.
c ..... ..... .###. #.... #.... #...# .###.
d ....# ....# .#### #...# #...# #...# .####
e ..... ..... .###. #...# ##### #.... .###.
f ..##. .#..# .#... ###.. .#... .#... .#...
g ..... ..... .#### #...# #...# #...# .#### ....# .###.
h #.... #.... #.##. ##..# #...# #...# #...#
i ..#.. ..... .##.. ..#.. ..#.. ..#.. .###.
j ...#. ..... ..##. ...#. ...#. ...#. ...#. #..#. .##..
k #.... #.... #..#. #.#.. ##... #.#.. #..#.
l .##.. ..#.. ..#.. ..#.. ..#.. ..#.. ...##
m ..... ..... ##.#. #.#.# #.#.# #.#.# #.#.#
n ..... ..... #.##. ##..# #...# #...# #...#
o ..... ..... .###. #...# #...# #...# .###.
p ..... ..... ####. #...# #...# #...# ####. #.... #....
q ..... ..... .#### #...# #...# #...# .#### ....# ....#
r ..... ..... #.##. ##..# #.... #.... #....
s ..... ..... .#### #.... .###. ....# ####.
t .#... .#... ###.. .#... .#... .#..# ..##.
u ..... ..... #...# #...# #...# #..## .##.#
v ..... ..... #...# #...# #...# .#.#. ..#..
w ..... ..... #...# #...# #.#.# #.#.# .#.#.
x ..... ..... #...# .#.#. ..#.. .#.#. #...#
y ..... ..... #...# #...# #...# #...# .#### ....# .###.
z ..... ..... ##### ...#. ..#.. .#... #####
{ ...#. ..#.. ..#.. .#... ..#.. ..#.. ...#.
| ..#.. ..#.. ..#.. ..#.. ..#.. ..#.. ..#..
} .#... ..#.. ..#.. ...#. ..#.. ..#.. .#...
~ ..... ..... .#... #.#.# ...#.
"""


def _parse_font(text: str) -> dict[str, np.ndarray]:
    font = {" ": np.zeros((GLYPH_H, GLYPH_W), bool)}
    for line in text.strip("\n").splitlines():
        rows = line[2:].split()
        glyph = np.zeros((GLYPH_H, GLYPH_W), bool)
        glyph[: len(rows)] = np.array([[c == "#" for c in row] for row in rows], bool)
        font[line[0]] = glyph
    ellipsis = np.zeros((GLYPH_H, GLYPH_W), bool)
    ellipsis[6, 0::2] = True
    font[ELLIPSIS] = ellipsis
    return font


FONT: dict[str, np.ndarray] = _parse_font(_GLYPHS)


def text_width(s: str, scale: int = 1) -> int:
    """Width in pixels of ``s`` drawn at ``scale``."""
    return max(len(s) * ADVANCE - 1, 0) * scale


def text_mask(s: str, scale: int = 1) -> np.ndarray:
    """The ink of ``s`` as a boolean (rows, columns) bitmap, 9·scale rows high."""
    if not s:
        return np.zeros((GLYPH_H * scale, 0), bool)
    glyphs = np.stack([FONT.get(ch, FONT["?"]) for ch in s])  # (n, H, W)
    cells = np.pad(glyphs, ((0, 0), (0, 0), (0, ADVANCE - GLYPH_W)))
    mask = cells.transpose(1, 0, 2).reshape(GLYPH_H, -1)[:, : text_width(s)]
    return np.repeat(np.repeat(mask, scale, axis=0), scale, axis=1)


def fit(s: str, max_width: int, scale: int = 1, middle: bool = False) -> str:
    """``s`` shortened with an ellipsis so that it is at most ``max_width`` pixels wide.

    The ellipsis replaces the end, or with ``middle`` the middle: long ONNX node names share
    prefixes and differ at both ends (``/encoder/layer.3/…/query/MatMul``).
    """
    if text_width(s, scale) <= max_width:
        return s
    n = max((max_width // scale + 1) // ADVANCE, 1) - 1  # characters kept besides the ellipsis
    head = (n + 1) // 2 if middle else n
    return s[:head] + ELLIPSIS + s[len(s) - (n - head) :]


class Canvas:
    """An RGB image in a numpy array (``pixels[y, x] = (r, g, b)``) with drawing operations."""

    def __init__(self, width: int, height: int, background: Color = WHITE):
        self.pixels = np.empty((max(int(height), 1), max(int(width), 1), 3), np.uint8)
        self.pixels[:] = background

    @property
    def width(self) -> int:
        """Width in pixels."""
        return self.pixels.shape[1]

    @property
    def height(self) -> int:
        """Height in pixels."""
        return self.pixels.shape[0]

    def rect(self, x: int, y: int, w: int, h: int, color: Color) -> None:
        """Fill the ``w`` x ``h`` rectangle whose top-left pixel is (x, y)."""
        x0, y0 = max(int(x), 0), max(int(y), 0)
        x1, y1 = min(int(x + w), self.width), min(int(y + h), self.height)
        if x0 < x1 and y0 < y1:
            self.pixels[y0:y1, x0:x1] = color

    def frame(self, x: int, y: int, w: int, h: int, color: Color) -> None:
        """A one-pixel outline of the rectangle (x, y, w, h)."""
        self.rect(x, y, w, 1, color)
        self.rect(x, y + h - 1, w, 1, color)
        self.rect(x, y, 1, h, color)
        self.rect(x + w - 1, y, 1, h, color)

    def line(self, x0: int, y0: int, x1: int, y1: int, color: Color) -> None:
        """A one-pixel straight line from (x0, y0) to (x1, y1), both ends included."""
        n = max(abs(x1 - x0), abs(y1 - y0)) + 1
        xs = np.rint(np.linspace(x0, x1, n)).astype(np.int64)
        ys = np.rint(np.linspace(y0, y1, n)).astype(np.int64)
        keep = (xs >= 0) & (xs < self.width) & (ys >= 0) & (ys < self.height)
        self.pixels[ys[keep], xs[keep]] = color

    def image(self, x: int, y: int, rgb: np.ndarray) -> None:
        """Copy an (h, w, 3) uint8 image with its top-left pixel at (x, y)."""
        self._paste(x, y, rgb.shape[1], rgb.shape[0], lambda region, sl: rgb[sl])

    def blit(self, x: int, y: int, mask: np.ndarray, color: Color) -> None:
        """Paint ``color`` where the boolean ``mask`` is set, its top-left pixel at (x, y)."""

        def paint(region, sl):
            out = region.copy()
            out[mask[sl]] = color
            return out

        self._paste(x, y, mask.shape[1], mask.shape[0], paint)

    def _paste(self, x: int, y: int, w: int, h: int, make) -> None:
        x, y = int(x), int(y)
        x0, y0 = max(x, 0), max(y, 0)
        x1, y1 = min(x + w, self.width), min(y + h, self.height)
        if x0 >= x1 or y0 >= y1:
            return
        region = self.pixels[y0:y1, x0:x1]
        region[:] = make(region, (slice(y0 - y, y1 - y), slice(x0 - x, x1 - x)))

    def text(
        self,
        x: int,
        y: int,
        s: str,
        color: Color = BLACK,
        scale: int = 1,
        align: str = "left",
        valign: str = "top",
        vertical: bool = False,
    ) -> int:
        """Draw ``s`` anchored at (x, y); returns its width along the writing direction.

        ``align`` (left, center, right) places the anchor along the text, ``valign`` (top,
        middle, bottom) across it, where the text box is the 7-row cap height. ``vertical``
        turns the text a quarter counter-clockwise, to read bottom to top.
        """
        mask = text_mask(s, scale)
        length, cap = mask.shape[1], 7 * scale
        along = {"left": 0, "center": length // 2, "right": length}[align]
        across = {"top": 0, "middle": cap // 2, "bottom": cap}[valign]
        if vertical:
            self.blit(x - across, y - length + along, np.rot90(mask), color)
        else:
            self.blit(x - along, y - across, mask, color)
        return length

    def to_png(self) -> bytes:
        """The canvas as PNG bytes."""
        return encode_png(self.pixels)


# --- colours ---------------------------------------------------------------------------------

# Twelve hues far enough apart to tell adjacent bars apart; later cycles reuse them darker,
# then lighter (never grey, the colour of unused cells), so a legend of up to 36 entries stays
# unambiguous before colours truly repeat.
PALETTE: tuple[Color, ...] = (
    (52, 101, 164),
    (237, 125, 49),
    (78, 154, 6),
    (204, 0, 0),
    (117, 80, 123),
    (143, 89, 2),
    (214, 97, 170),
    (90, 60, 200),
    (196, 160, 0),
    (23, 165, 180),
    (150, 190, 240),
    (250, 180, 110),
)


def palette(i: int) -> Color:
    """The ``i``-th categorical colour; the palette repeats in darker and lighter variants."""
    base = PALETTE[i % len(PALETTE)]
    cycle = (i // len(PALETTE)) % 3
    if cycle == 1:
        return shade(base, -0.35)
    if cycle == 2:
        return shade(base, 0.3)
    return base


def shade(color: Color, amount: float) -> Color:
    """Mix ``color`` towards white (``amount`` > 0) or black (< 0) by ``|amount|``."""
    target = 255 if amount > 0 else 0
    a = abs(amount)
    return tuple(int(round(c + (target - c) * a)) for c in color)


# --- axes and legends ------------------------------------------------------------------------


def nice_ticks(hi: float, n: int = 5) -> list[float]:
    """Tick values 0, s, 2s, ... up to the first one at or above ``hi``; s is 1, 2 or 5 x 10^k."""
    if not hi > 0 or not math.isfinite(hi):
        return [0.0, 1.0]
    raw = hi / max(n, 1)
    mag = 10.0 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw)
    count = math.ceil(hi / step - 1e-9)
    return [i * step for i in range(count + 1)]


def short_number(v: float) -> str:
    """A compact label: 0, 750, 1.5k, 20k, 3.2M, 0.25 (three significant digits at most)."""
    if v == 0:
        return "0"
    for factor, suffix in ((1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(v) >= factor:
            return f"{v / factor:.3g}{suffix}"
    return f"{v:.3g}"


class Scale:
    """A linear map from data values ``lo..hi`` to pixels ``p0..p1``."""

    def __init__(self, lo: float, hi: float, p0: int, p1: int):
        self.lo, self.hi, self.p0, self.p1 = lo, hi if hi != lo else lo + 1, p0, p1

    def __call__(self, v: float) -> int:
        """The pixel of value ``v`` (rounded half to even, so deterministic)."""
        return int(round(self.p0 + (v - self.lo) * (self.p1 - self.p0) / (self.hi - self.lo)))


def x_axis(
    canvas: Canvas, scale: Scale, ticks: list[float], y: int, top: int, fmt=short_number
) -> None:
    """Tick labels under baseline ``y`` and light vertical grid lines from ``top`` to ``y``."""
    for v in ticks:
        x = scale(v)
        canvas.rect(x, top, 1, y - top, LIGHT)
        canvas.rect(x, y, 1, 3, DARK)
        canvas.text(x, y + 5, fmt(v), DARK, align="center")
    canvas.rect(scale.p0, y, scale.p1 - scale.p0 + 1, 1, DARK)


def legend(canvas: Canvas, x: int, y: int, items, max_width: int, draw: bool = True) -> int:
    """Colour swatches with labels, flowing left to right in rows; returns the height used.

    ``items`` is a sequence of (label, colour). With ``draw`` false nothing is painted, which lets
    a caller size its canvas first.
    """
    cx, cy, row_h, gap = x, y, 13, 14
    for label, color in items:
        w = 12 + text_width(label)
        if cx > x and cx + w > x + max_width:
            cx, cy = x, cy + row_h
        if draw:
            canvas.rect(cx, cy, 9, 9, color)
            canvas.frame(cx, cy, 9, 9, shade(color, -0.3))
            canvas.text(cx + 12, cy + 1, label, BLACK)
        cx += w + gap
    return cy + row_h - y if items else 0
