"""The pytest plugin: a thin layer over the engine.

Importing this module is cheap (no Hypothesis, no engine): pytest loads it in
every session of every project that has the package installed. The engine is
imported only when the contract suite or a fixture is actually used.

With `--harness-target SPEC` (or the ini key `harness_target`) the contract
suite is collected as one item per clause family. Under xdist each worker puts
its families' results into `workeroutput`; the controller merges them and
writes the report once.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from harness.suite.search import Counterexample, FamilyResult
    from harness.target import Target

_RESULTS = pytest.StashKey[dict[str, "FamilyResult"]]()
_SETTINGS = pytest.StashKey[dict[str, Any]]()
_CURRENT = pytest.StashKey[tuple[str | None, dict[str, str]]]()  # the running test's marker
_SCRATCH = pytest.StashKey[Any]()  # the session's private folder for databases
_WORKEROUTPUT_KEY = "harness_families"


def _seed(text: str) -> int:
    from harness.cli import parse_seed

    return parse_seed(text)


def _examples(text: str) -> int:
    from harness.cli import examples

    return examples(text)


def _option(text: str) -> tuple[str, str]:
    from harness.cli import key_value

    return key_value(text)


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("harness", "stored-or-rejected contract suite")
    group.addoption(
        "--harness-target",
        metavar="SPEC",
        default=None,
        help="case-system factory to check: module:attr or path/to/file.py:attr; "
        "collects the contract suite",
    )
    group.addoption(
        "--harness-examples",
        metavar="N",
        type=_examples,
        default=None,
        help="Hypothesis examples per clause family (default 100)",
    )
    group.addoption(
        "--harness-seed",
        metavar="S",
        type=_seed,
        default=None,
        help="the suite's seed: a whole number or 'random' (default 0)",
    )
    group.addoption(
        "--harness-report",
        metavar="DIR",
        default=None,
        help="write report.json and counterexample files here",
    )
    group.addoption(
        "--harness-target-option",
        metavar="KEY=VALUE",
        type=_option,
        action="append",
        default=[],
        help="option handed to the factory",
    )
    group.addoption(
        "--harness-service",
        metavar="CMD",
        default=None,
        help="black-box tier: the command that starts a live service (docs/live.md); "
        "collects the live suite, marked blackbox",
    )
    group.addoption(
        "--harness-reconcile",
        metavar="URL|sql",
        default="http",
        help="where the live service's stored reports are read (default http)",
    )
    group.addoption(
        "--harness-amqp-url",
        metavar="URL",
        default=None,
        help="a broker for the live suite (default: a private RabbitMQ node)",
    )
    group.addoption(
        "--harness-live-plan",
        metavar="FILE",
        default=None,
        help="a live plan as JSON instead of the default checklist (docs/live.md)",
    )
    group.addoption(
        "--harness-postgres-url",
        metavar="URL",
        default=None,
        help="a PostgreSQL superuser on loopback for the live suite's databases",
    )
    group.addoption(
        "--harness-isolation",
        choices=("process", "inprocess"),
        default=None,
        help="process: the adapter runs in processes of its own that cannot reach the "
        "verdict; inprocess (default): in this process, faster, for development",
    )
    parser.addini("harness_target", "default for --harness-target", default=None)
    parser.addini("harness_examples", "default for --harness-examples", default=None)
    parser.addini("harness_seed", "default for --harness-seed", default=None)
    parser.addini("harness_report", "default for --harness-report", default=None)
    parser.addini("harness_isolation", "default for --harness-isolation", default=None)


def _isolation(text: str) -> str:
    if text not in ("process", "inprocess"):
        raise argparse.ArgumentTypeError(f"{text!r} is not an isolation: give process or inprocess")
    return text


def pytest_unconfigure(config: pytest.Config) -> None:
    settings = config.stash.get(_SETTINGS, None)
    if settings is not None and settings["isolation"] == "process":
        from harness.sim.isolation.proxy import shutdown

        shutdown()  # every process the adapter ran in
    scratch = config.stash.get(_SCRATCH, None)
    if scratch is not None:
        scratch.__exit__(None, None, None)


def _from_ini(config: pytest.Config, name: str, convert: Callable[[str], Any]) -> Any:
    raw = config.getini(name)
    if raw in (None, ""):
        return None
    try:
        return convert(str(raw))
    except argparse.ArgumentTypeError as exc:
        raise pytest.UsageError(f"ini key {name}: {exc}") from None


def _utc_now() -> str:
    from datetime import UTC, datetime

    return datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "harness(target=SPEC, options={}): the case-system target that the "
        "harness fixtures of this test use (default: the reference case system)",
    )
    config.addinivalue_line(
        "markers",
        "blackbox: a test of the live tier (a real broker, PostgreSQL and a service "
        "process); select with -m blackbox, leave out with -m 'not blackbox'",
    )
    opt = config.option
    settings = {
        "target": opt.harness_target or _from_ini(config, "harness_target", str),
        "examples": opt.harness_examples or _from_ini(config, "harness_examples", _examples),
        "seed": opt.harness_seed
        if opt.harness_seed is not None
        else _from_ini(config, "harness_seed", _seed),
        "report": opt.harness_report or _from_ini(config, "harness_report", str),
        "options": dict(opt.harness_target_option),
        "isolation": opt.harness_isolation
        or _from_ini(config, "harness_isolation", _isolation)
        or "inprocess",
        "started": _utc_now(),  # report.json's `started`; never read by a simulation
    }
    config.stash[_SETTINGS] = settings
    if settings["target"] or settings["isolation"] == "process":
        from harness.sim.isolation.sandbox import private_scratch

        scratch = private_scratch()  # this session's databases: a private folder of its own
        scratch.__enter__()
        config.stash[_SCRATCH] = scratch
    config.stash[_RESULTS] = {}
    config.stash[_CURRENT] = (None, {})
    if settings["report"] is not None:
        _check_report(settings["report"])
    if settings["target"]:
        from harness.target import load_target

        _load(config, settings["target"], settings["options"], load_target)  # fail fast, exit 4


def _check_report(folder: str) -> None:
    """--harness-report: a folder a report can be written to, checked before anything runs."""
    from harness.errors import UsageError
    from harness.report.folder import check_report_folder

    try:
        check_report_folder(Path(folder), "--harness-report")
    except UsageError as exc:
        raise pytest.UsageError(str(exc)) from None


def _suite_only(config: pytest.Config) -> bool:
    """A target given and no test paths named: collect the contract suite alone."""
    return (
        bool(config.stash[_SETTINGS]["target"] or config.option.harness_service)
        and config.args_source is not pytest.Config.ArgsSource.ARGS
    )


def pytest_ignore_collect(collection_path: Path, config: pytest.Config) -> bool | None:
    if _suite_only(config) and collection_path != config.rootpath:
        return True
    return None


class ContractSuite(pytest.Collector):
    def collect(self) -> list[pytest.Item]:
        from harness.suite.search import FAMILIES

        return [ClauseFamilyItem.from_parent(self, name=family) for family in FAMILIES]


class ContractFailure(Exception):
    pass


class ClauseFamilyItem(pytest.Item):
    def runtest(self) -> None:
        from harness.report.timeline import render
        from harness.suite.search import DEFAULT_EXAMPLES, FAMILIES, search_family
        from harness.target import load_target

        settings = self.config.stash[_SETTINGS]
        target = _load(self.config, settings["target"], settings["options"], load_target)
        result = search_family(
            self.name,
            target.factory,
            seed=settings["seed"] or 0,
            examples=settings["examples"] or DEFAULT_EXAMPLES,
            options=settings["options"],
        )
        self.config.stash[_RESULTS][self.name] = result
        for clause in FAMILIES[self.name]:
            verdict = (
                "fail"
                if clause in result.failed
                else "pass"
                if clause in result.exercised
                else "not-exercised"
            )
            self.user_properties.append((clause, verdict))
        for clause in sorted(result.failed - set(FAMILIES[self.name])):
            self.user_properties.append((clause, "fail"))  # broken by this family's examples
        # Clauses of other families that this family's examples broke fail here too, so
        # that pytest finds exactly what `harness run` finds, each with its timeline.
        failed = sorted(result.failed)
        if failed:
            lines = [
                f"clauses violated: {', '.join(failed)} "
                f"(seed {settings['seed'] or 0}, {result.examples} examples, "
                f"{result.swept} of them the sweep's)"
            ]
            shown: list[Counterexample] = []
            for clause in failed:
                cx = (
                    result.counterexample
                    if result.counterexample and clause in result.counterexample.clauses
                    else result.also_failed.get(clause)
                )
                if cx is None or any(cx is seen for seen in shown):
                    continue
                shown.append(cx)
                how = "shrunk" if cx.shrunk else "not shrunk"
                lines.append(
                    f"counterexample for {', '.join(cx.clauses)} ({how}; reports: "
                    f"{len(cx.plan.reports)}, faults: {len(cx.plan.faults)}):"
                )
                lines += ["  " + ln for ln in render(cx.history.events, cx.check.violations)]
            raise ContractFailure("\n".join(lines))

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> str:
        if isinstance(excinfo.value, ContractFailure):
            return str(excinfo.value)
        return str(super().repr_failure(excinfo))

    def reportinfo(self) -> tuple[Path, int, str]:
        return self.path, 0, f"harness contract: {self.name}"


class LiveSuite(pytest.Collector):
    def collect(self) -> list[pytest.Item]:
        item = LiveItem.from_parent(self, name="service")
        item.add_marker("blackbox")
        return [item]


class LiveItem(pytest.Item):
    """The live plan against --harness-service, judged like `harness run --service`."""

    def runtest(self) -> None:
        from harness.errors import UsageError
        from harness.live.cli import read_plan, reconcile_form
        from harness.live.postgres import DEFAULT_ADMIN_URL
        from harness.live.run import LiveConfig, run_service
        from harness.report.json_report import write_report
        from harness.report.timeline import render

        opt = self.config.option
        settings = self.config.stash[_SETTINGS]
        report = Path(settings["report"] or self.config.rootpath / "harness-report")
        try:
            config = LiveConfig(
                service=opt.harness_service,
                reconcile=reconcile_form(opt.harness_reconcile),
                amqp_url=opt.harness_amqp_url,
                postgres_url=opt.harness_postgres_url or DEFAULT_ADMIN_URL,
                seed=settings["seed"] or 0,
                plan=read_plan(Path(opt.harness_live_plan)) if opt.harness_live_plan else None,
            )
            outcome = run_service(config, report)
        except UsageError as exc:
            raise ContractFailure(f"the live suite could not run: {exc}") from None
        write_report(outcome.suite, report, started=settings["started"])
        for clause in outcome.check.exercised | outcome.check.failed:
            verdict = "fail" if clause in outcome.check.failed else "pass"
            self.user_properties.append((clause, verdict))
        if outcome.check.violations:
            lines = [f"clauses violated: {', '.join(sorted(outcome.check.failed))} (live)"]
            lines += [
                "  " + ln for ln in render(outcome.run.history.events, outcome.check.violations)
            ]
            lines.append(f"report: {report / 'report.json'}")
            raise ContractFailure("\n".join(lines))

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> str:
        if isinstance(excinfo.value, ContractFailure):
            return str(excinfo.value)
        return str(super().repr_failure(excinfo))

    def reportinfo(self) -> tuple[Path, int, str]:
        return self.path, 0, f"harness live: {self.config.option.harness_service}"


def _load(
    config: pytest.Config, spec: str | None, options: dict[str, str], loader: Callable[..., Target]
) -> Target:
    from harness.errors import TargetError

    try:
        return loader(spec, options, isolation=config.stash[_SETTINGS]["isolation"])
    except TargetError as exc:
        raise pytest.UsageError(str(exc)) from None


@pytest.hookimpl(tryfirst=True)  # before -k and -m deselect, so they apply to these items too
def pytest_collection_modifyitems(
    session: pytest.Session, config: pytest.Config, items: list[pytest.Item]
) -> None:
    if config.stash[_SETTINGS]["target"]:
        suite = ContractSuite.from_parent(
            session, name="harness-contract", nodeid="harness-contract"
        )
        collected = suite.collect()
        # Report them as collected, so the terminal counts them like any test.
        config.hook.pytest_collectreport(
            report=pytest.CollectReport(suite.nodeid, "passed", None, list(collected))
        )
        items.extend(collected)
    if config.option.harness_service:
        live = LiveSuite.from_parent(session, name="harness-live", nodeid="harness-live")
        collected = live.collect()
        config.hook.pytest_collectreport(
            report=pytest.CollectReport(live.nodeid, "passed", None, list(collected))
        )
        items.extend(collected)


# -- xdist: workers send results, the controller merges and writes once --------
def pytest_sessionfinish(session: pytest.Session) -> None:
    from harness.suite.search import family_to_json

    config = session.config
    results = config.stash[_RESULTS]
    workeroutput = getattr(config, "workeroutput", None)
    if workeroutput is not None:
        workeroutput[_WORKEROUTPUT_KEY] = json.dumps([family_to_json(r) for r in results.values()])
        return
    if results and config.stash[_SETTINGS]["report"]:
        _write_report(config)


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: Any, error: Any) -> None:
    from harness.suite.search import family_from_json

    raw = getattr(node, "workeroutput", {}).get(_WORKEROUTPUT_KEY)
    if raw:
        for data in json.loads(raw):
            fam = family_from_json(data)
            node.config.stash[_RESULTS][fam.family] = fam


def _write_report(config: pytest.Config) -> None:
    from harness.contracts import load_contract
    from harness.report.json_report import write_report
    from harness.suite.run import SuiteConfig, SuiteResult
    from harness.suite.search import DEFAULT_EXAMPLES, FAMILIES
    from harness.target import REFERENCE_SPEC

    settings = config.stash[_SETTINGS]
    results = config.stash[_RESULTS]
    suite = SuiteConfig(
        target=settings["target"],
        seed=settings["seed"] or 0,
        examples=settings["examples"] or DEFAULT_EXAMPLES,
        workers=int(getattr(config.option, "numprocesses", 0) or 1),
        options=settings["options"],
        isolation=settings["isolation"],
    )
    families = [results[f] for f in FAMILIES if f in results]
    result = SuiteResult(suite, settings["target"] or REFERENCE_SPEC, families, load_contract())
    path = write_report(result, Path(settings["report"]), started=settings["started"])
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None:
        reporter.write_line(f"harness: verdict {result.verdict}, report written to {path}")


# -- fixtures for property tests of one's own -----------------------------------
def _marked(item: pytest.Item, settings: dict[str, Any]) -> tuple[str | None, dict[str, str]]:
    marker = item.get_closest_marker("harness")
    if marker is None:
        return settings["target"], dict(settings["options"])
    return marker.kwargs.get("target") or settings["target"], dict(marker.kwargs.get("options", {}))


def pytest_runtest_setup(item: pytest.Item) -> None:
    item.config.stash[_CURRENT] = _marked(item, item.config.stash[_SETTINGS])


@pytest.fixture
def harness_target(request: pytest.FixtureRequest) -> Target:
    """The case-system target: the `harness` marker's, else --harness-target, else the reference."""
    from harness.target import load_target

    spec, options = _marked(request.node, request.config.stash[_SETTINGS])
    return _load(request.config, spec, options, load_target)


@pytest.fixture(scope="session")
def harness_simulate(request: pytest.FixtureRequest) -> Iterator[Callable[..., Any]]:
    """simulate(plan) -> (RunResult, CheckResult) against the running test's target.

    Session-scoped, so Hypothesis' @given tests may use it; the target is looked up
    when it is called, from the running test's `harness` marker (else
    --harness-target, else the reference), with that marker's options.
    """
    from harness.checker.clauses import check
    from harness.sim.world import simulate
    from harness.target import load_target

    config = request.config
    loaded: dict[tuple[str | None, str], Target] = {}

    def run(plan: Any) -> Any:
        spec, options = config.stash[_CURRENT]
        key = (spec, json.dumps(options, sort_keys=True))
        if key not in loaded:
            loaded[key] = _load(config, spec, options, load_target)
        result = simulate(plan, loaded[key].factory, options=options)
        return result, check(result.history)

    yield run
