"""The sweep's Pareto plot: latency, energy and area of every point against its accuracy.

One panel per cost; a point is on a panel's front when no other point has both a lower cost and a
higher (or equal) accuracy. Front points are ringed and joined by a step line. Drawn with
matplotlib (the ``plot``/``sweep`` extras); deterministic bytes for the same rows.
"""

from __future__ import annotations

import io

import numpy as np

COSTS = (("latency_s", 1e3, "latency (ms)"), ("energy_uj", 1.0, "energy (uJ)"),
         ("area_mm2", 1.0, "area (mm2)"))  # fmt: skip


def front(cost: np.ndarray, accuracy: np.ndarray) -> np.ndarray:
    """Indices of the Pareto-optimal points (low cost, high accuracy), by increasing cost."""
    order = np.lexsort((-accuracy, cost))
    best = np.maximum.accumulate(accuracy[order])
    keep = np.r_[True, best[1:] > best[:-1]]
    return order[keep]


def pareto_png(rows: list[dict], title: str) -> bytes:
    """PNG bytes of the three panels for the rows that ran."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    ok = [r for r in rows if r.get("status") == "ok"]
    fig = Figure(figsize=(13, 4.2), dpi=100, layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(1, 3, sharey=True)
    groups = sorted({(r["model"], r["precision"]) for r in ok})
    cmap = _colors(len(groups))
    metric = ok[0]["metric"] if ok else "accuracy"
    for ax, (key, factor, label) in zip(axes, COSTS):
        for g, color in zip(groups, cmap):
            pts = [r for r in ok if (r["model"], r["precision"]) == g]
            ax.scatter([r[key] * factor for r in pts], [r["accuracy"] for r in pts], s=28,
                       color=color, label=f"{g[0]} {g[1]}", zorder=3)  # fmt: skip
        if ok:
            cost = np.array([r[key] * factor for r in ok])
            acc = np.array([r["accuracy"] for r in ok])
            idx = front(cost, acc)
            ax.step(cost[idx], acc[idx], where="post", color="0.3", lw=1, zorder=2,
                    marker="o", markersize=9, markerfacecolor="none",
                    label="Pareto front")  # fmt: skip
        ax.set_xlabel(label)
        ax.grid(True, color="0.9")
    axes[0].set_ylabel(metric)
    axes[-1].legend(loc="lower right", fontsize=8)
    fig.suptitle(f"{title}: {len(ok)} of {len(rows)} points ran")
    buf = io.BytesIO()
    fig.savefig(buf, format="png", metadata={"Software": None})
    return buf.getvalue()


def _colors(n: int) -> list:
    from matplotlib import colormaps

    cmap = colormaps["tab10"]
    return [cmap(i % 10) for i in range(n)]
