"""``netlab exercise``: list, start, hint, check, solve, reset, grade.

Registered through the feature's ``cli`` hook, so the CLI package names no feature. Handlers import what they
need when they run: ``netlab --help`` stays fast.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path

Verb = Callable[..., argparse.ArgumentParser]

EXIT_CODES = "exit codes: 0 solved, 1 not solved, 2 not an exercise or invalid input, 3 lab not up, 5 needs root"


def register(verb: Verb) -> None:
    p = verb("exercise", _dispatch, "hands-on exercises: start broken, hints, grading that explains, solution",
             "A lab that starts broken: the task says what is wrong from the outside, hints get more specific, "
             "`check` grades the live lab with its probes and explains a known wrong fix, `solve` applies the "
             "reference solution, `reset` returns to the broken start. Teachers grade a directory of submissions "
             "with `grade`. " + EXIT_CODES)
    sub = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    s = sub.add_parser("list", help="the exercises in the catalog: topic, level, what the kernel needs")
    s.add_argument("--json", action="store_true")
    s = sub.add_parser("start", help="bring the exercise up in its broken state and print the task")
    s.add_argument("lab", metavar="EXERCISE")
    s = sub.add_parser("hint", help="the next hint (each more specific; they are counted)")
    s.add_argument("lab", metavar="EXERCISE")
    s = sub.add_parser("check", help="grade the live lab: each check with what was seen; exit 0 only when solved",
                       description="Grade the live lab. " + EXIT_CODES)
    s.add_argument("lab", metavar="EXERCISE")
    s.add_argument("--step", type=int, metavar="N", help="grade the checkpoints 1..N only")
    s.add_argument("--json", action="store_true")
    s.add_argument("--junit", metavar="FILE", help="also write JUnit XML")
    s = sub.add_parser("solve", help="apply the reference solution (teachers, tests)")
    s.add_argument("lab", metavar="EXERCISE")
    s = sub.add_parser("reset", help="back to the broken start (with --step N: at checkpoint N)")
    s.add_argument("lab", metavar="EXERCISE")
    s.add_argument("--step", type=int, metavar="N")
    s = sub.add_parser("grade", help="teacher: grade each submission in DIR on a fresh copy of the lab",
                       description="Each file in DIR is a submission: a script (*.sh, *.txt: `NODE: COMMAND` "
                       "lines) or a fixed topology (*.yml), graded with the reference exercise's checks on a "
                       "fresh copy of the lab. Writes CSV to stdout (or --csv FILE), optional JSON and JUnit. "
                       "Exit 0 only if every submission solved it. Commands run as root (in the lab's network "
                       "namespaces only): grade untrusted submissions inside `netlab vm`.")
    s.add_argument("lab", metavar="EXERCISE")
    s.add_argument("--submissions", required=True, metavar="DIR", type=Path)
    s.add_argument("--csv", metavar="FILE", type=Path)
    s.add_argument("--json", metavar="FILE", type=Path)
    s.add_argument("--junit", metavar="FILE", type=Path)


def _dispatch(args: argparse.Namespace) -> int:
    handlers: dict[str, Callable[[argparse.Namespace], int]] = {
        "list": _list, "start": _start, "hint": _hint, "check": _check, "solve": _solve, "reset": _reset,
        "grade": _grade}
    return handlers[args.action](args)


def _name(ref: str) -> str:
    """A lab reference (catalog name or file) as the lab's name, as the other verbs accept it."""
    from netlab.cli.common import lab_name

    return lab_name(ref)


def _list(args: argparse.Namespace) -> int:
    from netlab import catalog, requirements
    from netlab.api import Lab
    from netlab.errors import InvalidInput
    from netlab.features.exercises.model import Exercise

    rows = []
    for name in catalog.names():
        try:
            lab = Lab.load(name)
        except InvalidInput:
            continue
        if lab.resolved.exercise is None:
            continue
        ex = Exercise.model_validate(lab.resolved.exercise)
        needs = [r.feature for r in requirements.derive(lab.topology) if r.feature not in ("netns", "veth")]
        rows.append({"name": name, "title": ex.title, "topic": ex.topic, "level": ex.level, "needs": needs})
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    from rich.table import Table

    from netlab.cli.common import console

    table = Table(title="netlab exercises", title_justify="left")
    for col in ("exercise", "topic", "level", "what to fix", "needs"):
        table.add_column(col)
    for row in sorted(rows, key=lambda r: (str(r["topic"]), int(str(r["level"])), str(r["name"]))):
        table.add_row(str(row["name"]), str(row["topic"]), str(row["level"]), str(row["title"]),
                      ", ".join(row["needs"]) or "-")  # type: ignore[arg-type]
    console().print(table)
    return 0


def _start(args: argparse.Namespace) -> int:
    from netlab.features.exercises import session

    lab, ex, message = session.start(args.lab)
    sys.stderr.write(message + "\n")
    print(f"exercise {lab}: {ex.title}\n\n{ex.task.strip()}\n")
    print(f"work in the nodes with `netlab shell {lab} NODE`; `netlab exercise hint {lab}` for a hint "
          f"({len(ex.hints)} available); `netlab exercise check {lab}` to grade.")
    return 0


def _hint(args: argparse.Namespace) -> int:
    from netlab.features.exercises import session

    number, total, text = session.hint(_name(args.lab))
    print(f"hint {number}/{total}: {text.strip()}")
    return 0


def _check(args: argparse.Namespace) -> int:
    from netlab.core.codec import to_data
    from netlab.features.exercises import session

    grade = session.check(_name(args.lab), args.step)
    if args.junit:
        from netlab.features.exercises.submissions import Result, to_junit

        Path(args.junit).write_text(to_junit(grade.lab, [Result(grade.lab, "live", grade)]), encoding="utf-8")
    if args.json:
        print(json.dumps(to_data(grade), indent=2))
    else:
        print(grade.render())
    return grade.exit_code


def _solve(args: argparse.Namespace) -> int:
    from netlab.features.exercises import session

    count = session.solve(_name(args.lab))
    print(f"applied the reference solution ({count} commands); `netlab exercise check {_name(args.lab)}` to see")
    return 0


def _reset(args: argparse.Namespace) -> int:
    from netlab.features.exercises import session

    message = session.reset(_name(args.lab), args.step)
    print(message + (f"; steps before {args.step} replayed from the solution" if args.step else ""))
    return 0


def _grade(args: argparse.Namespace) -> int:
    from netlab.features.exercises import submissions

    if not args.submissions.is_dir():
        from netlab.errors import InvalidInput

        raise InvalidInput(message=f"{args.submissions}: not a directory")
    results = submissions.grade_all(args.lab, args.submissions)
    text = submissions.to_csv(results)
    if args.csv:
        args.csv.write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)
    if args.json:
        args.json.write_text(submissions.to_json(results), encoding="utf-8")
    if args.junit:
        args.junit.write_text(submissions.to_junit(args.lab, results), encoding="utf-8")
    return 0 if results and all(r.solved for r in results) else 1
