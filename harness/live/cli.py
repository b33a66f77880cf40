"""The live tier's side of the `harness` command: `run --service` and replaying a live
counterexample. Imported only when one of them is used."""

from __future__ import annotations

import sys
import urllib.parse
from pathlib import Path
from typing import Any

from harness.errors import UsageError
from harness.live.plan import LivePlan
from harness.live.run import LiveConfig, LiveOutcome, run_service

EXIT_PASS, EXIT_FAIL = 0, 1


def reconcile_form(text: str) -> str:
    """`http` (the service serves it on HARNESS_RECONCILE_PORT), `sql` (the view
    harness_reports in its database), or the base URL of its reconciliation API."""
    if text in ("http", "sql"):
        return text
    u = urllib.parse.urlsplit(text)
    if u.scheme == "http" and u.hostname in ("127.0.0.1", "localhost", "::1") and u.port:
        return text.rstrip("/")
    raise UsageError(
        f"--reconcile {text!r} is not `http`, `sql` or http://127.0.0.1:PORT "
        "(the service's reconciliation API on loopback)"
    )


def config_from(args: Any, plan: LivePlan | None = None) -> LiveConfig:
    if getattr(args, "target", None):
        raise UsageError("--service and --target do not combine: give one or the other")
    if not str(args.service).strip():
        raise UsageError(
            "--service needs the command that starts the service, e.g. "
            '--service "python3 my_service.py"'
        )
    if args.amqp_url:
        from harness.live.amqp.broker import given_broker

        given_broker(args.amqp_url)  # a bad URL is one line before anything starts
    return LiveConfig(
        service=args.service,
        reconcile=reconcile_form(args.reconcile),
        amqp_url=args.amqp_url,
        postgres_url=args.postgres_url,
        seed=args.seed,
        plan=plan,
        ready_timeout=args.ready_timeout,
        crypto=getattr(args, "fiksio_crypto", "off") == "on",
    )


def read_plan(path: Path) -> LivePlan:
    """A live plan file: the `plan` of a live counterexample's `live` block, or the same
    object on its own."""
    import json

    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
        if isinstance(raw, dict) and isinstance(raw.get("live"), dict):
            raw = raw["live"]["plan"]
        return LivePlan.from_json(raw)
    except OSError as exc:
        raise UsageError(f"cannot read the plan {str(path)!r}: {exc.strerror}") from None
    except (KeyError, TypeError, ValueError) as exc:
        raise UsageError(
            f"{str(path)!r} is not a live plan ({type(exc).__name__}: {exc}); see docs/live.md"
        ) from None


def run_command(args: Any) -> int:
    from harness.report.commands import _finish
    from harness.report.json_report import utc_now
    from harness.report.signing import load_private_key

    plan = read_plan(args.plan) if args.plan is not None else None
    if plan is not None and args.seed != 0:
        plan = LivePlan(args.seed, plan.reports, plan.faults, plan.timing)
    config = config_from(args, plan)
    key = load_private_key(args.sign_key) if args.sign_key is not None else None
    where = "a private RabbitMQ node" if not config.amqp_url else "the broker at --amqp-url"
    print(
        f"harness: live run against `{config.service}` on {where}, seed {config.seed}, "
        "sequential (one report in flight)",
        file=sys.stderr,
        flush=True,
    )
    started = utc_now()
    outcome = run_service(config, args.report)
    _progress(outcome)
    return _finish(outcome.suite, args.report, key, started=started)


def _progress(outcome: LiveOutcome) -> None:
    failed = sorted(outcome.check.failed)
    verdict = f"FAIL ({', '.join(failed)})" if failed else "pass"
    broker = (
        f"broker started in {outcome.broker_started_in:.1f} s, "
        if outcome.broker_started_in is not None
        else ""
    )
    print(
        f"harness: live: {verdict} after {outcome.plan.reports} reports, "
        f"{sum(outcome.run.fired.values())} faults, {broker}"
        f"service started {outcome.run.service_starts} times; its output: "
        f"{outcome.info['service_log']} in the report folder",
        file=sys.stderr,
        flush=True,
    )


def replay_live(path: Path, raw: dict[str, Any], args: Any) -> int:
    """Run a live counterexample's plan again against the same service command."""
    from harness.report.timeline import render

    live = raw.get("live") or {}
    try:
        plan = LivePlan.from_json(live["plan"])
        service = str(live["service"])
    except (KeyError, TypeError, ValueError) as exc:
        raise UsageError(f"{str(path)!r} has a malformed live plan: {exc}") from exc
    if "***" in service:
        raise UsageError(
            f"{str(path)!r} recorded the service command with a secret redacted; "
            "run the plan with `harness run --service CMD` instead"
        )
    config = LiveConfig(
        service=service,
        reconcile=str(live.get("reconciliation", "http")),
        amqp_url=getattr(args, "amqp_url", None),
        postgres_url=getattr(args, "postgres_url", None) or LiveConfig.postgres_url,
        seed=plan.seed,
        plan=plan,
    )
    report = path.parent / "replay"
    outcome = run_service(config, report)
    print(f"replay of {path} · live · service `{service}`")
    lines = render(outcome.run.history.events, outcome.check.violations)
    print("\n".join("  " + ln for ln in lines))
    broken = sorted(outcome.check.failed)
    expected = sorted(raw.get("clauses") or [])
    if broken:
        print(f"verdict: FAIL ({', '.join(broken)})")
        if expected and set(broken) != set(expected):
            print(f"note: the file recorded {', '.join(expected)}")
        return EXIT_FAIL
    print(
        "verdict: PASS — the counterexample did not reproduce this time"
        + (
            f" (it recorded {', '.join(expected)}; live runs are timing-dependent)"
            if expected
            else ""
        )
    )
    return EXIT_PASS
