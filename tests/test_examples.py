"""Every bundled example meets its EXPECTS under the default budget: no false pass or fail."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from harness.suite.run import SuiteConfig, run_suite
from harness.target import REFERENCE_SPEC, load_target

EXAMPLES = sorted((Path(__file__).resolve().parent.parent / "examples").glob("*.py"))


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_example_meets_its_expects(path: Path) -> None:
    if path.name.startswith("httpx_") and importlib.util.find_spec("httpx") is None:
        pytest.skip("httpx is not installed (it is in the test extra: pip install -e '.[test]')")
    spec = f"{path}:make_case_system"
    expects = load_target(spec).expects
    assert expects is not None, f"{path.name} must declare EXPECTS (empty for a correct one)"
    result = run_suite(SuiteConfig(target=spec))
    assert set(result.failed) == expects


def test_reference_passes_every_clause() -> None:
    result = run_suite(SuiteConfig(target=REFERENCE_SPEC, seed=11))
    assert result.failed == []
    assert [c.verdict for c in result.clauses] == ["pass"] * 8


def test_the_adapter_in_the_readme_passes_the_suite(tmp_path: Path) -> None:
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Plugging in your case system", 1)[1]
    code = section.split("```python", 1)[1].split("```", 1)[0]
    path = tmp_path / "my_adapter.py"
    path.write_text(code, encoding="utf-8")
    result = run_suite(SuiteConfig(target=f"{path}:make_case_system"))
    assert result.failed == []
