"""Golden tests: the plan of every catalog lab, and what `netlab validate` says about bad inputs.

A golden file is the expected output, committed. When an output changes on purpose, regenerate the
files and review the diff::

    UPDATE_GOLDEN=1 pytest tests/golden        # or: pytest tests/golden --update-golden

* ``plans/<lab>.json``: ``Plan.to_json()`` of each catalog lab (found automatically: a new lab needs
  only its golden file).
* ``bad/<case>.yml`` → ``bad/<case>.err``: the stderr of ``netlab validate <case>.yml`` run from
  ``bad/``, so paths in the messages are relative and the files are the same on every machine.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from netlab import catalog
from netlab.api import Lab
from netlab.cli.main import main

HERE = Path(__file__).resolve().parent
PLANS = HERE / "plans"
BAD = HERE / "bad"
REGENERATE = "UPDATE_GOLDEN=1 pytest tests/golden"


def check_golden(path: Path, actual: str, update: bool) -> None:
    """Compare ``actual`` with the golden file ``path``, or (re)write it when updating."""
    if update:
        path.parent.mkdir(parents=True, exist_ok=True)
        if not path.exists() or path.read_text(encoding="utf-8") != actual:
            path.write_text(actual, encoding="utf-8")
        return
    if not path.exists():
        pytest.fail(f"no golden file {path.relative_to(HERE.parent.parent)}; create it with `{REGENERATE}` "
                    "and review it before committing", pytrace=False)
    expected = path.read_text(encoding="utf-8")
    assert actual == expected, f"output differs from {path.name}; if the change is intended: {REGENERATE}"


def bad_cases() -> list[str]:
    return sorted(p.name for p in BAD.glob("*.yml"))


@pytest.mark.parametrize("lab", catalog.names())
def test_plan_of_catalog_lab_matches_golden(lab: str, update_golden: bool) -> None:
    check_golden(PLANS / f"{lab}.json", Lab.load(lab).plan().to_json(), update_golden)


def test_every_plan_golden_belongs_to_a_catalog_lab() -> None:
    stale = sorted(p.stem for p in PLANS.glob("*.json"))
    stale = [name for name in stale if name not in catalog.names()]
    assert stale == [], f"golden plans of labs that are not in the catalog (delete them): {stale}"


@pytest.mark.parametrize("case", bad_cases())
def test_validate_of_bad_input_matches_golden(case: str, update_golden: bool, monkeypatch: pytest.MonkeyPatch,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(BAD)
    code = main(["validate", case])
    out, err = capsys.readouterr()
    assert code == 2, f"{case} should be invalid (exit 2), got exit {code}"
    assert out == ""
    assert "Traceback" not in err
    check_golden(BAD / case.replace(".yml", ".err"), err, update_golden)


def test_every_bad_golden_has_its_input() -> None:
    orphans = sorted(p.name for p in BAD.glob("*.err") if not p.with_suffix(".yml").exists())
    assert orphans == [], f".err files without their .yml (delete them): {orphans}"


def test_there_are_at_least_ten_bad_inputs_and_one_has_many_mistakes() -> None:
    assert len(bad_cases()) >= 10
    many = (BAD / "many-mistakes.err").read_text(encoding="utf-8")
    assert many.rstrip().endswith("problems") and int(many.rsplit(": ", 1)[1].split()[0]) >= 10
