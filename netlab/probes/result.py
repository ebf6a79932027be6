"""What a probe run says: per probe a verdict with expected and observed; for a suite, JSON and JUnit XML.

The texts are for a learner first: ``observed`` states what happened in the lab's own terms ("ARP
who-has 10.0.0.100 answered by 2 MACs: h2 02:..:02, h3 02:..:03"), ``expected`` what the probe's
declaration asked for ("only h2"). The verdict is the two joined, and it is also the JUnit failure
message, so a CI log reads the same as the terminal.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import field
from pathlib import Path

from netlab.core.frozen import frozen
from netlab.probes.packets import Frame
from netlab.probes.path import ProbePath


@frozen
class Capture:
    """Packets one side of a probe saw, kept for a pcap file."""

    label: str
    """Where: ``client`` (every interface of the node a probe ran from) or ``router-eth1``."""
    linktype: int
    frames: tuple[Frame, ...]


@frozen
class ProbeResult:
    """The outcome of one probe."""

    name: str
    kind: str
    passed: bool
    expected: str
    """What the declaration asks for, in words."""
    observed: str
    """What happened, in words."""
    seconds: float
    error: bool = False
    """True when the probe could not run as declared (a sniffer did not start, a child timed out): it
    counts as failed, and ``observed`` says why."""
    details: Mapping[str, object] = field(default_factory=dict, repr=False)
    """Facts as data (counts per node, MACs, RTTs) for --json."""
    captures: tuple[Capture, ...] = field(default=(), repr=False)
    pcaps: tuple[str, ...] = ()
    """pcap files written for this probe."""

    @property
    def verdict(self) -> str:
        """``observed; expected …``: one line a learner can act on."""
        return f"{self.observed}; expected {self.expected}"

    def __str__(self) -> str:
        return f"{self.name}: {'PASS' if self.passed else 'FAIL'}: {self.verdict}"

    def __repr__(self) -> str:
        """Short and verdict first: what pytest shows for ``assert lab.probe("x").passed``."""
        return f"<ProbeResult {self}>"

    def to_dict(self) -> dict[str, object]:
        return {"name": self.name, "kind": self.kind, "passed": self.passed, "error": self.error,
                "expected": self.expected, "observed": self.observed, "verdict": self.verdict,
                "seconds": round(self.seconds, 4), "details": dict(self.details), "pcaps": list(self.pcaps)}


@frozen
class SuiteResult:
    """The probes of one run against one lab."""

    lab: str
    results: tuple[ProbeResult, ...]
    seconds: float
    paths: tuple[ProbePath, ...] = field(default=(), repr=False)
    """The path each traffic probe's packets took, as the recorder observed it (:mod:`netlab.probes.path`)."""

    @property
    def passed(self) -> bool:
        return all(r.passed for r in self.results)

    @property
    def failed(self) -> tuple[ProbeResult, ...]:
        return tuple(r for r in self.results if not r.passed)

    def __getitem__(self, name: str) -> ProbeResult:
        for result in self.results:
            if result.name == name:
                return result
        raise KeyError(name)

    def to_dict(self) -> dict[str, object]:
        return {"lab": self.lab, "passed": self.passed, "seconds": round(self.seconds, 4),
                "total": len(self.results), "failed": len(self.failed),
                "results": [r.to_dict() for r in self.results]}

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2) + "\n"

    def to_junit(self) -> str:
        """JUnit XML: one test case per probe; a failure's message is the verdict."""
        import xml.etree.ElementTree as ET  # here: only --junit writes it

        suite = ET.Element("testsuite", name=f"netlab.{self.lab}", tests=str(len(self.results)),
                           failures=str(sum(1 for r in self.failed if not r.error)),
                           errors=str(sum(1 for r in self.failed if r.error)), time=f"{self.seconds:.3f}")
        for r in self.results:
            case = ET.SubElement(suite, "testcase", classname=f"netlab.{self.lab}", name=r.name,
                                 time=f"{r.seconds:.3f}")
            if not r.passed:
                tag = "error" if r.error else "failure"
                node = ET.SubElement(case, tag, message=r.verdict, type=r.kind)
                node.text = (f"expected: {r.expected}\nobserved: {r.observed}"
                             + "".join(f"\npcap: {p}" for p in r.pcaps))
        root = ET.Element("testsuites")
        root.append(suite)
        ET.indent(root)
        return '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"

    def write_junit(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(self.to_junit(), encoding="utf-8")
