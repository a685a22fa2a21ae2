"""Pure rendering: rows in, PNG bytes out (matplotlib, Agg backend). No Dagster, no warehouse.

Labels and titles are Japanese, for the CRM manager who reads them. The font is IPAexGothic from
the matplotlib-fontja package (a project dependency from PyPI): importing it registers the font
and makes it matplotlib's default family, so no system font is needed and no glyph renders as
a box.
"""

from __future__ import annotations

import base64
import io
from collections import defaultdict
from collections.abc import Iterable
from datetime import date

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.patches import Rectangle  # noqa: E402
import matplotlib_fontja  # noqa: E402, F401 - on import: registers IPAexGothic, sets it as default

DPI = 80


def _png(fig) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI, bbox_inches="tight")
    plt.close(fig)
    return buf.getvalue()


def markdown_image(png: bytes, alt: str) -> str:
    """Markdown embedding the PNG as a base64 data URI.

    The Dagster UI (1.13) draws markdown metadata in place on the asset page only when it is
    under 1000 characters; a chart is tens of kilobytes, so it sits behind [Show Markdown]
    there, which opens it in a dialog (its sanitizer allows data: images)."""
    return f"![{alt}](data:image/png;base64,{base64.b64encode(png).decode('ascii')})"


def subscription_flow_chart(rows: Iterable[tuple[str, int, float]], title: str = "定期フロー") -> bytes:
    """rows: (product label, delivery_number, share of first deliveries reaching it, 0..1)."""
    series: dict[str, list[tuple[int, float]]] = defaultdict(list)
    for product, n, share in rows:
        if share is not None:
            series[str(product)].append((int(n), float(share)))
    fig, ax = plt.subplots(figsize=(8, 4.5))
    for product, points in sorted(series.items()):
        points.sort()
        ax.plot([p[0] for p in points], [100 * p[1] for p in points], marker="o", markersize=3, label=product)
    ax.set_xlabel("お届け回数")
    ax.set_ylabel("継続率（初回比, %）")
    ax.set_ylim(0, 105)
    ax.set_title(title)
    ax.grid(alpha=0.3)
    if series:
        ax.legend(fontsize=8)
    return _png(fig)


def heatmap_grid(rows: Iterable[tuple]) -> tuple[list[date], list[list[float]], list[tuple[int, int]]]:
    """rows: (cohort_month, months_since_first_order, retention 0..1[, is_partial]) ->
    (cohorts, grid of % with NaN where there is no value, partial cells as (row, column)).

    A partial month (the business date's month, counted only up to that date) is NaN in the grid:
    its low value would read as a drop in retention. Its cell is listed to be marked instead."""
    values: dict[tuple, float] = {}
    partial: set[tuple] = set()
    for c, m, r, *rest in rows:
        if rest and rest[0]:
            partial.add((c, int(m)))
        elif r is not None:
            values[(c, int(m))] = float(r)
    cohorts = sorted({c for c, _ in values} | {c for c, _ in partial})
    months = max((m for _, m in values.keys() | partial), default=0) + 1
    grid = [[values.get((c, m), float("nan")) * 100 for m in range(months)] for c in cohorts]
    cells = sorted((cohorts.index(c), m) for c, m in partial)
    return cohorts, grid, cells


def cohort_heatmap(rows: Iterable[tuple], title: str = "コホート別継続率") -> bytes:
    """rows: (cohort_month, months_since_first_order, retention 0..1[, is_partial]); partial
    months are left blank and hatched (heatmap_grid)."""
    cohorts, grid, partial = heatmap_grid(rows)
    months = len(grid[0]) if grid else 1
    fig, ax = plt.subplots(figsize=(min(14, 3 + 0.3 * months), min(12, 1.5 + 0.25 * max(len(cohorts), 1))))
    if cohorts:
        im = ax.imshow(grid, aspect="auto", cmap="viridis", vmin=0, vmax=max(
            (v for row in grid for m, v in enumerate(row) if m > 0 and v == v), default=100))
        fig.colorbar(im, ax=ax, label="その月に購入した割合（%）")
        for i, m in partial:
            ax.add_patch(Rectangle((m - 0.5, i - 0.5), 1, 1, facecolor="none", edgecolor="grey",
                                   hatch="///", linewidth=0))
        step = max(1, len(cohorts) // 12)
        ax.set_yticks(range(0, len(cohorts), step))
        ax.set_yticklabels([cohorts[i].strftime("%Y-%m") for i in range(0, len(cohorts), step)], fontsize=7)
    ax.set_xlabel("初回購入からの経過月数" + ("（斜線＝当月、集計途中のため非表示）" if partial else ""))
    ax.set_ylabel("コホート（初回購入月）")
    ax.set_title(title)
    return _png(fig)


def sbg_projection_chart(
    rows: Iterable[tuple],
    calibration_deliveries: int | None = None,
    title: str = "sBG予測と実績の継続率",
) -> bytes:
    """rows: (product, delivery_number, projected (full fit), observed (all subscriptions),
    projected from the calibration fit, observed in the calibration population), the last two
    optional (None or absent). One panel per product."""
    series: dict[str, list[tuple]] = defaultdict(list)
    for row in rows:
        series[str(row[0])].append(row[1:])
    products = sorted(series)
    cols = min(2, max(1, len(products)))
    nrows = max(1, (len(products) + cols - 1) // cols)
    fig, axes = plt.subplots(nrows, cols, figsize=(5 * cols, 3.4 * nrows), squeeze=False, constrained_layout=True)
    for i, product in enumerate(products):
        ax = axes[i // cols][i % cols]
        pts = sorted(series[product])
        n = [p[0] for p in pts]

        def line(idx: int, **kw) -> None:
            xs = [x for x, p in zip(n, pts) if len(p) > idx and p[idx] is not None]
            ys = [100 * p[idx] for p in pts if len(p) > idx and p[idx] is not None]
            if xs:
                ax.plot(xs, ys, **kw)

        line(1, label="sBG予測（全データ）", color="tab:blue")
        line(2, label="実績（カプラン・マイヤー）", color="black", marker="o", markersize=3, linestyle="none")
        line(3, label="sBG予測（古い契約の初期回数から）", color="tab:orange", linestyle="--")
        line(4, label="実績（古い契約）", color="tab:orange", marker="x", markersize=4, linestyle="none")
        if calibration_deliveries:
            ax.axvline(calibration_deliveries, color="grey", linestyle=":", linewidth=1)
        ax.set_title(product, fontsize=10)
        ax.set_ylim(0, 105)
        ax.set_xlabel("お届け回数")
        ax.set_ylabel("継続率（%）")
        ax.grid(alpha=0.3)
        if i == 0:
            ax.legend(fontsize=7)
    for j in range(len(products), nrows * cols):
        axes[j // cols][j % cols].axis("off")
    fig.suptitle(title)
    return _png(fig)


