"""Shared pieces of the fuzz tests: hypothesis profiles, byte mutations and a hang guard.

Two hypothesis profiles are registered (in conftest.py, through :func:`register_profiles`):

- ``ci`` (the default): a small number of examples per test, no example database, so the
  suite stays fast and writes nothing;
- ``fuzz``: thousands of examples per test, for a run on demand::

      python -m pytest tests/datasets/test_datasets_fuzz.py \\
          tests/classification/test_persistence_fuzz.py --hypothesis-profile=fuzz

``BANDTS_FUZZ_EXAMPLES=N`` sets the number of examples of either profile.
"""

from __future__ import annotations

import os
import signal
import threading
from contextlib import contextmanager

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

CI_EXAMPLES = 60
FUZZ_EXAMPLES = 3000
# Seconds one example may take before it counts as a hang.
HANG_SECONDS = 20


def register_profiles() -> None:
    override = os.environ.get("BANDTS_FUZZ_EXAMPLES")
    common = dict(deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                        HealthCheck.function_scoped_fixture])
    settings.register_profile("ci", max_examples=int(override or CI_EXAMPLES), database=None,
                              derandomize=True, **common)
    settings.register_profile("fuzz", max_examples=int(override or FUZZ_EXAMPLES), **common)
    settings.load_profile("ci")


class Hang(Exception):
    """An example ran longer than HANG_SECONDS."""


@contextmanager
def no_hang(seconds: float = HANG_SECONDS):
    """Raise Hang in the block if it runs longer than ``seconds`` (SIGALRM: main thread, POSIX;
    elsewhere the block runs unguarded)."""
    usable = hasattr(signal, "setitimer") and threading.current_thread() is threading.main_thread()
    if not usable:
        yield
        return

    def interrupt(signum, frame):
        raise Hang(f"an example ran longer than {seconds} s")

    previous = signal.signal(signal.SIGALRM, interrupt)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


# Fragments that matter to the readers: separators, line breaks, missing-value markers, numbers
# at and beyond float64's range, .ts tags, quotes, bytes that are not UTF-8 text.
TOKENS = [b"\t", b",", b" ", b"\n", b"\r\n", b"\r", b":", b"?", b"NaN", b"nan", b"inf", b"-",
          b"1e308", b"-1e308", b"1e309", b"1e-320", b"0", b"1.5", b"\"", b"#", b"@data",
          b"@classLabel true a b", b"@timeStamps true", b"(", b")", b"\x00", b"\xff", b"\xc3"]


@st.composite
def mutated(draw, data: bytes) -> bytes:
    """``data`` after 1 to 8 random edits: byte flips, insertions of TOKENS or random bytes,
    deletions of a span, duplication of a span, truncation."""
    data = bytearray(data)
    for _ in range(draw(st.integers(1, 8))):
        position = draw(st.integers(0, len(data)))
        edit = draw(st.sampled_from(["flip", "insert", "random", "delete", "repeat", "truncate"]))
        if edit == "flip" and position < len(data):
            data[position] ^= 1 << draw(st.integers(0, 7))
        elif edit == "insert":
            data[position:position] = draw(st.sampled_from(TOKENS))
        elif edit == "random":
            data[position:position] = draw(st.binary(min_size=1, max_size=8))
        elif edit == "delete":
            del data[position:position + draw(st.integers(1, 16))]
        elif edit == "repeat":
            data[position:position] = data[position:position + draw(st.integers(1, 64))]
        elif edit == "truncate":
            del data[position:]
    return bytes(data)
