"""A write-behind buffer flushed by a timer, that confirms each report on arrival.

The twin of `write_behind_flush_first.py` with its one line changed: `mottatt`
and the ack go out as a message arrives, and the timer writes the batch up to
200 ms later. Until then the report exists only in memory: a crash before the
flush loses it for good, and the portal, told `mottatt`, sends no letter.
"""

from __future__ import annotations

from typing import ClassVar

from write_behind_flush_first import WriteBehindCaseSystem

from harness import CaseSystemEnv

EXPECTS = {"SOR-1", "SOR-2"}


class EarlyReceiptCaseSystem(WriteBehindCaseSystem):
    RECEIPT_ON_ARRIVAL: ClassVar[bool] = True


def make_case_system(env: CaseSystemEnv) -> EarlyReceiptCaseSystem:
    return EarlyReceiptCaseSystem(env)
