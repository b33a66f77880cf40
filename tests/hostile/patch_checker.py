"""Replaces the checker with one that finds no violation, everywhere it is imported."""

from __future__ import annotations

import sys
from typing import Any

from hostile_base import EXPECTS, Liar

import harness.checker.clauses as clauses

__all__ = ["EXPECTS", "make_case_system"]
_original = clauses.check


def _lenient(*args: Any, **kwargs: Any) -> Any:
    result = _original(*args, **kwargs)
    result.violations.clear()
    return result


for module in list(sys.modules.values()):
    if getattr(module, "check", None) is _original:
        module.check = _lenient  # type: ignore[attr-defined]


def make_case_system(env: Any) -> Liar:
    return Liar(env)
