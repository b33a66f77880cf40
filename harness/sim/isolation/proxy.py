"""The harness's side of process isolation: the fork server, its children, and the proxy
adapter that stands in the case-system slot for the code that runs in them.

`IsolatedFactory` is a `CaseSystemFactory`: each incarnation the slot builds is a
fresh child forked from a template that imported the target once; each fresh
instance the slot builds to read records (durability probe, reconciliation) lives
in a reader child of the run's own. Calls cross a socket one at a time; while a
child runs `handle`, every reply, ack, storage hook and HTTP request comes back here
and is decided by the slot's own objects, exactly as in-process, so the same plan
gives the same history. A crash the plan injects is a SIGKILL of the child at that
point; what it had not committed is gone with it.

Nothing a child sends is trusted: frames are decoded with a codec that cannot run
code, every value is type-checked, and a child that breaks the protocol, dies,
hangs past the guard or floods its output is killed and its call is a crash.
"""

from __future__ import annotations

import contextlib
import os
import select
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import weakref
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any, NoReturn, cast

from harness.components.protocols import (
    CaseSystem,
    CaseSystemEnv,
    IncomingMessage,
    ReplyChannel,
    StoredRecord,
)
from harness.errors import TargetError
from harness.sim.guard import AdapterHung
from harness.sim.isolation import sandbox
from harness.sim.isolation.codec import CodecError, FrameBuffer, Value, decode, encode
from harness.sim.storage import StorageHooks, scratch_folder
from harness.sim.storage_faults import StorageFaults

MEMORY_LIMIT_MB = 2048  # RLIMIT_AS of the adapter's processes
OUTPUT_LIMIT = 1024 * 1024  # bytes of stdout/stderr one call may write before it is killed
SHOWN_OUTPUT = 64 * 1024  # bytes of the adapter's output passed on to the harness's stderr
START_SECONDS = 120.0  # for the template to import the target
FORK_SECONDS = 10.0
REAP_SECONDS = 5.0
RECORDS_BATCH = 1000
CHANNELS_KEPT = 4096
PASSPHRASE_ENV = "HARNESS_SIGN_KEY_PASSPHRASE"  # the signing key's: never the adapter's
_HOOKS = ("before_write", "after_write", "before_commit", "after_commit")
_SETTLE = ("ack", "nack", "nack_with_requeue")


class AdapterProcessDied(Exception):
    """The adapter's process ended during a call (os._exit, a signal, a fatal error)."""


class AdapterOutputFlood(Exception):
    """The adapter's process wrote more output in one call than the harness takes."""


class AdapterProtocolError(Exception):
    """The adapter's process sent something that is not the harness's protocol."""


_REMOTE_TYPES: dict[str, type[Exception]] = {}


def _remote_exception(name: object, text: object) -> Exception:
    """An exception the adapter raised over there, with its type's name and message, so
    the history reads as it does in-process; it is never one of the harness's own types."""
    if not isinstance(name, str) or not name.isidentifier() or len(name) > 100:
        name = "AdapterError"
    cls = _REMOTE_TYPES.get(name)
    if cls is None:
        cls = _REMOTE_TYPES[name] = type(name, (Exception,), {"__module__": "adapter"})
    return cls(text if isinstance(text, str) else "")


def _broke(what: str) -> AdapterProtocolError:
    return AdapterProtocolError(f"the adapter's process broke the harness's protocol: {what}")


# -- deadlines: a call nested in another (a probe inside handle) shares its deadline ------
# Wall time by time.perf_counter: during a run time.monotonic follows the virtual clock.
_deadlines: list[float] = []


@contextlib.contextmanager
def _deadline(seconds: float) -> Iterator[float]:
    at = time.perf_counter() + seconds
    if _deadlines:
        at = min(at, _deadlines[-1])
    _deadlines.append(at)
    try:
        yield at
    finally:
        _deadlines.pop()


class _Output:
    """stdout and stderr of the template and every child: read whenever the harness waits,
    counted per call, and passed on to the harness's stderr up to SHOWN_OUTPUT bytes."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        os.set_blocking(fd, False)
        self.in_call = 0
        self.shown = 0
        self.tail = b""  # the last bytes, for an error that quotes them

    def drain(self) -> None:
        while self.fd >= 0:
            try:
                data = os.read(self.fd, 1 << 16)
            except BlockingIOError:
                return
            except OSError:
                return
            if not data:
                return
            self.in_call += len(data)
            self.tail = (self.tail + data)[-2000:]
            self._show(data)

    def _show(self, data: bytes) -> None:
        if self.shown >= SHOWN_OUTPUT:
            return
        room = SHOWN_OUTPUT - self.shown
        self.shown += len(data)
        text = data[:room].decode("utf-8", "replace")
        lines = "".join(f"adapter| {line}\n" for line in text.splitlines())
        if self.shown >= SHOWN_OUTPUT:
            lines += f"harness: the adapter's further output is not shown (over {SHOWN_OUTPUT} B)\n"
        with contextlib.suppress(Exception):
            sys.stderr.write(lines)
            sys.stderr.flush()


def _exit_status(pid: int) -> str:
    """How a finished child ended, read from its zombie's /proc entry while it has one."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        code = int(fields[-1])  # exit_code: the raw wait status
    except (OSError, ValueError, IndexError):
        return "ended"
    if code & 0x7F:
        sig = code & 0x7F
        name = signal.Signals(sig).name if sig in signal.Signals._value2member_map_ else str(sig)
        return f"was killed by signal {sig} ({name})"
    return f"ended with exit status {code >> 8}"


@dataclass
class _Context:
    """What the harness decides for one instance: its storage hooks, channels and clock."""

    hooks: StorageHooks | None
    clock: Callable[[], Any]
    channels: dict[int, ReplyChannel] = field(default_factory=dict)


class _Child:
    """One forked process of the adapter's and the socket to it."""

    def __init__(self, server: ForkServer, sock: socket.socket, pidfd: int, pid: int) -> None:
        self.server = server
        self.sock = sock
        self.pidfd = pidfd
        self.pid = pid
        self.alive = True
        self.drops: list[int] = []  # reader instances the harness has let go of
        self.buf = FrameBuffer()
        sock.setblocking(False)
        self.output = server.output  # its template's: gone when a new template replaces it
        self._out_fd = self.output.fd
        self.poll = select.poll()
        self.poll.register(sock.fileno(), select.POLLIN)
        self.poll.register(pidfd, select.POLLIN)
        self.poll.register(self._out_fd, select.POLLIN)

    # -- ending it ------------------------------------------------------------
    def kill(self) -> None:
        """SIGKILL, now; the harness waits for it to be gone before the next incarnation
        opens the database (its locks go with it)."""
        if not self.alive:
            return
        self.alive = False
        with contextlib.suppress(OSError):
            signal.pidfd_send_signal(self.pidfd, signal.SIGKILL)
        self.server.dying.append(self)

    def reap(self) -> None:
        waiter = select.poll()
        waiter.register(self.pidfd, select.POLLIN)
        waiter.poll(REAP_SECONDS * 1000)
        with contextlib.suppress(OSError):
            os.close(self.pidfd)
        self.sock.close()

    def _fail(self, exc: BaseException) -> NoReturn:
        self.kill()
        raise exc

    # -- frames -----------------------------------------------------------------
    def _wait(self, mask: int, deadline: float) -> bool:
        """Wait for the socket (POLLIN or POLLOUT); False when the child ended."""
        while True:
            left = deadline - time.perf_counter()
            if left <= 0:
                self._fail(AdapterHung(f"the call did not return within {self.server.guard:g} s"))
            if self.output is not self.server.output and self._out_fd >= 0:
                self.poll.unregister(self._out_fd)  # its template was replaced
                self._out_fd = -1
            self.poll.modify(self.sock.fileno(), mask)
            events = self.poll.poll(max(1, int(left * 1000)))
            self.server.output.drain()
            if any(flags & select.POLLNVAL for _, flags in events):
                self._died()
            if self.server.output.in_call > OUTPUT_LIMIT:
                self._fail(
                    AdapterOutputFlood(
                        f"the adapter's process wrote over {OUTPUT_LIMIT} bytes of output in one "
                        "call; the harness stopped it"
                    )
                )
            ready = {fd for fd, _ in events}
            if self.sock.fileno() in ready:
                return True
            if self.pidfd in ready:
                return False

    def _send(self, frame: bytes, deadline: float) -> None:
        view = memoryview(frame)
        while view:
            try:
                sent = self.sock.send(view)
            except BlockingIOError:
                sent = 0
            except OSError:
                self._died()
            view = view[sent:]
            if view and not self._wait(select.POLLOUT, deadline):
                self._died()

    def _recv(self, deadline: float) -> list[Value]:
        while True:
            try:
                body = self.buf.next()
            except CodecError as exc:
                self._fail(_broke(str(exc)))
            if body is not None:
                try:
                    value = decode(body)
                except CodecError as exc:
                    self._fail(_broke(str(exc)))
                if not isinstance(value, list) or not value or not isinstance(value[0], str):
                    self._fail(_broke("a message that is not a list with a name"))
                return value
            if not self._wait(select.POLLIN, deadline):
                self._read_rest()
                if self.buf.next_ready():
                    continue
                self._died()
            self._read_rest()

    def _read_rest(self) -> None:
        while True:
            try:
                data = self.sock.recv(1 << 20)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                return
            if not data:
                return
            self.buf.feed(data)

    def _died(self) -> NoReturn:
        self.alive = False
        waiter = select.poll()
        waiter.register(self.pidfd, select.POLLIN)
        waiter.poll(REAP_SECONDS * 1000)
        how = _exit_status(self.pid)
        self.server.output.drain()
        self.server.dying.append(self)
        raise AdapterProcessDied(f"the adapter's process {how}")

    # -- one call ----------------------------------------------------------------
    def call(self, op: str, args: list[Value], ctx: _Context) -> Value:
        """Run `op` over there, serving its calls back; the adapter's own exception comes
        back raised here (the child lives on); anything else kills the child."""
        if not self.alive:
            raise AdapterProcessDied("the adapter's process is no longer running")
        outermost = not _deadlines
        if outermost:
            self.server.output.in_call = 0
        drops, self.drops = self.drops, []
        with _deadline(self.server.guard) as deadline:
            try:
                self._send(encode([op, args, _clock(ctx), drops]), deadline)
                while True:
                    msg = self._recv(deadline)
                    kind = msg[0]
                    if kind == "done" and len(msg) == 2:
                        return msg[1]
                    if kind == "raised" and len(msg) == 3:
                        raise _remote_exception(msg[1], msg[2])
                    if kind == "cb" and len(msg) == 3 and isinstance(msg[1], str):
                        answer = self._serve(msg[1], msg[2], ctx)
                        self._send(encode([*answer, _clock(ctx)]), deadline)
                        continue
                    if kind == "post" and len(msg) == 3 and msg[1] in _SETTLE:
                        self._serve(msg[1], msg[2], ctx)
                        continue
                    self._fail(_broke(f"an unexpected message {kind!r}"))
            except AdapterProtocolError:
                raise
            except Exception as exc:
                if type(exc).__module__ == "adapter":
                    raise  # the adapter's own: the caller decides
                self._fail(exc)
            except BaseException as exc:  # a crash the plan injected, a hang, ^C: it dies
                self._fail(exc)

    def _serve(self, name: str, args: Value, ctx: _Context) -> list[Value]:
        """One call back from the adapter's process, decided here by the slot's objects."""
        if not isinstance(args, list):
            self._fail(_broke("callback arguments that are not a list"))
        if name == "hook" and ctx.hooks is not None and args and args[0] in _HOOKS:
            hooks = ctx.hooks
            try:
                if args[0] == "before_write":
                    if len(args) != 2 or not isinstance(args[1], str):
                        self._fail(_broke("before_write without its SQL"))
                    hooks.before_write(args[1])
                else:
                    getattr(hooks, cast(str, args[0]))()
            except sqlite3.Error as exc:
                return ["exc", "storage", type(exc).__name__, str(exc)]
            return ["ok", None]
        if name == "reply" or name in _SETTLE:
            if not args or not isinstance(args[0], int) or args[0] not in ctx.channels:
                self._fail(_broke(f"{name} on a channel the harness did not hand out"))
            channel = ctx.channels[args[0]]
            if name == "reply":
                if len(args) != 3 or not isinstance(args[1], str):
                    self._fail(_broke("a reply without a message type"))
                body = args[2]
                if body is not None and not isinstance(body, bytes):
                    self._fail(_broke("a reply body that is not bytes"))
                channel.reply(args[1], body)
            else:
                getattr(channel, name)()
            return ["ok", None]
        if name == "http" and len(args) == 5:
            return _serve_http(args, self._fail)
        self._fail(_broke(f"an unknown callback {name!r}"))


def _clock(ctx: _Context) -> str | None:
    value = ctx.clock()
    return value.isoformat() if hasattr(value, "isoformat") else None


def _serve_http(args: list[Value], fail: Callable[[BaseException], NoReturn]) -> list[Value]:
    import requests
    from requests.structures import CaseInsensitiveDict

    from harness.sim.http_world import serving_handler

    method, url, headers, body, timeout = args
    if not (
        isinstance(method, str)
        and isinstance(url, str)
        and isinstance(headers, dict)
        and all(isinstance(v, str) for v in headers.values())
        and (body is None or isinstance(body, bytes))
    ):
        fail(_broke("an HTTP request that is not method, URL, headers and body"))
    prepared = requests.PreparedRequest()
    prepared.method, prepared.url, prepared.body = method, url, body
    prepared.headers = CaseInsensitiveDict(headers)
    if isinstance(timeout, list):
        timeout = tuple(timeout)
    prepared.req_kwargs = {"timeout": timeout}  # type: ignore[attr-defined]
    handler = serving_handler()
    try:
        if handler is None:
            raise requests.exceptions.ConnectionError(
                f"harness: {method} {url} was not sent: no HTTP is served at this point"
            )
        status, answer_headers, data = handler(prepared)
    except requests.RequestException as exc:
        return ["exc", "http", type(exc).__name__, str(exc)]
    return ["ok", [int(status), {str(k): str(v) for k, v in answer_headers.items()}, bytes(data)]]


def _record(row: Value) -> Any:
    """A record as the adapter yielded it (a type other than StoredRecord keeps its name,
    so the slot's own check says what it says in-process)."""
    if isinstance(row, list) and len(row) == 3 and row[0] == "record":
        _, report_id, files = row
        if (
            isinstance(report_id, str)
            and isinstance(files, dict)
            and all(isinstance(v, bytes) for v in files.values())
        ):
            return StoredRecord(report_id, files)
    if isinstance(row, list) and len(row) == 2 and row[0] == "other" and isinstance(row[1], str):
        name = row[1] if row[1].isidentifier() else "object"
        return type(name, (), {})()
    return StoredRecord(cast(str, None), {})  # fails the slot's check, as a malformed one does


class _Remote:
    """The case-system slot's view of one adapter instance in another process."""

    def __init__(self, child: _Child, iid: int, env: CaseSystemEnv, writer: bool) -> None:
        self._child = child
        self._iid = iid
        self._writer = writer
        self._ctx = _Context(env.storage.hooks if writer else None, env.clock)
        self._handled = 0
        if writer:  # dropped by the slot (a crash, the end of the run): the process goes
            weakref.finalize(self, child.kill)
        else:
            weakref.finalize(self, child.drops.append, iid)

    def _call(self, op: str, *args: Value) -> Value:
        try:
            return self._child.call(op, [self._iid, *args], self._ctx)
        except BaseException:
            if self._writer:  # whatever escaped handle is a crash of this incarnation
                self._child.kill()
            raise

    def handle(self, message: IncomingMessage, channel: ReplyChannel) -> None:
        self._handled += 1
        token = self._handled
        channels = self._ctx.channels
        channels[token] = channel
        if len(channels) > CHANNELS_KEPT:
            del channels[next(iter(channels))]
        self._call(
            "handle",
            token,
            message.melding_id,
            message.meldingstype,
            dict(message.headers),
            dict(message.files),
            message.redelivered,
        )

    def records(self) -> Iterator[StoredRecord]:
        self._call("records_open")
        return self._batches()

    def _batches(self) -> Iterator[StoredRecord]:
        while True:
            rows = self._call("records_next", RECORDS_BATCH)
            if not isinstance(rows, list):
                self._child._fail(_broke("records that are not a list"))
            if not rows:
                return
            yield from (_record(row) for row in rows)


class _RemoteWithFind(_Remote):
    def find(self, report_id: str) -> list[StoredRecord]:
        rows = self._call("find", report_id)
        if not isinstance(rows, list):
            self._child._fail(_broke("find() results that are not a list"))
        return [_record(row) for row in rows]


class _Reader(_Remote):
    """A fresh instance for reading records, built over there with its first call. Its
    `find` runs the slot's own `find_records` over there: the adapter's `find` when it has
    one, else its records filtered, as in-process."""

    def __init__(self, child: _Child, iid: int, env: CaseSystemEnv, build: list[Value]) -> None:
        super().__init__(child, iid, env, writer=False)
        self._build: list[Value] | None = build

    def _first(self) -> list[Value] | None:
        build, self._build = self._build, None
        return build

    def find(self, report_id: str) -> list[StoredRecord]:
        rows = self._call("find", report_id, self._first())
        if not isinstance(rows, list):
            self._child._fail(_broke("find() results that are not a list"))
        return [_record(row) for row in rows]

    def records(self) -> Iterator[StoredRecord]:
        self._call("records_open", self._first())
        return self._batches()


class ForkServer:
    """The template process of one target and the children it forks."""

    def __init__(self, spec: str, options: Mapping[str, str], guard: float) -> None:
        self.spec = spec
        self.options = dict(options)
        self.guard = guard
        self.dying: list[_Child] = []
        self.expects: list[str] | None = None
        self.restarts = 0
        self._folder: Path | None = None
        self._spare: socket.socket | None = None  # a fork asked for ahead of need
        self._start()

    # -- the template -----------------------------------------------------------
    def _start(self) -> None:
        sandbox.undumpable()
        self.uid = sandbox.sandbox_uid()
        if sandbox.in_private_folder():
            scratch = str(scratch_folder())
            sandbox.give(Path(scratch))
        else:  # no run's folder here (a test, say): one of the template's own
            if self._folder is None:
                self._folder = sandbox.template_folder()
            scratch = str(self._folder)
        ctl, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        env = {k: v for k, v in os.environ.items() if k != PASSPHRASE_ENV}
        try:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "harness.sim.isolation.server", str(theirs.fileno())],
                pass_fds=[theirs.fileno()],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                env=env,
                start_new_session=True,
            )
        finally:
            theirs.close()
        assert self.proc.stdout is not None
        self.output = _Output(self.proc.stdout.fileno())
        self.ctl = ctl
        self._pidfd = os.pidfd_open(self.proc.pid)
        ctl.send(
            encode(
                {
                    "spec": self.spec,
                    "options": self.options,
                    "guard": self.guard,
                    "uid": self.uid,
                    "scratch": scratch,
                    "memory_mb": MEMORY_LIMIT_MB,
                }
            )
        )
        answer = self._ctl_recv(START_SECONDS, "to import the target")[0]
        if answer[0] == "error" and len(answer) == 2 and isinstance(answer[1], str):
            self.close()
            raise TargetError(" ".join(answer[1].split())[:2000])
        expects = answer[1] if answer[0] == "ready" and len(answer) == 2 else "bad"
        if expects is not None and not (
            isinstance(expects, list) and all(isinstance(e, str) for e in expects)
        ):
            self.close()
            raise TargetError(f"bad --target {self.spec!r}: its process answered {answer!r}")
        self.expects = expects

    def _ctl_recv(self, seconds: float, what: str) -> tuple[list[Value], list[int]]:
        waiter = select.poll()
        waiter.register(self.ctl.fileno(), select.POLLIN)
        waiter.register(self._pidfd, select.POLLIN)
        waiter.register(self.output.fd, select.POLLIN)
        end = time.perf_counter() + seconds
        while True:
            left = end - time.perf_counter()
            if left <= 0:
                self.close()
                raise TargetError(
                    f"bad --target {self.spec!r}: its process took over {seconds:g} s {what}"
                )
            ready = {fd for fd, _ in waiter.poll(int(left * 1000) + 1)}
            self.output.drain()
            if self.ctl.fileno() in ready:
                with contextlib.suppress(OSError):
                    data, fds, _flags, _addr = socket.recv_fds(self.ctl, 1 << 16, 1)
                    if data:
                        try:
                            value = decode(data[4:])
                        except CodecError:
                            value = None
                        if isinstance(value, list) and value:
                            return value, fds
                        for fd in fds:
                            os.close(fd)
            if self.ctl.fileno() in ready or self._pidfd in ready:
                self.proc.wait(REAP_SECONDS)
                tail = self.output.tail.decode("utf-8", "replace").strip().splitlines()
                said = f"; it printed: {tail[-1][:300]}" if tail else ""
                code = self.proc.returncode
                self.close()
                raise TargetError(
                    f"bad --target {self.spec!r}: its process ended (exit status {code}) "
                    f"{what}{said}"
                )

    # -- children -----------------------------------------------------------------
    def _ask_fork(self) -> socket.socket:
        ours, theirs = socket.socketpair()
        try:
            socket.send_fds(self.ctl, [encode(["fork"])], [theirs.fileno()])
        finally:
            theirs.close()
        return ours

    def _take_fork(self, ours: socket.socket) -> _Child:
        answer, fds = self._ctl_recv(FORK_SECONDS, "forking a child")
        if len(fds) != 1 or len(answer) != 2 or answer[0] != "forked":
            for fd in fds:
                os.close(fd)
            raise _broke("the template did not fork a child")
        pidfd = fds[0]
        pid = self._check_child(pidfd)
        if pid is None:
            os.close(pidfd)
            raise _broke("the template handed over a process that is not its child")
        return _Child(self, ours, pidfd, pid)

    def _check_child(self, pidfd: int) -> int | None:
        """The child's pid, if the pidfd is a process the template forked as the sandbox's
        user: the harness signals nothing else, whatever the template says."""
        try:
            info = Path(f"/proc/self/fdinfo/{pidfd}").read_text()
            pid = int(next(ln.split()[1] for ln in info.splitlines() if ln.startswith("Pid:")))
            status = Path(f"/proc/{pid}/status").read_text().splitlines()
            fields = {ln.split(":", 1)[0]: ln.split(":", 1)[1].split() for ln in status}
        except (OSError, ValueError, StopIteration, IndexError):
            return None
        uid = os.getuid() if self.uid is None else self.uid
        if int(fields["PPid"][0]) != self.proc.pid or int(fields["Uid"][0]) != uid:
            return None
        return pid

    def fork(self) -> _Child:
        """A fresh child; the next one is forked ahead, while the harness works on."""
        for attempt in range(2):
            try:
                ours = self._spare if self._spare is not None else self._ask_fork()
                self._spare = None
                child = self._take_fork(ours)
                self._spare = self._ask_fork()
                return child
            except (OSError, TargetError, AdapterProtocolError):
                self._spare = None
                if attempt or self.restarts >= 3:
                    raise
                self.restarts += 1  # the adapter killed its template: start a new one
                self._stop_template()
                self._start()
        raise AssertionError("unreachable")

    def reap_dying(self) -> None:
        while self.dying:
            self.dying.pop().reap()

    # -- the end --------------------------------------------------------------------
    def _stop_template(self) -> None:
        if self._pidfd < 0:
            return  # stopped already: never close a descriptor twice
        with contextlib.suppress(OSError):
            self.proc.kill()
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(REAP_SECONDS)
        self.ctl.close()
        os.close(self._pidfd)
        self._pidfd = -1
        self.output.fd = -1
        if self.proc.stdout is not None:
            self.proc.stdout.close()

    def close(self) -> None:
        spare, self._spare = self._spare, None
        if spare is not None:
            with contextlib.suppress(Exception):
                self._take_fork(spare).kill()
        self._stop_template()
        self.reap_dying()
        if self._folder is not None:
            shutil.rmtree(self._folder, ignore_errors=True)
            self._folder = None


class IsolatedFactory:
    """A case-system factory whose instances run in the target's processes."""

    def __init__(self, server: ForkServer) -> None:
        self.server = server
        self._writer: _Child | None = None
        self._reader: tuple[str, _Child] | None = None
        self._next = 0

    def __call__(self, env: CaseSystemEnv) -> CaseSystem:
        server = self.server
        writer = isinstance(env.storage.hooks, StorageFaults)  # an incarnation, not a reader
        directory = str(env.storage.directory)
        sandbox.give(Path(directory))
        args: list[Value] = [
            directory,
            dict(env.options),
            [env.http.send_url, env.http.documents_url],
            writer,
        ]
        if not writer:
            if self._reader is None or self._reader[0] != directory or not self._reader[1].alive:
                if self._reader is not None:
                    self._reader[1].kill()
                self._reader = (directory, server.fork())
            self._next += 1
            return cast(CaseSystem, _Reader(self._reader[1], self._next, env, args))
        if self._writer is not None:
            self._writer.kill()  # a new incarnation: the old process is gone first
        server.reap_dying()
        child = self._writer = server.fork()
        iid = 0
        ctx = _Context(env.storage.hooks if writer else None, env.clock)
        try:
            has_find = child.call("build", [iid, *args], ctx)
        except BaseException:
            if writer:
                child.kill()
            raise
        if not (isinstance(has_find, list) and len(has_find) == 1):
            child._fail(_broke("build answered without saying whether find() exists"))
        cls = _RemoteWithFind if has_find[0] is True else _Remote
        return cast(CaseSystem, cls(child, iid, env, writer))

    def close(self) -> None:
        for child in (self._writer, self._reader[1] if self._reader else None):
            if child is not None:
                child.kill()
        self._writer = self._reader = None
        self.server.close()


_open: dict[tuple[Any, ...], IsolatedFactory] = {}


def isolated_factory(spec: str, options: Mapping[str, str], guard: float) -> IsolatedFactory:
    """The factory of `spec` in its own processes: one template per target, options and
    working folder in this process, started on first use and kept until `shutdown`."""
    key = (
        spec,
        tuple(sorted(options.items())),
        guard,
        os.getcwd(),
        str(scratch_folder()),
        sandbox.sandbox_uid(),
    )
    found = _open.get(key)
    if found is None or found.server.proc.poll() is not None:
        found = _open[key] = IsolatedFactory(ForkServer(spec, options, guard))
    return found


def shutdown() -> None:
    """Stop every template and child this process started."""
    while _open:
        _, factory = _open.popitem()
        with contextlib.suppress(Exception):
            factory.close()


def expects_namespace(factory: IsolatedFactory) -> SimpleNamespace:
    """What `Target.module` offers for an isolated target: only its declared EXPECTS."""
    return SimpleNamespace(EXPECTS=factory.server.expects)
