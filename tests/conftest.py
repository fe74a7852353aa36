"""Shared test set-up."""

import sys
from pathlib import Path

import pytest
import torch

# Test helpers (reference implementations, fake fits, the CUDA emulator) live in tests/ and are
# imported by tests in its subfolders.
sys.path.insert(0, str(Path(__file__).parent))

from fuzzing import register_profiles  # noqa: E402  (needs the path above)

register_profiles()  # hypothesis profiles "ci" (default) and "fuzz" (--hypothesis-profile=fuzz)


def pytest_sessionfinish(session, exitstatus):
    # A run that collected no test must fail, not pass silently (pytest's exit code 5).
    if exitstatus == pytest.ExitCode.NO_TESTS_COLLECTED:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


@pytest.fixture(autouse=True)
def _seeded_single_thread():
    # One torch thread: small test problems run faster without threading overhead, and worker
    # processes started by tests do not compete with the test process for the two CI cores.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    torch.manual_seed(0)
    yield
    torch.set_num_threads(threads)
