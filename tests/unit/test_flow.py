"""Flow probes without root: struct tcp_info decoded, the metrics and check verdicts of netlab.probes.flowstats,
validation and requirements of a ``flow`` probe, and the ``discard`` service that receives its flows."""

from __future__ import annotations

import re
import socket
import struct
import threading
from collections.abc import Sequence
from typing import Any

import pytest

from netlab.features.services.export import commands, equivalent
from netlab.features.services.server import Server, listen
from netlab.features.services.spec import ServiceSpec
from netlab.model.plan import StartService
from netlab.probes.flowstats import (
    TCP_INFO_LEN,
    Sample,
    cwnd_cuts,
    decode_tcp_info,
    describe,
    evaluate,
    flow_metrics,
    probe_cycles,
    summary,
)
from netlab.probes.model import FlowCheck, FlowProbe
from netlab.requirements import derive
from tests.helpers import CATALOG, diagnostics, doc_blocks, planned, routed, two_nodes, valid

# ------------------------------------------------------------------------------------ struct tcp_info

# include/uapi/linux/tcp.h, written out here (not taken from flowstats) so a wrong offset there shows
KERNEL_TCP_INFO = {
    "tcpi_state": (0, "B"), "tcpi_ca_state": (1, "B"), "tcpi_retransmits": (2, "B"), "tcpi_unacked": (24, "I"),
    "tcpi_sacked": (28, "I"), "tcpi_lost": (32, "I"), "tcpi_retrans": (36, "I"), "tcpi_rcv_ssthresh": (64, "I"),
    "tcpi_rtt": (68, "I"), "tcpi_rttvar": (72, "I"), "tcpi_snd_ssthresh": (76, "I"), "tcpi_snd_cwnd": (80, "I"),
    "tcpi_advmss": (84, "I"), "tcpi_rcv_space": (96, "I"), "tcpi_total_retrans": (100, "I"),
    "tcpi_pacing_rate": (104, "Q"), "tcpi_max_pacing_rate": (112, "Q"), "tcpi_bytes_acked": (120, "Q"),
    "tcpi_bytes_received": (128, "Q"), "tcpi_notsent_bytes": (144, "I"), "tcpi_min_rtt": (148, "I"),
    "tcpi_data_segs_out": (156, "I"), "tcpi_delivery_rate": (160, "Q"), "tcpi_busy_time": (168, "Q"),
    "tcpi_snd_wnd": (228, "I"),
}
VALUES = {
    "tcpi_state": 1, "tcpi_ca_state": 4, "tcpi_retransmits": 9, "tcpi_unacked": 120, "tcpi_sacked": 7,
    "tcpi_lost": 3, "tcpi_retrans": 2, "tcpi_rcv_ssthresh": 64000, "tcpi_rtt": 95_000, "tcpi_rttvar": 4_000,
    "tcpi_snd_ssthresh": 88, "tcpi_snd_cwnd": 126, "tcpi_advmss": 1448, "tcpi_rcv_space": 14600,
    "tcpi_total_retrans": 41, "tcpi_pacing_rate": 2_500_000, "tcpi_max_pacing_rate": 2**64 - 1,
    "tcpi_bytes_acked": 12_345_678_901, "tcpi_bytes_received": 1, "tcpi_notsent_bytes": 5,
    "tcpi_min_rtt": 80_500, "tcpi_data_segs_out": 9999, "tcpi_delivery_rate": 1_187_500, "tcpi_busy_time": 77,
    "tcpi_snd_wnd": 65535,
}
DECODED = {"ca_state": 4, "unacked": 120, "lost": 3, "srtt_us": 95_000, "rttvar_us": 4_000, "ssthresh": 88,
           "cwnd": 126, "retrans": 41, "pacing": 2_500_000, "acked": 12_345_678_901, "min_rtt_us": 80_500,
           "delivery": 1_187_500}


def tcp_info(length: int = TCP_INFO_LEN, **override: int) -> bytes:
    """A struct tcp_info as the kernel fills it, cut to ``length`` bytes (an older kernel's shorter struct)."""
    buf = bytearray(max(length, TCP_INFO_LEN))
    for name, value in {**VALUES, **override}.items():
        offset, fmt = KERNEL_TCP_INFO[name]
        struct.pack_into("=" + fmt, buf, offset, value)
    return bytes(buf[:length])


def test_tcp_info_fields_come_from_their_kernel_offsets() -> None:
    assert decode_tcp_info(3.14159, tcp_info(), b"") == {"t": 3.1416, **DECODED}


def test_bbr_info_gives_bandwidth_min_rtt_and_gains_in_units_of_one() -> None:
    bbr = struct.pack("=IIIII", 5, 1, 40_123, 320, 512)  # bw_lo, bw_hi, min_rtt, pacing_gain, cwnd_gain
    sample = decode_tcp_info(0, tcp_info(), bbr)
    assert {k: v for k, v in sample.items() if k.startswith("bbr_")} == {
        "bbr_bw": 2**32 + 5, "bbr_min_rtt_us": 40_123, "bbr_gain": 1.25, "bbr_cwnd_gain": 2.0}
    # Vegas' and DCTCP's infos are 16 bytes: not BBR's
    assert not any(k.startswith("bbr_") for k in decode_tcp_info(0, tcp_info(), bytes(16)))


def test_a_shorter_struct_leaves_out_the_fields_past_its_end() -> None:
    sample = decode_tcp_info(1.0, tcp_info(120), b"")  # ends before tcpi_bytes_acked
    assert sample == {"t": 1.0, **{k: v for k, v in DECODED.items() if k not in ("acked", "min_rtt_us", "delivery")}}
    assert "retrans" not in decode_tcp_info(1.0, tcp_info(103), b"")  # tcpi_total_retrans cut in half
    assert decode_tcp_info(1.0, b"", b"") == {"t": 1.0}


def test_the_infinite_ssthresh_of_a_flow_without_loss_is_dropped() -> None:
    assert "ssthresh" not in decode_tcp_info(0, tcp_info(tcpi_snd_ssthresh=0x7FFFFFFF), b"")
    assert decode_tcp_info(0, tcp_info(tcpi_snd_ssthresh=0x7FFFFFFE), b"")["ssthresh"] == 0x7FFFFFFE


# ------------------------------------------------------------------------------------ cwnd cuts, probe cycles

def series(cwnds: Sequence[float], retrans: Sequence[float]) -> list[Sample]:
    return [{"t": k / 10, "cwnd": c, "retrans": r} for k, (c, r) in enumerate(zip(cwnds, retrans, strict=True))]


def sawtooth(teeth: int, fall: float = 0.7, loss: bool = True) -> list[Sample]:
    """Cubic-like: cwnd climbs to 100, falls to ``fall`` of it (a retransmission each time with ``loss``)."""
    cwnds: list[float] = list(range(10, 101, 10))
    retrans = [0.0] * len(cwnds)
    for k in range(teeth):
        climb = [fall * 100 + (100 - fall * 100) * step / 3 for step in range(4)]  # back to 100
        cwnds += climb
        retrans += [float(k + 1 if loss else 0)] * len(climb)
    return series(cwnds, retrans)


def test_each_cut_of_a_sawtooth_counts() -> None:
    assert cwnd_cuts(sawtooth(4)) == 4
    assert cwnd_cuts(sawtooth(1)) == 1
    assert cwnd_cuts(series([10, 20, 30], [0, 0, 0])) == 0  # slow start only


def test_a_fall_without_retransmissions_is_not_a_cut() -> None:
    assert cwnd_cuts(sawtooth(3, loss=False)) == 0
    assert cwnd_cuts(series([100, 50, 100], [4, 4, 4])) == 0


def test_a_fall_to_85_percent_is_not_a_cut() -> None:
    assert cwnd_cuts(sawtooth(3, fall=0.85)) == 0
    assert cwnd_cuts(series([100, 85, 80], [0, 1, 1])) == 1  # until it reaches 80 % of the peak


def test_a_cut_spread_over_samples_counts_once() -> None:
    # fast recovery lowering the window in steps: one loss event, one cut
    assert cwnd_cuts(series([100, 90, 75, 72, 70, 80, 100], [0, 1, 1, 1, 1, 1, 1])) == 1


STARTUP, DRAIN, PROBE, DOWN, CRUISE = 739 / 256, 88 / 256, 320 / 256, 192 / 256, 1.0


def test_probe_cycles_count_entries_into_the_125_phase() -> None:
    cycle = [PROBE, PROBE, DOWN] + [CRUISE] * 6  # staying in the phase for two samples is one entry
    gains = [STARTUP] * 5 + [DRAIN] * 2 + cycle * 3
    assert probe_cycles([{"t": k / 10, "bbr_gain": g} for k, g in enumerate(gains)]) == 3
    assert probe_cycles([{"t": k / 10, "bbr_gain": STARTUP} for k in range(20)]) == 0  # STARTUP's 2.89 is not it
    assert probe_cycles([{"t": 0.0, "bbr_gain": PROBE}]) == 1
    assert probe_cycles(series([10, 20], [0, 0])) == 0  # Cubic: no gain at all


# ------------------------------------------------------------------------------------ metrics

def flow() -> list[Sample]:
    """4 s, 10 samples a second: 2 Mbit/s with a 40 ms RTT in the first second (the warm-up), then 10 Mbit/s
    with RTT 80, 100 or 120 ms, a retransmission per sample; the path's base RTT is 20 ms."""
    out: list[Sample] = []
    acked = 0.0
    for k in range(41):
        t = round(k / 10, 4)
        warm = k <= 10
        if k:
            acked += (250_000 if warm else 1_250_000) / 10
        srtt = 40_000 if warm else (80_000, 100_000, 120_000)[k % 3]
        out.append({"t": t, "acked": acked, "srtt_us": srtt, "min_rtt_us": 20_000 if k > 2 else 35_000,
                    "retrans": 2 if warm else 2 + (k - 10), "cwnd": 50})
    return out


def queue_samples() -> list[Sample]:
    return [{"t": round(k / 10, 4), "qlen": 0 if k < 10 else 40 + k, "drops": 5 if k <= 10 else 5 + (k - 10) // 2}
            for k in range(41)]


def test_metrics_over_the_window_after_the_warm_up() -> None:
    m = flow_metrics(flow(), queue_samples(), 1.0, 4.0)
    assert m == {"samples": 31, "throughput": 10.0, "rtt": 100.0, "base_rtt": 20.0, "rtt_growth": 5.0,
                 "retransmits": 30, "cwnd_cuts": 0, "probe_cycles": 0, "queue": 65.0, "drops": 15}


def test_the_warm_up_counts_only_when_start_includes_it() -> None:
    m = flow_metrics(flow(), [], 0.0, 4.0)
    assert m["samples"] == 41
    assert m["throughput"] == 8.0  # (0.25 MB + 3.75 MB) * 8 / 4 s
    assert "queue" not in m and "drops" not in m  # no queue sampled


def test_too_few_samples_give_no_metric() -> None:
    assert flow_metrics(flow(), queue_samples(), 3.95, 4.0) == {"samples": 1}
    assert flow_metrics([], [], 0, 10) == {"samples": 0}


def test_summary_reads_as_a_sentence() -> None:
    m = flow_metrics(flow(), queue_samples(), 1.0, 4.0)
    assert summary("cubic", m) == ("cubic: 10.00 Mbit/s, RTT 100.0 ms (5.0x base 20.0 ms), 30 retransmits, "
                                   "0 cwnd cuts, queue 65 packets, 15 drops")
    assert summary("bbr", {"samples": 0}) == "bbr: no samples"


# ------------------------------------------------------------------------------------ checks

METRICS: dict[str, dict[str, float]] = {
    "cubic": {"throughput": 1.59, "rtt": 190.25, "rtt_growth": 12.0, "retransmits": 41, "queue": 800.0},
    "bbr": {"throughput": 8.95, "rtt": 21.0, "rtt_growth": 1.1, "retransmits": 3, "queue": 0.0},
}


def test_a_bound_states_threshold_and_measured_value() -> None:
    assert evaluate(FlowCheck(metric="throughput", min=1), "cubic", METRICS) == (
        True, "cubic throughput = 1.59 Mbit/s, expected at least 1 Mbit/s")
    assert evaluate(FlowCheck(flow="bbr", metric="rtt_growth", max=2, why="BBR paces"), "cubic", METRICS) == (
        True, "bbr rtt_growth = 1.1 x base RTT, expected at most 2 x base RTT")
    assert evaluate(FlowCheck(flow="cubic", metric="rtt_growth", max=2, why="BBR paces"), "cubic", METRICS) == (
        False, "cubic rtt_growth = 12 x base RTT, expected at most 2 x base RTT -- BBR paces")
    assert evaluate(FlowCheck(flow="cubic", metric="retransmits", min=5, max=40), "cubic", METRICS) == (
        False, "cubic retransmits = 41 segments, expected at least 5 segments and at most 40 segments")


def test_a_ratio_check_shows_the_ratio_and_both_values() -> None:
    why = "Cubic's window follows the loss rate"
    passing = FlowCheck(flow="bbr", metric="throughput", over="cubic", min=2, why=why)
    assert evaluate(passing, "cubic", METRICS) == (
        True, "bbr throughput ÷ cubic's = 5.63x (8.95 Mbit/s vs 1.59 Mbit/s), expected at least 2.00x")
    failing = FlowCheck(flow="bbr", metric="throughput", over="cubic", min=6, why=why)
    assert evaluate(failing, "cubic", METRICS) == (
        False, f"bbr throughput ÷ cubic's = 5.63x (8.95 Mbit/s vs 1.59 Mbit/s), expected at least 6.00x -- {why}")
    # a queue that stayed empty: any standing queue is infinitely more
    ok, _ = evaluate(FlowCheck(flow="cubic", metric="queue", over="bbr", min=4), "cubic", METRICS)
    assert ok


def test_a_missing_metric_fails_and_says_so() -> None:
    metrics = {"cubic": {"samples": 1.0}, "bbr": METRICS["bbr"]}
    assert evaluate(FlowCheck(metric="throughput", min=1), "cubic", metrics) == (
        False, "cubic has no throughput (too few samples: did the flow run?)")
    assert evaluate(FlowCheck(flow="bbr", metric="throughput", over="cubic", min=1), "cubic", metrics) == (
        False, "cubic has no throughput (too few samples: did the flow run?)")
    assert evaluate(FlowCheck(flow="reno", metric="rtt", max=1), "cubic", metrics)[0] is False
    assert evaluate(FlowCheck(flow="bbr", metric="drops", max=1), "cubic", metrics) == (
        False, "bbr has no drops (too few samples: did the flow run?)")


def test_describe_is_the_expectation_before_the_run() -> None:
    assert describe(FlowCheck(metric="rtt_growth", min=4), "cubic") == "cubic rtt_growth at least 4 x base RTT"
    assert describe(FlowCheck(flow="bbr", metric="throughput", over="cubic", min=2.5), "cubic") == \
        "bbr throughput ÷ cubic's at least 2.50x"


# ------------------------------------------------------------------------------------ validation

RECEIVER = "{services: [{kind: discard}]}"


def flow_lab(*probes: str) -> str:
    """h1 -- r -- h2 (10.0.2.2, a discard service): the flow probes, one YAML flow mapping each."""
    return routed(nodes={"h2": RECEIVER}, tail="probes:\n" + "".join(f"  - {p}\n" for p in probes))


def found(*probes: str) -> list[tuple[str, str]]:
    return [(d.path, d.message) for d in diagnostics(flow_lab(*probes))]


TWO = "kind: flow, from: h1, to: 10.0.2.2, congestion: [cubic, bbr]"


def test_a_good_flow_probe_validates_with_its_defaults() -> None:
    topo = valid(flow_lab(
        "{name: f, kind: flow, from: h1, to: 10.0.2.2, congestion: [cubic, bbr], queue: r:eth1, checks: ["
        "{flow: bbr, metric: throughput, over: cubic, min: 2, why: loss}, {flow: cubic, metric: queue, min: 10}, "
        "{flow: bbr, metric: drops, max: 0}]}",
        "{name: one, kind: flow, from: h1, to: 10.0.2.2, checks: [{metric: throughput, min: 1}]}"))
    probe, one = topo.probes
    assert isinstance(probe, FlowProbe) and isinstance(one, FlowProbe)
    assert (probe.port, probe.seconds, probe.warmup, probe.interval, probe.gap, probe.together) == (
        9, 10.0, 2.0, 0.1, 1.0, False)
    assert probe.congestion == ("cubic", "bbr") and probe.queue == "r:eth1"
    assert probe.checks[0] == FlowCheck(flow="bbr", metric="throughput", over="cubic", min=2, why="loss")
    assert one.congestion == () and one.checks[0].flow is None  # one flow, the default congestion control


@pytest.mark.parametrize(("probe", "path", "message"), [
    (f"{{name: f, {TWO}, checks: [{{flow: vegas, metric: throughput, min: 1}}]}}",
     "probes[0].checks[0].flow", "no flow 'vegas' in this probe"),
    (f"{{name: f, {TWO}, checks: [{{flow: bbr, metric: throughput, over: reno, min: 1}}]}}",
     "probes[0].checks[0].over", "no flow 'reno' in this probe"),
    (f"{{name: f, {TWO}, checks: [{{flow: cubic, metric: rtt, over: cubic, min: 2}}]}}",
     "probes[0].checks[0].over", "a flow compared with itself"),
    ("{name: f, kind: flow, from: h1, to: 10.0.2.2, congestion: bbr, checks: [{metric: rtt, over: bbr, min: 2}]}",
     "probes[0].checks[0].over", "a flow compared with itself"),
    (f"{{name: f, {TWO}, checks: [{{flow: bbr, metric: throughput}}]}}",
     "probes[0].checks[0]", "a check without a bound"),
    (f"{{name: f, {TWO}, checks: [{{flow: cubic, metric: queue, min: 1}}]}}",
     "probes[0].checks[0].metric", "`queue` is measured at a queue, and this probe samples none"),
    (f"{{name: f, {TWO}, checks: [{{flow: bbr, metric: drops, max: 0}}]}}",
     "probes[0].checks[0].metric", "`drops` is measured at a queue, and this probe samples none"),
    ("{name: f, kind: flow, from: h1, to: 10.0.2.2, congestion: [cubic, cubic]}",
     "probes[0].congestion", "a congestion control is listed twice"),
    ("{name: f, kind: flow, from: h1, to: 10.0.2.2, congestion: Cubic!}",
     "probes[0].congestion", "'Cubic!' is not a congestion control name"),
    ("{name: f, kind: flow, from: h1, to: 10.0.2.2, congestion: [cubic, Cubic!]}",
     "probes[0].congestion[1]", "'Cubic!' is not a congestion control name"),
    (f"{{name: f, {TWO}, checks: [{{metric: throughput, min: 1}}]}}",
     "probes[0].checks[0]", "which flow? this probe runs several"),
    ("{name: f, kind: flow, from: h1, to: 10.0.2.2, queue: r:eth9}",
     "probes[0].queue", "node 'r' has no interface 'eth9'"),
    ("{name: f, kind: flow, from: h9, to: 10.0.2.2}", "probes[0].from", "unknown node 'h9'"),
    ("{name: f, kind: flow, from: h1, to: h2}", "probes[0].to", "'h2' is not an IP address"),
    ("{name: f, kind: flow, from: h1, to: 10.0.2.2, seconds: 2, warmup: 2}",
     "probes[0].warmup", "a warm-up of 2 s leaves nothing of 2 s flows to measure"),
    ("{name: f, kind: flow, from: h1, to: 10.0.2.2, congestion: abcdefghijklmnop}",
     "probes[0].congestion", "'abcdefghijklmnop' is not a congestion control name"),
    (f"{{name: f, {TWO}, together: true, queue: r:eth1, checks: [{{flow: bbr, metric: queue, over: cubic, min: 2}}]}}",
     "probes[0].checks[0].over", "flows run together share one queue: their `queue` is the same"),
])
def test_a_wrong_flow_probe_is_reported_where_it_is_wrong(probe: str, path: str, message: str) -> None:
    assert found(probe) == [(path, message)]


def test_flow_probe_shape_errors() -> None:
    problems = found("{name: f, kind: flow, from: h1, to: 10.0.2.2, seconds: 0, checks: [{metric: speed, min: 1}]}")
    assert [path for path, _ in problems] == ["probes[0].checks[0].metric", "probes[0].seconds"]


def test_the_catalog_labs_with_flow_probes_validate() -> None:
    for lab in ("tcp-congestion", "bottleneck"):
        topo = valid((CATALOG / f"{lab}.yml").read_text(), f"{lab}.yml")
        assert any(isinstance(p, FlowProbe) for p in topo.probes)


# ------------------------------------------------------------------------------------ requirements

def test_a_flow_probe_running_bbr_requires_tcp_bbr() -> None:
    reqs = {r.feature: r.reason for r in derive(valid(flow_lab(
        "{name: race, kind: flow, from: h1, to: 10.0.2.2, congestion: [cubic, bbr]}",
        "{name: again, kind: flow, from: h1, to: 10.0.2.2, congestion: bbr}")))}
    assert reqs["tcp_bbr"] == "flow probe race runs BBR"
    assert [r.feature for r in derive(valid(flow_lab(
        "{name: c, kind: flow, from: h1, to: 10.0.2.2, congestion: [cubic, reno]}",
        "{name: d, kind: flow, from: h1, to: 10.0.2.2}")))].count("tcp_bbr") == 0


# ------------------------------------------------------------------------------------ the discard service

def test_a_discard_service_listens_on_port_9_and_exports_as_socat_to_dev_null() -> None:
    text = two_nodes(b=RECEIVER)
    service = valid(text).nodes["b"].services[0]
    assert (service.kind, service.port) == ("discard", 9)
    (start,) = [a for a in planned(text).actions if isinstance(a, StartService)]
    assert (start.kind, start.protocol, start.address, start.port) == ("discard", "tcp", "0.0.0.0", 9)
    assert equivalent(start) == ("socat -u TCP-LISTEN:9,bind=0.0.0.0,reuseaddr,fork OPEN:/dev/null "
                                 "(no IP_FREEBIND)")
    comment, command = commands(start)
    assert comment.startswith("# discard on tcp 0.0.0.0:9 in b; without netlab: socat -u TCP-LISTEN:9")
    assert "OPEN:/dev/null" in comment
    assert "--kind discard" in command and "--port 9" in command


class _Stopped(Exception):
    pass


def test_the_discard_server_swallows_a_megabyte_and_logs_it(monkeypatch: pytest.MonkeyPatch,
                                                            capfd: pytest.CaptureFixture[str]) -> None:
    """The real event loop on 127.0.0.1 (no namespace, no root), in a thread stopped through its selector."""
    spec = ServiceSpec(node="b", name="discard", kind="discard", protocol="tcp", address="127.0.0.1", port=0,
                       body="")
    try:
        sock = listen(spec)
    except OSError as exc:
        pytest.skip(f"cannot listen on 127.0.0.1 here: {exc}")
    port = sock.getsockname()[1]
    server = Server(spec, sock)
    stop = threading.Event()
    select = server.sel.select

    def stoppable(timeout: float | None = None) -> Any:
        if stop.is_set():
            raise _Stopped
        return select(0.05)

    monkeypatch.setattr(server.sel, "select", stoppable)
    errors: list[BaseException] = []

    def serve() -> None:
        try:
            server.serve_forever()
        except _Stopped:
            pass
        except BaseException as exc:  # the test reports it
            errors.append(exc)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=10) as client:
            client.sendall(b"\xa5" * 1_000_000)
            client.shutdown(socket.SHUT_WR)
            assert client.recv(1) == b""  # nothing comes back; the server closes once it read the end
    finally:
        stop.set()
        thread.join(5)
        server.sel.close()
        sock.close()
    assert not thread.is_alive() and errors == []
    log = capfd.readouterr().out
    assert re.search(rf"discard: 127\.0\.0\.1:\d+ -> 127\.0\.0\.1:{port} 1000000 bytes received and discarded$",
                     log, re.M), log


def test_the_manuals_flow_example_is_a_valid_part_of_its_lab() -> None:
    (example,) = [b for b in doc_blocks("yaml") if "kind: flow" in b]
    lab = (CATALOG / "tcp-congestion.yml").read_text().split("\nprobes:\n")[0]
    topo = valid(lab + "\n" + example, "tcp-congestion.yml")
    assert [p.name for p in topo.probes] == ["loss", "bufferbloat"]
    assert all(isinstance(p, FlowProbe) and p.congestion == ("cubic", "bbr") for p in topo.probes)
