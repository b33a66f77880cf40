"""report.html: self-contained, escaped, and readable in a real browser (headless chromium)."""

from __future__ import annotations

import base64
import fcntl
import hashlib
import json
import os
import re
import select
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from harness.cli import main
from harness.contracts import load_contract
from harness.report.html_report import OUTCOMES

REPO = Path(__file__).resolve().parent.parent
FAMILIA = f"{REPO / 'examples' / 'familia_2023.py'}:make_case_system"
CLAUSE_IDS = [c.id for c in load_contract().clauses]
REQUIRE = "HARNESS_REQUIRE_CHROMIUM"  # set by CI, which installs chromium: never skip there
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--remote-debugging-pipe",
]


@pytest.fixture(scope="module")
def reports(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A passing and a failing report directory."""
    passing, failing = tmp_path_factory.mktemp("pass"), tmp_path_factory.mktemp("fail")
    assert main(["run", "--examples", "10", "--report", str(passing)]) == 0
    failing_run = ["run", "--target", FAMILIA, "--examples", "20", "--report", str(failing)]
    assert main(failing_run) == 1
    return {"pass": passing, "fail": failing}


def html(directory: Path) -> str:
    return (directory / "report.html").read_text(encoding="utf-8")


# -- without a browser ------------------------------------------------------------------
def test_the_html_fetches_nothing_and_escapes_everything(tmp_path: Path) -> None:
    hostile = '<script>alert("x")</script>'
    assert main(["run", "--examples", "5", "--report", str(tmp_path),
                 "--target-option", f"note={hostile}"]) == 0  # fmt: skip
    page = html(tmp_path)
    assert "<script" not in page.lower() and "&lt;script&gt;" in page
    assert "Content-Security-Policy" in page and "default-src 'none'" in page
    assert not re.search(r"\b(src|href|action)\s*=|url\(|@import", page, re.I)


def test_the_html_says_the_verdict_first_and_how_to_replay(reports: dict[str, Path]) -> None:
    page = html(reports["fail"])
    report = json.loads((reports["fail"] / "report.json").read_text(encoding="utf-8"))
    body = page[page.index("<body>") :]
    assert body.index('id="verdict"') < body.index('id="clauses"')
    assert ">FAIL<" in page
    for clause in CLAUSE_IDS:
        assert f'id="{clause}"' in page
    assert f"--seed {report['seed']}" in page
    assert "harness replay counterexample-" in page
    files = page[page.index('id="files"') :]
    for name in report["files"]:  # every file, the unshrunk examples' too, with its replay
        assert f"<code>{name}</code>" in files and f"harness replay {name}" in files


def test_the_html_names_the_adapter_by_its_sha256_and_commit(reports: dict[str, Path]) -> None:
    report = json.loads((reports["fail"] / "report.json").read_text(encoding="utf-8"))
    adapter = report["target"]["adapter"]
    digest = hashlib.sha256((REPO / "examples" / "familia_2023.py").read_bytes()).hexdigest()
    assert adapter["sha256"] == f"sha256:{digest}"
    assert adapter["file"] == "examples/familia_2023.py"  # relative to the repository
    facts = html(reports["fail"])
    facts = facts[facts.index('id="facts"') : facts.index('id="clauses"')]
    assert digest in facts
    if adapter["vcs"] is not None:  # a checkout: the commit is named
        assert adapter["vcs"]["commit"][:12] in facts


def test_http_rows_are_not_applicable_only_for_an_adapter_without_http(
    reports: dict[str, Path], tmp_path: Path
) -> None:
    plain = html(reports["pass"])
    plain = plain[plain.index('id="faults"') :]
    http_rows = re.findall(r"<tr><td><code>(http\.[a-z_.]+)</code></td>.*?</tr>", plain)
    assert http_rows and all(
        re.search(rf"<code>{re.escape(n)}</code></td><td>[^<]*</td><td colspan=\"2\" "
                  r'class="na">not applicable</td>', plain)
        for n in http_rows
    )  # fmt: skip
    spec = f"{REPO / 'examples' / 'http_case_system.py'}:make_case_system"
    assert main(["run", "--target", spec, "--examples", "4", "--report", str(tmp_path)]) == 0
    http = html(tmp_path)
    assert "not applicable" not in http[http.index('id="faults"') :]


def test_the_sequence_picture_says_each_step_in_plain_words(reports: dict[str, Path]) -> None:
    from harness.core.history import History
    from harness.report.sequence import FAULT, rows

    cx = reports["fail"] / "counterexample-delivery-SOR-1-SOR-2.json"
    raw = json.loads(cx.read_text(encoding="utf-8"))
    history = History.from_json(raw["history"])
    from harness.checker.clauses import check

    body, note = rows(history.events, check(history).violations)
    said = [(r.kind, r.text) for r in body]
    assert ("arrow", "sends report #0") in said
    assert ("arrow", "delivers report #0") in said
    unsafe = [r for r in body if r.text == "replies “received” (mottatt) while nothing is stored"]
    assert (
        unsafe
        and unsafe[0].colour == FAULT
        and (unsafe[0].src, unsafe[0].dst)
        == (
            "case_system",
            "transport",
        )
    )
    bands = [r.text for r in body if r.kind == "band"]
    assert any(b.startswith("SOR-2 broken: mottatt was sent") for b in bands)
    assert any(b.startswith("SOR-1 broken:") for b in bands)
    # The band follows the row it is about: SOR-2 right after the unsafe reply.
    assert body[body.index(unsafe[0]) + 1].text.startswith("SOR-2 broken")
    assert any(r.kind == "gap" for r in body)  # two quiet days are a gap, not two days of rows
    assert note is None


# -- in a real browser ------------------------------------------------------------------
def find_chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        path = shutil.which(name)
        if path:
            return path
    return None


@pytest.fixture
def chromium() -> str:
    path = find_chromium()
    if path is None:
        if os.environ.get(REQUIRE):
            pytest.fail(f"{REQUIRE} is set but no chromium binary is on PATH")
        pytest.skip(
            "no chromium binary on PATH, so report.html is not rendered in a real browser here "
            "(Debian: apt-get install chromium; CI installs it)"
        )
    return path


class DevTools:
    """Chromium driven over --remote-debugging-pipe (fd 3 in, fd 4 out), no extra package."""

    def __init__(self, binary: str, profile: Path) -> None:
        to_child_r, self._out = os.pipe()
        self._in, from_child_w = os.pipe()
        # Keep the child's ends away from 3 and 4 so the dup2 below cannot clobber them.
        high = [fcntl.fcntl(fd, fcntl.F_DUPFD, 100) for fd in (to_child_r, from_child_w)]
        for fd in (to_child_r, from_child_w):
            os.close(fd)

        def wire() -> None:
            os.dup2(high[0], 3)
            os.dup2(high[1], 4)

        self.proc = subprocess.Popen(
            [binary, *FLAGS, f"--user-data-dir={profile}", "about:blank"],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            pass_fds=(3, 4),
            preexec_fn=wire,
        )
        for fd in high:
            os.close(fd)
        self._next, self._buffer = 0, b""

    def _read(self, deadline: float) -> dict[str, Any]:
        while b"\0" not in self._buffer:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self._in], [], [], left)[0]:
                raise TimeoutError("chromium did not answer in time")
            chunk = os.read(self._in, 1 << 20)
            if not chunk:
                raise RuntimeError("chromium closed its debugging pipe")
            self._buffer += chunk
        raw, self._buffer = self._buffer.split(b"\0", 1)
        message: dict[str, Any] = json.loads(raw)
        return message

    def send(self, method: str, params: dict[str, Any] | None = None, session: str = "") -> int:
        self._next += 1
        message: dict[str, Any] = {"id": self._next, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        os.write(self._out, json.dumps(message).encode() + b"\0")
        return self._next

    def wait(self, *, id: int | None = None, event: str = "", timeout: float = 30) -> Any:
        deadline = time.monotonic() + timeout
        while True:
            message = self._read(deadline)
            if id is not None and message.get("id") == id:
                if "error" in message:
                    raise RuntimeError(f"chromium: {message['error']}")
                return message.get("result", {})
            if event and message.get("method") == event:
                return message.get("params", {})

    def call(self, method: str, params: dict[str, Any] | None = None, session: str = "") -> Any:
        return self.wait(id=self.send(method, params, session))

    def close(self) -> None:
        try:
            self.send("Browser.close")
            self.proc.wait(timeout=10)
        except (OSError, subprocess.TimeoutExpired):
            self.proc.kill()
            self.proc.wait()
        finally:
            os.close(self._in)
            os.close(self._out)


LOOK = """JSON.stringify({
  verdict: document.getElementById("verdict").innerText,
  summary: document.getElementById("summary").innerText,
  text: document.body.innerText,
  rows: [...document.querySelectorAll("#clauses tbody tr")].map(r => ({
    id: r.id, text: r.innerText, height: r.getBoundingClientRect().height})),
  pictures: [...document.querySelectorAll("svg.sequence")].map(p => ({
    width: p.getBoundingClientRect().width, height: p.getBoundingClientRect().height,
    texts: [...p.querySelectorAll("text")].map(t => t.textContent)})),
  bar: [...document.querySelectorAll("#outcomes .bar span")].map(s => ({
    title: s.title, width: s.getBoundingClientRect().width})),
  barWidth: (document.querySelector("#outcomes .bar") || {getBoundingClientRect: () => ({})})
    .getBoundingClientRect().width,
  tiles: [...document.querySelectorAll("#faults .tile")].map(t => ({
    cls: t.className, text: t.innerText, height: t.getBoundingClientRect().height})),
  fetched: performance.getEntriesByType("resource").length,
  overflow: document.documentElement.scrollWidth > window.innerWidth + 1,
  height: document.documentElement.scrollHeight,
})"""


def render(binary: str, page: Path, profile: Path) -> tuple[dict[str, Any], bytes]:
    """What a reader sees: visible text, clause rows, pictures as laid out, and a
    screenshot of the whole page at a laptop's width."""
    browser = DevTools(binary, profile)
    try:
        target = browser.call("Target.createTarget", {"url": "about:blank"})["targetId"]
        attach = {"targetId": target, "flatten": True}
        session = browser.call("Target.attachToTarget", attach)["sessionId"]
        browser.call("Page.enable", session=session)
        size = {"width": 1100, "height": 900, "deviceScaleFactor": 1, "mobile": False}
        browser.call("Emulation.setDeviceMetricsOverride", size, session)
        browser.send("Page.navigate", {"url": page.as_uri()}, session)
        browser.wait(event="Page.loadEventFired")
        look = {"expression": LOOK, "returnByValue": True}
        seen = json.loads(browser.call("Runtime.evaluate", look, session)["result"]["value"])
        clip = {"x": 0, "y": 0, "width": 1100, "height": min(seen["height"], 16_000), "scale": 1}
        shot = browser.call(
            "Page.captureScreenshot",
            {"format": "png", "captureBeyondViewport": True, "clip": clip},
            session,
        )
        return seen, base64.b64decode(shot["data"])
    finally:
        browser.close()


def keep_screenshot(png: bytes, name: str, tmp_path: Path, record: Any) -> Path:
    """Into HARNESS_SCREENSHOTS (CI keeps that folder), else the test's own folder; the
    path goes to the test's output and into the JUnit XML."""
    folder = Path(os.environ.get("HARNESS_SCREENSHOTS") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_bytes(png)
    record("screenshot", str(path))
    print(f"screenshot of report.html: {path}")
    return path


@pytest.mark.parametrize("verdict", ["fail", "pass"])
def test_the_html_renders_in_headless_chromium_with_every_clause_and_the_verdict(
    chromium: str,
    reports: dict[str, Path],
    tmp_path: Path,
    verdict: str,
    record_property: Any,
) -> None:
    seen, screenshot = render(chromium, reports[verdict] / "report.html", tmp_path / "profile")
    keep_screenshot(screenshot, f"report-{verdict}.png", tmp_path, record_property)
    assert seen["verdict"] == verdict.upper()
    assert seen["text"].lstrip().startswith("Conformance report")  # the verdict comes first
    assert [row["id"] for row in seen["rows"]] == CLAUSE_IDS
    for row in seen["rows"]:
        assert row["height"] > 0 and row["text"].startswith(row["id"]), row
    assert all(clause in seen["text"] for clause in CLAUSE_IDS)
    assert seen["fetched"] == 0  # nothing loaded from anywhere
    assert not seen["overflow"]  # nothing runs off the side of the page
    assert screenshot.startswith(b"\x89PNG") and len(screenshot) > 10_000
    if verdict == "fail":
        assert "harness replay counterexample-" in seen["text"]


def test_a_failing_report_shows_the_summary_and_a_sequence_picture_per_counterexample(
    chromium: str, reports: dict[str, Path], tmp_path: Path, record_property: Any
) -> None:
    report = json.loads((reports["fail"] / "report.json").read_text(encoding="utf-8"))
    seen, screenshot = render(chromium, reports["fail"] / "report.html", tmp_path / "profile")
    keep_screenshot(screenshot, "report-fail-pictures.png", tmp_path, record_property)
    lost, total = report["outcomes"]["LOST"], sum(report["outcomes"].values())
    assert seen["summary"].startswith(
        f"{lost} of {total} reports were lost: the case system said “received” and did not "
        "store them"
    ), seen["summary"]
    shown = {c["counterexample"]["file"] for c in report["clauses"] if c["counterexample"]}
    assert len(seen["pictures"]) == len(shown) >= 2
    for picture in seen["pictures"]:
        assert picture["width"] > 600 and picture["height"] > 250, picture  # laid out, visible
        assert {"Portal", "Transport", "Case system"} <= set(picture["texts"])
        broken = [t for t in picture["texts"] if re.match(r"✗ SOR-\d+ broken: ", t)]
        assert broken, picture["texts"]
        assert any("report #0" in t for t in picture["texts"])
    texts = [t for p in seen["pictures"] for t in p["texts"]]
    assert "replies “received” (mottatt) while nothing is stored" in texts
    for name in report["files"]:  # every file, the unshrunk ones too
        assert name in seen["text"], name


def test_a_passing_report_pictures_the_outcomes_and_the_fault_coverage(
    chromium: str, reports: dict[str, Path], tmp_path: Path, record_property: Any
) -> None:
    report = json.loads((reports["pass"] / "report.json").read_text(encoding="utf-8"))
    seen, screenshot = render(chromium, reports["pass"] / "report.html", tmp_path / "profile")
    keep_screenshot(screenshot, "report-pass-pictures.png", tmp_path, record_property)
    total = sum(report["outcomes"].values())
    assert seen["summary"].startswith(f"All {total:,} reports in "), seen["summary"]
    assert "ended safely" in seen["summary"]
    # One bar, a segment per outcome that happened, each as wide as its share.
    counts = {k: v for k, v in report["outcomes"].items() if v}
    assert [s["title"].split(":")[0] for s in seen["bar"]] == [k for k in OUTCOMES if k in counts]
    for segment in seen["bar"]:
        _name, n = segment["title"].split(": ")
        assert segment["width"] == pytest.approx(seen["barWidth"] * int(n) / total, abs=3)
    # A tile per injection point; the reference makes no HTTP call: one tile says so.
    core = [n for n in report["faults"] if not n.startswith("http.")]
    tiles = seen["tiles"]
    assert len(tiles) == len(core) + 1
    assert all(t["height"] > 20 for t in tiles)
    fired = [t for t in tiles if "t-fired" in t["cls"]]
    assert len(fired) == sum(1 for n in core if report["faults"][n]["fired"]) > 0
    (http_tile,) = [t for t in tiles if "t-na" in t["cls"]]
    assert "not applicable" in http_tile["text"]
