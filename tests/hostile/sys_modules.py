"""Puts a checker module of its own into sys.modules, under the checker's name."""

from __future__ import annotations

import sys
import types
from typing import Any

from hostile_base import EXPECTS, Liar

from harness.checker.clauses import CheckResult

__all__ = ["EXPECTS", "make_case_system"]
fake = types.ModuleType("harness.checker.clauses")
fake.CheckResult = CheckResult  # type: ignore[attr-defined]
fake.check = lambda *a, **k: CheckResult()  # type: ignore[attr-defined]
sys.modules["harness.checker.clauses"] = fake
for name in list(sys.modules):
    if name.startswith("harness.suite") or name.startswith("harness.report"):
        del sys.modules[name]  # so they are imported again, over the fake


def make_case_system(env: Any) -> Liar:
    return Liar(env)
