"""PNG plots for the regression page (matplotlib, Agg backend: no display needed).

:func:`latency_png` draws one interface's latency distribution for base and head as cumulative curves
(the share of frames shown within x ms), with each side's median marked.
"""

from __future__ import annotations

import io
from collections.abc import Sequence

COLOURS = {"base": "#4c72b0", "head": "#dd8452"}


def latency_png(interface: str, samples: dict[str, Sequence[float]], limit_ms: float | None = None) -> bytes:
    """The PNG of ``interface``'s latencies (ms) per side ("base", "head"); sides without samples are left out."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(5.2, 3.0), dpi=100)
    FigureCanvasAgg(fig)  # the Agg canvas renders it: no display, no pyplot state
    ax = fig.add_subplot()
    shown = [v for side in ("base", "head") for v in samples.get(side) or ()]
    for side in ("base", "head"):
        values = sorted(samples.get(side) or ())
        if not values:
            continue
        n = len(values)
        ys = [(i + 1) / n for i in range(n)]
        median = values[(n - 1) // 2] if n % 2 else (values[n // 2 - 1] + values[n // 2]) / 2
        ax.step(values, ys, where="post", color=COLOURS[side], label=f"{side}: {n} values, median {median:.1f} ms")
        ax.axvline(median, color=COLOURS[side], linestyle=":", linewidth=1)
    top = max(shown, default=1.0)
    if limit_ms is not None and limit_ms <= 1.5 * top:  # a limit far off the values would squash them
        ax.axvline(limit_ms, color="#c44e52", linewidth=1, label=f"limit {limit_ms:g} ms")
        top = max(top, limit_ms)
    elif limit_ms is not None:
        ax.plot([], [], " ", label=f"limit {limit_ms:g} ms (off the scale)")
    low = min(shown, default=0.0)
    pad = 0.05 * (top - min(low, 0.0)) or 1.0
    ax.set_xlim(min(low, 0.0) - pad, top + pad)
    ax.set_title(f"{interface}: frame on the line to value shown", fontsize=10)
    ax.set_xlabel("latency (ms)")
    ax.set_ylabel("share of frames")
    ax.set_ylim(0, 1.02)
    ax.grid(True, alpha=0.3)
    if ax.get_legend_handles_labels()[0]:
        ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    out = io.BytesIO()
    fig.savefig(out, format="png")
    return out.getvalue()
