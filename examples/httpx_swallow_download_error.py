"""Swallows a failed download: the report is stored without its PDF, and confirmed.

`httpx_case_system.py` with one change: its download helper logs an HTTP error
and returns a placeholder document instead of raising ("the attachment is not
essential, the case worker can ask for it"). The report JSON is parsed before
storing, so a failed JSON download still ends in `feilet`; a failed PDF download
is stored as the placeholder and answered `mottatt`, and the portal switches off
its paper fallback for a report that lost its content (SOR-4). The same bug as
`http_swallow_download_error.py`, on httpx.
"""

from __future__ import annotations

import httpx
from httpx_case_system import HttpxCaseSystem

from harness import CaseSystemEnv

EXPECTS = {"SOR-4"}
PLACEHOLDER = b"%PDF-1.4\n% vedlegget kunne ikke hentes\n%%EOF\n"


class ForgivingCaseSystem(HttpxCaseSystem):
    def __init__(self, env: CaseSystemEnv) -> None:
        super().__init__(env)
        self.log: list[str] = []

    def _download(self, doc_id: str, name: str) -> bytes:
        try:
            r = self.client.get(f"{self.http.documents_url}/{doc_id}/{name}")
            r.raise_for_status()
        except httpx.HTTPError as exc:
            self.log.append(f"nedlasting av {name} feilet: {exc}")
            return PLACEHOLDER  # the bug: logged, and a stand-in stored as the document
        return self._verified(name, r)


def make_case_system(env: CaseSystemEnv) -> ForgivingCaseSystem:
    return ForgivingCaseSystem(env)
