"""Raises SystemExit(0) as it is imported."""

raise SystemExit(0)
