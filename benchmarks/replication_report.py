"""The replication study's outputs from its results stores: CSV exports, SVG figures, results.md.

``results.md`` holds every number docs/replication.md quotes, recomputed from the stores each
time, so a larger run (more seeds, epochs, datasets) regenerates it; the verdicts in
docs/replication.md are written by a person reading it.
"""

from __future__ import annotations

import json
import os
import warnings
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib import rc_context
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from bandts.evaluation import (ResultStore, friedman_test, plot_critical_difference, rank_scores,
                               published_accuracy, score_table, train_inference_matrix,
                               with_reference)
from bandts.evaluation.published import PUBLISHED_EPOCHS
from bandts.evaluation.ranks import IncompleteScoresWarning
from bandts.evaluation.replication import EXPERIMENTS, experiment_grids, store_path
from bandts.evaluation.report import markdown_table, ranking_markdown
from results_io import cpu_model


def write_replication_results(grids: dict, budget, stores: str | os.PathLike,
                              out: str | os.PathLike) -> Path:
    """Export each experiment's store to ``out/<experiment>.csv``, draw its figures and write
    ``out/results.md``; experiments without a store are listed as not run. Returns results.md."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    writers = {"train-vs-inference": _train_vs_inference, "degradation": _degradation,
               "fiftywords": _fiftywords, "recipe": _recipe}
    sections = ["# Replication study: measured results", "",
                f"Generated {datetime.now(timezone.utc).isoformat(timespec='seconds')} by "
                "`benchmarks/replicate.py` from its results stores; docs/replication.md discusses "
                "these numbers.", ""] + _budget_lines(grids, budget)
    results = {}
    for name in EXPERIMENTS:
        path = store_path(stores, name)
        if not path.is_file():
            sections += [f"## {name}", "", "_Not run: no store at "
                         f"`{path.as_posix()}`._", ""]
            continue
        with ResultStore(path, create=False) as store:
            frame = store.to_dataframe()
            store.to_csv(out / f"{name}.csv")
        results[name] = frame
        sections += _progress_lines(name, frame, grids)
        sections += writers[name](frame, out, results)
    path = out / "results.md"
    path.write_text("\n".join(sections).rstrip() + "\n", encoding="utf-8")
    return path


# ------------------------------------------------------------------------------------------------
# budget and progress

def _budget_lines(grids, budget) -> list[str]:
    import torch

    first = grids["train-vs-inference"]
    return ["## Budget", "",
            f"- machine: {cpu_model()}, {os.cpu_count()} logical CPUs, torch "
            f"{torch.__version__}, {torch.get_num_threads()} torch thread(s) in the driver",
            f"- epochs: {budget.epochs} (experiments 1-3 and experiment 4's short runs), "
            f"{budget.recipe_long_epochs} (experiment 4's long runs)",
            f"- seeds: {'per experiment default' if budget.seeds is None else list(budget.seeds)}",
            f"- energy scope of the energy cuts: {budget.energy_scope}",
            f"- experiment 1 datasets: {len(first.datasets)} drawn with seed {budget.draw_seed} "
            f"from the embedded datasets with at most {budget.max_train_points} training and "
            f"{budget.max_test_points} test values (series x length): "
            f"{', '.join(first.datasets)}", ""]


def _progress_lines(name, frame, grids) -> list[str]:
    expected = sum(len(g.keys()) for g in experiment_grids(grids, name))
    ok = frame[frame["status"] == "ok"]
    fits = ok.drop_duplicates(["dataset", "config", "seed"])
    lines = [f"## {name}", "",
             f"{len(ok)} of {expected} result rows ({len(frame) - len(ok)} failed), "
             f"{len(fits)} fits, {fits['fit_seconds'].sum():.0f} s of fitting."]
    if len(ok) < expected:
        lines.append("**Incomplete: the run had not finished when this was written.**")
    return lines + [""]


# ------------------------------------------------------------------------------------------------
# figures

def _new_figure(width: float, height: float, columns: int = 1) -> tuple[Figure, list]:
    figure = Figure(figsize=(width, height))
    FigureCanvasAgg(figure)
    axes = [figure.add_subplot(1, columns, i + 1) for i in range(columns)]
    return figure, axes


def _save_svg(figure: Figure, out: Path, stem: str) -> str:
    # A fixed salt for the element ids and no date: regenerated figures differ only where the
    # results do, so committed SVGs diff cleanly.
    with rc_context({"svg.hashsalt": "bandts-replication"}):
        figure.savefig(out / f"{stem}.svg", bbox_inches="tight", metadata={"Date": None})
    return f"{stem}.svg"


def _cd_diagram(scores: pd.DataFrame, out: Path, stem: str, test: str = "nemenyi",
                note: str = "") -> str:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", IncompleteScoresWarning)
        figure = plot_critical_difference(scores, test=test, drop_incomplete=True)
    if note:
        figure.text(0.0, 0.0, note, fontsize=7, ha="left", va="top")
    return _save_svg(figure, out, stem)


# ------------------------------------------------------------------------------------------------
# experiment 1: training versus inference band, ranked

def _train_vs_inference(frame, out, _results) -> list[str]:
    lines = ["### Mean accuracy over the datasets (rows: trained at, columns: scored at)", "",
             markdown_table(train_inference_matrix(frame)), ""]
    all_view = score_table(frame, view="all")
    own_band = _own_band(frame)
    summary, details = [], []
    for config in dict.fromkeys(frame["config"]):
        columns = [c for c in all_view.columns if c.split(" @ ")[0] == config]
        scores = all_view[columns].rename(columns=lambda c: c.split(" @ ")[1])
        stem = f"cd-trained-{_slug(config)}"
        details += [f"#### Trained at {config}", "", ranking_markdown(scores),
                    f"![CD diagram, trained at {config}]({_cd_diagram(scores, out, stem)})", ""]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", IncompleteScoresWarning)  # stated by the run's progress
            ranks = rank_scores(scores, drop_incomplete=True).average.sort_values(kind="stable")
            pvalue = friedman_test(scores, drop_incomplete=True).f_pvalue
        own = own_band[config]
        summary.append({"trained at": config, "own band": own,
                        "own band's place": f"{list(ranks.index).index(own) + 1} of {len(ranks)}",
                        "its average rank": ranks[own], "ranked first": ranks.index[0],
                        "first's average rank": ranks.iloc[0],
                        "Friedman p": f"{pvalue:.2e}" if pvalue < 1e-3 else f"{pvalue:.4f}"})
    summary = pd.DataFrame(summary).set_index("trained at")
    lines += ["### Is the training band ranked first among the inference bands?", "",
              "Per training configuration, its inference settings are the compared entries "
              "(ranked over the datasets; Iman-Davenport p of the Friedman test).", "",
              markdown_table(summary), ""] + details
    lines += ["### All (training @ inference) pairs ranked together", "",
              ranking_markdown(all_view),
              f"![CD diagram, all pairs, Nemenyi]({_cd_diagram(all_view, out, 'cd-all-nemenyi')})",
              "", f"![CD diagram, all pairs, Wilcoxon-Holm]"
                  f"({_cd_diagram(all_view, out, 'cd-all-wilcoxon-holm', 'wilcoxon-holm')})", ""]
    lines += ["### Per-dataset accuracy", "", markdown_table(all_view), ""]
    return lines + _published_comparison(frame, out)


def _own_band(frame) -> dict[str, str]:
    """{configuration: the inference setting that predicts with its training band}."""
    rows = frame[np.isclose(frame["inference_compress_rate"], frame["train_compress_rate"])
                 & np.isclose(frame["inference_preserve_energy"], frame["train_preserve_energy"])]
    return dict(zip(rows["config"], rows["inference"]))


def _slug(text: str) -> str:
    return text.replace("=", "").replace(" ", "").replace(".", "")


# ------------------------------------------------------------------------------------------------
# experiment 2: smooth degradation

def _degradation(frame, out, _results) -> list[str]:
    ok = frame[frame["status"] == "ok"]
    stats = ok.groupby(["dataset", "config", "inference_preserve_energy"])["accuracy"].agg(
        ["mean", "std", "min", "max", "count"]).reset_index()
    datasets = list(dict.fromkeys(ok["dataset"]))
    figure, axes = _new_figure(4.0 * len(datasets), 3.2, len(datasets))
    for axis, dataset in zip(axes, datasets):
        part = stats[stats["dataset"] == dataset]
        for config in dict.fromkeys(ok["config"]):
            line = part[part["config"] == config].sort_values("inference_preserve_energy")
            axis.plot(line["inference_preserve_energy"], line["mean"], marker="o", label=config)
            axis.fill_between(line["inference_preserve_energy"], line["min"], line["max"],
                              alpha=0.15)
        axis.set_title(dataset)
        axis.set_xlabel("inference preserved energy")
        axis.set_xticks([0.88, 0.92, 0.96, 1.0])
    axes[0].set_ylabel("test accuracy (mean, band = min-max over seeds)")
    axes[0].legend(title="trained at", fontsize=8)
    stem = _save_svg(figure, out, "degradation")
    lines = [f"![Accuracy against inference energy]({stem})", ""]
    for dataset in datasets:
        part = stats[stats["dataset"] == dataset]
        table = part.assign(cell=[f"{m:.3f} ± {s:.3f}" for m, s in
                                  zip(part["mean"], part["std"].fillna(0))])
        table = table.pivot(index="config", columns="inference_preserve_energy", values="cell")
        table = table.reindex(list(dict.fromkeys(ok["config"])))
        table.columns = [f"E={c:g}" for c in table.columns]
        table.index.name = f"{dataset}: trained \\ scored"
        seeds = int(part["count"].min())
        lines += [f"{dataset}: accuracy mean ± std over {seeds} seeds.", "",
                  markdown_table(table), ""]
    drops = _largest_steps(stats)
    lines += ["Largest accuracy change between neighbouring inference energies (mean over seeds):",
              "", markdown_table(drops, float_format="{:+.3f}"), ""]
    return lines


def _largest_steps(stats: pd.DataFrame) -> pd.DataFrame:
    rows = []
    for (dataset, config), part in stats.groupby(["dataset", "config"], sort=False):
        part = part.sort_values("inference_preserve_energy")
        steps = np.diff(part["mean"].to_numpy())
        index = int(np.argmax(np.abs(steps)))
        energies = part["inference_preserve_energy"].to_numpy()
        rows.append({"dataset": dataset, "trained at": config,
                     "step": f"E={energies[index]:g} -> {energies[index + 1]:g}",
                     "change": float(steps[index])})
    return pd.DataFrame(rows).set_index("dataset")


# ------------------------------------------------------------------------------------------------
# experiment 3: FiftyWords, accuracy and memory against compression

def _fiftywords(frame, out, _results) -> list[str]:
    ok = frame[frame["status"] == "ok"]
    rows = ok.groupby("config", sort=False).agg(
        accuracy=("accuracy", "mean"), seeds=("seed", "nunique"),
        saved_bytes=("saved_bytes", "mean"), fit_seconds=("fit_seconds", "mean"),
        kept_bins=("kept_bins", "first"), per_layer=("saved_bytes_per_layer", "first"))
    full = "E=1"
    if full not in rows.index:
        return ["_No full-band (E=1) result: nothing to compare against._", ""]
    table = pd.DataFrame(index=rows.index)
    bins = rows["kept_bins"].map(lambda t: json.loads(t) if isinstance(t, str) else {})
    layers = sorted(bins[full])
    for number, layer in enumerate(layers):
        table[f"bins {number}"] = bins.map(lambda b, layer=layer: b.get(layer, np.nan))
    table["bins of"] = bins[full][layers[0]]
    conv_bytes = rows["per_layer"].map(
        lambda t: sum(v for k, v in json.loads(t).items() if k.endswith(".conv")))
    # A direct convolution shares its saved input with the ReLU before it, which the hooks count
    # there: its own bytes are not comparable, only the whole network's.
    conv_bytes[bins.map(len) == 0] = np.nan
    table["conv saved MB"] = conv_bytes / 1e6
    table["conv x full"] = conv_bytes / conv_bytes[full]
    table["net saved MB"] = rows["saved_bytes"].astype(float) / 1e6
    table["net x full"] = rows["saved_bytes"].astype(float) / float(rows.loc[full, "saved_bytes"])
    table["accuracy"] = rows["accuracy"]
    table["points vs full"] = 100 * (rows["accuracy"] - rows.loc[full, "accuracy"])
    table["fit s"] = rows["fit_seconds"]
    table.index.name = "trained at"
    lines = ["Kept bins per convolution at predict (`bins 0/1/2`, of `bins of` in the full "
             "spectrum), bytes saved for backward in one training step by the three convolutions "
             "(`conv`; not comparable for `direct`, whose convolutions share their saved inputs "
             "with the ReLUs) and by the whole network (`net`, with batch norm, ReLU masks and "
             "head) relative to the full-band FFT model E=1, test accuracy and its difference "
             "from E=1 in points.", "", markdown_table(table, float_format="{:.3g}"), ""]
    figure, (memory, accuracy) = _new_figure(9.0, 3.4, 2)
    for label, row in table.iterrows():
        for axis, value in ((memory, row["conv x full"]), (accuracy, row["accuracy"])):
            axis.scatter(row["net x full"], value, color="C0" if label.startswith("E") else "C1")
            axis.annotate(label, (row["net x full"], value), fontsize=7,
                          xytext=(3, 3), textcoords="offset points")
    memory.set_xlabel("network bytes saved / full band")
    memory.set_ylabel("convolution bytes saved / full band")
    accuracy.set_xlabel("network bytes saved / full band")
    accuracy.set_ylabel("test accuracy")
    stem = _save_svg(figure, out, "fiftywords-memory-accuracy")
    quarter = table[(table["conv x full"] <= 0.25) & (table.index != "direct")]
    lines += [f"![FiftyWords: memory and accuracy]({stem})", "",
              "Configurations whose convolutions save at most 1/4 of the full band's bytes: " +
              (", ".join(f"{name} ({row['conv x full']:.3f}x, {row['points vs full']:+.1f} points)"
                         for name, row in quarter.iterrows()) or "none") + ".", ""]
    return lines


# ------------------------------------------------------------------------------------------------
# experiment 4: bandts against the published FCN

def _published_comparison(frame, out) -> list[str]:
    published = published_accuracy("fcn")
    matched = score_table(frame, view="matched")
    try:
        scores, reference = with_reference(matched, "fcn")
    except ValueError as error:  # e.g. datasets of a local archive without published results
        return [f"_No comparison with the published FCN: {error}._", ""]
    lines = ["### Experiment 4a: experiment 1's models, each at its training band, against the "
             "published FCN", "", f"{reference.provenance}; bandts: {_epochs(frame)} epochs, seeds "
             f"{sorted(frame['seed'].unique().tolist())}.", ""]
    table = scores.copy()
    table["published std"] = [published.loc[d, "std"] for d in table.index]
    for config in matched.columns:
        table[f"{config} - published"] = 100 * (scores[config] - scores[reference.column])
    table.loc["mean"] = table.mean(axis=0)
    table.loc["median"] = table.drop(index="mean").median(axis=0)
    lines += ["Accuracy; differences in points.", "", markdown_table(table, float_format="{:.3f}"),
              ""]
    full = "E=1 - published"
    gaps = table.drop(index=["mean", "median"])[full]
    lines += ["Datasets where the full-band model (E=1) is more than 10 points from the published "
              "mean: " + (", ".join(f"{d} {v:+.1f}" for d, v in gaps[gaps.abs() > 10]
                                    .sort_values().items()) or "none") + ".", ""]
    note = reference.provenance
    lines += [ranking_markdown(scores),
              f"![CD diagram with the published FCN]"
              f"({_cd_diagram(scores, out, 'cd-matched-published-fcn', note=note)})", ""]
    return lines


def _epochs(frame) -> str:
    epochs = sorted(frame.loc[frame["status"] == "ok", "epochs"].dropna().unique().tolist())
    return "/".join(map(str, epochs))


def _recipe(frame, out, _results) -> list[str]:
    lines = []
    ok = frame[frame["status"] == "ok"]
    published = published_accuracy("fcn")
    stats = ok.groupby(["dataset", "config"], sort=False)["accuracy"].agg(
        ["mean", "std", "min", "max", "count"])
    cells = [f"{m:.3f} ± {s:.3f} ({lo:.2f}-{hi:.2f}, n={n})" for m, s, lo, hi, n in
             zip(stats["mean"], stats["std"].fillna(0), stats["min"], stats["max"], stats["count"])]
    table = pd.Series(cells, index=stats.index).unstack("config")
    # paper before fcn, short before long runs
    order = sorted(dict.fromkeys(ok["config"]),
                   key=lambda c: (int(c.rsplit("-", 1)[1]), c.split("-")[0] != "paper"))
    table = table.reindex(columns=order)
    table[f"published FCN ({PUBLISHED_EPOCHS['fcn']} epochs)"] = [
        f"{published.loc[d, 'mean']:.3f} ± {published.loc[d, 'std']:.3f}" for d in table.index]
    table.index.name = "dataset"
    lines += ["### The recipe check: direct FCN, paper vs fcn recipe, short vs long training", "",
              "Configuration `<recipe>-<epochs>`; cells: test accuracy mean ± std over seeds "
              "(min-max, number of seeds).", "", markdown_table(table), ""]
    gap = stats["mean"].unstack("config").sub(
        [published.loc[d, "mean"] for d in stats["mean"].unstack("config").index], axis=0) * 100
    gap.index.name = "points vs published"
    lines += ["Mean accuracy minus the published FCN's, in points:", "",
              markdown_table(gap.reindex(columns=table.columns[:-1]), float_format="{:+.1f}"), ""]
    return lines
