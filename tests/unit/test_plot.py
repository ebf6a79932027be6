"""``netlab plot`` without a lab: the record a probe run keeps, read back as untrusted data, and drawn."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from netlab.errors import InvalidInput
from netlab.probes.result import ProbeResult
from netlab.views import plot


def _samples(n: int, cwnd: int, rtt_us: int, retrans_every: int = 0) -> list[dict[str, float]]:
    return [{"t": 0.1 * k, "cwnd": cwnd + k, "srtt_us": rtt_us, "acked": 62_500 * k,
             "retrans": (k // retrans_every) if retrans_every else 0} for k in range(n)]


def _result() -> ProbeResult:
    details = {"flows": [{"label": "cubic", "cc": "cubic", "start": 0.0, "end": 3.0, "warmup": 1.0, "sent": 1,
                          "samples": _samples(30, 10, 50_000, 7)},
                         {"label": "bbr", "cc": "bbr", "start": 4.0, "end": 7.0, "warmup": 1.0, "sent": 1,
                          "samples": [{**s, "t": s["t"] + 4} for s in _samples(30, 20, 40_000)]}],
               "queue": {"at": "router:eth1", "kind": "tbf",
                         "samples": [{"t": 0.1 * k, "qlen": k % 9, "backlog": 0, "drops": 0, "packets": k}
                                     for k in range(75)]},
               "metrics": {}, "checks": [{"passed": True, "text": "bbr throughput ÷ cubic's = 1x"}]}
    return ProbeResult("race", "flow", True, "e", "o", 7.0, details=details)


def test_the_record_keeps_only_flow_probes_and_reads_back() -> None:
    other = ProbeResult("ping", "ping", True, "e", "o", 0.1)
    assert plot.record("lab", "now", [other]) is None
    text = json.dumps(plot.record("lab", "now", [other, _result()]))
    [read] = plot.parse(text, "flows.json")
    assert read.probe == "race" and [f.label for f in read.flows] == ["cubic", "bbr"]
    assert read.queue_at == "router:eth1" and len(read.queue) == 75 and read.checks == (
        "PASS bbr throughput ÷ cubic's = 1x",)


def test_probe_json_output_is_read_too() -> None:
    suite = {"lab": "lab", "results": [{"name": "ping", "kind": "ping", "details": {}},
                                       {"name": "race", "kind": "flow", "details": dict(_result().details)}]}
    [read] = plot.parse(json.dumps(suite), "run.json")
    assert read.probe == "race"


@pytest.mark.parametrize(("text", "fragment"), [
    ("[]", "not a JSON object"),
    ('{"lab": "x"}', "neither a flows record"),
    ('{"probes": [{"name": "p", "flows": [{"label": "c", "cc": "c", "samples": [{"t": "1"}]}]}]}',
     "probes[0].flows[0].samples[0]: a sample is an object of numbers"),
    ('{"probes": [{"name": "p", "flows": [{"label": "c", "cc": "c", "samples": [{"t": 1, "cwnd": NaN}]}]}]}',
     "a sample is an object of numbers"),
    ('{"probes": [{"name": 7, "flows": []}]}', "probes[0].name: expected a short text"),
    ("not json", "not a record of flow samples"),
])
def test_anything_else_is_refused_with_where(text: str, fragment: str) -> None:
    with pytest.raises(InvalidInput, match=r"flows\.json: not a record of flow samples") as err:
        plot.parse(text, "flows.json")
    assert fragment in str(err.value)


def test_render_draws_every_panel(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    [read] = plot.parse(json.dumps(plot.record("lab", "now", [_result()])), "flows.json")
    png = plot.render(read, "lab", "png")
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 20_000
    svg = plot.render(read, "lab", "svg").decode()
    for label in ("cwnd (packets)", "smoothed RTT (ms)", "throughput (Mbit/s)", "queue at router:eth1 (packets)",
                  "time since the flow started (s)", "cubic: retransmissions", "PASS bbr throughput"):
        assert label in svg, label


def test_without_matplotlib_plot_says_how_to_install_it(monkeypatch: pytest.MonkeyPatch) -> None:
    import builtins

    from netlab.errors import MissingTool

    real = builtins.__import__

    def no_matplotlib(name: str, *args: object, **kwargs: object) -> object:
        if name.startswith("matplotlib"):
            raise ImportError(name)
        return real(name, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(builtins, "__import__", no_matplotlib)
    [read] = plot.parse(json.dumps(plot.record("lab", "now", [_result()])), "flows.json")
    with pytest.raises(MissingTool, match=r"pip install 'netlab\[plot\]'"):
        plot.render(read, "lab", "png")
