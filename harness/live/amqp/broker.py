"""The broker: a private RabbitMQ node started from Debian's package, or a given one.

A private node listens on 127.0.0.1 only (AMQP, management, the Erlang distribution
port and its own epmd), keeps its data in a temporary folder, and is stopped and
removed by `stop()`. Each run gets its own vhost and user on it (`BrokerRun`), so
runs never see each other's queues, and deleting the vhost removes everything.
A given broker (`--amqp-url`) is used as it is: each run declares uniquely named
queues in the URL's vhost and deletes them at the end.
"""

from __future__ import annotations

import contextlib
import glob
import os
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.parse
from dataclasses import dataclass
from pathlib import Path

import requests

from harness.errors import UsageError

RABBITMQ_SERVER = "/usr/lib/rabbitmq/bin/rabbitmq-server"
START_TIMEOUT = 120.0  # a loaded CI machine can take a minute
ADMIN = ("guest", "guest")  # the private node's own first user; it listens on loopback only


class BrokerError(UsageError):
    """The broker cannot be started or reached: the message says how to fix it."""


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass(frozen=True)
class Endpoint:
    """How the harness reaches a broker as its administrator."""

    amqp_url: str  # amqp://USER:PASS@HOST:PORT/VHOST
    management_url: str | None  # http://HOST:PORT/api, when the management API is there
    private: bool

    @property
    def credentials(self) -> tuple[str, str]:
        u = urllib.parse.urlsplit(self.amqp_url)
        return urllib.parse.unquote(u.username or "guest"), urllib.parse.unquote(
            u.password or "guest"
        )

    def url_for(self, vhost: str, user: str | None = None, password: str | None = None) -> str:
        u = urllib.parse.urlsplit(self.amqp_url)
        name, pw = (user, password) if user is not None else self.credentials
        netloc = (
            f"{urllib.parse.quote(name, safe='')}:{urllib.parse.quote(pw or '', safe='')}"
            f"@{u.hostname}:{u.port or 5672}"
        )
        return urllib.parse.urlunsplit(
            ("amqp", netloc, "/" + urllib.parse.quote(vhost, ""), "", "")
        )

    @property
    def vhost(self) -> str:
        path = urllib.parse.urlsplit(self.amqp_url).path
        return urllib.parse.unquote(path[1:]) if len(path) > 1 else "/"


class PrivateNode:
    """A RabbitMQ node of the harness's own, on free loopback ports."""

    def __init__(self) -> None:
        self.folder: Path | None = None
        self.process: subprocess.Popen[bytes] | None = None
        self.started_in: float | None = None  # seconds from spawn to a ready management API
        self._epmd_port = 0
        self.endpoint: Endpoint | None = None

    def start(self) -> Endpoint:
        if not os.path.exists(RABBITMQ_SERVER):
            raise BrokerError(
                f"RabbitMQ is not installed ({RABBITMQ_SERVER} is missing): "
                "`apt-get install rabbitmq-server` (Debian), or give a broker with --amqp-url"
            )
        began = time.monotonic()
        folder = self.folder = Path(tempfile.mkdtemp(prefix="harness-rabbitmq-"))
        amqp, mgmt, dist = free_port(), free_port(), free_port()
        self._epmd_port = free_port()
        (folder / "rabbitmq.conf").write_text(
            f"listeners.tcp.1 = 127.0.0.1:{amqp}\n"
            f"management.tcp.ip = 127.0.0.1\nmanagement.tcp.port = {mgmt}\n"
            "collect_statistics_interval = 500\n"
            "log.console = false\nlog.file.level = warning\n",
            encoding="utf-8",
        )
        (folder / "enabled_plugins").write_text("[rabbitmq_management].\n", encoding="utf-8")
        (folder / "rabbitmq-env.conf").write_text("", encoding="utf-8")
        env = self._env(dist)
        log = (folder / "node.log").open("wb")
        try:
            self.process = subprocess.Popen(
                [RABBITMQ_SERVER],
                env=env,
                cwd=folder,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        finally:
            log.close()
        self.endpoint = Endpoint(
            f"amqp://guest:guest@127.0.0.1:{amqp}/%2F", f"http://127.0.0.1:{mgmt}/api", True
        )
        try:
            self._wait_ready(began)
        except BaseException:
            self.stop()
            raise
        self.started_in = time.monotonic() - began
        return self.endpoint

    def _env(self, dist: int) -> dict[str, str]:
        assert self.folder is not None
        f = str(self.folder)
        env = {k: v for k, v in os.environ.items() if not k.startswith(("RABBITMQ_", "ERL_"))}
        env.update(
            HOME=f,  # the node's Erlang cookie goes here, not into the user's home
            RABBITMQ_CONF_ENV_FILE=f"{f}/rabbitmq-env.conf",  # not the system node's
            RABBITMQ_CONFIG_FILE=f"{f}/rabbitmq.conf",
            RABBITMQ_ENABLED_PLUGINS_FILE=f"{f}/enabled_plugins",
            RABBITMQ_MNESIA_BASE=f"{f}/mnesia",
            RABBITMQ_LOG_BASE=f"{f}/log",
            RABBITMQ_PLUGINS_EXPAND_DIR=f"{f}/plugins-expand",
            RABBITMQ_PID_FILE=f"{f}/node.pid",
            RABBITMQ_NODENAME=f"harness-{os.getpid()}-{secrets.token_hex(3)}@localhost",
            RABBITMQ_DIST_PORT=str(dist),
            ERL_EPMD_ADDRESS="127.0.0.1",
            ERL_EPMD_PORT=str(self._epmd_port),
            # Without this the distribution port listens on every interface.
            RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS="-kernel inet_dist_use_interface {127,0,0,1}",
        )
        return env

    def _wait_ready(self, began: float) -> None:
        assert self.endpoint is not None and self.endpoint.management_url is not None
        url = self.endpoint.management_url + "/overview"
        while time.monotonic() - began < START_TIMEOUT:
            if self.process is not None and self.process.poll() is not None:
                raise BrokerError(
                    f"the private RabbitMQ node exited at start ({self._log_tail()}); "
                    "check that rabbitmq-server runs here, or give a broker with --amqp-url"
                )
            with contextlib.suppress(requests.RequestException):
                if requests.get(url, auth=ADMIN, timeout=1).status_code == 200:
                    return
            time.sleep(0.1)
        raise BrokerError(
            f"the private RabbitMQ node was not ready within {START_TIMEOUT:.0f} s "
            f"({self._log_tail()}); give a broker with --amqp-url instead"
        )

    def _log_tail(self) -> str:
        if self.folder is None:
            return "no log"
        try:
            lines = (self.folder / "node.log").read_text(errors="replace").split("\n")
        except OSError:
            return "no log"
        text = " | ".join(ln.strip() for ln in lines if ln.strip())[-300:]
        return text or "no output"

    def stop(self) -> None:
        proc, self.process = self.process, None
        if proc is not None and proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(5)
        if self._epmd_port:
            _stop_epmd(self._epmd_port)
            self._epmd_port = 0
        if self.folder is not None:
            shutil.rmtree(self.folder, ignore_errors=True)
            self.folder = None


def _stop_epmd(port: int) -> None:
    """epmd daemonises itself, outside the node's process group: stop it by its port."""
    candidates = [shutil.which("epmd"), *sorted(glob.glob("/usr/lib/erlang/erts-*/bin/epmd"))]
    epmd = next((c for c in candidates if c), None)
    if epmd is None:
        return
    env = {**os.environ, "ERL_EPMD_PORT": str(port), "ERL_EPMD_ADDRESS": "127.0.0.1"}
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        subprocess.run(
            [epmd, "-kill"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            timeout=10,
            check=False,
        )


def given_broker(url: str, management_url: str | None = None) -> Endpoint:
    """An existing broker (a vendor's CI may have one): checked once, used as it is."""
    u = urllib.parse.urlsplit(url)
    if u.scheme != "amqp" or not u.hostname:
        raise BrokerError(f"--amqp-url {redact_url(url)!r} is not amqp://USER:PASS@HOST:PORT/VHOST")
    if u.hostname not in ("127.0.0.1", "localhost", "::1"):
        raise BrokerError(
            f"--amqp-url points at {u.hostname}: the harness talks to loopback brokers only"
        )
    return Endpoint(url, management_url, False)


def redact_url(url: str) -> str:
    u = urllib.parse.urlsplit(url)
    if u.password is None:
        return url
    netloc = f"{u.username}:***@{u.hostname}" + (f":{u.port}" if u.port else "")
    return urllib.parse.urlunsplit((u.scheme, netloc, u.path, u.query, u.fragment))
