"""The tcp-congestion lab in a kernel with netem and BBR (the VM here): its flow probes prove the notes'
points, the samples are plotted, and with the loss set to 0 the loss assertion fails and says why.

Each flow runs in real time (12-16 s), so the thresholds hold in the TCG VM as on a host: the links are
shaped to 10 Mbit/s, far below what even an emulated CPU forwards.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.helpers import catalog_copy, netlab

pytestmark = [pytest.mark.root, pytest.mark.kernel("netem", "tcp_bbr")]


def _flows(stdout: str) -> dict[str, dict[str, object]]:
    return {r["name"]: r for r in json.loads(stdout)["results"] if r["kind"] == "flow"}


def test_tcp_congestion_proves_loss_bufferbloat_and_probing_and_plots_it(tmp_path: Path) -> None:
    r = netlab("run", "tcp-congestion", "--json", timeout=300)
    flows = _flows(r.stdout)
    for name, result in flows.items():
        print(f"{name}: {result['observed']}")  # -rP: the measured figures
    assert r.returncode == 0, r.stdout + r.stderr
    loss = flows["loss"]["details"]["metrics"]  # type: ignore[index]
    assert loss["bbr"]["throughput"] > 2 * loss["cubic"]["throughput"]
    bloat = flows["bufferbloat"]["details"]  # type: ignore[index]
    assert bloat["metrics"]["cubic"]["rtt_growth"] >= 4 and bloat["metrics"]["bbr"]["rtt_growth"] <= 2.5
    assert bloat["queue"]["at"] == "router:eth2" and len(bloat["queue"]["samples"]) >= 100
    assert any("bbr_gain" in s for s in bloat["flows"][1]["samples"]), "BBR's own view (TCP_CC_INFO) is sampled"
    # the record netlab run left in the lab's log directory, drawn; and the same from the --json output
    out = tmp_path / "plots"
    p = netlab("plot", "tcp-congestion", str(out), timeout=180)
    assert p.returncode == 0, p.stderr
    pictures = sorted(x.name for x in out.iterdir())
    assert pictures == ["tcp-congestion.bufferbloat.png", "tcp-congestion.loss.png"]
    assert all((out / x).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and (out / x).stat().st_size > 20_000
               for x in pictures)
    (tmp_path / "run.json").write_text(r.stdout)
    p = netlab("plot", "tcp-congestion", str(tmp_path / "svg"), "--from", str(tmp_path / "run.json"),
               "--probe", "loss", "--format", "svg", timeout=180)
    assert p.returncode == 0 and (tmp_path / "svg" / "tcp-congestion.loss.svg").read_text().count("<path") > 10


def test_without_loss_the_loss_assertion_fails_and_says_why(tmp_path: Path) -> None:
    path = catalog_copy(tmp_path, "tcp-congestion", "tcp-noloss")
    text = path.read_text()
    assert "loss: 2%" in text
    path.write_text(text.replace("loss: 2%", "loss: 0%"))
    r = netlab("run", str(path), "--only", "loss", "--json", timeout=300)
    assert r.returncode == 1, r.stdout + r.stderr
    result = _flows(r.stdout)["loss"]
    observed = str(result["observed"])
    print(observed)
    assert not result["passed"]
    # the throughput check fails with both figures, its threshold and the reason it should have held
    assert "FAIL bbr throughput ÷ cubic's = " in observed and "expected at least 2.00x" in observed
    assert "Cubic's window follows the loss rate" in observed


def test_bufferbloat_is_also_fixed_by_fq_codel_at_the_bottleneck() -> None:
    """The exercise's other fix, through ``netlab tc``: the bottleneck's queue handed to fq_codel (tbf's child).
    Cubic still sends, CoDel drops early, and the round trip stays near the line's own."""
    assert netlab("exercise", "start", "ex-bufferbloat").returncode == 0
    try:
        before = netlab("exercise", "check", "ex-bufferbloat", timeout=180)
        assert before.returncode == 1, before.stdout + before.stderr
        tc = netlab("tc", "ex-bufferbloat", "router:eth1", "rate=5mbit", "qdisc=fq_codel")
        assert tc.returncode == 0 and "fq_codel" in tc.stdout and "rate 5Mbit" in tc.stdout, tc.stdout + tc.stderr
        after = netlab("exercise", "check", "ex-bufferbloat", timeout=180)
        print(after.stdout)
        assert after.returncode == 0, after.stdout + after.stderr
    finally:
        netlab("down", "ex-bufferbloat")
