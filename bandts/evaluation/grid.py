"""The evaluation grid: datasets x named configurations x seeds x inference settings.

A *configuration* is a named set of :class:`bandts.BandLimitedFCN` parameters (how a model is
trained); an *inference setting* is the band used by ``predict`` (``inference_compress_rate`` /
``inference_preserve_energy``). Each (dataset, configuration, seed) is one :class:`FitTask`: the
model is fitted once and then scored under every inference setting without refitting. One results
row exists per (dataset, configuration, inference setting, seed): a :class:`RowKey`.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping, NamedTuple, Sequence

from bandts.classification import BandLimitedFCN
from bandts.functional import Band

# BandLimitedFCN's defaults for the parameters a results row reports about its configuration.
# The estimator's own defaults of the parameters a configuration is described by.
ESTIMATOR_DEFAULTS = {key: value for key, value in BandLimitedFCN().get_params().items()
                      if key in ("conv", "compress_rate", "preserve_energy")}
# Parameters a configuration must not fix: the grid sets them per task or per inference setting.
_GRID_OWNED_PARAMS = ("random_state", "inference_compress_rate", "inference_preserve_energy")


class RowKey(NamedTuple):
    """The unique key of one results row."""

    dataset: str
    config: str
    inference: str
    seed: int


def format_rate(value: float) -> str:
    """Shortest text of a rate for names: 0.5 -> "0.5", 0.0 -> "0"."""
    return f"{value:g}"


def check_compress_rate(value: Any, what: str = "compress rate") -> float:
    """Return ``value`` (a number or its text) as a float in [0, 1) or raise ValueError naming
    ``what``; the range is :class:`bandts.functional.Band`'s."""
    return _band_field("compress_rate", value, what)


def check_preserve_energy(value: Any, what: str = "preserve energy") -> float:
    """Return ``value`` (a number or its text) as a float in (0, 1] or raise ValueError naming
    ``what``; the range is :class:`bandts.functional.Band`'s."""
    return _band_field("preserve_energy", value, what)


def _band_field(field: str, value: Any, what: str) -> float:
    number = _as_float(value, what)
    try:
        return getattr(Band(**{field: number}), field)
    except ValueError as error:
        raise ValueError(f"{what}: {error}") from None


def _as_float(value: Any, what: str) -> float:
    if isinstance(value, bool):
        raise ValueError(f"{what} must be a number, got {value!r}")
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{what} must be a number, got {value!r}") from None
    if not math.isfinite(number):
        raise ValueError(f"{what} must be finite, got {value!r}")
    return number


@dataclass(frozen=True)
class Configuration:
    """A named way to train: keyword arguments for :class:`bandts.BandLimitedFCN`.

    Args:
        name: unique label used in the results, rank tables and CD diagrams.
        params: estimator parameters, JSON-serialisable scalars (``random_state`` and the
            ``inference_*`` parameters are set by the grid and may not appear here).
    """

    name: str
    params: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self):
        if not isinstance(self.name, str) or not self.name.strip():
            raise ValueError(f"a configuration needs a non-empty name, got {self.name!r}")
        owned = sorted(set(self.params) & set(_GRID_OWNED_PARAMS))
        if owned:
            raise ValueError(f"configuration {self.name!r} sets {owned}; the grid sets these itself "
                             "(use seeds and inference settings instead)")
        try:
            json.dumps(dict(self.params), allow_nan=False)
        except (TypeError, ValueError) as error:
            raise ValueError(f"configuration {self.name!r} has parameters that are not plain JSON "
                             f"values: {error}") from None
        check_compress_rate(self.train_compress_rate, f"configuration {self.name!r} compress_rate")
        check_preserve_energy(self.train_preserve_energy,
                              f"configuration {self.name!r} preserve_energy")
        object.__setattr__(self, "params", dict(self.params))

    @property
    def conv(self) -> str:
        return str(self.params.get("conv", ESTIMATOR_DEFAULTS["conv"]))

    @property
    def train_compress_rate(self) -> float:
        return float(self.params.get("compress_rate", ESTIMATOR_DEFAULTS["compress_rate"]))

    @property
    def train_preserve_energy(self) -> float:
        return float(self.params.get("preserve_energy", ESTIMATOR_DEFAULTS["preserve_energy"]))

    @property
    def band_limited(self) -> bool:
        """False for ``conv="direct"`` baselines, whose band cannot be changed at inference."""
        return self.conv != "direct"

    def params_json(self) -> str:
        """The parameters as canonical JSON text (sorted keys): stored with every row."""
        return json.dumps(self.params, sort_keys=True)

    def accepts(self, inference: "InferenceSetting") -> bool:
        """Whether this configuration can be scored under ``inference``.

        A band-limited model accepts every setting; a ``conv="direct"`` model only settings that
        keep the full band (its convolutions have no band to limit).
        """
        if self.band_limited:
            return True
        return inference.compress_rate in (None, 0.0) and inference.preserve_energy in (None, 1.0)


@dataclass(frozen=True)
class InferenceSetting:
    """The band ``predict`` uses; ``None`` for a field means "as the model was trained"."""

    name: str
    compress_rate: float | None = None
    preserve_energy: float | None = None

    def __post_init__(self):
        if not isinstance(self.name, str) or not self.name.strip():
            raise ValueError(f"an inference setting needs a non-empty name, got {self.name!r}")
        if self.compress_rate is not None:
            object.__setattr__(self, "compress_rate", check_compress_rate(
                self.compress_rate, f"inference setting {self.name!r} compress rate"))
        if self.preserve_energy is not None:
            object.__setattr__(self, "preserve_energy", check_preserve_energy(
                self.preserve_energy, f"inference setting {self.name!r} preserve energy"))

    @classmethod
    def at_rate(cls, compress_rate: float) -> "InferenceSetting":
        """The setting that predicts with a static ``compress_rate`` (full energy), named "c=R"."""
        rate = check_compress_rate(compress_rate, "inference compress rate")
        return cls(f"c={format_rate(rate)}", compress_rate=rate, preserve_energy=1.0)

    def estimator_params(self) -> dict[str, float | None]:
        """The ``set_params`` keywords that switch a fitted estimator to this setting."""
        return {"inference_compress_rate": self.compress_rate,
                "inference_preserve_energy": self.preserve_energy}

    def effective(self, configuration: Configuration) -> tuple[float, float]:
        """(compress rate, preserve energy) actually used when ``configuration`` predicts."""
        rate = configuration.train_compress_rate if self.compress_rate is None else self.compress_rate
        energy = (configuration.train_preserve_energy if self.preserve_energy is None
                  else self.preserve_energy)
        return rate, energy


AS_TRAINED = InferenceSetting("as-trained")


@dataclass(frozen=True)
class FitTask:
    """One model to fit (dataset, configuration, seed) and the inference settings to score it under."""

    dataset: str
    configuration: Configuration
    seed: int
    inferences: tuple[InferenceSetting, ...]

    def keys(self) -> list[RowKey]:
        return [RowKey(self.dataset, self.configuration.name, inference.name, self.seed)
                for inference in self.inferences]

    def row_fields(self, inference: InferenceSetting) -> dict[str, Any]:
        """The columns of a results row that the grid alone determines (key and settings)."""
        rate, energy = inference.effective(self.configuration)
        return {
            "dataset": self.dataset,
            "config": self.configuration.name,
            "seed": self.seed,
            "conv": self.configuration.conv,
            "train_compress_rate": self.configuration.train_compress_rate,
            "train_preserve_energy": self.configuration.train_preserve_energy,
            "inference": inference.name,
            "inference_compress_rate": rate,
            "inference_preserve_energy": energy,
            "params": self.configuration.params_json(),
        }

    def describe(self) -> str:
        return f"{self.dataset}/{self.configuration.name}/seed {self.seed}"


def _unique(values: Iterable, what: str) -> tuple:
    values = tuple(values)
    if not values:
        raise ValueError(f"the grid needs at least one {what}")
    seen, repeated = set(), []
    for value in values:
        if value in seen:
            repeated.append(value)
        seen.add(value)
    if repeated:
        raise ValueError(f"{what} names must be unique; repeated: {sorted(set(map(str, repeated)))}")
    return values


@dataclass(frozen=True)
class EvaluationGrid:
    """Datasets x configurations x seeds x inference settings.

    Every configuration is scored under each inference setting it :meth:`Configuration.accepts`;
    a configuration that accepts none of them is an error (e.g. a ``conv="direct"`` baseline in a
    grid without a full-band inference setting).
    """

    datasets: Sequence[str]
    configurations: Sequence[Configuration]
    seeds: Sequence[int] = (0,)
    inferences: Sequence[InferenceSetting] = (AS_TRAINED,)

    def __post_init__(self):
        object.__setattr__(self, "datasets", _unique(self.datasets, "dataset"))
        configurations = tuple(self.configurations)
        _unique((c.name for c in configurations), "configuration")
        object.__setattr__(self, "configurations", configurations)
        seeds = _unique(self.seeds, "seed")
        for seed in seeds:
            if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
                raise ValueError(f"seeds must be non-negative integers, got {seed!r}")
        object.__setattr__(self, "seeds", seeds)
        inferences = tuple(self.inferences)
        _unique((i.name for i in inferences), "inference setting")
        object.__setattr__(self, "inferences", inferences)
        for configuration in configurations:
            if not self.inferences_for(configuration):
                raise ValueError(
                    f"configuration {configuration.name!r} (conv={configuration.conv!r}) accepts none "
                    f"of the inference settings {[i.name for i in inferences]}; a direct "
                    "convolution can only be scored at the full band (add inference rate 0)")

    def inferences_for(self, configuration: Configuration) -> tuple[InferenceSetting, ...]:
        return tuple(i for i in self.inferences if configuration.accepts(i))

    def tasks(self) -> list[FitTask]:
        """Every fit of the grid, ordered dataset-major (so early results cover whole datasets)."""
        return [FitTask(dataset, configuration, seed, self.inferences_for(configuration))
                for dataset in self.datasets for seed in self.seeds
                for configuration in self.configurations]

    def keys(self) -> list[RowKey]:
        return [key for task in self.tasks() for key in task.keys()]

    def pending(self, finished: Iterable[RowKey]) -> list[FitTask]:
        """The fits still needed, each reduced to the inference settings not yet in ``finished``."""
        done = set(finished)
        remaining = []
        for task in self.tasks():
            missing = tuple(i for i, key in zip(task.inferences, task.keys()) if key not in done)
            if missing:
                remaining.append(FitTask(task.dataset, task.configuration, task.seed, missing))
        return remaining


def compression_grid(datasets: Sequence[str], compress_rates: Sequence[float], *,
                     inference_rates: Sequence[float] | None = None, seeds: Sequence[int] = (0,),
                     direct_baseline: bool = False, **params: Any) -> EvaluationGrid:
    """The paper's grid: one FFT configuration per training compress rate, scored at each rate.

    Args:
        datasets: dataset names (as :func:`bandts.datasets.load_ucr` knows them).
        compress_rates: training compress rates in [0, 1); configurations are named "c=R".
        inference_rates: compress rates to score every model at (names "c=R"); ``None`` uses
            ``compress_rates``, which gives the full train-versus-inference matrix.
        seeds: random states; each seed is a separate fit.
        direct_baseline: add a configuration "direct" (``conv="direct"``), scored at rate 0.
        **params: further BandLimitedFCN parameters shared by every configuration
            (e.g. ``n_epochs=40``).
    """
    fixed = sorted(set(params) & {"conv", "compress_rate"})
    if fixed:
        raise ValueError(f"compression_grid sets {fixed} per configuration; do not pass them")
    rates = [check_compress_rate(r, "training compress rate") for r in compress_rates]
    configurations = [Configuration(f"c={format_rate(r)}", {**params, "conv": "fft", "compress_rate": r})
                      for r in rates]
    if direct_baseline:
        configurations.append(Configuration("direct", {**params, "conv": "direct"}))
    inference_rates = rates if inference_rates is None else inference_rates
    inferences = [InferenceSetting.at_rate(r) for r in inference_rates]
    return EvaluationGrid(datasets, configurations, seeds, inferences)
