"""HTTP clients as vendors use them: requests with urllib3's Retry, and httpx.

Each test lets an adapter make real client calls inside a run and checks what the
client got, what the server applied, and how much virtual time the retries took,
against what the library does against a real server.
"""

from __future__ import annotations

import hashlib
import json
import socket
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from harness import (
    DOKUMENTLAGER_ID,
    MOTTATT,
    REPORT_PDF,
    CaseSystemEnv,
    Fault,
    IncomingMessage,
    Plan,
    ReplyChannel,
    ReportSpec,
    simulate,
)
from harness.components.case_system import ReferenceCaseSystem
from harness.core.history import Event
from harness.sim.documents import DOKUMENTLAGER
from harness.sim.world import RunResult
from harness.target import load_target

httpx = pytest.importorskip("httpx")

REPO = Path(__file__).resolve().parent.parent
DELIVERED_AT = 50  # the first delivery of a report submitted at 0


@pytest.fixture(autouse=True)
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError(f"a network call left the process: {args!r}")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)


Act = Callable[[CaseSystemEnv, IncomingMessage], Any]


def run_calls(act: Act, *faults: Fault, by_reference: bool = False) -> tuple[RunResult, list[Any]]:
    """One report; on its first delivery `act` makes its calls (what it returns, or the
    exception it raised, is kept), then the reference case system handles it."""
    seen: list[Any] = []

    class Calling(ReferenceCaseSystem):
        def __init__(self, env: CaseSystemEnv) -> None:
            super().__init__(env)
            self.env = env

        def handle(self, message: IncomingMessage, channel: ReplyChannel) -> None:
            if not seen:
                try:
                    seen.append(act(self.env, message))
                except Exception as exc:
                    seen.append(exc)
            super().handle(message, channel)

    spec = ReportSpec(0, data=DOKUMENTLAGER if by_reference else None)
    return simulate(Plan(5, (spec,), faults), Calling), seen


def http(result: RunResult) -> list[Event]:
    return [e for e in result.history if e.component == "http"]


def kinds(result: RunResult) -> list[str]:
    """Each HTTP event in one word: the fault it met, its status, or how long it waited."""
    out = []
    for e in http(result):
        if e.kind == "backoff":
            out.append(f"wait {e.data['waited_ms']}")
        else:
            out.append(str(e.data.get("fault", e.data.get("status"))).removeprefix("http."))
    return out


def reply_parts(message: IncomingMessage) -> dict[str, Any]:
    meta = {"meldingType": MOTTATT, "svarPaMelding": message.melding_id}
    return {"metadata": (None, json.dumps(meta).encode(), "application/json")}


def receipts(result: RunResult) -> list[str]:
    return [str(e.data["meldingstype"]) for e in result.history if e.kind == "receipt"]


def download_url(env: CaseSystemEnv, message: IncomingMessage) -> str:
    return f"{env.http.documents_url}/{message.headers[DOKUMENTLAGER_ID]}/{REPORT_PDF}"


def session(retry: Retry) -> requests.Session:
    s = requests.Session()
    s.mount("http://", HTTPAdapter(max_retries=retry))
    return s


# -- requests with urllib3's Retry ------------------------------------------------------
def test_requests_retries_connection_errors_with_urllib3s_backoff() -> None:
    retry = Retry(total=3, backoff_factor=1)

    def post(env: CaseSystemEnv, message: IncomingMessage) -> Any:
        return session(retry).post(env.http.send_url, files=reply_parts(message), timeout=5)

    result, (answer,) = run_calls(post, Fault("http.send.connect_error", 0, 2))
    assert isinstance(answer, requests.Response) and answer.status_code == 200
    # urllib3 2: no wait before the first retry, then backoff_factor * 2 ** (n - 1)
    assert kinds(result) == [
        "send.connect_error",
        "wait 0",
        "send.connect_error",
        "wait 2000",
        "200",
    ]
    assert http(result)[-1].t == DELIVERED_AT + 2_000
    assert receipts(result)[0] == MOTTATT


def test_requests_retries_a_connect_timeout_after_waiting_it_out() -> None:
    def post(env: CaseSystemEnv, message: IncomingMessage) -> Any:
        s = session(Retry(connect=1, backoff_factor=0.5))
        return s.post(env.http.send_url, files=reply_parts(message), timeout=(2, 10))

    result, (answer,) = run_calls(post, Fault("http.send.timeout_before"))
    assert answer.status_code == 200
    assert kinds(result) == ["send.timeout_before", "wait 0", "200"]
    assert http(result)[-1].t == DELIVERED_AT + 2_000


def test_a_connection_lost_after_a_post_is_not_retried_unless_post_is_allowed() -> None:
    def post(env: CaseSystemEnv, message: IncomingMessage) -> Any:
        return session(Retry(total=3)).post(env.http.send_url, files=reply_parts(message))

    result, (error,) = run_calls(post, Fault("http.send.response_lost"))
    assert type(error) is requests.ConnectionError and "Connection aborted" in str(error)
    assert kinds(result) == ["send.response_lost"]  # tried once; the server applied it

    def post_anyway(env: CaseSystemEnv, message: IncomingMessage) -> Any:
        s = session(Retry(total=3, allowed_methods=None))  # None: every method is retried
        return s.post(env.http.send_url, files=reply_parts(message))

    result, (answer,) = run_calls(post_anyway, Fault("http.send.response_lost"))
    assert answer.status_code == 200 and kinds(result) == ["send.response_lost", "wait 0", "200"]
    assert receipts(result)[:2] == [MOTTATT, MOTTATT]  # applied twice: the portal hears both


def test_a_get_is_retried_after_a_read_timeout_and_gives_up_as_requests_does() -> None:
    def get(env: CaseSystemEnv, message: IncomingMessage) -> Any:
        return session(Retry(read=1)).get(download_url(env, message), timeout=(1, 3))

    result, (answer,) = run_calls(get, Fault("http.download.timeout_after"), by_reference=True)
    assert answer.status_code == 200 and kinds(result)[:3] == [
        "download.timeout_after",
        "wait 0",
        "200",
    ]
    assert http(result)[2].t == DELIVERED_AT + 3_000

    result, (error,) = run_calls(get, Fault("http.download.timeout_after", 0, 2), by_reference=True)
    # exhausted read retries: requests raises ConnectionError (MaxRetryError), not ReadTimeout
    assert type(error) is requests.ConnectionError and "Max retries exceeded" in str(error)
    assert kinds(result)[:3] == ["download.timeout_after", "wait 0", "download.timeout_after"]


def test_status_retries_follow_the_forcelist_and_retry_after() -> None:
    def get(env: CaseSystemEnv, message: IncomingMessage) -> Any:
        s = session(Retry(total=2, status_forcelist=(503,), backoff_factor=1))
        return s.get(download_url(env, message), timeout=5)

    result, (answer,) = run_calls(get, Fault("http.download.server_error"), by_reference=True)
    assert answer.status_code == 200 and kinds(result)[:3] == [
        "download.server_error",
        "wait 0",
        "200",
    ]
    result, (answer,) = run_calls(get, Fault("http.download.rate_limited"), by_reference=True)
    assert answer.status_code == 200  # 429 with Retry-After: 30, which urllib3 honours
    assert kinds(result)[:3] == ["download.rate_limited", "wait 30000", "200"]

    result, (error,) = run_calls(get, Fault("http.download.server_error", 0, 3), by_reference=True)
    assert isinstance(error, requests.exceptions.RetryError)

    def lenient(env: CaseSystemEnv, message: IncomingMessage) -> Any:
        s = session(Retry(total=1, status_forcelist=(503,), raise_on_status=False))
        return s.get(download_url(env, message), timeout=5)

    _, (answer,) = run_calls(lenient, Fault("http.download.server_error", 0, 3), by_reference=True)
    assert answer.status_code == 503  # the last answer, as urllib3 returns it


def test_requests_without_retries_fails_at_once_as_before() -> None:
    def post(env: CaseSystemEnv, message: IncomingMessage) -> Any:
        return requests.post(env.http.send_url, files=reply_parts(message), timeout=5)

    result, (error,) = run_calls(post, Fault("http.send.connect_error"))
    assert type(error) is requests.ConnectionError and "connection refused" in str(error)
    assert kinds(result) == ["send.connect_error"]


# -- httpx ------------------------------------------------------------------------------
def test_httpx_client_and_module_functions_are_served() -> None:
    def calls(env: CaseSystemEnv, message: IncomingMessage) -> Any:
        with httpx.Client() as client:
            got = client.get(download_url(env, message))
        sent = httpx.post(env.http.send_url, files=reply_parts(message))
        return got, sent, httpx.get(download_url(env, message))

    result, ((got, sent, again),) = run_calls(calls, by_reference=True)
    assert got.status_code == 200 and got.headers["Content-Type"] == "application/pdf"
    assert got.content.startswith(b"%PDF") and again.content == got.content
    assert sent.status_code == 200 and sent.json()["svarPaMelding"]
    assert kinds(result)[:3] == ["200", "200", "200"] and receipts(result)[0] == MOTTATT


def test_httpx_transport_retries_only_failed_connects_with_httpcores_backoff() -> None:
    def post(env: CaseSystemEnv, message: IncomingMessage, retries: int = 3) -> Any:
        with httpx.Client(transport=httpx.HTTPTransport(retries=retries)) as client:
            return client.post(env.http.send_url, files=reply_parts(message))

    result, (answer,) = run_calls(post, Fault("http.send.connect_error", 0, 2))
    assert answer.status_code == 200
    assert kinds(result) == [
        "send.connect_error",
        "wait 0",
        "send.connect_error",
        "wait 500",
        "200",
    ]
    result, (answer,) = run_calls(post, Fault("http.send.timeout_before", 0, 3))
    assert answer.status_code == 200  # the default 5 s connect timeout, three times
    assert http(result)[-1].t == DELIVERED_AT + 3 * 5_000 + 0 + 500 + 1_000

    result, (error,) = run_calls(
        lambda env, m: post(env, m, retries=1), Fault("http.send.connect_error", 0, 2)
    )
    assert type(error) is httpx.ConnectError and "connection refused" in str(error)
    result, (error,) = run_calls(post, Fault("http.send.response_lost"))
    assert type(error) is httpx.ReadError and kinds(result) == ["send.response_lost"]


def test_httpx_timeouts_are_its_own() -> None:
    def default(env: CaseSystemEnv, message: IncomingMessage) -> Any:
        return httpx.post(env.http.send_url, files=reply_parts(message))  # 5 s by default

    result, (error,) = run_calls(default, Fault("http.send.slow"))
    assert type(error) is httpx.ReadTimeout and http(result)[0].data["waited_ms"] == 5_000

    def patient(env: CaseSystemEnv, message: IncomingMessage) -> Any:
        return httpx.post(env.http.send_url, files=reply_parts(message), timeout=30)

    result, (answer,) = run_calls(patient, Fault("http.send.slow"))
    assert answer.status_code == 200 and http(result)[0].data["took_ms"] == 20_000


def test_httpx_gets_statuses_as_they_are_and_unserved_urls_by_name() -> None:
    def get(env: CaseSystemEnv, message: IncomingMessage) -> Any:
        with httpx.Client(transport=httpx.HTTPTransport(retries=3)) as client:
            return client.get(download_url(env, message))

    _, (answer,) = run_calls(get, Fault("http.download.rate_limited"), by_reference=True)
    assert answer.status_code == 429 and answer.headers["Retry-After"] == "30"

    def elsewhere(env: CaseSystemEnv, message: IncomingMessage) -> Any:
        return httpx.get("https://api.fiks.example/dokumentlager/x", params={"token": "hemmelig"})

    result, (error,) = run_calls(elsewhere)
    assert type(error) is httpx.ConnectError
    assert "https://api.fiks.example/dokumentlager/x is not served" in str(error)
    assert "env.http" in str(error) and b"hemmelig" not in result.history.to_bytes()


def test_httpx_async_client_is_refused_with_a_reason() -> None:
    import asyncio

    async def fetch(url: str) -> Any:
        async with httpx.AsyncClient() as client:
            return await client.get(url)

    def call(env: CaseSystemEnv, message: IncomingMessage) -> Any:
        return asyncio.run(fetch(env.http.send_url))

    _, (error,) = run_calls(call)
    assert type(error) is httpx.ConnectError and "AsyncClient is not served" in str(error)


def test_the_doors_are_closed_outside_a_run() -> None:
    before = (httpx.HTTPTransport.handle_request, HTTPAdapter.send)
    run_calls(lambda env, m: httpx.get(download_url(env, m)), by_reference=True)
    assert (httpx.HTTPTransport.handle_request, HTTPAdapter.send) == before


def test_without_httpx_installed_requests_is_served_and_runs_replay_alike() -> None:
    plan = Plan(
        2,
        (ReportSpec(0, data=DOKUMENTLAGER),),
        (Fault("http.send.response_lost"), Fault("http.download.truncated")),
    )
    target = f"{REPO / 'examples' / 'http_case_system.py'}:make_case_system"
    here = simulate(plan, load_target(target).factory).history.to_bytes()
    code = (
        "import hashlib, json, sys\n"
        "sys.modules['httpx'] = None  # as if it were not installed\n"
        "from harness import Plan, simulate\n"
        "from harness.target import load_target\n"
        "plan = Plan.from_json(json.loads(sys.argv[1]))\n"
        "run = simulate(plan, load_target(sys.argv[2]).factory)\n"
        "print(hashlib.sha256(run.history.to_bytes()).hexdigest())\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, json.dumps(plan.to_json()), target],
        capture_output=True,
        text=True,
        check=True,
    )
    assert out.stdout.strip() == hashlib.sha256(here).hexdigest()


# -- the examples on httpx fail as their requests twins do -------------------------------
@pytest.mark.parametrize(
    "name", ["case_system", "swallow_download_error", "truncated_download", "undo_on_reply_error"]
)
def test_each_httpx_example_expects_what_its_requests_twin_does(name: str) -> None:
    on_requests = load_target(f"{REPO / 'examples' / f'http_{name}.py'}:make_case_system")
    on_httpx = load_target(f"{REPO / 'examples' / f'httpx_{name}.py'}:make_case_system")
    assert on_httpx.expects == on_requests.expects
    source = (REPO / "examples" / f"httpx_{name}.py").read_text(encoding="utf-8")
    assert "import httpx" in source and "import requests" not in source
