"""Errors and warnings raised while finding and reading UCR/UEA datasets."""


class DatasetNotFoundError(FileNotFoundError):
    """No source holds the requested dataset (the message lists where bandts looked)."""


class MalformedDatasetError(ValueError):
    """A dataset file cannot be read; the message names the file and, where known, the line."""


class UnseenTestLabelWarning(UserWarning):
    """The test split has labels that never occur in the training split.

    Such test series keep their label (nothing is remapped or dropped); a classifier trained on
    the training split cannot predict them, so they count as errors in any accuracy.
    """
