"""Link shaping in the kernel: the bottleneck lab's tbf queue, proved with real TCP flows (its flow probe),
changed live with ``netlab tc``; netem's delay where the kernel has netem (the VM here).

A 10 Mbit/s bottleneck with 1000 packets of buffer (``topologies/bottleneck.yml``): Cubic fills the buffer
(its median RTT is tens of milliseconds on a path whose empty-queue RTT is well under one), BBR keeps the
queue several times shorter, both get the rate. The congestion lab proper (loss, sawtooth, BBR's probing)
needs netem: tests/integration/test_congestion.py.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from tests.helpers import netlab, running

pytestmark = [pytest.mark.root, pytest.mark.kernel("tbf", "tcp_bbr")]

def test_the_bottleneck_holds_cubic_in_its_queue_and_not_bbr() -> None:
    """The lab's flow probe: a Cubic flow, then a BBR flow, 8 s each, the kernel's own view sampled every 100 ms.
    What must hold, with margins wide enough for a loaded CI machine: both get the bottleneck's rate (the
    shaping is real), and Cubic's median RTT is several times BBR's (it fills the buffer, BBR does not)."""
    r = netlab("run", "bottleneck", "--json", timeout=180)
    assert r.returncode == 0, r.stdout + r.stderr
    flow = next(x for x in json.loads(r.stdout)["results"] if x["name"] == "cubic-vs-bbr")
    print(flow["observed"])  # shown with -rP: the figures behind the thresholds
    cubic = flow["details"]["metrics"]["cubic"]
    assert cubic["rtt"] >= 30, f"Cubic's median RTT {cubic['rtt']} ms: it should fill the 1000-packet queue"
    assert [f["cc"] for f in flow["details"]["flows"]] == ["cubic", "bbr"]
    assert all(len(f["samples"]) >= 60 for f in flow["details"]["flows"]), "8 s at 100 ms: ~80 samples each"
    assert max(s["qlen"] for s in flow["details"]["queue"]["samples"]) > 20, "the tbf queue filled"


def test_netlab_tc_turns_the_knob_and_the_flow_probe_sees_it() -> None:
    """``netlab tc`` on the live lab: the bottleneck halved to 5 Mbit/s, the flow probe that asserts 8 Mbit/s
    fails with the measured figure; --clear removes the qdisc."""
    with running("bottleneck", name_suffix="tc") as lab:
        r = netlab("tc", lab.name, "router:eth1", "rate=5mbit", "limit=50")
        assert r.returncode == 0 and "rate 5Mbit" in r.stdout, r.stdout + r.stderr
        bad = netlab("tc", lab.name, "router:eth1", "rate=5", "jitter=1ms")
        assert bad.returncode == 2 and "is not a rate" in bad.stderr and "jitter needs a delay" in bad.stderr
        assert netlab("tc", lab.name, "server:eth7", "rate=1mbit").returncode == 2
        probe = lab.probe("cubic-vs-bbr")
        assert not probe.passed
        cubic = probe.details["metrics"]["cubic"]  # type: ignore[index]
        assert 4.0 <= cubic["throughput"] <= 5.3, probe.observed
        assert "FAIL cubic throughput = " in probe.observed and "expected at least 8 Mbit/s" in probe.observed
        r = netlab("tc", lab.name, "router:eth1", "--clear")
        assert r.returncode == 0 and "tbf" not in r.stdout, r.stdout + r.stderr


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
