"""HTTP edges: adapters that reply over the send API and download payloads, faulted.

Everything is served in-process (harness/sim/http_doors.py); the network guard below makes any
attempt to open a socket fail the test, so nothing here can leave the machine.
"""

from __future__ import annotations

import base64
import hashlib
import json
import socket
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from helpers import first_counterexample, read_report, replay_timeline, run_cli, write_module
from hypothesis import find, given, settings

from harness import (
    DOKUMENTLAGER_ID,
    MOTTATT,
    REPORT_JSON,
    REPORT_PDF,
    CaseSystemEnv,
    Fault,
    IncomingMessage,
    Plan,
    ReplyChannel,
    ReportSpec,
    check,
    simulate,
)
from harness.components.case_system import ReferenceCaseSystem, make_case_system
from harness.core.history import Event
from harness.errors import TargetError
from harness.sim.documents import DOKUMENTLAGER
from harness.sim.http_world import UnservedRequest
from harness.sim.world import RunResult, uses_http
from harness.suite.run import SuiteConfig, run_suite
from harness.suite.search import search_family
from harness.suite.strategies import plans
from harness.target import load_target

REPO = Path(__file__).resolve().parent.parent
EXAMPLES = REPO / "examples"
HTTP_EXAMPLE = EXAMPLES / "http_case_system.py"
BUGGY = {
    name: EXAMPLES / f"{name}.py"
    for name in (
        "http_swallow_download_error",
        "http_truncated_download",
        "http_undo_on_reply_error",
    )
}


def spec(path: Path) -> str:
    return f"{path}:make_case_system"


@pytest.fixture(autouse=True)
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any socket connect or name lookup fails the test: the harness must need neither."""

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError(f"a network call left the process: {args!r}")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)


def http_example() -> Callable[[CaseSystemEnv], Any]:
    return load_target(spec(HTTP_EXAMPLE)).factory


def run(
    factory: Any, *faults: Fault, data: str | None = DOKUMENTLAGER, reports: int = 1
) -> RunResult:
    specs = tuple(ReportSpec(i * 1000, data=data) for i in range(reports))
    return simulate(Plan(3, specs, faults), factory)


def http_events(result: RunResult) -> list[Event]:
    return [e for e in result.history if e.component == "http"]


# -- an adapter that shows the test what `requests` gave it --------------------------
Seen = list[tuple[str, Any]]


def observing(act: Callable[[CaseSystemEnv, IncomingMessage, Seen], None], seen: Seen) -> Any:
    """The reference case system, which first lets `act` make HTTP calls and note what
    came back (a response, or the exception) in `seen`."""

    class Observing(ReferenceCaseSystem):
        def __init__(self, env: CaseSystemEnv) -> None:
            super().__init__(env)
            self.env = env

        def handle(self, message: IncomingMessage, channel: ReplyChannel) -> None:
            act(self.env, message, seen)
            super().handle(message, channel)

    return Observing


def call(seen: Seen, label: str, fn: Callable[[], requests.Response]) -> None:
    try:
        seen.append((label, fn()))
    except requests.RequestException as exc:
        seen.append((label, exc))


def reply_metadata(message: IncomingMessage, meldingstype: str = MOTTATT) -> dict[str, Any]:
    meta = {"meldingType": meldingstype, "svarPaMelding": message.melding_id}
    return {"metadata": (None, json.dumps(meta), "application/json")}


# -- the must-shows ------------------------------------------------------------------
def test_the_http_example_passes_from_the_command_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    result = run_cli(capsys, "run", "--target", spec(HTTP_EXAMPLE), "--report", str(tmp_path))
    assert result.code == 0, result.err
    report = read_report(tmp_path)
    assert report["verdict"] == "pass"
    fired = {name for name, f in report["faults"].items() if f["fired"]}
    assert len({p for p in fired if p.startswith("http.")}) >= 10, sorted(fired)


@pytest.mark.parametrize("name", sorted(BUGGY))
def test_a_buggy_http_example_exits_1_and_its_timeline_shows_the_http_fault(
    name: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = load_target(spec(BUGGY[name]))
    result = run_cli(capsys, "run", "--target", target.spec, "--report", str(tmp_path))
    assert result.code == 1
    failed = {c["id"] for c in read_report(tmp_path)["clauses"] if c["verdict"] == "fail"}
    assert failed == target.expects
    lines, path = first_counterexample(result.out_lines)
    faulted = [ln for ln in lines if " http " in ln and "fault=http." in ln]
    assert faulted, "\n".join(lines)
    for part in ("method=", "path=/", "server="):  # what, where, and whether it was applied
        assert part in faulted[-1], faulted[-1]
    assert any(p in faulted[-1] for p in ("error=", "status=5", "status=4", "body="))
    replayed = run_cli(capsys, "replay", str(path))
    assert faulted[-1] in replay_timeline(replayed.out_lines)


def test_the_swallowed_download_shrinks_to_one_report_and_one_failed_get(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = spec(BUGGY["http_swallow_download_error"])
    result = run_cli(capsys, "run", "--target", target, "--report", str(tmp_path))
    lines, _ = first_counterexample(result.out_lines)
    assert "shrunk to 1 report and 1 fault" in result.out, result.out
    (faulted,) = [ln for ln in lines if "fault=http." in ln]
    for part in (
        "http ",
        "error=ConnectionError",
        "fault=http.download.connect_error",
        "method=GET",
        "path=/dokumentlager/api/v1/dokumenter/",
        "bekymringsmelding.pdf",
        "server=not applied",
    ):
        assert part in faulted, faulted


@pytest.mark.parametrize(
    ("name", "family", "point", "server"),
    [
        ("http_truncated_download", "integrity", "http.download.truncated", "applied"),
        ("http_undo_on_reply_error", "delivery", "http.send.response_lost", "applied"),
    ],
)
def test_each_buggy_example_shrinks_to_its_http_fault(
    name: str, family: str, point: str, server: str
) -> None:
    factory = load_target(spec(BUGGY[name])).factory
    for seed in range(6):  # the family's own search finds it within a few seeds
        cx = search_family(family, factory, seed=seed, examples=100).counterexample
        if cx is not None:
            break
    assert cx is not None and cx.shrunk and len(cx.plan.reports) == 1
    assert [f.point for f in cx.plan.faults] == [point]
    event = next(e for e in cx.history if e.data.get("fault") == point)
    assert event.component == "http" and event.data["server"] == server


def test_runs_with_http_faults_are_deterministic_across_processes() -> None:
    faults = tuple(
        Fault(p, nth)
        for p, nth in (
            ("http.download.truncated", 0),
            ("http.send.response_lost", 0),
            ("http.download.slow", 1),
            ("http.send.timeout_after", 1),
            ("transport.reply.lost", 0),
        )
    )
    plan = Plan(11, tuple(ReportSpec(i * 1000, data=DOKUMENTLAGER) for i in range(3)), faults)
    first = simulate(plan, http_example()).history.to_bytes()
    assert simulate(plan, http_example()).history.to_bytes() == first
    assert b'"component":"http"' in first and b'"fault":"http.download.truncated"' in first
    code = (
        "import hashlib, json, sys\n"
        "from harness import Plan, simulate\n"
        "from harness.target import load_target\n"
        "plan = Plan.from_json(json.loads(sys.argv[1]))\n"
        "run = simulate(plan, load_target(sys.argv[2]).factory)\n"
        "print(hashlib.sha256(run.history.to_bytes()).hexdigest())\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, json.dumps(plan.to_json()), spec(HTTP_EXAMPLE)],
        capture_output=True,
        text=True,
        check=True,
    )
    assert out.stdout.strip() == hashlib.sha256(first).hexdigest()


def test_adapters_without_http_never_reach_the_http_points() -> None:
    for path in sorted(EXAMPLES.glob("*.py")):
        factory = load_target(spec(path)).factory
        assert uses_http(factory) == path.name.startswith(("http_", "httpx_")), path.name
    familia = load_target(spec(EXAMPLES / "familia_2023.py")).factory
    for factory in (make_case_system, familia):
        assert not uses_http(factory)
        for family in ("delivery", "rejection"):
            result = search_family(family, factory, seed=2, examples=25)
            assert not [p for p, n in result.reached.items() if p.startswith("http.") and n]
    assert uses_http(http_example())


@settings(max_examples=60, deadline=None)
@given(plans(invalid=True))
def test_plans_for_other_adapters_draw_no_http_fault_and_no_report_by_reference(
    plan: Plan,
) -> None:
    assert not [f for f in plan.faults if f.point.startswith("http.")]
    assert all(r.data != DOKUMENTLAGER for r in plan.reports)


def test_plans_for_http_adapters_draw_both() -> None:
    quick = settings(database=None, max_examples=200)
    found = find(
        plans(http=True),
        lambda p: any(f.point.startswith("http.") for f in p.faults),
        settings=quick,
    )
    assert found.faults and found.faults[0].point.startswith("http.")
    found = find(
        plans(http=True), lambda p: any(r.data == DOKUMENTLAGER for r in p.reports), settings=quick
    )
    assert [r.data for r in found.reports] == [DOKUMENTLAGER]


# -- one mechanism, two doors ----------------------------------------------------------
class _OverHttp:
    """A ReplyChannel that sends each reply through the send API, once, no retries."""

    def __init__(self, inner: ReplyChannel, message: IncomingMessage, url: str) -> None:
        self._inner, self._message, self._url = inner, message, url

    def reply(self, meldingstype: str, body: bytes | None = None) -> None:
        parts = reply_metadata(self._message, meldingstype)
        if body:
            parts["data"] = ("data", body, "application/json")
        requests.post(self._url, files=parts, timeout=10).raise_for_status()

    def ack(self) -> None:
        self._inner.ack()

    def nack(self) -> None:
        self._inner.nack()

    def nack_with_requeue(self) -> None:
        self._inner.nack_with_requeue()


class ReferenceOverHttp(ReferenceCaseSystem):
    def __init__(self, env: CaseSystemEnv) -> None:
        super().__init__(env)
        self._url = env.http.send_url

    def handle(self, message: IncomingMessage, channel: ReplyChannel) -> None:
        super().handle(message, _OverHttp(channel, message, self._url))


@pytest.mark.parametrize(
    "faults",
    [
        (),
        (Fault("case_system.crash.after_reply"), Fault("transport.reply.lost", 1)),
        (Fault("storage.commit.lost_ack"), Fault("transport.deliver.duplicate")),
        (Fault("transport.deliver.corrupt"), Fault("case_system.crash.after_commit", 1)),
    ],
)
def test_a_reply_over_http_is_the_same_reply_as_over_the_channel(faults: tuple[Fault, ...]) -> None:
    def without_http(result: RunResult) -> list[dict[str, Any]]:
        rows = [e.to_json() for e in result.history if e.component != "http"]
        for row in rows:
            row["data"].pop("via", None)
        return rows

    channel = run(make_case_system, *faults, data=None, reports=3)
    over_http = run(ReferenceOverHttp, *faults, data=None, reports=3)
    assert without_http(over_http) == without_http(channel)
    replies = [e for e in over_http.history if e.kind == "reply"]
    assert replies and all(e.data.get("via") == "http" for e in replies)
    assert len(http_events(over_http)) == len(replies)


def test_a_crash_after_a_reply_over_http_is_recorded_as_applied() -> None:
    result = run(ReferenceOverHttp, Fault("case_system.crash.after_reply"), data=None)
    kinds = [(e.component, e.kind) for e in result.history]
    crash = kinds.index(("case_system", "crash"))
    assert kinds[crash - 2 : crash] == [("case_system", "reply"), ("transport", "route_reply")]
    request = http_events(result)[0]
    assert request.data["server"] == "applied" and request.data["error"] == "the client crashed"
    assert check(result.history).failed == set()


# -- each fault does what it says ---------------------------------------------------
def request_of(result: RunResult, point: str) -> Event:
    return next(e for e in http_events(result) if e.data.get("fault") == point)


@pytest.mark.parametrize(
    ("point", "server", "error", "status"),
    [
        ("http.send.connect_error", "not applied", "ConnectionError", None),
        ("http.send.timeout_before", "not applied", "ConnectTimeout", None),
        ("http.send.server_error", "not applied", None, 503),
        ("http.send.rate_limited", "not applied", None, 429),
        ("http.send.response_lost", "applied", "ConnectionError", None),
        ("http.send.timeout_after", "applied", "ReadTimeout", None),
        ("http.send.slow", "applied", "ReadTimeout", None),  # the example waits 10 s, not 20
        ("http.download.connect_error", "not applied", "ConnectionError", None),
        ("http.download.response_lost", "applied", "ConnectionError", None),
        ("http.download.truncated", "applied", None, 200),
        ("http.download.corrupt", "applied", None, 200),
    ],
)
def test_every_http_fault_is_an_event_saying_what_went_wrong(
    point: str, server: str, error: str | None, status: int | None
) -> None:
    result = run(http_example(), Fault(point))
    event = request_of(result, point)
    assert event.data["method"] == ("POST" if ".send." in point else "GET")
    assert event.data["path"].startswith(("/fiks-io/api/v1/send", "/dokumentlager/api/v1/"))
    assert event.data["server"] == server
    assert event.data.get("error") == error and event.data.get("status") == status
    routed = [e for e in result.history if e.kind == "route_reply"]
    if ".send." in point:  # a reply the server applied was routed before the client heard
        first_route = result.history.events.index(routed[0])
        assert (first_route < result.history.events.index(event)) == (server == "applied")
    assert check(result.history).counts["STORED"] == 1


def test_a_reply_applied_twice_reaches_the_portal_twice_and_is_harmless() -> None:
    result = run(http_example(), Fault("http.send.response_lost"), data=None)
    receipts = [e.data["meldingstype"] for e in result.history if e.kind == "receipt"]
    assert receipts == [MOTTATT, MOTTATT]
    assert check(result.history).failed == set() and not check(result.history).warnings


def test_waiting_happens_in_virtual_time() -> None:
    result = run(http_example(), Fault("http.download.timeout_before"))
    event = request_of(result, "http.download.timeout_before")
    assert event.data["waited_ms"] == 5_000  # the example's connect timeout
    assert event.t == 50 + 5_000  # delivered at 50 ms, gave up 5 s later

    seen: Seen = []

    def patient(env: CaseSystemEnv, message: IncomingMessage, seen: Seen) -> None:
        parts = reply_metadata(message)
        call(seen, "slow", lambda: requests.post(env.http.send_url, files=parts, timeout=60))

    slow = run(observing(patient, seen), Fault("http.send.slow"), data=None)
    event = request_of(slow, "http.send.slow")
    assert event.data["took_ms"] == 20_000 and event.t == 50 + 20_000
    assert isinstance(seen[0][1], requests.Response) and seen[0][1].status_code == 200
    assert seen[0][1].json()["svarPaMelding"] == event_report_melding(slow)


def event_report_melding(result: RunResult) -> str:
    return str(next(e for e in result.history if e.kind == "deliver").data["melding_id"])


def test_what_the_client_gets_for_each_fault() -> None:
    seen: Seen = []

    def fetch(env: CaseSystemEnv, message: IncomingMessage, seen: Seen) -> None:
        doc = message.headers[DOKUMENTLAGER_ID]
        for name in (REPORT_JSON, REPORT_PDF):
            url = f"{env.http.documents_url}/{doc}/{name}"
            call(seen, name, lambda url=url: requests.get(url, timeout=(1, 2)))  # type: ignore[misc]

    faults = (
        Fault("http.download.rate_limited", 0),
        Fault("http.download.truncated", 0),  # the first request to reach it: the PDF
        Fault("http.download.corrupt", 0),  # the first to reach it: the second delivery's JSON
        Fault("transport.deliver.redeliver"),
    )
    result = run(observing(fetch, seen), *faults)
    assert [label for label, _ in seen] == [REPORT_JSON, REPORT_PDF] * 2
    limited, truncated, corrupt, whole = (r for _, r in seen)
    assert limited.status_code == 429 and limited.headers["Retry-After"] == "30"
    files = next(iter(result_documents(result)))
    assert (
        truncated.status_code == 200
        and truncated.content == files[REPORT_PDF][: len(files[REPORT_PDF]) // 2]
    )
    assert truncated.headers["Repr-Digest"] == digest_header(files[REPORT_PDF])
    assert len(corrupt.content) == len(files[REPORT_JSON]) and corrupt.content != files[REPORT_JSON]
    assert corrupt.headers["Repr-Digest"] == digest_header(files[REPORT_JSON])
    assert whole.content == files[REPORT_PDF] and whole.headers["Content-Type"] == "application/pdf"


def digest_header(data: bytes) -> str:
    return f"sha-256=:{base64.b64encode(hashlib.sha256(data).digest()).decode()}:"


def result_documents(result: RunResult) -> Iterator[dict[str, bytes]]:
    """The submitted files of the run's reports, rebuilt from the plan's workload."""
    from harness.core.workload import make_submission

    accepted = [e for e in result.history if e.kind == "accept"]
    for e in accepted:
        yield make_submission(e.data["submission"], ReportSpec(0, data=DOKUMENTLAGER), 3).files


# -- clear answers to wrong calls ------------------------------------------------------
def test_an_unserved_url_names_itself_and_the_endpoints_that_exist() -> None:
    seen: Seen = []

    def elsewhere(env: CaseSystemEnv, message: IncomingMessage, seen: Seen) -> None:
        url = "https://user:pw@api.fiks.example/fiks-io/api/v1/send?token=hemmelig"
        call(seen, "elsewhere", lambda: requests.post(url, data=b"x", timeout=5))

    result = run(observing(elsewhere, seen), data=None)
    exc = seen[0][1]
    assert isinstance(exc, UnservedRequest) and isinstance(exc, requests.ConnectionError)
    text = str(exc)
    assert "POST https://api.fiks.example/fiks-io/api/v1/send is not served" in text
    assert "http://fiks-io.sim/fiks-io/api/v1/send" in text and "dokumentlager.sim" in text
    assert "env.http" in text and "nothing was sent" in text
    (event,) = [e for e in result.history if e.kind == "unserved"]
    assert event.data == {"method": "POST", "url": "https://api.fiks.example/fiks-io/api/v1/send"}
    assert b"hemmelig" not in result.history.to_bytes() and b"pw@" not in result.history.to_bytes()
    assert check(result.history).failed == set()  # the reference replied by its channel


@pytest.mark.parametrize(
    ("how", "status", "says"),
    [
        ("not multipart", 400, "multipart/form-data"),
        ("no metadata", 400, "no 'metadata' part"),
        ("no svarPaMelding", 400, "svarPaMelding"),
        ("unknown svarPaMelding", 400, "is not the melding-id of a message"),
        ("GET", 405, "takes POST"),
        ("unknown document", 404, "no document"),
        ("unknown file", 404, "its files: bekymringsmelding.json, bekymringsmelding.pdf"),
    ],
)
def test_the_simulated_apis_say_what_is_wrong_with_a_request(
    how: str, status: int, says: str
) -> None:
    seen: Seen = []

    def wrong(env: CaseSystemEnv, message: IncomingMessage, seen: Seen) -> None:
        send, docs = env.http.send_url, env.http.documents_url
        doc = message.headers.get(DOKUMENTLAGER_ID, "")
        meta: dict[str, str] = {"meldingType": MOTTATT}
        if how == "unknown svarPaMelding":
            meta["svarPaMelding"] = "not-a-melding-id"
        requests_for: dict[str, Callable[[], requests.Response]] = {
            "not multipart": lambda: requests.post(send, json=meta, timeout=5),
            "no metadata": lambda: requests.post(send, files={"data": b"x"}, timeout=5),
            "no svarPaMelding": lambda: requests.post(
                send, files={"metadata": (None, json.dumps(meta))}, timeout=5
            ),
            "GET": lambda: requests.get(send, timeout=5),
            "unknown document": lambda: requests.get(f"{docs}/nope/{REPORT_JSON}", timeout=5),
            "unknown file": lambda: requests.get(f"{docs}/{doc}/vedlegg.docx", timeout=5),
        }
        requests_for["unknown svarPaMelding"] = requests_for["no svarPaMelding"]
        call(seen, how, requests_for[how])

    result = run(observing(wrong, seen))
    response = seen[0][1]
    assert isinstance(response, requests.Response), response
    assert response.status_code == status and says in response.json()["melding"]
    (event,) = http_events(result)
    assert event.data["status"] == status and event.data["server"] == "not applied"
    assert not [e for e in result.history if e.kind == "reply" and e.data.get("via")]


def test_the_instance_that_reads_records_gets_no_http() -> None:
    seen: list[str] = []

    class HealthChecked(ReferenceCaseSystem):
        def __init__(self, env: CaseSystemEnv) -> None:
            super().__init__(env)
            try:
                requests.get(env.http.send_url, timeout=5)
            except requests.ConnectionError as exc:
                seen.append(str(exc))

    result = run(HealthChecked, data=None)
    assert seen and "the instance the harness builds to read your records" in seen[0]
    assert [e.kind for e in http_events(result)][:2] == ["request", "refused"]
    assert check(result.history).failed == set()


def test_a_factory_that_calls_http_while_loaded_gets_a_clear_error(tmp_path: Path) -> None:
    path = write_module(
        tmp_path,
        "calls_home",
        """
        import requests
        from harness import ReferenceCaseSystem

        def make(env):
            requests.get(env.http.send_url, timeout=5)
            return ReferenceCaseSystem(env)
        """,
    )
    with pytest.raises(TargetError, match="trying out the factory; HTTP is served during a run"):
        load_target(f"{path}:make")


# -- payloads sent by reference -------------------------------------------------------
def test_a_report_sent_by_reference_carries_an_id_and_no_files() -> None:
    seen: list[IncomingMessage] = []

    class Looking(ReferenceCaseSystem):
        def handle(self, message: IncomingMessage, channel: ReplyChannel) -> None:
            seen.append(message)
            super().handle(message, channel)

    result = run(Looking)
    assert seen[0].files == {} and DOKUMENTLAGER_ID in seen[0].headers
    # An adapter that cannot download refuses it by protocol, it does not lose it.
    assert check(result.history).counts["FALLBACK"] == 1


def test_a_corrupt_fault_damages_the_stored_document_for_good() -> None:
    result = run(http_example(), Fault("transport.deliver.corrupt"))
    verdict = check(result.history)
    assert "SOR-6" in verdict.exercised and verdict.failed == set()
    assert verdict.counts["FALLBACK"] == 1  # a careful adapter verifies, parses, and says feilet
    downloads = [e for e in http_events(result) if e.data["method"] == "GET"]
    assert downloads and all(e.data["status"] == 200 and "fault" not in e.data for e in downloads)


def test_the_http_adapter_in_the_readme_passes_the_suite(tmp_path: Path) -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Adapters that use HTTP", 1)[1]
    code = section.split("```python", 1)[1].split("```", 1)[0]
    path = tmp_path / "my_http_adapter.py"
    path.write_text(code, encoding="utf-8")
    target = load_target(f"{path}:make_case_system")
    assert uses_http(target.factory)
    result = run_suite(SuiteConfig(target=f"{path}:make_case_system"))
    assert result.failed == []
    assert sum(n for p, n in result.total("fired").items() if p.startswith("http.")) > 20


def test_a_long_run_keeps_only_the_latest_channels(monkeypatch: pytest.MonkeyPatch) -> None:
    import harness.sim.case_slot as case_slot

    monkeypatch.setattr(case_slot, "CHANNELS_KEPT", 1)
    seen: Seen = []
    first: list[IncomingMessage] = []

    def late(env: CaseSystemEnv, message: IncomingMessage, seen: Seen) -> None:
        first.append(message)
        parts = reply_metadata(first[0])  # the second delivery answers the first message
        call(seen, "late", lambda: requests.post(env.http.send_url, files=parts, timeout=5))

    run(observing(late, seen), data=None, reports=2)
    first_answer, second_answer = (r for _, r in seen)
    assert first_answer.status_code == 200 and second_answer.status_code == 400
