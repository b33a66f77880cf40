"""What the live tier's tests share: a private broker, PostgreSQL, and leftover checks.

The tests need Debian's rabbitmq-server and a PostgreSQL superuser on loopback
(127.0.0.1:5432, trust auth; HARNESS_TEST_POSTGRES_URL names another). Without
them they skip with the reason, unless HARNESS_REQUIRE_LIVE is set (CI), where a
missing piece fails instead.
"""

from __future__ import annotations

import os
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.live.amqp.broker import RABBITMQ_SERVER, Endpoint, PrivateNode

REPO = Path(__file__).resolve().parent.parent
TINY = REPO / "tests" / "live_services" / "tiny.py"
POSTGRES_URL = os.environ.get(
    "HARNESS_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)


def _missing(reason: str) -> None:
    if os.environ.get("HARNESS_REQUIRE_LIVE"):
        pytest.fail(f"HARNESS_REQUIRE_LIVE is set, but {reason}")
    pytest.skip(reason)


def require_postgres() -> None:
    import psycopg

    try:
        psycopg.connect(POSTGRES_URL, connect_timeout=3).close()
    except psycopg.Error as exc:
        _missing(f"PostgreSQL is not usable at {POSTGRES_URL} ({' '.join(str(exc).split())})")


@pytest.fixture(scope="module")
def node() -> Iterator[Endpoint]:
    """One private RabbitMQ node for a test module (each run gets its own vhost on it)."""
    if not os.path.exists(RABBITMQ_SERVER):
        _missing("rabbitmq-server is not installed (apt-get install rabbitmq-server)")
    require_postgres()
    broker = PrivateNode()
    try:
        yield broker.start()
    finally:
        broker.stop()


def tiny(bug: str = "") -> tuple[str, str]:
    """The command of the tests' own tiny service, with a marker to find its processes."""
    marker = uuid.uuid4().hex
    cmd = f"{sys.executable} {TINY} --marker {marker}" + (f" --bug {bug}" if bug else "")
    return cmd, marker


def processes_with(marker: str) -> list[int]:
    """Live processes whose command line holds `marker`."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes()
            status = (entry / "status").read_text()
        except OSError:
            continue
        if marker.encode() in cmdline and "State:\tZ" not in status:
            found.append(int(entry.name))
    return found


def database_exists(name: str) -> bool:
    import psycopg

    with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
        dbs = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchall()
        roles = conn.execute(
            "SELECT 1 FROM pg_roles WHERE rolname = %s", (name.replace("run", "svc"),)
        ).fetchall()
    return bool(dbs or roles)


def vhost_exists(endpoint: Endpoint, vhost: str) -> bool:
    import requests

    from harness.live.amqp.broker import ADMIN

    assert endpoint.management_url is not None
    r = requests.get(f"{endpoint.management_url}/vhosts", auth=ADMIN, timeout=5)
    return vhost in {v["name"] for v in r.json()}
