"""Critical-difference diagrams (Demsar 2006, figures 1 and 2).

An axis of average ranks 1..k, each configuration joined to its name (with its average rank) on
the left or right side, thick bars joining the cliques of configurations that do not differ
significantly, and, for the Nemenyi test, a bar as long as the critical difference. Drawn on a
matplotlib Figure without pyplot (Agg canvas), so nothing is ever shown on screen.

Layout is computed in inches from measured text sizes, so the figure grows with the number of
configurations and the length of their names and no two texts overlap (k = 2 .. 50 and beyond).
"""

from __future__ import annotations

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.font_manager import FontProperties

from .stats import NemenyiResult, WilcoxonHolmResult, nemenyi_test, wilcoxon_holm_test

__all__ = ["plot_critical_difference"]

_TESTS = ("nemenyi", "wilcoxon-holm")
_PAD = 0.08            # inches between neighbouring elements
_TICK = 0.07           # inches, length of an integer tick (half ranks get half of it)
_CLIQUE_STEP = 0.13    # inches between clique-bar rows
_CLIQUE_WIDTH = 3.5    # points, thickness of a clique bar
_LINE_COLOR = "0.15"


def _run_test(scores, test, alpha, higher_is_better, drop_incomplete):
    if isinstance(scores, (NemenyiResult, WilcoxonHolmResult)):
        return scores
    if test == "nemenyi":
        return nemenyi_test(scores, alpha=alpha, higher_is_better=higher_is_better,
                            drop_incomplete=drop_incomplete)
    if test == "wilcoxon-holm":
        return wilcoxon_holm_test(scores, alpha=alpha, higher_is_better=higher_is_better,
                                  drop_incomplete=drop_incomplete)
    raise ValueError(f"test must be one of {_TESTS}, got {test!r}")


def _pack_intervals(intervals, gap):
    """Assign (left, right) intervals to rows, first fit, keeping ``gap`` between bars in a row."""
    rows, ends = [], []
    for left, right in intervals:
        for row, end in enumerate(ends):
            if left >= end + gap:
                ends[row] = right
                rows.append(row)
                break
        else:
            ends.append(right)
            rows.append(len(ends) - 1)
    return rows, len(ends)


def _tick_step(n_ranks, spacing, label_width):
    for step in (1, 2, 5, 10, 20, 50, 100, 200, 500):
        if step * spacing >= label_width + _PAD:
            return step
    return max(1, n_ranks)


def plot_critical_difference(scores, test: str = "nemenyi", alpha: float = 0.05, *,
                             higher_is_better: bool = True, reverse: bool = False,
                             drop_incomplete: bool = False, ax=None, fontsize: float = 10.0,
                             rank_format: str = "{:.2f}", caption: bool = True,
                             dpi: float = 150.0) -> Figure:
    """Draw a critical-difference diagram of a score table.

    scores: DataFrame (index = datasets, columns = configurations), or a NemenyiResult /
        WilcoxonHolmResult already computed (then test, alpha, higher_is_better and
        drop_incomplete are ignored).
    test: "nemenyi" (cliques from the critical difference, CD bar drawn) or "wilcoxon-holm"
        (cliques from Holm-corrected pairwise Wilcoxon signed-rank tests).
    reverse: False puts rank 1 (the best) on the right, as Demsar does; True puts it on the left.
    ax: draw into this Axes instead of a new figure (it is cleared of ticks and frame; the layout
        is designed for the figure size this function would choose, so a smaller Axes may crowd).
    caption: write the test, alpha and number of datasets under the diagram.
    Returns the matplotlib Figure. Save it with ``fig.savefig("cd.png")`` (or .svg, .pdf).
    """
    result = _run_test(scores, test, alpha, higher_is_better, drop_incomplete)
    ranks = result.average_ranks
    k = len(ranks)
    order = list(result.order)                      # best first
    n_best_side = k - k // 2
    best_side, worst_side = order[:n_best_side], order[n_best_side:][::-1]   # worst first

    fig = Figure(dpi=dpi) if ax is None else ax.figure
    if ax is None:
        FigureCanvasAgg(fig)
    # Text is measured on a scratch Agg canvas: a caller's figure may have no renderer yet.
    renderer = FigureCanvasAgg(Figure(dpi=fig.dpi)).get_renderer()
    font = FontProperties(size=fontsize)
    small = FontProperties(size=fontsize * 0.85)

    def size(text, prop):
        width, height, _ = renderer.get_text_width_height_descent(text, prop, ismath=False)
        return width / fig.dpi, height / fig.dpi

    names = {c: str(c) for c in order}
    rank_texts = {c: rank_format.format(ranks[c]) for c in order}
    text_height = size("Ag", font)[1]
    row_height = max(0.26, 1.9 * text_height)
    rank_width = max(size(t, small)[0] for t in rank_texts.values())
    name_width = {c: size(names[c], font)[0] for c in order}
    tick_width = size(str(k), small)[0]
    # Horizontal leader lines run past the axis end by this much; the rank sits above that stretch.
    leader = rank_width + 2 * _PAD
    left_names = worst_side if not reverse else best_side
    right_names = best_side if not reverse else worst_side
    left_margin = _PAD + max([name_width[c] for c in left_names], default=0.0) + _PAD + leader
    right_margin = _PAD + max([name_width[c] for c in right_names], default=0.0) + _PAD + leader

    axis_length = max(2.6, 0.22 * (k - 1))
    unit = axis_length / (k - 1)                     # inches per rank
    x_lo = left_margin
    x_hi = x_lo + axis_length

    def x_of(rank):
        offset = (rank - 1.0) * unit
        return x_lo + offset if reverse else x_hi - offset

    cd = getattr(result, "critical_difference", None)
    cd_text = None
    y = _PAD
    if cd is not None:
        cd_text = f"CD = {cd:.2f}" + (" (longer than the axis)" if cd > k - 1 else "")
        y += size(cd_text, small)[1]
        y_cd_label = y
        y += 0.06
        y_cd = y
        y += 0.08
    y += size(str(k), small)[1]
    y_tick_labels = y
    y += 0.05 + _TICK
    y_axis = y

    def clique_span(clique):
        xs = [x_of(ranks[c]) for c in clique]
        return min(xs) - 0.05, max(xs) + 0.05

    spans = sorted(clique_span(c) for c in result.cliques)
    clique_rows, n_clique_rows = _pack_intervals(spans, gap=0.08)
    y_first_row = y_axis + _CLIQUE_STEP * (n_clique_rows + 0.5) + row_height * 0.6
    n_rows = max(len(left_names), len(right_names))
    y_last_row = y_first_row + (n_rows - 1) * row_height
    height = y_last_row + row_height * 0.5 + _PAD
    caption_text = None
    if caption:
        test_name = "Nemenyi" if isinstance(result, NemenyiResult) else "Wilcoxon signed-rank, Holm"
        caption_text = (f"{test_name}, alpha = {result.alpha:g}, {result.n_datasets} datasets"
                        + ("" if not result.dropped_datasets else
                           f" ({len(result.dropped_datasets)} incomplete dropped)"))
        height += size(caption_text, small)[1] + _PAD
    width = x_hi + right_margin

    if ax is None:
        fig.set_size_inches(width, height)
        ax = fig.add_axes((0.0, 0.0, 1.0, 1.0))
    ax.set_xlim(0.0, width)
    ax.set_ylim(height, 0.0)
    ax.set_axis_off()

    def line(xs, ys, **kw):
        ax.plot(xs, ys, color=kw.pop("color", _LINE_COLOR), solid_capstyle="butt",
                linewidth=kw.pop("linewidth", 1.0), **kw)

    # Axis with integer ticks (labelled every `step`) and half-rank ticks.
    line([x_lo, x_hi], [y_axis, y_axis], linewidth=1.2)
    step = _tick_step(k, unit, tick_width)
    for r in range(1, k + 1):
        line([x_of(r)] * 2, [y_axis, y_axis - _TICK], linewidth=1.0)
        if (r - 1) % step == 0:
            ax.text(x_of(r), y_tick_labels, str(r), ha="center", va="baseline",
                    fontproperties=small)
        if r < k:
            line([x_of(r + 0.5)] * 2, [y_axis, y_axis - _TICK / 2], linewidth=0.8)

    if cd is not None:
        x_a, x_b = x_lo, x_lo + min(cd, k - 1) * unit   # at the left end, as Demsar draws it
        line([x_a, x_b], [y_cd, y_cd], linewidth=1.5)
        for x in (x_a, x_b):
            line([x, x], [y_cd - 0.04, y_cd + 0.04], linewidth=1.5)
        label_width = size(cd_text, small)[0]
        x_label = min(max((x_a + x_b) / 2, label_width / 2 + _PAD), width - label_width / 2 - _PAD)
        ax.text(x_label, y_cd_label, cd_text, ha="center", va="baseline", fontproperties=small)

    for (x_a, x_b), row in zip(spans, clique_rows):
        y_bar = y_axis + _CLIQUE_STEP * (row + 1)
        ax.plot([x_a, x_b], [y_bar, y_bar], color="black", linewidth=_CLIQUE_WIDTH,
                solid_capstyle="round")

    def leaders(configs, side):
        edge = x_lo - leader if side == "left" else x_hi + leader
        for row, c in enumerate(configs):
            x, y_row = x_of(ranks[c]), y_first_row + row * row_height
            line([x, x, edge], [y_axis, y_row, y_row])
            if side == "left":
                ax.text(edge - _PAD, y_row, names[c], ha="right", va="center_baseline",
                        fontproperties=font)
                ax.text(edge + _PAD / 2, y_row - 0.03, rank_texts[c], ha="left", va="bottom",
                        fontproperties=small)
            else:
                ax.text(edge + _PAD, y_row, names[c], ha="left", va="center_baseline",
                        fontproperties=font)
                ax.text(edge - _PAD / 2, y_row - 0.03, rank_texts[c], ha="right", va="bottom",
                        fontproperties=small)

    leaders(left_names, "left")
    leaders(right_names, "right")
    if caption_text is not None:
        ax.text(width / 2, height - _PAD, caption_text, ha="center", va="baseline",
                fontproperties=small, color="0.35")
    return fig
