"""The adapter's side of process isolation: a template process and the children it forks.

The harness starts this module as a fresh interpreter (`python -m
harness.sim.isolation.server FD`), never as a fork of itself, so nothing of the
harness's memory (a signing key, the history, the checker) is in it. The template
drops to the sandbox's user, limits its memory, imports the target once and then
forks one child per incarnation of the adapter (and one reader per run, for the
durability probe and the reconciliation). A child runs adapter calls as the harness
asks, one at a time, and calls back into the harness for everything the harness
decides: the reply channel, the storage hooks (so the fault plan strikes exactly as
in-process), HTTP, and the virtual clock (sent with every message). It never
decides anything itself; when the harness crashes it, it is killed, not told.

Everything here runs next to untrusted code, which may replace any of it: the
harness trusts nothing this side sends (see proxy.py).
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import resource
import signal
import socket
import sqlite3
import sys
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

from harness.sim.isolation.codec import FrameBuffer, Value, decode, encode

PR_SET_PDEATHSIG = 1
BATCH_BYTES = 16 * 1024 * 1024  # records in one answer, at most (at least one record)


def _die_with_parent() -> None:
    """Be killed when the process that started this one ends (Linux)."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


class Link:
    """One blocking socket to the harness: frames out, frames in."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.buf = FrameBuffer()
        self.clock: str | None = None  # the current instance's virtual clock, ISO 8601

    def send(self, value: Value) -> None:
        self.sock.sendall(encode(value))

    def recv(self) -> Any:
        while (body := self.buf.next()) is None:
            data = self.sock.recv(1 << 20)
            if not data:
                os._exit(0)  # the harness let go of this process
            self.buf.feed(data)
        return decode(body)

    def post(self, name: str, *args: Value) -> None:
        """A call back that needs no answer (an ack): the harness handles it before the
        next message from here, so the order of events is the same."""
        self.send(["post", name, list(args)])

    def call(self, name: str, *args: Value) -> Value:
        """A call back into the harness; it answers, raises into this code, or kills us."""
        self.send(["cb", name, list(args)])
        answer = self.recv()
        self.clock = answer[-1]
        if answer[0] == "ok":
            return answer[1]
        raise _rebuilt(answer[1], answer[2], answer[3])


class _Remote(Exception):
    """An HTTP error the harness decided; turned into the `requests` error where raised."""

    def __init__(self, name: str, text: str) -> None:
        super().__init__(text)
        self.name = name


def _rebuilt(kind: str, name: str, text: str) -> BaseException:
    if kind == "storage":
        from harness.sim import storage

        cls = getattr(storage, name, None)
        if isinstance(cls, type) and issubclass(cls, sqlite3.Error):
            return cls(text)
        return sqlite3.OperationalError(text)
    return _Remote(name, text)


class _Hooks:
    """The storage hooks of an incarnation: each asks the harness, which holds the plan."""

    def __init__(self, link: Link) -> None:
        self._link = link

    def before_write(self, sql: str) -> None:
        self._link.call("hook", "before_write", sql)

    def after_write(self) -> None:
        self._link.call("hook", "after_write")

    def before_commit(self) -> None:
        self._link.call("hook", "before_commit")

    def after_commit(self) -> None:
        self._link.call("hook", "after_commit")


class _Channel:
    """One delivery's channel; the token tells the harness which delivery it is."""

    def __init__(self, link: Link, token: int) -> None:
        self._link = link
        self._token = token

    def reply(self, meldingstype: str, body: bytes | None = None) -> None:
        self._link.call("reply", self._token, meldingstype, body)

    def ack(self) -> None:
        self._link.post("ack", self._token)

    def nack(self) -> None:
        self._link.post("nack", self._token)

    def nack_with_requeue(self) -> None:
        self._link.post("nack_with_requeue", self._token)


def _record(rec: object) -> Value:
    from harness.components.protocols import StoredRecord

    if not isinstance(rec, StoredRecord):
        return ["other", type(rec).__name__]
    files = rec.files
    if (
        isinstance(rec.report_id, str)
        and isinstance(files, dict | type(files))
        and all(isinstance(k, str) and isinstance(v, bytes) for k, v in dict(files).items())
    ):
        return ["record", rec.report_id, dict(files)]
    return ["malformed"]


class Child:
    """What a forked child does: build instances and run their calls, as asked."""

    def __init__(self, link: Link, factory: Callable[..., Any]) -> None:
        self.link = link
        self.factory = factory
        self.instances: dict[int, Any] = {}
        self.views: dict[int, Any] = {}  # a reader instance's storage
        self.iters: dict[int, Iterator[Any]] = {}
        self.bases: dict[str, Any] = {}  # one storage per database, for readers' views
        self.clocks: dict[str, datetime] = {}

    def clock(self) -> datetime:
        text = self.link.clock
        if text is None:
            from harness.components.protocols import EPOCH

            return EPOCH
        found = self.clocks.get(text)
        if found is None:
            if len(self.clocks) > 1024:
                self.clocks.clear()
            found = self.clocks[text] = datetime.fromisoformat(text)
        return found

    def serve(self) -> None:
        while True:
            request = self.link.recv()
            op, args, self.link.clock, drop = request
            for iid in drop:
                self._drop(iid)
            try:
                value = getattr(self, "op_" + op)(*args)
            except BaseException as exc:  # the adapter's: the harness makes it a crash
                self.link.send(["raised", type(exc).__name__, _text(exc)])
            else:
                self.link.send(["done", value])

    def _drop(self, iid: int) -> None:
        self.instances.pop(iid, None)
        self.iters.pop(iid, None)
        view = self.views.pop(iid, None)
        if view is not None:
            view.close_all()

    def op_build(
        self, iid: int, directory: str, options: dict[str, str], urls: list[str], writer: bool
    ) -> list[bool]:
        from harness.components.protocols import CaseSystemEnv, HttpEndpoints
        from harness.sim.storage import Storage

        if writer:
            storage = Storage(Path(directory))
            storage.hooks = _Hooks(self.link)
            env = CaseSystemEnv(storage, options, self.clock, HttpEndpoints(*urls))
        else:
            base = self.bases.get(directory)
            if base is None:
                self.bases.clear()  # a reader serves one run: one database
                base = self.bases[directory] = Storage(Path(directory))
            storage = self.views[iid] = base.view()
            env = CaseSystemEnv(storage, options, http=HttpEndpoints(*urls))
        instance = self.instances[iid] = self.factory(env)
        return [callable(getattr(instance, "find", None))]

    def op_handle(
        self,
        iid: int,
        token: int,
        melding_id: str,
        meldingstype: str,
        headers: dict[str, str],
        files: dict[str, bytes],
        redelivered: bool,
    ) -> None:
        from harness.components.protocols import IncomingMessage

        message = IncomingMessage(melding_id, meldingstype, headers, files, redelivered)
        self.instances[iid].handle(message, _Channel(self.link, token))

    def _built(self, iid: int, build: list[Any] | None) -> Any:
        """A reader instance is built with its first call (one round trip, not two)."""
        if build is not None and iid not in self.instances:
            self.op_build(iid, *build)
        return self.instances[iid]

    def op_find(self, iid: int, report_id: str, build: list[Any] | None = None) -> list[Value]:
        from harness.components.protocols import find_records

        return [_record(r) for r in find_records(self._built(iid, build), report_id)]

    def op_records_open(self, iid: int, build: list[Any] | None = None) -> None:
        self.iters[iid] = iter(self._built(iid, build).records())

    def op_records_next(self, iid: int, most: int) -> list[Value]:
        rows = self.iters[iid]
        out: list[Value] = []
        size = 0
        for rec in rows:
            row = _record(rec)
            out.append(row)
            if row[0] == "record":
                size += sum(len(v) for v in row[2].values())
            if len(out) >= most or size >= BATCH_BYTES:
                break
        return out


def _text(exc: BaseException) -> str:
    try:
        text = str(exc)
    except BaseException:
        text = "<the exception could not be printed>"
    if isinstance(exc, MemoryError):
        text = (text + " " if text else "") + "(the adapter's process reached its memory limit)"
    return text[:2000]


def _http_door(link: Link) -> contextlib.AbstractContextManager[Any]:
    """Every `requests` call of this process goes to the harness, which answers it."""
    import requests

    from harness.sim.http_world import serve_with

    def forward(prepared: requests.PreparedRequest) -> tuple[int, dict[str, str], bytes]:
        timeout = getattr(prepared, "req_kwargs", {}).get("timeout")
        if isinstance(timeout, tuple):
            timeout = list(timeout)
        if not (timeout is None or isinstance(timeout, int | float | list)):
            timeout = None
        body = prepared.body if isinstance(prepared.body, bytes) else None
        try:
            status, headers, data = link.call(
                "http",
                str(prepared.method or "GET"),
                str(prepared.url),
                {str(k): str(v) for k, v in prepared.headers.items()},
                body,
                [float(t) if t is not None else None for t in timeout]
                if isinstance(timeout, list)
                else (float(timeout) if timeout is not None else None),
            )
        except _Remote as exc:
            cls = getattr(requests.exceptions, exc.name, None)
            if exc.name == "UnservedRequest":
                from harness.sim.http_world import UnservedRequest

                cls = UnservedRequest
            if not (isinstance(cls, type) and issubclass(cls, requests.RequestException)):
                cls = requests.exceptions.ConnectionError
            raise cls(str(exc), request=prepared) from None
        return int(status), dict(headers), bytes(data)

    return serve_with(forward)


def _limit_memory(megabytes: int) -> None:
    if megabytes > 0:
        limit = megabytes * 1024 * 1024
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_AS, (limit, limit))


def _drop_privileges(uid: int) -> None:
    """Become the sandbox's user (the harness runs as root), keeping the way to the
    interpreter's own modules where that user could not reach them by name."""
    held: dict[str, int] = {}
    for entry in sys.path:
        if entry and os.path.isdir(entry):
            with contextlib.suppress(OSError):
                held[entry] = os.open(entry, os.O_PATH | os.O_DIRECTORY)
    os.setgroups([])
    os.setgid(uid)
    os.setuid(uid)
    moved: dict[str, str] = {}
    for i, entry in enumerate(list(sys.path)):
        if entry in held and not os.access(entry, os.R_OK | os.X_OK):
            sys.path[i] = moved[entry] = f"/proc/self/fd/{held.pop(entry)}"
    for fd in held.values():
        os.close(fd)
    for module in list(sys.modules.values()):  # packages imported already look there too
        path = getattr(module, "__path__", None)
        if isinstance(path, list):
            for i, item in enumerate(path):
                for old, new in moved.items():
                    if isinstance(item, str) and (item == old or item.startswith(old + os.sep)):
                        path[i] = new + item[len(old) :]
    sys.path_importer_cache.clear()


def _template(ctl: socket.socket) -> None:
    config = decode(ctl.recv(1 << 20)[4:])
    _die_with_parent()
    # The harness's own modules, imported before the adapter's code can run here.
    import harness.sim.http_world
    import harness.target  # noqa: F401

    if config["uid"] is not None:
        _drop_privileges(config["uid"])
        _die_with_parent()  # changing the user clears it
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NPROC, (256, 256))
    _limit_memory(config["memory_mb"])
    from harness.sim.storage import use_scratch_root

    use_scratch_root(config["scratch"])
    try:
        from harness.errors import TargetError
        from harness.target import load_target

        try:
            target = load_target(config["spec"], config["options"], config["guard"])
        except TargetError as exc:
            ctl.send(encode(["error", str(exc)]))
            os._exit(0)
        expects = target.expects
    except BaseException as exc:
        import traceback

        where = traceback.extract_tb(exc.__traceback__)[-1]
        ctl.send(
            encode(
                [
                    "error",
                    f"the target could not be loaded: {type(exc).__name__}: {exc} "
                    f"(at {Path(where.filename).name}:{where.lineno})",
                ]
            )
        )
        os._exit(0)
    ctl.send(encode(["ready", None if expects is None else sorted(expects)]))
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    while True:
        try:
            data, fds, _flags, _addr = socket.recv_fds(ctl, 1 << 16, 1)
        except OSError:
            os._exit(0)
        if not data or not fds:
            os._exit(0)  # the harness is gone, or asked nothing
        with contextlib.suppress(ChildProcessError):
            while os.waitpid(-1, os.WNOHANG)[0]:
                pass  # children the harness has killed
        pid = os.fork()
        if pid == 0:
            ctl.close()
            _child(socket.socket(fileno=fds[0]), target.factory)
        os.close(fds[0])
        pidfd = os.pidfd_open(pid)
        socket.send_fds(ctl, [encode(["forked", pid])], [pidfd])
        os.close(pidfd)


def _child(sock: socket.socket, factory: Callable[..., Any]) -> None:
    try:
        os.setsid()  # its own process group: what it starts goes with it
        _die_with_parent()
        link = Link(sock)
        with _http_door(link):
            Child(link, factory).serve()
    finally:
        os._exit(0)


def main() -> None:
    ctl = socket.socket(fileno=int(sys.argv[1]))
    try:
        _template(ctl)
    finally:
        os._exit(0)


if __name__ == "__main__":
    main()
