"""Shared fixtures.

``shared_benchmarks`` is the folder of classic benchmark instances in ``../shared/benchmarks``
beside the checkout. Tests that need it skip with a clear reason on a user's fresh clone, and fail
when ``CI=true`` (CI always has ``../shared``).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_BENCHMARKS = Path(
    os.environ.get("LNPLAN_SHARED_BENCHMARKS", REPO.parent / "shared" / "benchmarks")
)


@pytest.fixture(scope="session")
def shared_benchmarks() -> Path:
    if (SHARED_BENCHMARKS / "SOURCES.md").is_file():
        return SHARED_BENCHMARKS
    reason = (
        f"benchmark instances not found at {SHARED_BENCHMARKS} "
        "(they live in ../shared/benchmarks beside the checkout; set LNPLAN_SHARED_BENCHMARKS)"
    )
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(reason)
    pytest.skip(reason)
