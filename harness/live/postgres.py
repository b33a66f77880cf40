"""A fresh PostgreSQL database and role for each run, and storage faults in it.

The harness connects as the server's superuser (`postgres` on 127.0.0.1:5432 with
trust auth, or `--postgres-url`), creates a role and a database that the role owns,
hands `postgresql://ROLE@127.0.0.1:5432/DB` to the service, and drops both at the
end. A storage failure is made from outside the service: new sessions of its role
become read-only and its open sessions are terminated, so every write fails until
the window ends.
"""

from __future__ import annotations

import contextlib
import secrets
import urllib.parse
from typing import Any

import psycopg
from psycopg import sql

from harness.errors import UsageError

DEFAULT_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"


class DatabaseError(UsageError):
    """PostgreSQL cannot be used: what is wrong and how to fix it."""


class RunDatabase:
    def __init__(self, admin_url: str = DEFAULT_ADMIN_URL, run_id: str | None = None) -> None:
        host = urllib.parse.urlsplit(admin_url).hostname
        if host not in ("127.0.0.1", "localhost", "::1"):
            raise DatabaseError(f"the PostgreSQL server {host!r} is not on loopback")
        self.admin_url = admin_url
        tag = run_id or secrets.token_hex(4)
        self.role = f"harness_svc_{tag}"
        self.name = f"harness_run_{tag}"
        self._made = False
        self.down = False
        self._tables: list[sql.Composable] = []

    def _admin(self, dbname: str | None = None) -> psycopg.Connection[Any]:
        kw: dict[str, Any] = {"autocommit": True, "connect_timeout": 5}
        if dbname is not None:
            kw["dbname"] = dbname
        try:
            return psycopg.connect(self.admin_url, **kw)
        except psycopg.Error as exc:
            raise DatabaseError(
                f"cannot reach PostgreSQL as its administrator ({_one_line(exc)}): start it "
                "on 127.0.0.1:5432 with trust auth for `postgres`, or give --postgres-url"
            ) from exc

    @property
    def url(self) -> str:
        u = urllib.parse.urlsplit(self.admin_url)
        port = u.port or 5432
        return f"postgresql://{self.role}@{u.hostname}:{port}/{self.name}"

    def create(self) -> None:
        with self._admin() as conn:
            self._made = True
            conn.execute(sql.SQL("CREATE ROLE {} LOGIN").format(sql.Identifier(self.role)))
            conn.execute(
                sql.SQL("CREATE DATABASE {} OWNER {}").format(
                    sql.Identifier(self.name), sql.Identifier(self.role)
                )
            )

    def storage_down(self) -> None:
        """Every write of the service fails, at once and in every open session: its
        tables' write privileges are revoked from it (reads still work, so its
        reconciliation API keeps answering). With no table yet, its new sessions are
        made read-only and its open ones cut instead."""
        with self._admin(self.name) as conn:
            self._tables = self._owned_tables(conn)
            if self._tables:
                for table in self._tables:
                    conn.execute(
                        sql.SQL("REVOKE {} ON {} FROM {}").format(_WRITES, table, self._ident)
                    )
            else:
                conn.execute(
                    sql.SQL("ALTER ROLE {} SET default_transaction_read_only = on").format(
                        self._ident
                    )
                )
                self._terminate(conn)
        self.down = True

    def storage_up(self) -> None:
        with self._admin(self.name) as conn:
            if self._tables:
                for table in self._tables:
                    conn.execute(
                        sql.SQL("GRANT {} ON {} TO {}").format(_WRITES, table, self._ident)
                    )
            else:
                conn.execute(
                    sql.SQL("ALTER ROLE {} RESET default_transaction_read_only").format(self._ident)
                )
                self._terminate(conn)  # sessions opened while down stay read-only: end them
        self._tables = []
        self.down = False

    @property
    def _ident(self) -> sql.Identifier:
        return sql.Identifier(self.role)

    def _owned_tables(self, conn: psycopg.Connection[Any]) -> list[sql.Composable]:
        rows = conn.execute(
            "SELECT n.nspname, c.relname FROM pg_class c "
            "JOIN pg_namespace n ON n.oid = c.relnamespace "
            "JOIN pg_roles r ON r.oid = c.relowner "
            "WHERE r.rolname = %s AND c.relkind IN ('r', 'p') "
            "AND n.nspname NOT IN ('pg_catalog', 'information_schema') ORDER BY 1, 2",
            (self.role,),
        ).fetchall()
        return [sql.Identifier(schema, name) for schema, name in rows]

    def _terminate(self, conn: psycopg.Connection[Any]) -> None:
        conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE usename = %s AND pid <> pg_backend_pid()",
            (self.role,),
        )

    def query(self, statement: str) -> list[tuple[Any, ...]]:
        """Read from the run's database as the administrator (SQL reconciliation)."""
        with self._admin(self.name) as conn:
            conn.execute("SET default_transaction_read_only = on")
            return list(conn.execute(statement.encode()).fetchall())

    def drop(self) -> None:
        if not self._made:
            return
        self._made = False
        with contextlib.suppress(DatabaseError), self._admin() as conn:
            with contextlib.suppress(psycopg.Error):
                conn.execute(
                    sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
                        sql.Identifier(self.name)
                    )
                )
            with contextlib.suppress(psycopg.Error):
                conn.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(self.role)))


_WRITES = sql.SQL("INSERT, UPDATE, DELETE, TRUNCATE")


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())[:200]
