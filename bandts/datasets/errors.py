"""Errors and warnings raised while finding and reading UCR/UEA datasets."""

from __future__ import annotations

from pathlib import Path


class DatasetNotFoundError(FileNotFoundError):
    """No source holds the requested dataset (the message lists where bandts looked)."""


class MalformedDatasetError(ValueError):
    """A dataset file cannot be read.

    ``path`` is the file, ``line`` and ``field`` the 1-based line and field of the problem where
    known (else None) and ``problem`` what is wrong; the message is
    ``"<path>, line <line>, field <field>: <problem>"``.
    """

    def __init__(self, path, problem: str, line: int | None = None, field: int | None = None):
        self.path = Path(path)
        self.problem = problem
        self.line = line
        self.field = field
        where = str(path) + ("" if line is None else f", line {line}") + (
            "" if field is None else f", field {field}")
        super().__init__(f"{where}: {problem}")

    def __reduce__(self):  # picklable (joblib and Dask workers send errors back)
        return type(self), (self.path, self.problem, self.line, self.field)


class UnseenTestLabelWarning(UserWarning):
    """The test split has labels that never occur in the training split.

    Such test series keep their label (nothing is remapped or dropped); a classifier trained on
    the training split cannot predict them, so they count as errors in any accuracy.
    """
