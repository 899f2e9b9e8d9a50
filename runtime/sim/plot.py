"""PNG plots of a run report (per-layer time and energy, per-unit utilization).

matplotlib is not a dependency of imcc: `available()` says whether it can be imported, and
`render` raises `PlotUnavailable` with an explanation when it cannot.
"""

from __future__ import annotations

import importlib.util
import io


class PlotUnavailable(RuntimeError):
    """matplotlib is not installed; plots are optional."""


def available() -> bool:
    """Whether matplotlib can be imported."""
    return importlib.util.find_spec("matplotlib") is not None


def render(report: dict) -> dict[str, bytes]:
    """PNG images by file name: ``layers.png`` and ``units.png``."""
    if not available():
        raise PlotUnavailable(
            "plots need matplotlib, which is optional and not installed (pip install matplotlib)"
        )
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    images = {}
    layers = report["layers"]
    fig, (ax_t, ax_e) = plt.subplots(2, 1, figsize=(10, 6), sharex=True)
    names = [lay["name"] for lay in layers]
    ax_t.bar(names, [lay["span_cycles"] for lay in layers])
    ax_t.set_ylabel("span (cycles)")
    ax_e.bar(names, [lay["energy_pj"] * 1e-3 for lay in layers])
    ax_e.set_ylabel("energy (nJ)")
    ax_e.tick_params(axis="x", rotation=60)
    fig.suptitle(f"per layer, target {report['target']['name']}")
    fig.tight_layout()
    images["layers.png"] = _png(fig, plt)
    units = report["units"]
    fig, ax = plt.subplots(figsize=(10, 4))
    ax.bar([u["unit"] for u in units], [100 * u["utilization"] for u in units])
    ax.set_ylabel("utilization (%)")
    ax.tick_params(axis="x", rotation=60)
    fig.tight_layout()
    images["units.png"] = _png(fig, plt)
    return images


def _png(fig, plt) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100, metadata={"Software": None})
    plt.close(fig)
    return buf.getvalue()
