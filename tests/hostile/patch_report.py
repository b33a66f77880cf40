"""Makes every suite result, and the report built from it, say PASS."""

from __future__ import annotations

from typing import Any

from hostile_base import EXPECTS, Liar

import harness.report.json_report as json_report
import harness.suite.run as run

__all__ = ["EXPECTS", "make_case_system"]
run.SuiteResult.failed = property(lambda self: [])  # type: ignore[assignment, method-assign]
run.SuiteResult.verdict = property(lambda self: "pass")  # type: ignore[assignment, method-assign]
_build = json_report.build_report


def _passing(*args: Any, **kwargs: Any) -> Any:
    report = _build(*args, **kwargs)
    report.data["verdict"] = "pass"
    return report


json_report.build_report = _passing


def make_case_system(env: Any) -> Liar:
    return Liar(env)
