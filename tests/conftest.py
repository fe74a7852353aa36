"""Shared test set-up."""

import pytest
import torch


def pytest_sessionfinish(session, exitstatus):
    # A run that collected no test must fail, not pass silently (pytest's exit code 5).
    if exitstatus == pytest.ExitCode.NO_TESTS_COLLECTED:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


@pytest.fixture(autouse=True)
def _seeded():
    torch.manual_seed(0)
    yield
