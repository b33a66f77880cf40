"""`harness merge`: one report from shard reports written by separate CI jobs.

Shards split the suite by clause family: each job runs
`harness run --families A,B --seed S --report DIR` with the same target, options,
seed, examples and harness (hence contract); the merge takes each shard's
families as they are. Because every family searches with its own seed derived
from the run seed, the merged report has the same verdicts, outcome counts and
fault coverage as one run of every family. Shards that cannot have come from one
run (other seed, target, examples, contract or harness; a family twice; a shard
that does not verify) are refused.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.checker.clauses import check
from harness.contracts import load_contract
from harness.core.history import History
from harness.errors import UsageError
from harness.report.verify import read_report, verify_report
from harness.sim.world import Plan
from harness.suite.run import SuiteConfig, SuiteResult
from harness.suite.search import FAMILIES, Counterexample, FamilyResult

SAME = {  # what every shard must share -> how to name it in a message
    "harness_version": "harness version",
    "contract.digest": "contract digest",
    "target.spec": "target",
    "target.options": "target options",
    "target.adapter": "adapter (file, SHA-256, package, commit)",
    "seed": "seed",
    "examples": "examples",
    "isolation.mode": "isolation",
}


@dataclass(frozen=True)
class Shard:
    directory: Path
    report: dict[str, Any]
    files: dict[str, str]


def _get(report: dict[str, Any], dotted: str) -> Any:
    value: Any = report
    for part in dotted.split("."):
        value = value[part]
    return value


def read_shard(directory: Path) -> Shard:
    path = directory / "report.json"
    if not path.is_file():
        raise UsageError(
            f"no report.json in shard {str(directory)!r}; pass the --report directory of each "
            "shard's `harness run`"
        )
    report, why = read_report(path)
    problems = verify_report(path).problems if report is not None else [str(why)]
    if report is None or problems:
        raise UsageError(f"shard {str(directory)!r} does not verify: {problems[0]}")
    missing = [n for n in report["files"] if not (directory / n).is_file()]
    if missing:
        raise UsageError(
            f"shard {str(directory)!r} lacks {missing[0]}; copy the whole report directory"
        )
    files = {n: (directory / n).read_text(encoding="utf-8") for n in report["files"]}
    return Shard(directory, report, files)


def _check_compatible(shards: list[Shard]) -> None:
    first = shards[0]
    for shard in shards[1:]:
        for key, what in SAME.items():
            a, b = _get(first.report, key), _get(shard.report, key)
            if a != b:
                raise UsageError(
                    f"cannot merge: shard {str(shard.directory)!r} has {what} {json.dumps(b)}, "
                    f"shard {str(first.directory)!r} has {json.dumps(a)}; run every shard "
                    "with the same --target, --target-option, --seed, --examples and harness"
                )
    owner: dict[str, Path] = {}
    for shard in shards:
        for fam in shard.report["families"]:
            if fam["family"] in owner:
                raise UsageError(
                    f"cannot merge: family {fam['family']!r} is in shard "
                    f"{str(owner[fam['family']])!r} and in {str(shard.directory)!r}; give each "
                    "shard its own --families"
                )
            owner[fam["family"]] = shard.directory
    digest = load_contract().digest
    if first.report["contract"]["digest"] != digest:
        raise UsageError(
            f"cannot merge: the shards were checked against contract "
            f"{first.report['contract']['digest']}, this harness has {digest}; merge with the "
            "harness version that ran the shards"
        )


def _counter(raw: dict[str, Any], key: str | None = None) -> Counter[str]:
    return Counter({k: (v[key] if key else v) for k, v in raw.items() if (v[key] if key else v)})


def _family(entry: dict[str, Any], shard: Shard, cache: dict[str, Counterexample]) -> FamilyResult:
    def cx(name: str | None) -> Counterexample | None:
        if name is None:
            return None
        if name not in cache:
            raw = json.loads(shard.files[name])
            history = History.from_json(raw["history"])
            cache[name] = Counterexample(
                raw["family"],
                Plan.from_json(raw["plan"]),
                list(raw["clauses"]),
                check(history),
                history,
                bool(raw["shrunk"]),
            )
        return cache[name]

    fam = FamilyResult(
        entry["family"],
        examples=int(entry["examples"]),
        swept=int(entry.get("swept", 0)),
        outcomes=_counter(entry["outcomes"]),
        reached=_counter(entry["faults"], "reached"),
        fired=_counter(entry["faults"], "fired"),
        exercised=set(entry["exercised"]),
        warnings=_counter(entry["warnings"]),
        counterexample=cx(entry["counterexample"]),
    )
    for clause, name in entry["also_failed"].items():
        found = cx(name)
        if found is not None:
            fam.also_failed[clause] = found
    return fam


def merge_shards(directories: list[Path]) -> tuple[SuiteResult, dict[str, Any]]:
    """(the merged result, build_report keyword arguments: timestamps and provenance)."""
    shards = [read_shard(d) for d in directories]
    _check_compatible(shards)
    families: dict[str, FamilyResult] = {}
    for shard in shards:
        cache: dict[str, Counterexample] = {}
        for entry in shard.report["families"]:
            families[entry["family"]] = _family(entry, shard, cache)
    first = shards[0].report
    order = [f for f in FAMILIES if f in families] + sorted(set(families) - set(FAMILIES))
    config = SuiteConfig(
        target=first["target"]["spec"],
        seed=first["seed"],
        examples=first["examples"],
        workers=sum(s.report["workers"] for s in shards),
        options=first["target"]["options"],
        families=tuple(order),
        isolation=first["isolation"]["mode"],
    )
    result = SuiteResult(
        config, first["target"]["spec"], [families[f] for f in order], load_contract()
    )
    provenance = [
        {
            "families": [f["family"] for f in s.report["families"]],
            "digest": s.report["digest"],
            "signed_by": (s.report.get("signature") or {}).get("fingerprint"),
            "started": s.report["started"],
            "finished": s.report["finished"],
            "environment": s.report["environment"],
        }
        for s in shards
    ]
    located = [
        json.loads(text).get("locate") for s in shards for text in s.files.values()
    ]  # where the shards' own counterexample files say the target is
    extra = {
        "adapter": first["target"]["adapter"],
        "location": next((loc for loc in located if loc), None),
        "started": min(s.report["started"] for s in shards),
        "finished": max(s.report["finished"] for s in shards),
        "merged_from": provenance,
        "isolation": {
            "mode": first["isolation"]["mode"],
            "separate_user": all(s.report["isolation"]["separate_user"] for s in shards),
        },
    }
    return result, extra
