"""Each buggy Python variant is the correct service with one small change, and says so.

A vendor reads a variant as a diff against `CaseService`: these tests keep that
diff as small as each docstring claims when the correct service changes.
"""

from __future__ import annotations

import difflib
import importlib
import inspect
import sys
from collections.abc import Iterator

import pytest

from services.blackbox_support import PYTHON_DIR

# variant module -> (class, the one method it overrides, lines changed at most: a line
# replaced, removed, added or moved counts once)
VARIANTS = {
    "familia": ("FamiliaService", "handle", 1),
    "ack_before_store": ("AckBeforeStoreService", "on_delivery", 4),
    "keyed_on_melding_id": ("KeyedOnMeldingIdService", "idempotency_key", 1),
    "mottatt_before_commit": ("MottattBeforeCommitService", "handle", 1),
}


@pytest.fixture(scope="module", autouse=True)
def importable() -> Iterator[None]:
    sys.path.insert(0, str(PYTHON_DIR))
    try:
        yield
    finally:
        sys.path.remove(str(PYTHON_DIR))


def _code_lines(source: str) -> list[str]:
    """Lines of code without comments, docstrings' position aside: what a diff should show."""
    lines = []
    for line in inspect.cleandoc(source).splitlines():
        code = line.split("  #")[0].rstrip()
        if code.strip() and not code.strip().startswith('"""'):
            lines.append(code)
    return lines


@pytest.mark.parametrize("module", sorted(VARIANTS))
def test_a_variant_overrides_one_method_with_a_small_change(module: str) -> None:
    class_name, method, most = VARIANTS[module]
    base = importlib.import_module("case_service").CaseService
    variant = getattr(importlib.import_module(module), class_name)
    assert issubclass(variant, base)
    overridden = {k for k, v in vars(variant).items() if callable(v) and not k.startswith("__")}
    assert overridden == {method}
    diff = [
        line
        for line in difflib.unified_diff(
            _code_lines(inspect.getsource(getattr(base, method))),
            _code_lines(inspect.getsource(getattr(variant, method))),
            lineterm="",
            n=0,
        )
        if line[:1] in "+-" and not line.startswith(("+++", "---"))
    ]
    changed = max(sum(d.startswith("-") for d in diff), sum(d.startswith("+") for d in diff))
    assert 0 < changed <= most, "\n".join(diff)
    assert "# the bug" in inspect.getsource(getattr(variant, method))
