"""The compiled-lab cache: a hit is exactly what compiling gives, and anything that could make it wrong is a miss.

What ``netlab up`` of a cached lab applies is read from this file instead of computed; so every catalog lab must
read back equal to its compile (requirements, resolved lab, every action of the plan), and a change of text,
path, suffix or netlab's code, a planted or tampered entry, must all compile again.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
from pathlib import Path

import pytest

from netlab import catalog, pipeline
from netlab.errors import InvalidInput
from netlab.model.compiled import Compiled, plan_from_dict
from netlab.stages import compile_cache

CATALOG = sorted(p.stem for p in catalog.catalog_dir().glob("*.yml"))


@pytest.mark.parametrize("lab", CATALOG)
def test_every_catalog_lab_reads_back_equal_to_its_compile(lab: str) -> None:
    compiled = pipeline.compile(pipeline.build(lab))
    back = Compiled.from_json(compiled.to_json("k"), "k")
    assert back == compiled
    assert compile_cache.problem(compiled) is None
    assert plan_from_dict(compiled.plan.to_dict()) == compiled.plan


def test_another_key_is_a_miss() -> None:
    compiled = pipeline.compile(pipeline.build("routed"))
    assert Compiled.from_json(compiled.to_json("k1"), "k2") is None


def _tampered(compiled: Compiled, edit: object) -> str:
    data = json.loads(compiled.to_json("k"))
    assert callable(edit)
    edit(data)
    return json.dumps(data)


@pytest.mark.parametrize("edit", [
    lambda d: d["plan"]["actions"][0].update(action="no_such_action"),
    lambda d: d["plan"]["actions"][0].update(netns=7),
    lambda d: d["plan"]["actions"][0].update(extra="field"),
    lambda d: d["plan"]["actions"][0].update(phase="links"),
    lambda d: d["resolved"].update(name=["not", "text"]),
    lambda d: d.update(format=0),
    lambda d: d.pop("requirements"),
], ids=["unknown-action", "wrong-type", "unknown-field", "wrong-phase", "resolved-type", "format", "missing"])
def test_a_malformed_entry_is_a_miss_not_a_half_read_plan(edit: object) -> None:
    compiled = pipeline.compile(pipeline.build("routed"))
    assert Compiled.from_json(_tampered(compiled, edit), "k") is None


def test_an_entry_that_acts_outside_the_lab_is_refused() -> None:
    compiled = pipeline.compile(pipeline.build("routed"))
    first = compiled.plan.actions[0]
    moved = dataclasses.replace(compiled.plan, actions=(dataclasses.replace(first, netns="someone-else"),
                                                         *compiled.plan.actions[1:]))  # type: ignore[type-var]
    assert "someone-else" in str(compile_cache.problem(dataclasses.replace(compiled, plan=moved)))
    renamed = dataclasses.replace(compiled, name="other")
    assert compile_cache.problem(renamed) == "names another lab"


@pytest.fixture
def lab_file(tmp_path: Path) -> Path:
    path = tmp_path / "labs" / "routed.yml"
    path.parent.mkdir()
    shutil.copy(catalog.catalog_dir() / "routed.yml", path)
    return path


def _entries(run: Path) -> list[str]:
    folder = run / compile_cache.DIR
    return sorted(os.listdir(folder)) if folder.is_dir() else []


def test_the_second_compile_of_an_unchanged_file_is_read_not_built(lab_file: Path, tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    run = tmp_path / "run"
    first = pipeline.compiled(lab_file, run_dir=run)
    assert len(_entries(run)) == 1
    entry = run / compile_cache.DIR / _entries(run)[0]
    assert entry.stat().st_mode & 0o777 == 0o600

    def no_build(*_args: object) -> None:
        raise AssertionError("built again")

    monkeypatch.setattr(pipeline, "build", no_build)
    assert pipeline.compiled(lab_file, run_dir=run) == first


@pytest.mark.parametrize("change", ["text", "suffix", "code"])
def test_what_the_result_depends_on_changes_and_it_is_compiled_again(
        change: str, lab_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    run = tmp_path / "run"
    first = pipeline.compiled(lab_file, run_dir=run)
    built: list[object] = []
    real_build = pipeline.build
    monkeypatch.setattr(pipeline, "build", lambda *a: built.append(a) or real_build(*a))
    suffix = None
    if change == "text":
        lab_file.write_text(lab_file.read_text().replace("count: 3", "count: 2", 1))
    elif change == "suffix":
        suffix = "w1"
    else:
        monkeypatch.setattr(compile_cache, "code_fingerprint", lambda: "another netlab")
    again = pipeline.compiled(lab_file, suffix, run_dir=run)
    assert built, "the cache answered for another input"
    assert (again != first) == (change != "code")  # a new text or name is a new lab; the same code, the same
    assert again == pipeline.compile(real_build(str(lab_file), suffix))


def test_an_invalid_file_is_never_cached_and_says_why_every_time(lab_file: Path, tmp_path: Path) -> None:
    run = tmp_path / "run"
    lab_file.write_text(lab_file.read_text().replace("kind: ping", "kind: pong", 1))
    for _ in range(2):
        with pytest.raises(InvalidInput, match="pong"):
            pipeline.compiled(lab_file, run_dir=run)
    assert _entries(run) == []


def test_a_cache_others_could_write_is_not_read(lab_file: Path, tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    run = tmp_path / "run"
    pipeline.compiled(lab_file, run_dir=run)
    (run / compile_cache.DIR).chmod(0o777)  # anyone could have replaced the entry
    built: list[object] = []
    real_build = pipeline.build
    monkeypatch.setattr(pipeline, "build", lambda *a: built.append(a) or real_build(*a))
    pipeline.compiled(lab_file, run_dir=run)
    assert built


def test_clear_removes_every_entry(lab_file: Path, tmp_path: Path) -> None:
    run = tmp_path / "run"
    pipeline.compiled(lab_file, run_dir=run)
    pipeline.compiled(lab_file, "w2", run_dir=run)
    assert len(_entries(run)) == 2
    assert len(compile_cache.clear(run)) == 2
    assert _entries(run) == []


def test_the_code_fingerprint_moves_with_a_module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    before = compile_cache.code_fingerprint()
    assert compile_cache.code_fingerprint() == before
    module = Path(compile_cache.__file__)
    stat = module.stat()
    try:
        os.utime(module, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
        assert compile_cache.code_fingerprint() != before
    finally:
        os.utime(module, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert compile_cache.code_fingerprint() == before
