"""Evaluating band-limited models over many datasets and compression levels.

- Grid: :class:`EvaluationGrid` of datasets x named :class:`Configuration` x seeds x
  :class:`InferenceSetting`; :func:`compression_grid` builds the paper's train-versus-inference
  grid. Each model is fitted once and scored under every inference setting.
- Store: :class:`ResultStore`, SQLite, one row per (dataset, config, inference, seed), committed
  fit by fit, resumable after any crash; export to CSV, Parquet, pandas.
- Runner: :func:`run_grid` (serial, joblib processes, or a Dask cluster).
- Tables and statistics: :func:`score_table` (results -> datasets x configurations), average
  ranks, Friedman / Iman-Davenport, Nemenyi, Wilcoxon-Holm (Demsar 2006).
- Figures and reports: CD diagrams, accuracy against compression, :func:`write_report`.
- :func:`run_main_job`: the default evaluation behind ``bandts main``.
- Published results: :func:`published_accuracy` (FCN and ResNet on the UCR 2018 archive,
  Fawaz et al. 2019) and :func:`with_reference` to rank a published classifier beside a store's.
"""

from bandts.evaluation.cd_diagram import plot_critical_difference
from bandts.evaluation.curves import plot_tradeoffs, plot_train_vs_inference
from bandts.evaluation.grid import (AS_TRAINED, Configuration, EvaluationGrid, FitTask,
                                    InferenceSetting, RowKey, compression_grid)
from bandts.evaluation.main_job import main_grid, run_main_job
from bandts.evaluation.published import (PUBLISHED_SOURCE, Reference, published_accuracy,
                                         with_reference)
from bandts.evaluation.ranks import IncompleteScoresWarning, average_ranks, rank_scores
from bandts.evaluation.report import ranking_markdown, write_figures, write_report
from bandts.evaluation.runner import RunSummary, fit_and_score_task, run_grid
from bandts.evaluation.stats import (friedman_test, nemenyi_critical_difference, nemenyi_test,
                                     wilcoxon_holm_control, wilcoxon_holm_test)
from bandts.evaluation.store import COLUMNS, ResultStore
from bandts.evaluation.tables import score_table, seed_counts, train_inference_matrix

__all__ = [
    "AS_TRAINED", "COLUMNS", "Configuration", "EvaluationGrid", "FitTask",
    "IncompleteScoresWarning", "InferenceSetting", "PUBLISHED_SOURCE", "Reference", "ResultStore", "RowKey", "RunSummary",
    "average_ranks", "compression_grid", "fit_and_score_task", "friedman_test", "main_grid",
    "nemenyi_critical_difference", "nemenyi_test", "plot_critical_difference", "plot_tradeoffs",
    "plot_train_vs_inference", "published_accuracy", "rank_scores", "ranking_markdown", "run_grid", "run_main_job",
    "score_table", "seed_counts", "train_inference_matrix", "wilcoxon_holm_control",
    "wilcoxon_holm_test", "with_reference", "write_figures", "write_report",
]
