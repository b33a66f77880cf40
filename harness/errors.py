"""The harness's own error taxonomy. Each message says what is wrong and how to fix it."""

from __future__ import annotations


class HarnessError(Exception):
    """Base of every error the harness raises on purpose."""


class UsageError(HarnessError):
    """Bad input from the user (a flag, a file): the CLI exits 2 with this one line."""


class TargetError(UsageError):
    """The `--target` SPEC cannot be turned into a case-system factory."""


class ReplayError(UsageError):
    """A counterexample file cannot be read or replayed."""
