"""The Node.js service's canonical JSON gives Python's bytes, for everything the harness sends.

The reconciliation contract defines `json_sha256` by Python's
`json.dumps(v, sort_keys=True, separators=(",", ":"), ensure_ascii=False)`. The
Node.js service parses and writes JSON itself to match it; these tests feed it
the harness's own generated reports (every form, version and hostile data
profile), hand-picked edge cases and a few thousand random values, and compare
its bytes with the harness's `canonical_json` one by one.
"""

from __future__ import annotations

import json
import random
import shutil
import subprocess
from collections.abc import Sequence

from harness.core.digest import canonical_json
from harness.core.hostile import DATA_PROFILES
from harness.core.workload import DEFECTS, ReportSpec, make_submission
from services.blackbox_support import NODE_DIR, missing


def python_canonical(text: str) -> str:
    try:
        return canonical_json(json.loads(text)).hex()
    except ValueError:  # not JSON, or a lone surrogate that has no UTF-8 form
        return "error"


def node_canonical(texts: Sequence[str]) -> list[str]:
    node = shutil.which("node")
    if node is None:
        missing("node is not installed (.ci/run installs it)")
    done = subprocess.run(
        [node, str(NODE_DIR / "canonical.js")],
        input="".join(json.dumps(t) + "\n" for t in texts),
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return done.stdout.splitlines()


def assert_same(texts: Sequence[str]) -> None:
    got = node_canonical(texts)
    assert len(got) == len(texts)
    wrong = [(t, n) for t, n in zip(texts, got, strict=True) if n != python_canonical(t)]
    assert not wrong, f"{len(wrong)} differ, first: {wrong[0][0]!r}"


def test_every_report_the_harness_generates() -> None:
    texts = []
    for seed in (1, 2, 3):
        for index, (form, version) in enumerate(
            [("privat", 1), ("privat", 2), ("offentlig", 1), ("offentlig", 2)]
        ):
            for data in (None, *DATA_PROFILES):
                if data == "near_limit":
                    continue  # the same JSON as without a profile, and a 5 MB PDF
                for defect in (None, *DEFECTS):
                    if defect == "oversized":
                        continue  # a 5 MB PDF: the JSON is one seen already
                    spec = ReportSpec(index * 1000, form, version, defect, data)
                    raw = make_submission(index, spec, seed).files["bekymringsmelding.json"]
                    texts.append(raw.decode("utf-8", "surrogateescape"))
    assert len(texts) > 500
    assert any("\U0001f9d2" in t for t in texts)  # the astral profile is in
    assert_same(texts)


EDGE_CASES = [
    '{"b": 1, "a": [true, false, null], "A": {}, "": []}',
    '{"k": 1, "k": 2}',  # a repeated key keeps the last value, as in Python
    '{"\\ue000": 1, "\\ud83d\\ude00": 2, "z": 3, "\\u00e5": 4, "\\u0061\\u030a": 5}',
    '["\\u0000\\u001f\\u007f\\"\\\\\\/\\b\\f\\n\\r\\t", "\\u2028\\u2029", "Å\\u00c5"]',
    "[0, -0, 1, -1, 123456789012345678901234567890, -9007199254740993]",
    "[0.0, -0.0, 1.0, 1.5, 0.1, 1e16, 1e15, 1234567890123456.0, 1e-4, 1e-5, 1.5e-7]",
    "[1E2, 2.5e+3, 1e308, 1e309, -1e400, 5e-324, 2e-400, 0.30000000000000004]",
    "[NaN, Infinity, -Infinity]",
    ' \t\n\r{"a" : [ 1 , 2 ] } \n',
    "[[[[[[[[[[]]]]]]]]]]",
    '"\\ud800"',  # a lone surrogate: Python cannot encode it; both refuse
    '{"a": "\\udc00x"}',
]
NOT_JSON = ["", "[1,]", "01", "1.", ".5", "+1", "{'a': 1}", '{"a" 1}', "[1] x", '"\t"', "\ufeff[]"]


def test_edge_cases_of_numbers_strings_keys_and_whitespace() -> None:
    assert_same(EDGE_CASES + NOT_JSON)


def _random_value(rng: random.Random, depth: int = 0) -> object:
    alphabet = 'aZ09 Åæøå\u0301\u00e5\x00\x1f\x7f"\\/\n\u2028\ue000\uffff\U0001f9d2\U0001d4da'
    kind = rng.randrange(9 if depth < 4 else 6)
    if kind == 0:
        return None
    if kind == 1:
        return rng.random() < 0.5
    if kind == 2:
        return rng.choice([rng.randint(-(10**3), 10**3), rng.randint(-(2**80), 2**80)])
    if kind == 3:
        return rng.choice(
            [
                rng.uniform(-1e6, 1e6),
                rng.random() * 10 ** rng.randint(-330, 310),
                float(rng.randint(0, 99)),
            ]
        )
    if kind in (4, 5):
        return "".join(rng.choice(alphabet) for _ in range(rng.randrange(8)))
    if kind in (6, 7):
        return {
            "".join(rng.choice(alphabet) for _ in range(rng.randrange(4))): _random_value(
                rng, depth + 1
            )
            for _ in range(rng.randrange(5))
        }
    return [_random_value(rng, depth + 1) for _ in range(rng.randrange(5))]


def test_random_values_written_every_way_python_writes_them() -> None:
    rng = random.Random(20231)
    texts = []
    for _ in range(1500):
        value = _random_value(rng)
        texts.append(
            json.dumps(value, ensure_ascii=rng.random() < 0.5, indent=rng.choice([None, 2]))
        )
    assert_same(texts)
