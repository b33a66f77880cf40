"""Hypothesis strategies for property tests of one's own (public)."""

from harness.suite.strategies import FAULT_POINTS, plans, report_specs

__all__ = ["FAULT_POINTS", "plans", "report_specs"]
