"""The twin of `class_level_cache.py` with its one line fixed: a cache of capacity 0
writes each report through to the database before the reply."""

from __future__ import annotations

from typing import ClassVar

from class_level_cache import WriteBackCaseSystem

from harness import CaseSystemEnv

EXPECTS: set[str] = set()


class WriteThroughCaseSystem(WriteBackCaseSystem):
    CAPACITY: ClassVar[int] = 0


def make_case_system(env: CaseSystemEnv) -> WriteThroughCaseSystem:
    return WriteThroughCaseSystem(env)
