"""What a flow probe's samples say: the kernel's ``struct tcp_info`` decoded, the metrics a check asserts, and
the checks' verdicts. Pure functions over plain data (no sockets), so every threshold is unit-tested.

The metrics are the congestion-control lessons in numbers. Throughput is what the receiver acknowledged
(``tcpi_bytes_acked``), not what the sender wrote. RTT growth divides the median smoothed RTT by the lowest
RTT the kernel measured on the connection (``tcpi_min_rtt``: the path with an empty queue), so it reads the
same on a fast host and in a slow VM. A *cwnd cut* is the congestion window falling to 80 % or less of its
peak while segments were retransmitted -- Cubic's multiplicative decrease (β = 0.7) is one; BBR (v1) does not
cut on loss. A *probe cycle* is BBR seen entering PROBE_BW's 1.25x pacing phase (``tcp_bbr_info``'s pacing
gain, 320/256): eight-phase gain cycling, one phase per min RTT, is how BBR looks for more bandwidth.
"""

from __future__ import annotations

import math
import statistics
import struct
from collections.abc import Mapping, Sequence
from typing import Any

from netlab.probes.spec import FlowCheck

Sample = Mapping[str, float]

# struct tcp_info (include/uapi/linux/tcp.h): (name, offset, struct format) of what a sample keeps
TCP_INFO_FIELDS = (("ca_state", 1, "B"), ("unacked", 24, "I"), ("lost", 32, "I"), ("srtt_us", 68, "I"),
                   ("rttvar_us", 72, "I"), ("ssthresh", 76, "I"), ("cwnd", 80, "I"), ("retrans", 100, "I"),
                   ("pacing", 104, "Q"), ("acked", 120, "Q"), ("min_rtt_us", 148, "I"), ("delivery", 160, "Q"))
TCP_INFO_LEN = 232
BBR_INFO = struct.Struct("=IIIII")  # struct tcp_bbr_info: bw_lo, bw_hi, min_rtt, pacing_gain, cwnd_gain
GAIN_UNIT = 256
"""BBR's gains are fixed point: 256 = 1.0 (``BBR_UNIT``)."""
NO_SSTHRESH = 0x7FFFFFFF  # TCP_INFINITE_SSTHRESH: no loss yet
CUT = 0.8
UNITS = {"throughput": "Mbit/s", "rtt": "ms", "rtt_growth": "x base RTT", "retransmits": "segments",
         "cwnd_cuts": "cuts", "probe_cycles": "cycles", "queue": "packets", "drops": "packets"}


def decode_tcp_info(t: float, info: bytes, cc_info: bytes) -> dict[str, float]:
    """One sample from ``getsockopt(TCP_INFO)`` (and ``TCP_CC_INFO`` for BBR); fields a kernel did not return
    (an older, shorter struct) are left out."""
    sample: dict[str, float] = {"t": round(t, 4)}
    for name, offset, fmt in TCP_INFO_FIELDS:
        if offset + struct.calcsize(fmt) <= len(info):
            sample[name] = struct.unpack_from("=" + fmt, info, offset)[0]
    if sample.get("ssthresh") == NO_SSTHRESH:
        del sample["ssthresh"]
    if len(cc_info) >= BBR_INFO.size:
        bw_lo, bw_hi, min_rtt, pacing_gain, cwnd_gain = BBR_INFO.unpack_from(cc_info)
        sample.update(bbr_bw=bw_lo | bw_hi << 32, bbr_min_rtt_us=min_rtt, bbr_gain=pacing_gain / GAIN_UNIT,
                      bbr_cwnd_gain=cwnd_gain / GAIN_UNIT)
    return sample


def window(samples: Sequence[Sample], start: float, end: float) -> list[Sample]:
    return [s for s in samples if start <= s["t"] <= end]


def _median(values: list[float]) -> float:
    return float(statistics.median(values)) if values else 0.0


def cwnd_cuts(samples: Sequence[Sample]) -> int:
    """Times the window fell to ``CUT`` of its peak since the last cut with retransmissions in between."""
    cuts, peak, retrans_at_peak = 0, 0.0, 0.0
    for s in samples:
        cwnd, retrans = s.get("cwnd", 0), s.get("retrans", 0)
        if cwnd >= peak:
            peak, retrans_at_peak = cwnd, retrans
        elif cwnd <= CUT * peak and retrans > retrans_at_peak:
            cuts += 1
            peak, retrans_at_peak = cwnd, retrans
    return cuts


def probe_cycles(samples: Sequence[Sample]) -> int:
    """Entries into BBR's 1.25x probing phase (gain > 1 and < 2: not STARTUP's 2.89)."""
    count, before = 0, False
    for s in samples:
        now = 1.0 < s.get("bbr_gain", 0.0) < 2.0
        count += now and not before
        before = now
    return count


def flow_metrics(samples: Sequence[Sample], queue: Sequence[Sample], start: float, end: float) -> dict[str, float]:
    """Every metric of one flow over ``[start, end]`` (seconds on the probe's clock: the warm-up is left out
    by the caller's ``start``). ``queue``: the bottleneck's samples (``qlen``, ``drops``), or empty."""
    part = window(samples, start, end)
    out: dict[str, float] = {"samples": len(part)}
    if len(part) >= 2:
        first, last = part[0], part[-1]
        seconds = last["t"] - first["t"]
        out["throughput"] = round((last.get("acked", 0) - first.get("acked", 0)) * 8 / seconds / 1e6, 3) \
            if seconds > 0 else 0.0
        rtt = _median([s["srtt_us"] / 1000 for s in part if "srtt_us" in s])
        out["rtt"] = round(rtt, 2)
        base = min((s["min_rtt_us"] for s in part if s.get("min_rtt_us")), default=0) / 1000
        out["base_rtt"] = round(base, 2)
        out["rtt_growth"] = round(rtt / base, 2) if base else 0.0
        out["retransmits"] = last.get("retrans", 0) - first.get("retrans", 0)
        out["cwnd_cuts"] = cwnd_cuts(part)
        out["probe_cycles"] = probe_cycles(part)
    q = window(queue, start, end)
    if len(q) >= 2:
        out["queue"] = _median([s["qlen"] for s in q])
        out["drops"] = q[-1]["drops"] - q[0]["drops"]
    return out


def _show(value: float, metric: str, ratio: bool) -> str:
    if ratio:
        return f"{value:.2f}x"
    text = f"{value:.2f}".rstrip("0").rstrip(".") if isinstance(value, float) else str(value)
    return f"{text} {UNITS[metric]}"


def bounds(chk: FlowCheck, ratio: bool) -> str:
    parts = []
    if chk.min is not None:
        parts.append(f"at least {_show(chk.min, chk.metric, ratio)}")
    if chk.max is not None:
        parts.append(f"at most {_show(chk.max, chk.metric, ratio)}")
    return " and ".join(parts)


def subject(chk: FlowCheck, default: str) -> str:
    """``cubic rtt_growth``; with ``over``: ``bbr throughput ÷ cubic's``."""
    return f"{chk.flow or default} {chk.metric}" + (f" ÷ {chk.over}'s" if chk.over else "")


def describe(chk: FlowCheck, default: str) -> str:
    """``cubic rtt_growth at least 4 x base RTT``; with ``over``: ``bbr throughput ÷ cubic's at least 2.5x``."""
    return f"{subject(chk, default)} {bounds(chk, chk.over is not None)}"


def evaluate(chk: FlowCheck, default: str, metrics: Mapping[str, Mapping[str, float]]) -> tuple[bool, str]:
    """(passed, what was measured against what was asked) -- the text a failed check shows, with its ``why``."""
    flow = chk.flow or default
    mine = metrics.get(flow, {})
    value = mine.get(chk.metric)
    if value is None:
        return False, f"{flow} has no {chk.metric} (too few samples: did the flow run?)"
    measured = _show(value, chk.metric, False)
    if chk.over is not None:
        other = metrics.get(chk.over, {}).get(chk.metric)
        if other is None:
            return False, f"{chk.over} has no {chk.metric} (too few samples: did the flow run?)"
        ratio = (float("inf") if value > 0 else 1.0) if other == 0 else value / other
        shown = _show(ratio, chk.metric, True) if math.isfinite(ratio) else "unbounded"
        measured = f"{shown} ({measured} vs {_show(other, chk.metric, False)})"
        value = ratio
    ok = (chk.min is None or value >= chk.min) and (chk.max is None or value <= chk.max)
    text = f"{subject(chk, default)} = {measured}, expected {bounds(chk, chk.over is not None)}"
    if not ok and chk.why:
        text += f" -- {chk.why}"
    return ok, text


def summary(label: str, m: Mapping[str, Any]) -> str:
    """``cubic: 1.9 Mbit/s, RTT 95 ms (1.2x base), 41 retransmits, 12 cwnd cuts``."""
    if "throughput" not in m:
        return f"{label}: no samples"
    text = (f"{label}: {m['throughput']:.2f} Mbit/s, RTT {m['rtt']:.1f} ms ({m['rtt_growth']:.1f}x base "
            f"{m['base_rtt']:.1f} ms), {int(m['retransmits'])} retransmits, {int(m['cwnd_cuts'])} cwnd cuts")
    if m.get("probe_cycles"):
        text += f", {int(m['probe_cycles'])} probe cycles"
    if "queue" in m:
        text += f", queue {m['queue']:.0f} packets, {int(m['drops'])} drops"
    return text
