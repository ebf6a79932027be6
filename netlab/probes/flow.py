"""``flow``: bulk TCP transfers under a chosen congestion control, with the kernel's own view sampled.

Why our own sender and not iperf3: a probe needs the kernel's per-connection state *while* the flow runs,
every ~100 ms -- ``TCP_INFO`` (cwnd, smoothed RTT, retransmissions, bytes acknowledged, pacing and delivery
rate) and, for BBR, ``TCP_CC_INFO`` (its bandwidth and min-RTT estimates and the pacing gain it cycles). iperf3
reports a subset once per second, only as text or a final JSON, and its ``-C`` is per run; a socket of our own
is ~40 lines, sets ``TCP_CONGESTION`` per flow (so Cubic and BBR can share one link at once) and needs
nothing installed. The receiver is the ``discard`` service.

Each sender is a child forked into the ``from`` node (:mod:`netlab.probes.nsfork`): it connects, sends from
a buffer for ``seconds`` while a thread samples the socket, and leaves with ``SO_LINGER`` 0 (a reset, so the
next flow does not share the bottleneck with what this one left in its send buffer). With ``queue``, a
child in that node samples the interface's root qdisc over netlink (``TCA_STATS``: packets queued, drops).
All samples carry the same clock (``CLOCK_MONOTONIC`` is system-wide), relative to the probe's start.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from netlab.probes import flowstats
from netlab.probes.context import Context, failed
from netlab.probes.nsfork import Channel, Child, ChildFailed, ChildTimeout, fork_into
from netlab.probes.result import ProbeResult
from netlab.probes.spec import FlowProbe

TCP_CC_INFO = 26  # include/uapi/linux/tcp.h (not in Python's socket module)
TC_H_ROOT = 0xFFFFFFFF
CHUNK = b"\0" * 65536


def _sender(to: str, port: int, cc: str | None, seconds: float, interval: float, timeout: float,
            t0: float) -> Callable[[Channel], dict[str, Any]]:
    def body(_channel: Channel) -> dict[str, Any]:
        import socket
        import struct
        import threading

        family = socket.AF_INET6 if ":" in to else socket.AF_INET
        with socket.socket(family, socket.SOCK_STREAM) as s:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            if cc is not None:
                try:
                    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_CONGESTION, cc.encode())
                except OSError as exc:
                    with open("/proc/sys/net/ipv4/tcp_available_congestion_control") as f:
                        known = f.read().strip()
                    return {"error": f"this kernel has no congestion control {cc!r} ({exc.strerror}); "
                                     f"available: {known}"}
            s.settimeout(timeout)
            try:
                s.connect((to, port))
            except OSError as exc:
                return {"error": f"could not connect to {to} port {port}: {exc.strerror or exc}"}
            actual = s.getsockopt(socket.IPPROTO_TCP, socket.TCP_CONGESTION, 16).split(b"\0")[0].decode()
            samples: list[dict[str, float]] = []
            start = time.monotonic()
            stop = start + seconds
            done = threading.Event()

            def sample() -> None:
                due = start
                while not done.is_set():
                    info = s.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, flowstats.TCP_INFO_LEN)
                    cc_info = s.getsockopt(socket.IPPROTO_TCP, TCP_CC_INFO, 20) if actual == "bbr" else b""
                    samples.append(flowstats.decode_tcp_info(time.monotonic() - t0, info, cc_info))
                    due += interval
                    done.wait(max(0.0, due - time.monotonic()))

            sampler = threading.Thread(target=sample, daemon=True)
            sampler.start()
            s.settimeout(0.2)
            error, sent = None, 0
            while time.monotonic() < stop:
                try:
                    sent += s.send(CHUNK)
                except TimeoutError:
                    continue
                except OSError as exc:
                    error = f"the connection broke after {sent} bytes: {exc.strerror or exc}"
                    break
            done.set()
            sampler.join()
        return {"cc": actual, "samples": samples, "start": start - t0, "end": stop - t0, "sent": sent,
                "error": error}
    return body


def _queue_sampler(ifname: str, interval: float, t0: float) -> Callable[[Channel], dict[str, Any]]:
    def body(channel: Channel) -> dict[str, Any]:
        from pyroute2 import IPRoute

        samples: list[dict[str, float]] = []
        kind = ""
        with IPRoute() as ipr:
            found = ipr.link_lookup(ifname=ifname)
            if not found:
                raise RuntimeError(f"no interface {ifname}")
            channel.send("sampling")
            while True:
                for msg in ipr.get_qdiscs(index=found[0]):
                    if msg["index"] == found[0] and msg["parent"] == TC_H_ROOT:
                        stats = msg.get_attr("TCA_STATS")
                        kind = msg.get_attr("TCA_KIND")
                        samples.append({"t": round(time.monotonic() - t0, 4), "qlen": stats["qlen"],
                                        "backlog": stats["backlog"], "drops": stats["drop"],
                                        "packets": stats["packets"]})
                if channel.stop_requested(interval):
                    break
        return {"kind": kind, "samples": samples}
    return body


def _collect(child: Child, timeout: float, what: str) -> dict[str, Any]:
    try:
        value = child.result(timeout)
    except (ChildFailed, ChildTimeout) as exc:
        return {"error": f"{what}: {exc}"}
    finally:
        child.close()
    return value if isinstance(value, dict) else {"error": f"{what} returned nothing"}


def _run_flows(ctx: Context, probe: FlowProbe, t0: float) -> list[dict[str, Any]]:
    netns = ctx.view.netns(probe.from_)
    labels: list[str | None] = list(probe.congestion) or [None]
    limit = probe.seconds + probe.timeout + 30

    def start(cc: str | None) -> Child:
        return fork_into(netns, f"flow {cc or 'default'} from {probe.from_}",
                         _sender(probe.to, probe.port, cc, probe.seconds, probe.interval, probe.timeout, t0),
                         ctx.reaper)

    if probe.together:
        children = [start(cc) for cc in labels]
        runs = [_collect(child, limit, f"flow {cc or 'default'}") for child, cc in zip(children, labels, strict=True)]
    else:
        runs = []
        for k, cc in enumerate(labels):
            if k:
                time.sleep(probe.gap)
            runs.append(_collect(start(cc), limit, f"flow {cc or 'default'}"))
    for run, cc in zip(runs, labels, strict=True):
        run["label"] = cc or "default"
    return runs


def run(ctx: Context, probe: FlowProbe) -> ProbeResult:
    labels = list(probe.congestion) or ["default"]
    expected = "; ".join(flowstats.describe(c, labels[0]) for c in probe.checks) or "every flow moves data"
    t0 = time.monotonic()
    queue_child = None
    if probe.queue is not None:
        node, _, ifname = probe.queue.partition(":")
        queue_child = fork_into(ctx.view.netns(node), f"queue sampler on {probe.queue}",
                                _queue_sampler(ifname, probe.interval, t0), ctx.reaper)
        try:
            queue_child.receive(30)
        except (ChildFailed, ChildTimeout) as exc:
            queue_child.close()
            return failed(probe, expected, f"could not sample the queue at {probe.queue}: {exc}")
    try:
        flows = _run_flows(ctx, probe, t0)
    finally:
        queue: dict[str, Any] = {}
        if queue_child is not None:
            queue_child.stop()
            queue = _collect(queue_child, 30, f"queue sampler on {probe.queue}")
    broken = [f"{f['label']}: {f['error']}" for f in flows if f.get("error") and not f.get("samples")]
    if broken or queue.get("error"):
        return failed(probe, expected, "; ".join(broken + ([queue["error"]] if queue.get("error") else [])))
    metrics = {f["label"]: flowstats.flow_metrics(f["samples"], queue.get("samples", []),
                                                  f["start"] + probe.warmup, f["end"]) for f in flows}
    verdicts = [flowstats.evaluate(c, labels[0], metrics) for c in probe.checks]
    moved = all(m.get("throughput", 0) > 0 for m in metrics.values())
    passed = moved and all(ok for ok, _ in verdicts)
    parts = [flowstats.summary(f["label"] + (f" ({f['cc']})" if f["label"] != f["cc"] else ""), metrics[f["label"]])
             for f in flows]
    parts += [f"{'PASS' if ok else 'FAIL'} {text}" for ok, text in sorted(verdicts, key=lambda v: v[0])]
    parts += [f"{f['label']}: {f['error']}" for f in flows if f.get("error")]
    details = {"flows": [{"label": f["label"], "cc": f["cc"], "start": round(f["start"], 4),
                          "end": round(f["end"], 4), "warmup": probe.warmup, "sent": f["sent"],
                          "samples": f["samples"]} for f in flows],
               "metrics": metrics, "checks": [{"passed": ok, "text": text} for ok, text in verdicts]}
    if probe.queue is not None:
        details["queue"] = {"at": probe.queue, "kind": queue.get("kind", ""), "samples": queue.get("samples", [])}
    return ProbeResult(probe.name, probe.kind, passed, expected, "; ".join(parts), 0.0, details=details)
