"""Published accuracies of FCN and ResNet on the UCR 2018 archive, shipped with bandts.

The data are the five training runs per dataset of each classifier on the 128 UCR 2018 datasets
reported by Fawaz et al. (2019) (:data:`PUBLISHED_SOURCE`; ``data/README.md`` beside this module).
:func:`published_accuracy` summarises them per dataset; :func:`with_reference` adds a published
classifier to a score table as one more column, on the datasets the two share, so that it enters
ranks, statistical tests and CD diagrams like any configuration.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

import pandas as pd

from bandts.datasets.names import ucr2018_name

PUBLISHED_FILE = "dl4tsc_ucr2018_fcn_resnet.csv"
PUBLISHED_SOURCE = (
    "Fawaz, Forestier, Weber, Idoumghar and Muller, \"Deep learning for time series "
    "classification: a review\", Data Mining and Knowledge Discovery 33 (2019), results file "
    "results/results-ucr-128.csv of github.com/hfawaz/dl-4-tsc")
PUBLISHED_CITATION = "Fawaz et al. 2019"
# Training epochs of the published runs (dl-4-tsc's classifiers: FCN 2000, ResNet 1500).
PUBLISHED_EPOCHS = {"fcn": 2000, "resnet": 1500}
PUBLISHED_CLASSIFIERS = tuple(PUBLISHED_EPOCHS)


@lru_cache(maxsize=1)
def _published_runs() -> pd.DataFrame:
    with resources.files("bandts.evaluation").joinpath("data", PUBLISHED_FILE).open("r") as file:
        return pd.read_csv(file)


def _check_classifier(classifier: str) -> str:
    if classifier not in PUBLISHED_CLASSIFIERS:
        raise ValueError(f"no published results for classifier {classifier!r}; bandts ships "
                         f"{list(PUBLISHED_CLASSIFIERS)} ({PUBLISHED_CITATION})")
    return classifier


def published_accuracy(classifier: str = "fcn") -> pd.DataFrame:
    """Published test accuracy of ``classifier`` on each UCR 2018 dataset (Fawaz et al. 2019).

    Parameters
    ----------
    classifier : {"fcn", "resnet"}, default="fcn"

    Returns
    -------
    DataFrame
        Indexed by UCR 2018 dataset name (128 rows, sorted), columns ``mean`` (mean accuracy of
        the runs, rounded to 4 decimals as the paper's tables show it), ``std`` (sample standard
        deviation of the runs, ddof=1, rounded the same way) and ``runs`` (5 for every dataset).

    Raises
    ------
    ValueError
        ``classifier`` is not one of the shipped classifiers.

    Examples
    --------
    >>> from bandts.evaluation import published_accuracy
    >>> fcn = published_accuracy("fcn")
    >>> float(fcn.loc["FiftyWords", "mean"]), int(fcn.loc["FiftyWords", "runs"])
    (0.6457, 5)
    """
    _check_classifier(classifier)
    runs = _published_runs()
    accuracy = runs.loc[runs["classifier_name"] == classifier].groupby("dataset_name")["accuracy"]
    table = pd.DataFrame({"mean": accuracy.mean().round(4), "std": accuracy.std(ddof=1).round(4),
                          "runs": accuracy.size()})
    table.index.name = "dataset"
    return table.sort_index()


@dataclass(frozen=True)
class Reference:
    """A published classifier added to a score table by :func:`with_reference`.

    column: its column label in the table; shared / total: datasets of the table it has results
    for, of all the table's datasets; missing: the table's datasets without a published result.
    """

    classifier: str
    column: str
    shared: int
    total: int
    missing: tuple[str, ...]

    @property
    def provenance(self) -> str:
        """One line naming the source, runs, epochs and coverage."""
        runs = int(published_accuracy(self.classifier)["runs"].max())
        text = (f"reference: {self.column} ({PUBLISHED_CITATION}, {runs} runs, "
                f"{PUBLISHED_EPOCHS[self.classifier]} epochs, mean accuracy), "
                f"{self.shared} of {self.total} datasets")
        if self.missing:
            text += f" (no published result: {', '.join(self.missing)})"
        return text


def with_reference(scores: pd.DataFrame, classifier: str = "fcn") -> tuple[pd.DataFrame, Reference]:
    """``scores`` restricted to the datasets with a published result, plus the reference column.

    Dataset names of ``scores`` may follow the 2015 or the 2018 archive (see
    :func:`bandts.datasets.names.ucr2018_name`); the index keeps the caller's names. The column is
    labelled ``"<classifier> (published)"`` and holds the mean accuracy of the published runs:
    compare it with accuracy score tables only.

    Raises
    ------
    ValueError
        Unknown classifier, or no dataset of ``scores`` has a published result.

    Examples
    --------
    >>> import pandas as pd
    >>> scores = pd.DataFrame({"c=0": [0.9, 0.7], "c=0.5": [0.8, 0.72]},
    ...                       index=pd.Index(["Coffee", "50words"], name="dataset"))
    >>> table, reference = with_reference(scores, "fcn")
    >>> table["fcn (published)"].tolist()
    [1.0, 0.6457]
    >>> reference.provenance[:70]
    'reference: fcn (published) (Fawaz et al. 2019, 5 runs, 2000 epochs, me'
    >>> reference.shared, reference.total
    (2, 2)
    """
    published = published_accuracy(_check_classifier(classifier))["mean"]
    column = f"{classifier} (published)"
    if column in scores.columns:
        raise ValueError(f"the score table already has a column {column!r}")
    lookup = {name: ucr2018_name(str(name)) for name in scores.index}
    shared = [name for name in scores.index if lookup[name] in published.index]
    missing = tuple(str(name) for name in scores.index if lookup[name] not in published.index)
    if not shared:
        raise ValueError(f"none of the datasets {[str(n) for n in scores.index]} has a published "
                         f"{classifier} result ({PUBLISHED_CITATION}, UCR 2018 archive)")
    table = scores.loc[shared].copy()
    table[column] = [float(published[lookup[name]]) for name in shared]
    return table, Reference(classifier, column, len(shared), len(scores.index), missing)
