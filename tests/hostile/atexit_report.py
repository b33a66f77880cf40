"""At exit, rewrites report.json in the harness's --report folder to PASS and re-signs it
with the key given to --sign-key; then ends its process with os._exit(0)."""

from __future__ import annotations

import atexit
import json
import os
from pathlib import Path
from typing import Any

from hostile_base import EXPECTS, Liar, harness_argument

from harness import MOTTATT

__all__ = ["EXPECTS", "make_case_system"]


def _forge() -> None:
    folder = harness_argument("--report")
    if folder is None:
        return
    path = Path(folder) / "report.json"
    try:
        report = json.loads(path.read_text()) if path.exists() else {"format": "harness-report/1"}
        report["verdict"] = "pass"
        key = harness_argument("--sign-key")
        if key:
            from harness.report.json_report import report_digest
            from harness.report.signing import load_private_key, sign

            report["digest"] = report_digest(report)
            report["signature"] = sign(report["digest"], load_private_key(Path(key)))
        path.write_text(json.dumps(report))
    except Exception:
        pass


atexit.register(_forge)


class Forger(Liar):
    def handle(self, message: Any, channel: Any) -> None:
        channel.reply(MOTTATT)
        _forge()
        os._exit(0)


def make_case_system(env: Any) -> Forger:
    return Forger(env)
