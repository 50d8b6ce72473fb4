"""Shared fixtures."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

def _shared_data() -> Path:
    """../shared/data: from NEARBY_SHARED_DATA, else beside any parent of the checkout (a CI
    clone may live elsewhere), else the workplace's /work/shared/data."""
    if "NEARBY_SHARED_DATA" in os.environ:
        return Path(os.environ["NEARBY_SHARED_DATA"])
    candidates = [parent / "shared" / "data" for parent in Path(__file__).resolve().parents]
    candidates.append(Path("/work/shared/data"))
    return next((c for c in candidates if (c / "README.md").exists()), candidates[0])


SHARED_DATA = _shared_data()


@pytest.fixture
def shared_data() -> Path:
    """../shared/data, the real store lists used in place (they may not be copied here)."""
    if not (SHARED_DATA / "README.md").exists():
        pytest.fail(f"The shared data sets are not at {SHARED_DATA}; set NEARBY_SHARED_DATA.")
    return SHARED_DATA
