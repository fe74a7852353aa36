"""UCR dataset names: the 2015 archive's spellings and their UCR 2018 equivalents.

The 2018 archive (Dau et al.) renamed some of the 85 datasets of the 2015 archive (Chen et al.):
"50words" became "FiftyWords", "Gun_Point" "GunPoint", and so on. Results published under either
naming can be matched through :func:`ucr2018_name`.

Examples
--------
>>> from bandts.datasets.names import ucr2018_name
>>> ucr2018_name("50words"), ucr2018_name("Gun_Point"), ucr2018_name("Coffee")
('FiftyWords', 'GunPoint', 'Coffee')
"""

# Every 2015 name that differs in the 2018 archive; names not listed are the same in both.
UCR2015_TO_2018 = {
    "50words": "FiftyWords",
    "CinC_ECG_torso": "CinCECGTorso",
    "Cricket_X": "CricketX",
    "Cricket_Y": "CricketY",
    "Cricket_Z": "CricketZ",
    "FISH": "Fish",
    "Gun_Point": "GunPoint",
    "Lighting2": "Lightning2",
    "Lighting7": "Lightning7",
    "MALLAT": "Mallat",
    "NonInvasiveFatalECG_Thorax1": "NonInvasiveFetalECGThorax1",
    "NonInvasiveFatalECG_Thorax2": "NonInvasiveFetalECGThorax2",
    "SonyAIBORobotSurface": "SonyAIBORobotSurface1",
    "SonyAIBORobotSurfaceII": "SonyAIBORobotSurface2",
    "synthetic_control": "SyntheticControl",
    "Two_Patterns": "TwoPatterns",
    "uWaveGestureLibrary_All": "UWaveGestureLibraryAll",
    "uWaveGestureLibrary_X": "UWaveGestureLibraryX",
    "uWaveGestureLibrary_Y": "UWaveGestureLibraryY",
    "uWaveGestureLibrary_Z": "UWaveGestureLibraryZ",
    "wafer": "Wafer",
    "WordsSynonyms": "WordSynonyms",
    "yoga": "Yoga",
}


def ucr2018_name(name: str) -> str:
    """The UCR 2018 name of ``name``: its 2018 spelling for a renamed 2015 dataset, else itself."""
    return UCR2015_TO_2018.get(name, name)
