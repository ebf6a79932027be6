"""Link shaping without the kernel: units, validation (every problem at once, with its line), the qdisc chosen,
the plan's action and its export."""

from __future__ import annotations

import pytest

from netlab.features.shaping.units import UnitError, parse_percent, parse_rate, parse_time
from netlab.model.plan import SetQdisc
from tests.helpers import build, problems, two_nodes, valid


def lab(entries: str) -> str:
    return two_nodes(tail="shaping:\n" + entries)


@pytest.mark.parametrize(("text", "us"), [("20ms", 20_000), ("1.5s", 1_500_000), ("250us", 250), ("0ms", 0)])
def test_times(text: str, us: int) -> None:
    assert parse_time(text) == us


@pytest.mark.parametrize(("text", "bps"), [("10mbit", 10_000_000), ("1.5gbit", 1_500_000_000), ("64kbit", 64_000),
                                           ("1mbps", 8_000_000)])
def test_rates_are_decimal_like_tc_s(text: str, bps: int) -> None:
    assert parse_rate(text) == bps


@pytest.mark.parametrize(("parse", "text", "fragment"), [
    (parse_time, 20, "needs a unit"), (parse_time, "20", "is not a time"), (parse_time, "20 parsecs", "units: us"),
    (parse_rate, "10mb", "is not a rate"), (parse_rate, "0mbit", "more than 0"),
    (parse_percent, "1", "is not a percentage"), (parse_percent, "101%", "0% to 100%")])
def test_a_value_without_its_unit_says_how_to_write_it(parse: object, text: object, fragment: str) -> None:
    with pytest.raises(UnitError, match=fragment):
        parse(text)  # type: ignore[operator]


def test_every_problem_of_the_section_at_once_with_its_line() -> None:
    found = problems(lab("  - {at: a:eth0, delay: 20, loss: 1}\n"
                         "  - {at: a:eth9, jitter: 2ms}\n"
                         "  - {at: c:eth0, rate: 10mbit}\n"
                         "  - {at: a:eth0, rate: 1mbit}\n"
                         "  - {at: b:eth0}\n"))
    text = "\n".join(f"{d.line} {d.path}: {d.message}" for d in found)
    for fragment in ("9 shaping[0].delay: 20 needs a unit", "9 shaping[0].loss: 1 is not a percentage",
                     "10 shaping[1].at: node 'a' has no interface 'eth9'", "10 shaping[1].jitter: jitter needs a delay",
                     "11 shaping[2].at: unknown node 'c'", "12 shaping[3].at: a:eth0 is shaped twice",
                     "13 shaping[4]: shaping of b:eth0 sets nothing"):
        assert fragment in text, text


def test_an_impairment_is_netem_and_a_plain_bottleneck_is_tbf() -> None:
    plan = build(lab("  - {at: a:eth0, delay: 20ms, jitter: 2ms, loss: 1%, rate: 10mbit}\n"
                     "  - {at: b:eth0, rate: 10mbit, limit: 1000}\n")).plan
    netem, tbf = (a for a in plan.actions if isinstance(a, SetQdisc))
    assert (netem.kind, netem.delay_us, netem.jitter_us, netem.loss, netem.rate_bps, netem.limit) == \
           ("netem", 20_000, 2_000, 1.0, 10_000_000, 1000)
    assert (tbf.kind, tbf.rate_bps, tbf.limit, tbf.burst) == ("tbf", 10_000_000, 1_500_000, 5_000)
    assert tbf.describe() == "qdisc tbf on b:eth0: rate 10mbit limit 1500000b (lab.yml:10)"
    phases = [a.phase for a in plan.actions]
    assert phases.index("qdiscs") > phases.index("up"), "an interface is shaped once it exists and is up"


def test_a_bottleneck_without_limit_queues_100_ms_at_its_rate() -> None:
    tbf = next(a for a in build(lab("  - {at: a:eth0, rate: 8mbit}\n")).plan.actions if isinstance(a, SetQdisc))
    assert tbf.limit == 100_000 and tbf.burst == 4_000


def test_the_requirement_names_the_qdisc_the_kernel_must_have() -> None:
    from netlab import requirements

    reqs = {r.feature for r in requirements.derive(valid(lab("  - {at: a:eth0, delay: 5ms}\n"
                                                              "  - {at: b:eth0, rate: 1mbit}\n")))}
    assert {"netem", "tbf"} <= reqs


def test_fq_codel_holds_a_bottlenecks_queue_as_tbfs_child_and_fq_alone_is_the_root() -> None:
    plan = build(lab("  - {at: a:eth0, rate: 5mbit, qdisc: fq_codel, limit: 200}\n"
                     "  - {at: b:eth0, qdisc: fq}\n")).plan
    tbf, fq = (a for a in plan.actions if isinstance(a, SetQdisc))
    assert (tbf.kind, tbf.rate_bps, tbf.queue, tbf.queue_limit) == ("tbf", 5_000_000, "fq_codel", 200)
    assert tbf.limit == 62_500, "the limit is fq_codel's (packets); tbf keeps its own 100 ms"
    assert tbf.describe() == "qdisc tbf on a:eth0: rate 5mbit queue fq_codel limit 200 limit 62500b (lab.yml:9)"
    assert (fq.kind, fq.rate_bps, fq.queue, fq.limit) == ("fq", 0, "", 0)
    from netlab.features.shaping.export import commands

    assert [c.split("  #")[0] for c in commands(tbf)] == [
        "ip netns exec nl-t.a tc qdisc add dev eth0 root handle 1: tbf rate 5000000bit burst 2500 limit 62500",
        "ip netns exec nl-t.a tc qdisc add dev eth0 parent 1:1 fq_codel limit 200"]
    assert commands(fq)[0].split("  #")[0] == "ip netns exec nl-t.b tc qdisc add dev eth0 root fq"
    from netlab import requirements

    reqs = {r.feature for r in requirements.derive(valid(lab("  - {at: a:eth0, rate: 5mbit, qdisc: fq_codel}\n"
                                                              "  - {at: b:eth0, qdisc: fq}\n")))}
    assert {"tbf", "fq_codel", "fq"} <= reqs and "netem" not in reqs


def test_an_aqm_is_refused_where_it_cannot_hold_the_queue() -> None:
    found = problems(lab("  - {at: a:eth0, delay: 20ms, rate: 5mbit, qdisc: fq_codel}\n"
                         "  - {at: b:eth0, qdisc: fq, limit: 100}\n"))
    text = "\n".join(f"{d.path}: {d.message} ({d.hint})" for d in found)
    assert "shaping[0].qdisc: fq_codel cannot hold the queue of a netem link (netem's own queue" in text, text
    assert "shaping[1].limit: fq's limits are per flow" in text, text


def test_netlab_tc_settings_get_the_topologys_checks_all_at_once() -> None:
    from netlab.errors import InvalidInput
    from netlab.features.shaping.cli import _shape

    shape = _shape("router:eth1", ["rate=5mbit", "qdisc=fq_codel", "limit=100"])
    assert (shape.rate, shape.qdisc, shape.limit) == ("5mbit", "fq_codel", 100)
    with pytest.raises(InvalidInput) as err:
        _shape("router:eth1", ["rate=5", "qdisc=red", "jitter=1ms", "nope=1", "limit=x"])
    text = str(err.value)
    for fragment in ("'nope=1': not KEY=VALUE", "limit=x: a number of packets", "qdisc=red: Input should be"):
        assert fragment in text, text
    with pytest.raises(InvalidInput) as err:
        _shape("router:eth1", ["rate=5", "jitter=1ms"])
    assert "rate: '5' is not a rate" in str(err.value) and "jitter: jitter needs a delay" in str(err.value)
