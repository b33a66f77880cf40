"""Shared test helpers: where the repository and the shared reference data are."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared"


@pytest.fixture
def shared_examples() -> Path:
    """The real protocol's example messages, read in place from ../shared (never copied)."""
    path = SHARED / "fiks-protokoll" / "schema" / "examples"
    if not path.is_dir():
        pytest.skip(
            "../shared/fiks-protokoll/schema/examples is absent: the protocol's own "
            "example messages are not available on this machine"
        )
    return path
