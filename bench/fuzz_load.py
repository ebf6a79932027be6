"""Mutation fuzzer for netlab's front end: load → validate → resolve, as ``Lab.load`` chains them.

netlab runs as root and reads YAML that other users may write, so any input must end in data or in
``InvalidInput`` (exit 2), never in a traceback, a hang or a memory blowup. This script takes the
catalog files (``topologies/*.yml``), mutates them at random (bytes, lines and YAML tokens: flipped
bytes, invalid UTF-8, control characters, tags, anchors/aliases, merge keys, deep nesting, alias
bombs, truncation, duplicated or spliced lines, odd values...) and runs each mutant in a forked
child with a wall-clock timeout and an address-space cap, so a hang or a blowup is observed, not
suffered::

    python bench/fuzz_load.py --count 10000 --seed 1
    python bench/fuzz_load.py --replay bench/out/fuzz/traceback-validate-TypeError-123.yml

Outcomes: ``ok``, ``invalid`` (InvalidInput, exit 2), ``netlab-error`` (another NetlabError: a
user-facing message, no traceback), ``traceback`` (any other exception), ``hang`` (over the
timeout), ``memory`` (MemoryError under the cap), ``crash`` (the child died by a signal). Failures are
saved to ``bench/out/fuzz/`` with their traceback, grouped by stage, exception type and the innermost
netlab function, and (unless ``--no-minimize``) the first mutant of each group is reduced to a small
reproducer (``*.min.yml``). Exit status 1 if there was any traceback, hang, memory blowup or crash.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import resource
import select
import signal
import sys
import tempfile
import time
import traceback
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from netlab.errors import InvalidInput, NetlabError  # noqa: E402
from netlab.stages.load import load_file  # noqa: E402
from netlab.stages.resolve import resolve  # noqa: E402
from netlab.stages.validate import validate  # noqa: E402

FAILURES = ("traceback", "hang", "memory", "crash")
OUTCOMES = ("ok", "invalid", "netlab-error", *FAILURES)

# ------------------------------------------------------------------------------------------ mutations

VALUES = [b"-1", b"0", b"65536", b"99999999999999999999999", b"1e999", b"0x1F", b"0o777", b"1:30", b".nan",
          b".inf", b"~", b"null", b"yes", b"off", b"''", b'""', b"[]", b"{}", b"[1, 2]", b"{a: 1}", b"[[]]",
          b"2024-13-45", b"2024-01-01", b"10.0.0.1/33", b"10.0.0.256/24", b"::1/129", b"fe80::1%eth0",
          b"0.0.0.0/0", b"default", b"eth0", b"lo", b"a" * 300, b'"\\u0000"', b'"\\x07"', b"-", b"?", b"h1",
          b"router", b"client", b"tcp", b"ping", b"true", b"1.5", b"'1'", b"[default]", b"{node: h1}", b"-.inf",
          b"0b101", b"4294967296", b"-0", b"1e3", b"10.0.0.1", b"::", b"255.255.255.255/32", b"'h\xc3\xa9'",
          b"../x", b"a b", b"eth0.4095", b"01:02:03:04:05:06", b"{}: x", b"2001:db8::1/64"]
TAGS = [b"!!int", b"!!float", b"!!bool", b"!!null", b"!!str", b"!!timestamp", b"!!binary", b"!!set", b"!!omap",
        b"!!pairs", b"!!seq", b"!!map", b"!foo", b"!", b"!!merge", b"!!python/object/apply:os.system ['true']",
        b"!!python/name:os.system", b"!!python/tuple", b"!<tag:example.com,2000:x>"]
CONTROL = [bytes([c]) for c in (*range(0, 9), 11, 12, *range(14, 32), 127)] + [b"\xc2\x80", b"\xef\xbf\xbe"]
BAD_UTF8 = [b"\xff", b"\xfe", b"\xc3", b"\xc0\xaf", b"\xed\xa0\x80", b"\xf4\x90\x80\x80", b"\xe2\x82", b"\x80"]
VALUE = re.compile(rb"(: |- |\[|, )([^,{}\[\]\n#]+)")
"""A value: after ``key: ``, ``- ``, ``[`` or ``, `` up to the end of its line or flow item."""
MAP_START = re.compile(rb"^ *(- )?[\w.-]+:$")
"""A line that opens a block mapping or list: ``  router:``."""
DEPTHS = [10, 50, 99, 100, 101, 150, 500, 999, 1000, 1001, 5000, 20000]


def bomb(levels: int, width: int) -> bytes:
    lines = [b"lol0: &l0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    for i in range(1, levels):
        lines.append(b"lol%d: &l%d [%s]" % (i, i, b", ".join([b"*l%d" % (i - 1)] * width)))
    return b"\n".join(lines) + b"\n"


@dataclass
class Mutator:
    rng: random.Random
    corpus: list[bytes]
    ops: list[str]

    def pos(self, data: bytes) -> int:
        return self.rng.randrange(len(data) + 1)

    def lines(self, data: bytes) -> list[bytes]:
        return data.split(b"\n")

    def value_line(self, lines: list[bytes]) -> int | None:
        """Index of a ``key: value`` or ``- value`` line, if any."""
        found = [i for i, line in enumerate(lines) if b": " in line or line.lstrip().startswith(b"- ")]
        return self.rng.choice(found) if found else None

    def set_value(self, data: bytes, make: Callable[[bytes], bytes]) -> bytes:
        """Replace one value (block or inside a flow collection) with ``make(old value)``."""
        found = list(VALUE.finditer(data))
        if not found:
            return data
        m = self.rng.choice(found)
        return data[:m.start(2)] + make(m.group(2)) + data[m.end(2):]

    # each takes the file, returns the mutant
    def flip_bits(self, d: bytes) -> bytes:
        b = bytearray(d)
        for _ in range(self.rng.randint(1, 8)):
            if b:
                b[self.rng.randrange(len(b))] ^= 1 << self.rng.randrange(8)
        return bytes(b)

    def random_bytes(self, d: bytes) -> bytes:
        p = self.pos(d)
        return d[:p] + self.rng.randbytes(self.rng.randint(1, 4)) + d[p:]

    def control_char(self, d: bytes) -> bytes:
        p = self.pos(d)
        return d[:p] + self.rng.choice(CONTROL) + d[p:]

    def invalid_utf8(self, d: bytes) -> bytes:
        p = self.pos(d)
        return d[:p] + self.rng.choice(BAD_UTF8) + d[p:]

    def delete_range(self, d: bytes) -> bytes:
        p = self.pos(d)
        return d[:p] + d[p + self.rng.randint(1, 32):]

    def truncate(self, d: bytes) -> bytes:
        return d[:self.pos(d)]

    def duplicate_line(self, d: bytes) -> bytes:
        lines = self.lines(d)
        i = self.rng.randrange(len(lines))
        lines.insert(self.rng.choice([i, self.rng.randrange(len(lines) + 1)]), lines[i])
        return b"\n".join(lines)

    def delete_or_swap_lines(self, d: bytes) -> bytes:
        lines = self.lines(d)
        i, j = self.rng.randrange(len(lines)), self.rng.randrange(len(lines))
        if self.rng.random() < 0.5:
            del lines[i]
        else:
            lines[i], lines[j] = lines[j], lines[i]
        return b"\n".join(lines)

    def splice(self, d: bytes) -> bytes:
        other = self.lines(self.rng.choice(self.corpus))
        a = self.rng.randrange(len(other))
        piece = other[a:a + self.rng.randint(1, 12)]
        lines = self.lines(d)
        i = self.rng.randrange(len(lines) + 1)
        return b"\n".join(lines[:i] + piece + lines[i:])

    def reindent(self, d: bytes) -> bytes:
        lines = self.lines(d)
        i = self.rng.randrange(len(lines))
        line = lines[i]
        if self.rng.random() < 0.2:
            lines[i] = b"\t" + line.lstrip(b" ")
        elif self.rng.random() < 0.5:
            lines[i] = b" " * self.rng.randint(1, 4) + line
        else:
            lines[i] = line[self.rng.randint(1, 4):] if line.startswith(b" ") else line
        return b"\n".join(lines)

    def odd_value(self, d: bytes) -> bytes:
        return self.set_value(d, lambda _old: self.rng.choice(VALUES))

    def corpus_value(self, d: bytes) -> bytes:
        """A value that is valid somewhere else in the catalog, put where it may not be."""
        values = [m.group(2) for f in self.corpus for m in VALUE.finditer(f)]
        return self.set_value(d, lambda _old: self.rng.choice(values))

    def corpus_key(self, d: bytes) -> bytes:
        """A key that exists somewhere in the catalog, in place of another one."""
        keys = [line.split(b":", 1)[0].strip(b" -") for f in self.corpus for line in f.split(b"\n") if b":" in line]
        lines = self.lines(d)
        i = self.value_line(lines)
        if i is None or b": " not in lines[i]:
            return d
        line = lines[i]
        start = len(line) - len(line.lstrip(b" -"))
        lines[i] = line[:start] + self.rng.choice(keys) + line[line.index(b": "):]
        return b"\n".join(lines)

    def tag(self, d: bytes) -> bytes:
        return self.set_value(d, lambda old: self.rng.choice(TAGS) + b" " + old)

    def anchor_alias(self, d: bytes) -> bytes:
        """Anchor one value and alias it from a later one (sometimes the alias has no anchor)."""
        found = list(VALUE.finditer(d))
        if len(found) < 2:
            return d
        first, second = sorted(self.rng.sample(found, 2), key=lambda m: m.start())
        name = self.rng.choice([b"a", b"b"])
        anchor = b"&" + name + b" " if self.rng.random() < 0.9 else b""
        return (d[:first.start(2)] + anchor + d[first.start(2):second.start(2)] + b"*" + name
                + d[second.end(2):])

    def merge_key(self, d: bytes) -> bytes:
        """Anchor a block mapping and merge it (``<<: *m``) into a later one; or merge something odd."""
        lines = self.lines(d)
        starts = [i for i, line in enumerate(lines[:-1]) if MAP_START.match(line)
                  and b":" in lines[i + 1] and not lines[i + 1].lstrip().startswith(b"-")]
        if len(starts) < 2:
            return d
        i, j = sorted(self.rng.sample(starts, 2))
        lines[i] += b" &m"
        indent = lines[j + 1][:len(lines[j + 1]) - len(lines[j + 1].lstrip(b" "))]
        value = b"*m" if self.rng.random() < 0.8 else self.rng.choice([b"[*m, {x: 1}]", b"{x: 1}", b"3", b"*m2"])
        lines.insert(j + 1, indent + b"<<: " + value)
        return b"\n".join(lines)

    def deep_nesting(self, d: bytes) -> bytes:
        n = self.rng.choice(DEPTHS)
        opener, closer = self.rng.choice([(b"[", b"]"), (b"{a: ", b"}"), (b"[\n", b"]")])
        return self.set_value(d, lambda old: opener * n + (old or b"x") + closer * n)

    def block_nesting(self, d: bytes) -> bytes:
        n = self.rng.choice(DEPTHS[:8])
        block = b"".join(b"  " * k + b"k%d:\n" % k for k in range(n)) + b"  " * n + b"v: 1\n"
        return d + b"\n" + block if self.rng.random() < 0.5 else d + b"\ndeep: " + b"- " * n + b"x\n"

    def recursive_alias(self, d: bytes) -> bytes:
        return self.set_value(d, lambda _old: self.rng.choice([b"&r [*r]", b"&r {x: *r}", b"&r {<<: *r}",
                                                                 b"&r [a, [b, *r]]"]))

    def alias_bomb(self, d: bytes) -> bytes:
        return bomb(self.rng.randint(3, 12), self.rng.randint(2, 10)) + d

    def documents(self, d: bytes) -> bytes:
        lines = self.lines(d)
        lines.insert(self.rng.randrange(len(lines) + 1), self.rng.choice([b"---", b"...", b"--- !!map", b"%YAML 1.1"]))
        return b"\n".join(lines)

    def line_endings(self, d: bytes) -> bytes:
        choice = self.rng.randrange(3)
        return d.replace(b"\n", b"\r\n") if choice == 0 else b"\xef\xbb\xbf" + d if choice == 1 else d.replace(
            b"\n", b"\r")

    def swap_tokens(self, d: bytes) -> bytes:
        words = d.split(b" ")
        if len(words) > 2:
            i, j = self.rng.randrange(len(words)), self.rng.randrange(len(words))
            words[i], words[j] = words[j], words[i]
        return b" ".join(words)

    def mutate(self, data: bytes) -> tuple[bytes, list[str]]:
        """1 to 5 mutations (mostly 1 or 2); returns the mutant and the names of what was done."""
        applied = []
        for _ in range(min(1 + int(self.rng.expovariate(1.0)), 5)):
            name = self.rng.choice(self.ops)
            data = getattr(self, name)(data)
            applied.append(name)
        return data, applied


OPS = ["flip_bits", "random_bytes", "control_char", "invalid_utf8", "delete_range", "truncate", "duplicate_line",
       "delete_or_swap_lines", "splice", "reindent", "odd_value", "corpus_value", "corpus_key", "tag",
       "anchor_alias", "merge_key", "deep_nesting", "block_nesting", "recursive_alias", "alias_bomb", "documents",
       "line_endings", "swap_tokens"]


# ------------------------------------------------------------------------------------------ running one input

def front_end(path: Path, stage: list[str]) -> None:
    """What ``Lab.load`` does once it has found the file; ``stage`` records how far it got."""
    stage[0] = "load"
    loaded = load_file(path, display="mutant.yml")
    stage[0] = "validate"
    topo = validate(loaded)
    stage[0] = "resolve"
    resolve(topo, str(path.resolve()), loaded.lines)


def innermost_netlab_frame(tb: traceback.StackSummary) -> str:
    for frame in reversed(tb):
        if "/netlab/" in frame.filename:
            return f"{Path(frame.filename).relative_to(ROOT)}:{frame.name}"
    return "?"


def child(path: Path, wfd: int, mem_mb: int) -> None:
    """In the forked child: cap memory, run the front end, write one JSON line, never return."""
    result: dict[str, str]
    stage = ["setup"]
    try:
        resource.setrlimit(resource.RLIMIT_AS, (mem_mb << 20, mem_mb << 20))
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        front_end(path, stage)
        result = {"outcome": "ok"}
    except InvalidInput:
        result = {"outcome": "invalid", "stage": stage[0]}
    except NetlabError as exc:
        result = {"outcome": "netlab-error", "type": type(exc).__name__}
    except MemoryError:
        result = {"outcome": "memory"}
    except BaseException as exc:
        tb = traceback.extract_tb(exc.__traceback__)
        result = {"outcome": "traceback", "stage": stage[0], "type": type(exc).__name__,
                  "where": innermost_netlab_frame(tb), "last": f"{Path(tb[-1].filename).name}:{tb[-1].name}",
                  "trace": "".join(traceback.format_exception(exc))[-6000:]}
    try:
        os.write(wfd, json.dumps(result).encode() + b"\n")
    finally:
        os._exit(0)


@dataclass
class Running:
    pid: int
    fd: int
    start: float
    index: int
    path: Path
    data: bytes
    ops: list[str]
    buf: bytes = b""


def start(path: Path, data: bytes, index: int, ops: list[str], mem_mb: int) -> Running:
    path.write_bytes(data)
    rfd, wfd = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(rfd)
        child(path, wfd, mem_mb)
    os.close(wfd)
    return Running(pid, rfd, time.monotonic(), index, path, data, ops)


def finish(run: Running, timed_out: bool) -> dict[str, str]:
    if timed_out:
        os.kill(run.pid, signal.SIGKILL)
    _, status = os.waitpid(run.pid, 0)
    os.close(run.fd)
    if timed_out:
        return {"outcome": "hang"}
    if run.buf.strip():
        return dict(json.loads(run.buf))
    sig = os.WTERMSIG(status) if os.WIFSIGNALED(status) else 0
    return {"outcome": "crash", "type": signal.Signals(sig).name if sig else f"exit {os.WEXITSTATUS(status)}"}


def run_many(inputs: Iterable[tuple[int, bytes, list[str]]], jobs: int, timeout: float, mem_mb: int, work: Path,
             report: Callable[[Running, dict[str, str]], None]) -> None:
    pending = iter(inputs)
    running: dict[int, Running] = {}
    more = True
    while more or running:
        while more and len(running) < jobs:
            item = next(pending, None)
            if item is None:
                more = False
                break
            run = start(work / f"m{item[0]}.yml", item[1], item[0], item[2], mem_mb)
            running[run.fd] = run
        if not running:
            break
        now = time.monotonic()
        wait = max(0.0, min(r.start + timeout for r in running.values()) - now)
        readable, _, _ = select.select(list(running), [], [], wait)
        for fd in readable:
            chunk = os.read(fd, 65536)
            if chunk:
                running[fd].buf += chunk
                continue
            run = running.pop(fd)
            report(run, finish(run, False))
        for fd, run in list(running.items()):
            if time.monotonic() - run.start > timeout:
                del running[fd]
                report(run, finish(run, True))


def run_one(data: bytes, timeout: float, mem_mb: int, work: Path) -> dict[str, str]:
    out: list[dict[str, str]] = []
    run_many([(0, data, [])], 1, timeout, mem_mb, work, lambda _run, result: out.append(result))
    return out[0]


def signature(result: dict[str, str]) -> tuple[str, ...]:
    return (result["outcome"], result.get("stage", ""), result.get("type", ""), result.get("where", ""))


def minimize(data: bytes, target: tuple[str, ...], timeout: float, mem_mb: int, work: Path,
             budget: int = 1500) -> bytes:
    """Delta debugging (ddmin): drop chunks of lines, then of bytes, while the failure stays the same."""
    tries = 0

    def same(candidate: bytes) -> bool:
        nonlocal tries
        tries += 1
        return signature(run_one(candidate, timeout, mem_mb, work)) == target

    for split, join in ((lambda b: b.split(b"\n"), b"\n".join), (lambda b: [bytes([c]) for c in b], b"".join)):
        parts = split(data)
        n = 2
        while len(parts) >= 2 and tries < budget:
            size = max(1, len(parts) // n)
            for start_at in range(0, len(parts), size):
                candidate = parts[:start_at] + parts[start_at + size:]
                if tries < budget and same(join(candidate)):
                    parts, n = candidate, max(n - 1, 2)
                    break
            else:
                if size == 1:
                    break
                n = min(n * 2, len(parts))
        data = join(parts)
    return data


# ------------------------------------------------------------------------------------------ main

def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--count", type=int, default=1000, help="mutants to run (default 1000)")
    ap.add_argument("--seed", type=int, default=1, help="random seed: the same seed gives the same mutants")
    ap.add_argument("--timeout", type=float, default=5.0, help="seconds before a child counts as hung")
    ap.add_argument("--mem-mb", type=int, default=1024, help="address-space cap of each child (RLIMIT_AS)")
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="children at once")
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "out" / "fuzz", help="where failures go")
    ap.add_argument("--keep", type=int, default=3, help="mutants saved per failure group")
    ap.add_argument("--no-minimize", action="store_true", help="do not reduce each failure group's first mutant")
    ap.add_argument("--ops", help="comma-separated mutations to use (default all: " + ",".join(OPS) + ")")
    ap.add_argument("--replay", nargs="+", type=Path, help="run these files (e.g. saved mutants) and show the result")
    args = ap.parse_args()

    work = Path(tempfile.mkdtemp(prefix="netlab-fuzz-"))
    if args.replay:
        bad = 0
        for path in args.replay:
            result = run_one(path.read_bytes(), args.timeout, args.mem_mb, work)
            bad += result["outcome"] in FAILURES
            print(f"{path}: {result['outcome']} {result.get('stage', '')} {result.get('type', '')}")
            if "trace" in result:
                print(result["trace"])
        return 1 if bad else 0

    corpus_files = sorted((ROOT / "topologies").glob("*.yml"))
    corpus = [p.read_bytes() for p in corpus_files]
    rng = random.Random(args.seed)
    mutator = Mutator(rng, corpus, args.ops.split(",") if args.ops else OPS)

    def inputs() -> Iterator[tuple[int, bytes, list[str]]]:  # made as they are run: same seed, same mutants
        for i in range(args.count):
            seed_index = rng.randrange(len(corpus))
            data, ops = mutator.mutate(corpus[seed_index])
            yield i, data, [corpus_files[seed_index].name, *ops]

    args.out.mkdir(parents=True, exist_ok=True)
    counts: Counter[str] = Counter()
    invalid_at: Counter[str] = Counter()
    groups: dict[tuple[str, ...], list[tuple[Path, dict[str, str], list[str]]]] = {}
    started = time.monotonic()

    def report(run: Running, result: dict[str, str]) -> None:
        counts[result["outcome"]] += 1
        if result["outcome"] == "invalid":
            invalid_at[result.get("stage", "?")] += 1
        if result["outcome"] in FAILURES:
            sig = signature(result)
            members = groups.setdefault(sig, [])
            if len(members) < max(1, args.keep):
                name = "-".join(part for part in (*sig[:3], str(run.index)) if part).replace("/", "_")
                saved = args.out / f"{name}.yml"
                saved.write_bytes(run.data)
                saved.with_suffix(".txt").write_text(
                    f"ops: {' '.join(run.ops)}\n{json.dumps({k: v for k, v in result.items() if k != 'trace'})}\n\n"
                    f"{result.get('trace', '')}", encoding="utf-8")
                members.append((saved, result, run.ops))
            else:
                members.append((Path(), result, run.ops))
        run.path.unlink(missing_ok=True)
        done = sum(counts.values())
        if done % 1000 == 0:
            print(f"{done}/{args.count} in {time.monotonic() - started:.0f} s: "
                  + ", ".join(f"{k} {counts[k]}" for k in OUTCOMES if counts[k]), file=sys.stderr)

    run_many(inputs(), args.jobs, args.timeout, args.mem_mb, work, report)

    lines = [f"{args.count} mutants of {len(corpus)} catalog files, seed {args.seed}, "
             f"{time.monotonic() - started:.0f} s", ""]
    lines += [f"  {k:13} {counts[k]:6}" + (" (" + ", ".join(f"{n} at {stage}" for stage, n in invalid_at.most_common())
                                             + ")" if k == "invalid" and counts[k] else "") for k in OUTCOMES]
    for sig, members in sorted(groups.items(), key=lambda item: -len(item[1])):
        first, result, ops = members[0]
        lines += ["", f"{sig[0]} x{len(members)}: stage {sig[1] or '?'}, {sig[2] or '?'} in {sig[3] or '?'}"
                  f" (raised in {result.get('last', '?')})", f"    example: {first} (ops: {' '.join(ops)})"]
        if sig[0] == "traceback" and not args.no_minimize:
            small = minimize(first.read_bytes(), sig, args.timeout, args.mem_mb, work)
            first.with_suffix(".min.yml").write_bytes(small)
            lines.append(f"    minimal ({len(small)} bytes, {first.with_suffix('.min.yml').name}): {small!r}"[:400])
    summary = "\n".join(lines) + "\n"
    (args.out / "summary.txt").write_text(summary, encoding="utf-8")
    print(summary, end="")
    return 1 if any(counts[k] for k in FAILURES) else 0


if __name__ == "__main__":
    sys.exit(main())
