"""Fixtures over the shared test data (see samples.py)."""

from __future__ import annotations

from typing import Any

import pytest

from samples import Case, cloudtrail_records, load_corpus


@pytest.fixture(scope="session")
def corpus() -> list[Case]:
    return load_corpus()


@pytest.fixture(scope="session")
def records() -> list[tuple[str, dict[str, Any]]]:
    return cloudtrail_records()
