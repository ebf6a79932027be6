"""``netlab plot``: what a flow probe sampled, as pictures -- cwnd, RTT, throughput and the bottleneck's queue
over time, one line per flow (matplotlib, the optional ``plot`` extra).

The samples come from the lab's last probe run (``flows.json`` in its log directory, written by ``netlab
probe``/``netlab run``) or from a file: that record copied out of ``netlab vm``, or ``netlab probe --json``
output. Either is read as untrusted data: every sample is checked to be numbers before anything is drawn.

Each flow is drawn on its own clock (0 = its first sample), so flows run one after the other overlay; the
warm-up the metrics leave out is shaded; retransmissions are marked on the cwnd line; the probe's check verdicts
are printed under the panels. Throughput is what the receiver acknowledged between two samples, smoothed over five
samples.
"""

from __future__ import annotations

import io
import json
import math
from collections.abc import Mapping, Sequence
from itertools import pairwise
from typing import Any

from netlab.core.frozen import frozen
from netlab.errors import InvalidInput, MissingTool

FLOWS_FILE = "flows.json"
"""In ``<run dir>/logs/<lab>/``: the samples of the lab's last probe run's flow probes."""
SMOOTH = 5


@frozen
class FlowSeries:
    label: str
    cc: str
    warmup: float
    samples: tuple[Mapping[str, float], ...]
    start: float
    end: float


@frozen
class FlowPlot:
    """One flow probe's record: its flows and, when it sampled one, its queue."""

    probe: str
    flows: tuple[FlowSeries, ...]
    queue_at: str | None
    queue: tuple[Mapping[str, float], ...]
    checks: tuple[str, ...]


def record(lab: str, when: str, results: Sequence[Any]) -> dict[str, object] | None:
    """What ``flows.json`` holds for a suite's results: the flow probes' details (None: no flow probe ran)."""
    probes = [{"name": r.name, "passed": r.passed, **dict(r.details)} for r in results
              if r.kind == "flow" and "flows" in r.details]
    return {"lab": lab, "when": when, "probes": probes} if probes else None


def _numbers(items: object, where: str) -> tuple[Mapping[str, float], ...]:
    if not isinstance(items, list):
        raise ValueError(f"{where}: not a list of samples")
    out = []
    for k, s in enumerate(items):
        if not isinstance(s, dict) or not all(isinstance(v, int | float) and not isinstance(v, bool)
                                              and math.isfinite(v) for v in s.values()) or "t" not in s:
            raise ValueError(f"{where}[{k}]: a sample is an object of numbers with a time `t`")
        out.append({str(key): float(v) for key, v in s.items()})
    return tuple(out)


def _text(value: object, where: str) -> str:
    if not isinstance(value, str) or len(value) > 200:
        raise ValueError(f"{where}: expected a short text")
    return value


def _number(value: object, where: str) -> float:
    if not isinstance(value, int | float) or isinstance(value, bool) or not math.isfinite(value):
        raise ValueError(f"{where}: expected a number")
    return float(value)


def parse(text: str, where: str) -> list[FlowPlot]:
    """The flow probes in a ``flows.json`` or a ``netlab probe --json`` output. Raises InvalidInput."""
    try:
        data = json.loads(text)
        if not isinstance(data, dict):
            raise ValueError("not a JSON object")
        if "probes" in data:
            probes = data["probes"]
        elif "results" in data:  # netlab probe --json
            probes = [{"name": r.get("name"), **r.get("details", {})} for r in data["results"]
                      if isinstance(r, dict) and r.get("kind") == "flow" and isinstance(r.get("details"), dict)]
        else:
            raise ValueError("neither a flows record (`probes`) nor `netlab probe --json` output (`results`)")
        if not isinstance(probes, list):
            raise ValueError("`probes` is not a list")
        plots = []
        for i, p in enumerate(probes):
            at = f"probes[{i}]"
            if not isinstance(p, dict) or not isinstance(p.get("flows"), list):
                raise ValueError(f"{at}: no flows")
            flows = tuple(FlowSeries(_text(f.get("label"), f"{at}.flows[{k}].label"),
                                     _text(f.get("cc"), f"{at}.flows[{k}].cc"),
                                     _number(f.get("warmup", 0), f"{at}.flows[{k}].warmup"),
                                     _numbers(f.get("samples"), f"{at}.flows[{k}].samples"),
                                     _number(f.get("start", 0), f"{at}.flows[{k}].start"),
                                     _number(f.get("end", 0), f"{at}.flows[{k}].end"))
                          for k, f in enumerate(p["flows"]) if isinstance(f, dict))
            queue = p.get("queue") if isinstance(p.get("queue"), dict) else None
            checks = tuple(("PASS " if c.get("passed") else "FAIL ") + _text(c.get("text", ""), f"{at}.checks")[:200]
                           for c in p.get("checks", []) if isinstance(c, dict))
            plots.append(FlowPlot(_text(p.get("name"), f"{at}.name"), flows,
                                  _text(queue.get("at"), f"{at}.queue.at") if queue else None,
                                  _numbers(queue.get("samples", []), f"{at}.queue.samples") if queue else (),
                                  checks))
    except (ValueError, AttributeError, TypeError) as exc:
        raise InvalidInput(message=f"{where}: not a record of flow samples: {exc}") from None
    return plots


def _smooth(values: list[float]) -> list[float]:
    out = []
    for k in range(len(values)):
        part = values[max(0, k - SMOOTH + 1):k + 1]
        out.append(sum(part) / len(part))
    return out


def _series(flow: FlowSeries) -> tuple[float, dict[str, list[float]]]:
    """(the flow's first sample time, its lines on that clock): cwnd, RTT, smoothed throughput, and where a sample
    saw new retransmissions."""
    s = flow.samples
    t0 = s[0]["t"] if s else 0.0
    rate, lost_t, lost_cwnd = [0.0], [], []
    for a, b in pairwise(s):
        dt = b["t"] - a["t"]
        rate.append(max(0.0, (b.get("acked", 0) - a.get("acked", 0)) * 8 / dt / 1e6) if dt > 0 else 0.0)
        if b.get("retrans", 0) > a.get("retrans", 0):
            lost_t.append(b["t"] - t0)
            lost_cwnd.append(b.get("cwnd", 0))
    return t0, {"t": [x["t"] - t0 for x in s], "cwnd": [x.get("cwnd", 0) for x in s],
                "rtt": [x.get("srtt_us", 0) / 1000 for x in s], "mbit": _smooth(rate), "retrans_t": lost_t,
                "retrans_cwnd": lost_cwnd}


def render(plot: FlowPlot, lab: str, fmt: str) -> bytes:
    """One figure: four panels sharing the time axis. Raises MissingTool without matplotlib."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise MissingTool("netlab plot needs matplotlib\n    hint: pip install 'netlab[plot]' (in netlab's "
                          "venv: scripts/install-deps does it), or apt-get install -y python3-matplotlib") from None
    panels = 4 if plot.queue else 3
    fig, axes = plt.subplots(panels, 1, figsize=(10, 2.6 * panels), sharex=True, constrained_layout=True)
    fig.suptitle(f"{lab}: probe {plot.probe}", fontsize=12)
    for n, flow in enumerate(plot.flows):
        t0, d = _series(flow)
        color = f"C{n}"
        name = flow.label if flow.label == flow.cc else f"{flow.label} ({flow.cc})"
        axes[0].plot(d["t"], d["cwnd"], color=color, label=name, lw=1.2)
        axes[0].plot(d["retrans_t"], d["retrans_cwnd"], "x", color=color, ms=4,
                     label=f"{name}: retransmissions" if d["retrans_t"] else None)
        axes[1].plot(d["t"], d["rtt"], color=color, label=name, lw=1.2)
        axes[2].plot(d["t"], d["mbit"], color=color, label=name, lw=1.2)
        if plot.queue:
            q = [x for x in plot.queue if flow.start <= x["t"] <= flow.end + 0.5]
            axes[3].plot([x["t"] - t0 for x in q], [x["qlen"] for x in q], color=color, label=name, lw=1.2)
    warm = max((f.warmup for f in plot.flows), default=0.0)
    for ax, unit in zip(axes, ("cwnd (packets)", "smoothed RTT (ms)", "throughput (Mbit/s)",
                               f"queue at {plot.queue_at} (packets)"), strict=False):
        ax.set_ylabel(unit)
        ax.grid(True, alpha=0.3)
        if warm:
            ax.axvspan(0, warm, color="0.9", zorder=0)
        ax.legend(loc="upper right", fontsize=8)
        ax.set_ylim(bottom=0)
    axes[0].set_title("shaded: warm-up, left out of the metrics", fontsize=8, loc="left")
    axes[-1].set_xlabel("time since the flow started (s)")
    if plot.checks:  # the probe's verdicts under the panels: the figure says what was asserted
        fig.text(0.01, 0.0, "\n".join(plot.checks), fontsize=7, va="top", family="monospace")
    buf = io.BytesIO()
    fig.savefig(buf, format=fmt, dpi=110, bbox_inches="tight")
    plt.close(fig)
    return buf.getvalue()
