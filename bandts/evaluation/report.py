"""Markdown reports of a results DataFrame: score and rank tables, tests, figures as image files.

:func:`ranking_markdown` turns one score table into average ranks, the Friedman / Iman-Davenport
test, the Nemenyi critical difference and the Wilcoxon-Holm comparisons; :func:`write_figures`
saves the CD diagrams and curves; :func:`write_report` puts everything into ``report.md``.
"""

from __future__ import annotations

import json
import math
import os
import warnings
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterable, Sequence

import pandas as pd

from bandts.evaluation.published import PUBLISHED_SOURCE, with_reference
from bandts.evaluation.ranks import IncompleteScoresWarning
from bandts.evaluation.stats import (friedman_test, nemenyi_test, wilcoxon_holm_control,
                                     wilcoxon_holm_test)
from bandts.evaluation.tables import (cost_table, score_table, seed_counts,
                                      train_inference_matrix)

VIEWS = ("matched", "all")
CD_TESTS = ("nemenyi", "wilcoxon-holm")
_VIEW_TITLES = {
    "matched": "each configuration at its own training band",
    "all": "every (training configuration @ inference setting) pair",
}
_MAX_PAIRWISE_TABLE = 12  # larger pairwise p-value matrices are left to the CSV exports


def markdown_table(frame: pd.DataFrame, *, float_format: str = "{:.3f}", index: bool = True) -> str:
    """A pipe table of ``frame``; floats through ``float_format``, NaN as an empty cell."""
    def cell(value) -> str:
        if isinstance(value, float):
            return "" if math.isnan(value) else float_format.format(value)
        if isinstance(value, bool):
            return "yes" if value else "no"
        return str(value).replace("|", "\\|")

    header = ([str(frame.index.name or "")] if index else []) + [str(c) for c in frame.columns]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for label, row in frame.iterrows():
        cells = ([cell(label)] if index else []) + [cell(v) for v in row.tolist()]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _format_p(p: float) -> str:
    return f"{p:.2e}" if p < 1e-3 else f"{p:.4f}"


def _cliques_text(cliques: Sequence[tuple]) -> str:
    if not cliques:
        return "none (every pair differs significantly)"
    return "; ".join("{" + ", ".join(map(str, clique)) + "}" for clique in cliques)


def ranking_markdown(scores: pd.DataFrame, *, alpha: float = 0.05, control=None,
                     higher_is_better: bool = True, drop_incomplete: bool = True) -> str:
    """Average ranks, Friedman / Iman-Davenport, Nemenyi and Wilcoxon-Holm results as Markdown.

    Args:
        scores: score table (index = datasets, columns = configurations).
        control: a column to compare every other against (Wilcoxon signed-rank, Holm over k-1);
            None skips that section.
        drop_incomplete: drop datasets with missing scores, naming them in the text (False:
            raise ValueError listing the holes).

    Raises:
        ValueError: fewer than 2 complete datasets or 2 configurations, or holes with
            ``drop_incomplete=False``.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", IncompleteScoresWarning)  # reported in the text below
        options = {"higher_is_better": higher_is_better, "drop_incomplete": drop_incomplete}
        friedman = friedman_test(scores, **options)
        nemenyi = nemenyi_test(scores, alpha=alpha, **options)
        wilcoxon = wilcoxon_holm_test(scores, alpha=alpha, **options)
        versus = (wilcoxon_holm_control(scores, control, alpha=alpha, **options)
                  if control is not None else None)
    used = scores.drop(index=list(friedman.dropped_datasets))
    lines = []
    if friedman.dropped_datasets:
        dropped = ", ".join(map(str, friedman.dropped_datasets))
        lines.append(f"Datasets dropped for missing scores: {dropped}.\n")
    order = list(nemenyi.order)
    ranks = pd.DataFrame({"average rank": friedman.average_ranks[order],
                          "mean score": used[order].mean(axis=0)})
    ranks.index.name = "configuration"
    lines += [markdown_table(ranks), ""]
    lines.append(f"Friedman (N = {friedman.n_datasets} datasets, k = {friedman.n_configs}): "
                 f"chi2 = {friedman.chi2:.3f} (df {friedman.chi2_df}, "
                 f"p = {_format_p(friedman.chi2_pvalue)}); "
                 f"Iman-Davenport F = {friedman.f:.3f} (df {friedman.f_df[0]}, {friedman.f_df[1]}, "
                 f"p = {_format_p(friedman.f_pvalue)}).")
    verdict = "differ" if friedman.f_pvalue <= alpha else "do not differ"
    lines.append(f"At alpha = {alpha:g} the configurations {verdict} significantly overall.\n")
    lines.append(f"Nemenyi: critical difference CD = {nemenyi.critical_difference:.3f} "
                 f"(q_alpha = {nemenyi.q_alpha:.3f}); groups not significantly different: "
                 f"{_cliques_text(nemenyi.cliques)}.\n")
    lines.append(f"Wilcoxon signed-rank, Holm-corrected over all pairs: groups not significantly "
                 f"different: {_cliques_text(wilcoxon.cliques)}.\n")
    if len(order) <= _MAX_PAIRWISE_TABLE:
        adjusted = wilcoxon.adjusted_pvalues.loc[order, order].copy()
        adjusted.index.name = "Holm-adjusted p"
        lines += [markdown_table(adjusted, float_format="{:.3f}"), ""]
    if versus is not None:
        table = pd.DataFrame({"median difference": versus.median_difference,
                              "p": versus.pvalues, "Holm p": versus.adjusted_pvalues,
                              "significant": versus.significant})
        table.index.name = f"vs {control}"
        lines += [f"Against the control {control!r} (Wilcoxon, Holm over {len(table)} tests):\n",
                  markdown_table(table, float_format="{:.4f}"), ""]
    return "\n".join(lines)


def view_scores(results: pd.DataFrame, *, metric: str = "accuracy", view: str = "matched",
                reference: str | None = None) -> tuple[pd.DataFrame, str]:
    """The score table of ``view`` and, with a published ``reference`` classifier, that
    classifier added as a column on the shared datasets; returns (table, provenance line or "").

    Raises:
        ValueError: a reference with a metric other than accuracy (the published results are
            accuracies), or an unknown reference.
    """
    scores = score_table(results, metric=metric, view=view)
    if reference is None:
        return scores, ""
    if metric != "accuracy":
        raise ValueError(f"the published {reference} results are accuracies; a reference needs "
                         f"metric 'accuracy', not {metric!r}")
    scores, entry = with_reference(scores, reference)
    return scores, entry.provenance


def _figure_name(view: str, test: str) -> str:
    return f"cd-{view}-{test}"


def _save(figure, out_dir: Path, stem: str, formats: Iterable[str]) -> list[Path]:
    paths = []
    for extension in formats:
        path = out_dir / f"{stem}.{extension}"
        figure.savefig(path, bbox_inches="tight")
        paths.append(path)
    return paths


def write_figures(results: pd.DataFrame, out_dir: str | os.PathLike, *, metric: str = "accuracy",
                  alpha: float = 0.05, views: Sequence[str] = VIEWS,
                  tests: Sequence[str] = CD_TESTS,
                  formats: Sequence[str] = ("png", "svg"),
                  reference: str | None = None) -> dict[str, list[Path] | str]:
    """Save CD diagrams (per view and test), the train-versus-inference plot and the trade-offs.

    ``reference``: a published classifier (``"fcn"``, ``"resnet"``) entered in every CD diagram
    on the datasets it shares with the results, its provenance written under the diagram.

    Returns {figure stem: saved paths}, or {stem: reason} for a figure the results cannot
    support (e.g. a CD diagram with fewer than two complete datasets).
    """
    from bandts.evaluation.cd_diagram import plot_critical_difference
    from bandts.evaluation.curves import plot_tradeoffs, plot_train_vs_inference

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    saved: dict[str, list[Path] | str] = {}
    for view in views:
        scores, provenance = view_scores(results, metric=metric, view=view, reference=reference)
        for test in tests:
            stem = _figure_name(view, test)
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", IncompleteScoresWarning)
                    figure = plot_critical_difference(scores, test=test, alpha=alpha,
                                                      drop_incomplete=True)
            except ValueError as error:
                saved[stem] = str(error)
                continue
            if provenance:
                figure.text(0.0, 0.0, provenance, fontsize=7, ha="left", va="top")
            saved[stem] = _save(figure, out_dir, stem, formats)
    ok = results[results["status"] == "ok"]
    for stem, plot in (("train-vs-inference", plot_train_vs_inference), ("tradeoffs", plot_tradeoffs)):
        if ok.empty:
            saved[stem] = "no successful runs"
            continue
        try:
            saved[stem] = _save(plot(ok, metric), out_dir, stem, formats)
        except ValueError as error:  # e.g. no band-limited configuration to draw
            saved[stem] = str(error)
    return saved


def _default_control(columns: Sequence[str]):
    """The uncompressed FFT model ("c=0"; "c=0 @ c=0" among pairs) if there, else None."""
    for candidate in ("c=0", "c=0 @ c=0"):
        if candidate in columns:
            return candidate
    return None


def _image_links(saved: dict, stem: str, caption: str) -> str:
    value = saved.get(stem)
    if value is None:
        return ""
    if isinstance(value, str):
        return f"_{caption}: not drawn ({value})._\n"
    first = value[0].name
    others = ", ".join(f"[{p.suffix[1:].upper()}]({p.name})" for p in value[1:])
    return f"![{caption}]({first})" + (f"  \n{caption} also as {others}." if others else "") + "\n"


def write_report(results: pd.DataFrame, out_dir: str | os.PathLike, *, metric: str = "accuracy",
                 alpha: float = 0.05, formats: Sequence[str] = ("png", "svg"),
                 title: str = "bandts evaluation", preamble: str = "",
                 store_path: str | os.PathLike | None = None,
                 reference: str | None = None) -> Path:
    """Write ``report.md`` and its figures (and the rank tables as CSV) into ``out_dir``.

    ``reference``: a published classifier (``"fcn"``, ``"resnet"``) ranked beside the
    configurations in both views, on the datasets it shares with the results (provenance stated).

    Returns the path of ``report.md``.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    if results.empty:
        raise ValueError("the results are empty: nothing to report (run `bandts evaluate` first)")
    saved = write_figures(results, out_dir, metric=metric, alpha=alpha, formats=formats,
                          reference=reference)
    ok = results[results["status"] == "ok"]
    failed = results[results["status"] != "ok"]
    text = [f"# {title}", ""]
    if preamble:
        text += [preamble.strip(), ""]
    text += _summary_lines(results, ok, failed, store_path)
    text += _configuration_section(results)
    text += ["## How configurations are compared", "",
             "Scores are the test-split " + metric.replace("_", " ") + ", averaged over seeds. "
             "Ranks are taken per dataset (1 = best, ties share the mean rank) and averaged "
             "(Demsar 2006). Two views are ranked:", "",
             "- **matched**: each training configuration predicts with the band it was trained "
             "with (inference compress rate = training compress rate; the `direct` baseline at "
             "the full band). This compares ways to train a model that is then used as trained.",
             "- **all**: every `training configuration @ inference setting` pair is a separate "
             "entry, e.g. `c=0.5 @ c=0.75` was trained at compress rate 0.5 and predicts at 0.75. "
             "This shows whether changing the band after training costs accuracy.", "",
             "Datasets with a missing score in a view (failed runs) are dropped from that view's "
             "statistics and named.", ""]
    for view in VIEWS:
        text += _view_section(results, view, metric, alpha, saved, out_dir, reference)
    text += ["## Training versus inference band", "",
             f"Mean {metric.replace('_', ' ')} over datasets: rows = training configuration, "
             "columns = inference setting.", "",
             markdown_table(_labelled(train_inference_matrix(results, metric=metric), "trained \\ predicts")),
             "", _image_links(saved, "train-vs-inference", "Accuracy against inference band"), ""]
    costs = cost_table(results)
    costs.index.name = "configuration"
    text += ["## Cost", "",
             "Means over datasets and seeds (matched view): fit and predict wall seconds, epochs "
             "run, bytes saved for backward in one training step (all layers), kept frequency "
             "bins summed over layers at predict.", "",
             markdown_table(costs, float_format="{:.4g}"), "",
             _image_links(saved, "tradeoffs", "Accuracy, time and memory against compression"), ""]
    if not failed.empty:
        text += _error_section(failed)
    path = out_dir / "report.md"
    path.write_text("\n".join(text).rstrip() + "\n", encoding="utf-8")
    return path


def _labelled(frame: pd.DataFrame, name: str) -> pd.DataFrame:
    frame = frame.copy()
    frame.index.name = name
    return frame


def _summary_lines(results, ok, failed, store_path) -> list[str]:
    versions = json.loads(ok["versions"].iloc[0]) if not ok.empty else {}
    lines = [f"Generated {datetime.now(timezone.utc).isoformat(timespec='seconds')}"
             + (f" from `{Path(store_path).name}`" if store_path else "") + ".", "",
             f"- datasets ({results['dataset'].nunique()}): {', '.join(sorted(results['dataset'].unique()))}",
             f"- configurations: {', '.join(dict.fromkeys(results['config']))}",
             f"- inference settings: {', '.join(dict.fromkeys(results['inference']))}",
             f"- seeds: {', '.join(map(str, sorted(results['seed'].unique())))}",
             f"- rows: {len(results)} ({len(ok)} ok, {len(failed)} failed)",
             f"- total fit time: {_fit_seconds(ok):.0f} s over {_fits(ok)} fits"]
    if versions:
        lines.append("- versions: " + ", ".join(f"{k} {v}" for k, v in sorted(versions.items())))
    return lines + [""]


def _fits(rows: pd.DataFrame) -> int:
    return len(rows.drop_duplicates(["dataset", "config", "seed"]))


def _fit_seconds(rows: pd.DataFrame) -> float:
    return float(rows.drop_duplicates(["dataset", "config", "seed"])["fit_seconds"].sum())


def _configuration_section(results) -> list[str]:
    configs = results.drop_duplicates("config")[["config", "conv", "train_compress_rate",
                                                 "train_preserve_energy", "params"]]
    configs = configs.set_index("config")
    configs.index.name = "configuration"
    configs["params"] = configs["params"].map(lambda p: f"`{p}`")
    return ["## Configurations", "", markdown_table(configs, float_format="{:g}"), ""]


def _view_section(results, view, metric, alpha, saved, out_dir: Path, reference) -> list[str]:
    scores, provenance = view_scores(results, metric=metric, view=view, reference=reference)
    lines = [f"## Ranking: {view} view ({_VIEW_TITLES[view]})", ""]
    if provenance:
        lines += [f"With the published {reference} results as a reference entry ({provenance}; "
                  f"{PUBLISHED_SOURCE}).", ""]
    if view == "matched":
        counts = seed_counts(results, view).reindex(index=scores.index)
        shown = scores.copy()
        shown.loc["mean"] = scores.mean(axis=0)
        lines += [f"Mean {metric.replace('_', ' ')} per dataset (seeds per cell: "
                  f"{_count_text(counts)}):", "", markdown_table(shown), ""]
    scores.to_csv(out_dir / f"scores-{view}.csv")
    try:
        lines.append(ranking_markdown(scores, alpha=alpha, control=_default_control(scores.columns)))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", IncompleteScoresWarning)
            ranks = _rank_csv(scores)
        ranks.to_csv(out_dir / f"ranks-{view}.csv")
        lines.append(f"Per-dataset ranks: [`ranks-{view}.csv`](ranks-{view}.csv); "
                     f"scores: [`scores-{view}.csv`](scores-{view}.csv).\n")
    except ValueError as error:
        lines.append(f"_No ranking: {error}_\n")
    for test in CD_TESTS:
        label = "Nemenyi" if test == "nemenyi" else "Wilcoxon-Holm"
        lines.append(_image_links(saved, _figure_name(view, test),
                                  f"Critical-difference diagram, {view} view, {label}"))
    return lines


def _rank_csv(scores: pd.DataFrame) -> pd.DataFrame:
    from bandts.evaluation.ranks import rank_scores

    ranking = rank_scores(scores, drop_incomplete=True)
    table = ranking.ranks.copy()
    table.loc["average rank"] = ranking.average
    return table


def _count_text(counts: pd.DataFrame) -> str:
    values = sorted(set(counts.to_numpy().ravel().tolist()))
    return ", ".join(map(str, values)) if len(values) > 1 else str(values[0])


def _error_section(failed: pd.DataFrame) -> list[str]:
    table = failed[["dataset", "config", "inference", "seed"]].copy()
    table["error"] = failed["error"].fillna("").map(
        lambda e: (e.strip().splitlines() or [""])[-1][:200])
    return ["## Failed runs", "",
            f"{len(failed)} rows failed; their full tracebacks are in the store (`error` column).",
            "", markdown_table(table, index=False), ""]
