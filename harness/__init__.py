"""harness: proves that concern reports end stored exactly once, intact, or explicitly
rejected or handed to a fallback, and never acknowledged and silently lost.

The public API for adapter authors and for property tests of one's own.
"""

from harness.checker.clauses import CheckResult, Violation, check
from harness.checker.outcomes import Outcome
from harness.components.case_system import ReferenceCaseSystem, feilmelding
from harness.components.protocols import (
    BEKYMRINGSMELDING_ID,
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
    IncomingMessage,
    ReplyChannel,
    StoredRecord,
)
from harness.engine.faults import CATALOGUE, Fault
from harness.engine.plan import Plan, Window
from harness.engine.storage import Connection, Storage, StorageError, StorageTimeout
from harness.engine.workload import ReportSpec
from harness.engine.world import RunResult, simulate

__version__ = "0.1.0"

__all__ = [
    "BEKYMRINGSMELDING_ID",
    "CATALOGUE",
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
    "Violation",
    "Window",
    "__version__",
    "check",
    "feilmelding",
    "simulate",
]
