"""report.html: self-contained, escaped, and readable in a real browser (headless chromium)."""

from __future__ import annotations

import base64
import fcntl
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
    for name in report["files"]:
        if any((c["counterexample"] or {}).get("file") == name for c in report["clauses"]):
            assert name in page


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
  text: document.body.innerText,
  rows: [...document.querySelectorAll("#clauses tbody tr")].map(r => ({
    id: r.id, text: r.innerText, height: r.getBoundingClientRect().height})),
  fetched: performance.getEntriesByType("resource").length,
  overflow: document.documentElement.scrollWidth > window.innerWidth + 1,
})"""


def render(binary: str, page: Path, profile: Path) -> tuple[dict[str, Any], bytes]:
    """What a reader sees: visible text, clause rows as laid out, and a screenshot."""
    browser = DevTools(binary, profile)
    try:
        target = browser.call("Target.createTarget", {"url": "about:blank"})["targetId"]
        attach = {"targetId": target, "flatten": True}
        session = browser.call("Target.attachToTarget", attach)["sessionId"]
        browser.call("Page.enable", session=session)
        browser.send("Page.navigate", {"url": page.as_uri()}, session)
        browser.wait(event="Page.loadEventFired")
        look = {"expression": LOOK, "returnByValue": True}
        seen = json.loads(browser.call("Runtime.evaluate", look, session)["result"]["value"])
        shot = browser.call("Page.captureScreenshot", {"format": "png"}, session)
        return seen, base64.b64decode(shot["data"])
    finally:
        browser.close()


@pytest.mark.parametrize("verdict", ["fail", "pass"])
def test_the_html_renders_in_headless_chromium_with_every_clause_and_the_verdict(
    chromium: str, reports: dict[str, Path], tmp_path: Path, verdict: str
) -> None:
    seen, screenshot = render(chromium, reports[verdict] / "report.html", tmp_path / "profile")
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
        assert re.search(r"\^\^\^\s+SOR-\d", seen["text"])  # a timeline, marked where it broke
