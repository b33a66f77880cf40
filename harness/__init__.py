"""harness: proves that concern reports end stored exactly once, intact, or explicitly
rejected or handed to a fallback, and never acknowledged and silently lost.

The public API for adapter authors and for property tests of one's own.
"""

# The names below load on first use, not on import: pytest imports this package in
# every session of every project that has it installed (the plugin lives here), and
# that must stay cheap. Type checkers see the plain imports.
from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from harness.checker.clauses import CheckResult, Violation, check
    from harness.checker.outcomes import Outcome
    from harness.components.case_system import ReferenceCaseSystem, feilmelding
    from harness.components.protocols import (
        BEKYMRINGSMELDING_ID,
        DOKUMENTLAGER_ID,
        FEILET,
        KLIENTMELDING_ID,
        MELDING_ID,
        MOTTATT,
        REPORT_JSON,
        REPORT_PDF,
        SERVERFEIL,
        SVAR_TIL,
        TIDSAVBRUDD,
        CaseSystem,
        CaseSystemEnv,
        CaseSystemFactory,
        HttpEndpoints,
        IncomingMessage,
        ReplyChannel,
        StoredRecord,
        Timer,
    )
    from harness.core.faults import CATALOGUE, Fault
    from harness.core.plan import Plan, Window
    from harness.core.workload import ReportSpec
    from harness.sim.storage import Connection, Storage, StorageError, StorageTimeout
    from harness.sim.world import RunResult, simulate

__version__ = "0.1.0"

_HOME: dict[str, str] = {
    "BEKYMRINGSMELDING_ID": "harness.components.protocols",
    "CATALOGUE": "harness.core.faults",
    "CaseSystem": "harness.components.protocols",
    "CaseSystemEnv": "harness.components.protocols",
    "CaseSystemFactory": "harness.components.protocols",
    "CheckResult": "harness.checker.clauses",
    "Connection": "harness.sim.storage",
    "DOKUMENTLAGER_ID": "harness.components.protocols",
    "FEILET": "harness.components.protocols",
    "Fault": "harness.core.faults",
    "HttpEndpoints": "harness.components.protocols",
    "IncomingMessage": "harness.components.protocols",
    "KLIENTMELDING_ID": "harness.components.protocols",
    "MELDING_ID": "harness.components.protocols",
    "MOTTATT": "harness.components.protocols",
    "Outcome": "harness.checker.outcomes",
    "Plan": "harness.core.plan",
    "REPORT_JSON": "harness.components.protocols",
    "REPORT_PDF": "harness.components.protocols",
    "ReferenceCaseSystem": "harness.components.case_system",
    "ReplyChannel": "harness.components.protocols",
    "ReportSpec": "harness.core.workload",
    "RunResult": "harness.sim.world",
    "SERVERFEIL": "harness.components.protocols",
    "SVAR_TIL": "harness.components.protocols",
    "Storage": "harness.sim.storage",
    "StorageError": "harness.sim.storage",
    "StorageTimeout": "harness.sim.storage",
    "StoredRecord": "harness.components.protocols",
    "TIDSAVBRUDD": "harness.components.protocols",
    "Timer": "harness.components.protocols",
    "Violation": "harness.checker.clauses",
    "Window": "harness.core.plan",
    "check": "harness.checker.clauses",
    "feilmelding": "harness.components.case_system",
    "simulate": "harness.sim.world",
}

__all__ = [
    "BEKYMRINGSMELDING_ID",
    "CATALOGUE",
    "DOKUMENTLAGER_ID",
    "FEILET",
    "KLIENTMELDING_ID",
    "MELDING_ID",
    "MOTTATT",
    "REPORT_JSON",
    "REPORT_PDF",
    "SERVERFEIL",
    "SVAR_TIL",
    "TIDSAVBRUDD",
    "CaseSystem",
    "CaseSystemEnv",
    "CaseSystemFactory",
    "CheckResult",
    "Connection",
    "Fault",
    "HttpEndpoints",
    "IncomingMessage",
    "Outcome",
    "Plan",
    "ReferenceCaseSystem",
    "ReplyChannel",
    "ReportSpec",
    "RunResult",
    "Storage",
    "StorageError",
    "StorageTimeout",
    "StoredRecord",
    "Timer",
    "Violation",
    "Window",
    "__version__",
    "check",
    "feilmelding",
    "simulate",
]


def __getattr__(name: str) -> Any:
    home = _HOME.get(name)
    if home is None:
        raise AttributeError(f"module 'harness' has no attribute {name!r}")
    value = getattr(importlib.import_module(home), name)
    globals()[name] = value  # later look-ups skip this function
    return value
