"""Fixtures of the functional tests."""

import pytest


@pytest.fixture(params=["cpu", "accelerator"])
def plan(request):
    """Both execution plans, run on CPU tensors (bandts.functional.plans)."""
    return request.param
