"""A teacher grades a directory of student submissions: each one applied to a fresh copy of the lab, graded.

A submission is either a script of the student's commands (``*.sh`` or ``*.txt``: one ``NODE: COMMAND`` per line,
``#`` comments) or a fixed topology file (``*.yml``/``*.yaml``). A topology is graded with the *reference*
exercise's probes and checks, whatever the student's file says about them: a submission cannot grade itself.
Each copy of the lab gets a name suffix (``arp-problem-s1``), so grading never touches a lab a student has up.

Output: CSV (one row per submission), JSON, and JUnit (a test suite per submission, a test case per check).
Unlike Kathará's checker, the exit code says something: 0 only if every submission solved the exercise.
"""

from __future__ import annotations

import csv
import io
import json
import re
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING
from xml.sax.saxutils import escape, quoteattr

import yaml

if TYPE_CHECKING:
    from netlab.api import Lab

from netlab.core.frozen import frozen
from netlab.errors import NetlabError
from netlab.features.exercises.grading import Grade
from netlab.features.exercises.model import Command
from netlab.stages.load import load_file

LINE = re.compile(r"\s*([A-Za-z0-9][A-Za-z0-9_-]{0,14})\s*:\s*(\S.*)")
MAX_LINES = 1000


@frozen
class Result:
    submission: str
    kind: str
    """``script`` or ``topology``."""
    grade: Grade | None
    error: str = ""
    """Why it could not be graded (a bad line, a topology that does not validate, a failed ``up``)."""

    @property
    def solved(self) -> bool:
        return self.grade is not None and self.grade.solved


def parse_script(text: str, source: str) -> list[Command]:
    """``NODE: COMMAND`` lines; an unparsable line is an error naming its line."""
    out = []
    lines = text.splitlines()
    if len(lines) > MAX_LINES:
        raise NetlabError(f"{source}: {len(lines)} lines; a submission has at most {MAX_LINES}")
    for number, line in enumerate(lines, 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        match = LINE.fullmatch(line)
        if match is None:
            raise NetlabError(f"{source}:{number}: not `NODE: COMMAND`: {line.strip()[:80]!r}")
        out.append(Command(node=match.group(1), run=match.group(2)))
    return out


def grade_all(ref: str, directory: Path) -> list[Result]:
    files = sorted(p for p in directory.iterdir()
                   if p.is_file() and p.suffix in (".sh", ".txt", ".yml", ".yaml"))
    return [grade_one(ref, path, f"s{i}") for i, path in enumerate(files, 1)]


def grade_one(ref: str, path: Path, suffix: str) -> Result:
    from netlab.api import Lab, down
    from netlab.features.exercises import session

    kind = "topology" if path.suffix in (".yml", ".yaml") else "script"
    try:
        if kind == "script":
            commands = parse_script(path.read_text(encoding="utf-8", errors="replace"), str(path))
            lab = Lab.load(ref, name_suffix=suffix)
        else:
            commands = []
            lab = _student_topology(ref, path, suffix)
    except NetlabError as exc:
        return Result(path.name, kind, None, str(exc).splitlines()[0])
    try:
        lab.up(recreate=True)
        session.run_commands(lab.name, commands, strict=False)
        return Result(path.name, kind, session.check(lab.name))
    except NetlabError as exc:
        return Result(path.name, kind, None, str(exc).splitlines()[0])
    finally:
        down(lab.name)


def _student_topology(ref: str, path: Path, suffix: str) -> Lab:
    """The student's topology with the reference's name, exercise and probes."""
    from netlab import catalog
    from netlab.api import Lab

    reference = catalog.find(ref)
    if reference is None:
        raise NetlabError(f"{ref}: no such exercise")
    # the student's file is read like any topology: netlab's hardened loader (no tags, bombs refused)
    ref_data = load_file(reference).data
    data = load_file(path).data
    if not isinstance(data, dict) or not isinstance(ref_data, dict):
        raise NetlabError(f"{path}: not a topology (a mapping with `name:` and `nodes:`)")
    data = {**data, "name": ref_data["name"], "exercise": ref_data["exercise"], "probes": ref_data.get("probes", [])}
    with tempfile.TemporaryDirectory(prefix="netlab-grade-") as tmp:
        merged = Path(tmp) / path.name
        merged.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
        return Lab.load(str(merged), name_suffix=suffix)


def to_csv(results: list[Result]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["submission", "kind", "solved", "passed", "total", "failed_checks", "wrong_fixes", "error"])
    for r in results:
        passed, total = r.grade.score if r.grade else (0, 0)
        failed = " ".join(c.probe for c in r.grade.checks if not c.passed) if r.grade else ""
        wrong = " ".join(name for name, _ in r.grade.wrong_fixes) if r.grade else ""
        writer.writerow([r.submission, r.kind, "yes" if r.solved else "no", passed, total, failed, wrong, r.error])
    return out.getvalue()


def to_json(results: list[Result]) -> str:
    from netlab.core.codec import to_data

    return json.dumps([{"submission": r.submission, "kind": r.kind, "solved": r.solved, "error": r.error,
                        "grade": to_data(r.grade) if r.grade else None} for r in results], indent=2)


def to_junit(ref: str, results: list[Result]) -> str:
    suites = []
    for r in results:
        cases = []
        for c in (r.grade.checks if r.grade else ()):
            body = "" if c.passed else f"<failure message={quoteattr(c.observed)}>{escape(c.why)}</failure>"
            cases.append(f'    <testcase classname={quoteattr(r.submission)} name={quoteattr(c.probe)}>{body}'
                         "</testcase>")
        if r.error:
            cases.append(f'    <testcase classname={quoteattr(r.submission)} name="grading">'
                         f"<error message={quoteattr(r.error)}/></testcase>")
        failures = sum(1 for c in (r.grade.checks if r.grade else ()) if not c.passed)
        head = (f'  <testsuite name={quoteattr(f"{ref}/{r.submission}")} tests="{len(cases)}" '
                f'failures="{failures}" errors="{1 if r.error else 0}">')
        suites.append(head + "\n" + "\n".join(cases) + "\n  </testsuite>")
    return '<?xml version="1.0" encoding="UTF-8"?>\n<testsuites>\n' + "\n".join(suites) + "\n</testsuites>\n"
