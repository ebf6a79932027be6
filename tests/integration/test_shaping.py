"""Link shaping in the kernel: the bottleneck lab's tbf queue, proved with real TCP flows.

A 10 Mbit/s bottleneck with 1000 packets of buffer (``topologies/bottleneck.yml``): a Cubic flow and a BBR
flow, one after the other, each 6 s, the kernel's own view sampled every 100 ms (TCP_INFO: smoothed RTT,
cwnd, retransmissions). What must hold, with margins wide enough for a loaded CI machine: both flows get the
bottleneck's rate (the shaping is real), Cubic fills the buffer (its median RTT is tens of milliseconds on a
path whose empty-queue RTT is well under one), and BBR keeps the queue several times shorter.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.helpers import running

pytestmark = [pytest.mark.root, pytest.mark.kernel("tbf", "tcp_bbr")]

SINK = """
import socket
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind(("0.0.0.0", 5001)); s.listen(4)
while True:
    c, _ = s.accept()
    while c.recv(1 << 20):
        pass
    c.close()
"""
FLOW = """
import json, socket, struct, sys, threading, time
cc, dst, secs = sys.argv[1], sys.argv[2], float(sys.argv[3])
s = socket.socket()
s.setsockopt(socket.IPPROTO_TCP, socket.TCP_CONGESTION, cc.encode())
s.connect((dst, 5001))
samples, stop = [], time.monotonic() + secs
def sample():
    while time.monotonic() < stop:
        info = s.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 232)
        # struct tcp_info (uapi/linux/tcp.h): tcpi_rtt at byte 68 (us), tcpi_snd_cwnd at 80, tcpi_total_retrans
        # at 100, tcpi_bytes_acked at 120 (u64)
        samples.append({"t": time.monotonic(), "rtt_us": struct.unpack_from("I", info, 68)[0],
                        "cwnd": struct.unpack_from("I", info, 80)[0],
                        "acked": struct.unpack_from("Q", info, 120)[0]})
        time.sleep(0.1)
t = threading.Thread(target=sample); t.start()
buf = b"x" * 65536
while time.monotonic() < stop:
    s.send(buf)
t.join(); s.close()
print(json.dumps(samples))
"""


def _flow(lab: str, cc: str) -> dict[str, float]:
    done = subprocess.run(["ip", "netns", "exec", f"nl-{lab}.client", sys.executable, "-c", FLOW, cc, "10.0.2.10",
                           "6"], capture_output=True, text=True, timeout=60, check=True)
    samples = json.loads(done.stdout)[10:]  # after the first second: slow start is over
    rtts = sorted(s["rtt_us"] for s in samples)
    seconds = samples[-1]["t"] - samples[0]["t"]
    return {"mbit": (samples[-1]["acked"] - samples[0]["acked"]) * 8 / seconds / 1e6,
            "rtt_ms": rtts[len(rtts) // 2] / 1000}


def test_the_bottleneck_holds_cubic_in_its_queue_and_not_bbr() -> None:
    with running("bottleneck", name_suffix="-sh") as lab:
        qdisc = subprocess.run(["ip", "netns", "exec", f"nl-{lab.name}.router", "tc", "qdisc", "show", "dev", "eth1"],
                               capture_output=True, text=True, check=True).stdout
        assert "tbf" in qdisc and "rate 10Mbit" in qdisc, qdisc
        sink = subprocess.Popen(["ip", "netns", "exec", f"nl-{lab.name}.server", sys.executable, "-c", SINK])
        try:
            time.sleep(0.5)
            cubic, bbr = _flow(lab.name, "cubic"), _flow(lab.name, "bbr")
        finally:
            sink.kill()
            sink.wait()
    print(f"cubic {cubic}, bbr {bbr}")  # shown with -rP: the figures behind the thresholds
    for name, flow in (("cubic", cubic), ("bbr", bbr)):
        assert 8.0 <= flow["mbit"] <= 10.5, f"{name}: {flow['mbit']:.2f} Mbit/s through a 10 Mbit/s bottleneck"
    assert cubic["rtt_ms"] >= 30, f"Cubic's median RTT {cubic['rtt_ms']:.1f} ms: it should fill the 1000-packet queue"
    assert cubic["rtt_ms"] >= 3 * bbr["rtt_ms"], (f"Cubic {cubic['rtt_ms']:.1f} ms vs BBR {bbr['rtt_ms']:.1f} ms: "
                                                 "BBR should keep the queue several times shorter")


NETEM_LAB = """name: netem-t
nodes:
  a: {}
  b: {}
links:
  - a: {node: a, address: 10.0.0.1/24}
    b: {node: b, address: 10.0.0.2/24}
shaping:
  - {at: a:eth0, delay: 40ms, loss: 0%, limit: 500}
  - {at: b:eth0, delay: 10ms, jitter: 1ms}
"""


@pytest.mark.kernel("netem")
def test_netem_delays_what_leaves_each_end(tmp_path: Path) -> None:
    """40 ms out of a, 10 ± 1 ms out of b: a ping's RTT is their sum (≈ 50 ms), never less."""
    path = tmp_path / "netem-t.yml"
    path.write_text(NETEM_LAB)
    with running(path) as lab:
        qdiscs = subprocess.run(["ip", "netns", "exec", f"nl-{lab.name}.a", "tc", "qdisc", "show", "dev", "eth0"],
                                capture_output=True, text=True, check=True).stdout
        assert "netem" in qdiscs and "delay 40ms" in qdiscs and "limit 500" in qdiscs, qdiscs
        ping = subprocess.run(["ip", "netns", "exec", f"nl-{lab.name}.a", "ping", "-c", "5", "-i", "0.2", "-q",
                               "10.0.0.2"], capture_output=True, text=True, timeout=30, check=True).stdout
        rtt_min = float(ping.rsplit("=", 1)[1].split("/")[0])
        assert 48.0 <= rtt_min <= 80.0, f"RTT min {rtt_min} ms: 40 ms + 10±1 ms of netem delay\n{ping}"
