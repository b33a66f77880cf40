"""Stores a download that was cut short as if it were whole.

`httpx_case_system.py` with one change: it checks the status code of each
download, never the body against the document's `Repr-Digest`. A body cut off
or damaged in transit still arrives as 200, so the PDF is stored broken and
confirmed with `mottatt` (SOR-4). The same bug as `http_truncated_download.py`,
on httpx.
"""

from __future__ import annotations

import httpx
from httpx_case_system import HttpFailed, HttpxCaseSystem

from harness import CaseSystemEnv

EXPECTS = {"SOR-4"}


class TrustingCaseSystem(HttpxCaseSystem):
    def _download(self, doc_id: str, name: str) -> bytes:
        try:
            r = self.client.get(f"{self.http.documents_url}/{doc_id}/{name}")
        except httpx.HTTPError as exc:
            raise HttpFailed(str(exc)) from exc
        if r.status_code != 200:
            raise HttpFailed(f"download of {name}: HTTP {r.status_code}")
        return r.content  # the bug: 200 OK is taken to mean the whole file arrived


def make_case_system(env: CaseSystemEnv) -> TrustingCaseSystem:
    return TrustingCaseSystem(env)
