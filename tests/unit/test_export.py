"""``netlab export`` without root: every action type has its shell lines, and the script says what netlab does.

That the script builds the very lab ``netlab up`` builds is proved with the kernel in
tests/integration/test_export.py; the text of three labs is pinned in tests/golden/test_export_golden.py.
"""

from __future__ import annotations

import shutil
import stat
import subprocess
import typing
from pathlib import Path

import pytest

from netlab import catalog
from netlab.api import Lab
from netlab.cli.main import main
from netlab.features.iptables.export import payload_lines
from netlab.features.services.export import shell_word
from netlab.model.plan import Action, AddRoute, CreateNetns, Plan, StartService
from netlab.views.export import CORE, feature_exports, render, step, sysctl_word
from tests.helpers import documented, planned

ACTION_TYPES = typing.get_args(Action)


def _catalog_plans() -> dict[str, Plan]:
    """Every catalog lab's plan, and the per-host plans of routed cut over three hosts (where stitches are)."""
    from netlab.cli.multihost import split

    plans = {name: Lab.load(name).plan() for name in catalog.names()}
    inventory = Path(__file__).resolve().parents[1] / "golden" / "multihost" / "inventory-3.yml"
    plans |= {f"routed@{host}": plan for host, plan in split("routed", str(inventory)).plans}
    return plans


PLANS = _catalog_plans()


@pytest.mark.parametrize("kind", ACTION_TYPES, ids=lambda t: t.__name__)
def test_every_action_type_of_the_plan_is_exportable(kind: type) -> None:
    """Either the core renders it or the feature that applies it has an export hook, and a real instance of it
    (from a catalog lab) becomes at least one shell command."""
    assert kind in CORE or kind.__name__ in feature_exports(), f"{kind.__name__}: fill the export slot of its feature"
    sample = next((a for plan in PLANS.values() for a in plan.actions if type(a) is kind), None)
    assert sample is not None, f"no catalog lab has a {kind.__name__}: add one, so its export is tested"
    lines = step(sample).lines
    assert [line for line in lines if line and not line.startswith("#")]


@pytest.mark.parametrize("name", sorted(PLANS))
def test_the_script_of_every_catalog_lab_is_valid_bash(name: str, tmp_path: Path) -> None:
    script = tmp_path / f"{name}.sh"
    for teardown in (False, True):
        script.write_text(render(PLANS[name], teardown=teardown))
        done = subprocess.run(["bash", "-n", str(script)], capture_output=True, text=True, check=False)
        assert done.returncode == 0, done.stderr
        if shutil.which("shellcheck"):
            done = subprocess.run(["shellcheck", "-S", "warning", str(script)], capture_output=True, text=True,
                                  check=False)
            assert done.returncode == 0, done.stdout


@pytest.mark.parametrize("name", sorted(PLANS))
def test_the_script_tags_nothing_as_netlab_s(name: str) -> None:
    """No interface alias and no ``netlab:`` comment on a rule: the script is the user's."""
    text = render(PLANS[name])
    assert "alias" not in text
    assert '--comment "netlab:' not in text and "# netlab:" not in text


def test_the_teardown_deletes_exactly_the_lab_s_namespaces() -> None:
    plan = PLANS["dr-mode"]
    text = render(plan, teardown=True)
    listed = text.split("namespaces=(\n", 1)[1].split("\n)", 1)[0].split()
    assert listed == list(plan.namespaces)
    assert text.count("ip netns del") == 1 and 'ip netns del "$ns"' in text
    assert "ip netns add" not in text and "ipvsadm" not in text


def test_every_namespace_is_made_with_ip_netns_add_and_ipv6_silent_or_without_dad() -> None:
    # without IPv6, no sysctl per namespace: each interface gets addrgenmode none (tests/unit/test_ipv6_silent.py)
    assert step(CreateNetns("nl-x.a", "a", False)).lines == ("ip netns add nl-x.a", "ip -n nl-x.a link set lo up")
    assert "accept_dad=0" in step(CreateNetns("nl-x.a", "a", True)).lines[1]


def test_veth_ends_are_born_in_their_namespaces_with_names_macs_and_mtus() -> None:
    text = render(planned(documented("campus"), "campus.yml"))
    assert ("ip link add srv0 netns nl-campus.router mtu 9000 address 02:00:00:00:02:01 type veth peer name eth0 "
            "netns nl-campus.server") in text


def test_routes_keep_metric_src_and_device_and_ipv6_addresses_skip_dad() -> None:
    text = render(planned(documented("campus"), "campus.yml"))
    routes = [line for line in text.splitlines() if " route add " in line]
    assert routes and all(line.endswith("proto static") for line in routes)
    assert any(" metric " in line for line in routes) and any(" src " in line for line in routes)
    assert any(line.startswith("ip -6 -n ") for line in routes)
    v6 = [line for line in text.splitlines() if " addr add " in line and ":" in line.split(" addr add ")[1]]
    assert v6 and all(line.endswith(" nodad") for line in v6)
    assert step(AddRoute("nl-x.a", "10.9.0.0/16", None, "eth1", 3, 20, "10.0.0.1", 4)).lines == (
        "ip -n nl-x.a route add 10.9.0.0/16 dev eth1 metric 20 src 10.0.0.1 proto static",)


def test_a_derived_setting_carries_its_reason_as_a_comment() -> None:
    text = render(PLANS["dr-mode"])
    before = text.split("ip netns exec nl-dr-mode.rs1 sysctl -qw net.ipv4.conf.all.arp_ignore=1", 1)[0]
    assert before.rstrip().splitlines()[-2].startswith("# web (DR): answer ARP only for addresses on the receiving")


def test_a_sysctl_of_an_interface_with_a_dot_uses_the_slash_form() -> None:
    assert sysctl_word("net.ipv4.conf.eth0.100.rp_filter", "0") == "net/ipv4/conf/eth0.100/rp_filter=0"
    assert sysctl_word("net.ipv4.ip_forward", "1") == "net.ipv4.ip_forward=1"


def test_iptables_rules_lose_netlab_s_mark_and_keep_their_names() -> None:
    payload = ('# netlab:lab node r\n*filter\n:INPUT ACCEPT [0:0]\n'
               '-A INPUT -m comment --comment "netlab:lab block echo" -p tcp -j DROP\n'
               '-A INPUT -m comment --comment "netlab:lab" -j ACCEPT\nCOMMIT\n')
    assert payload_lines(payload) == ["*filter", ":INPUT ACCEPT [0:0]",
                                      '-A INPUT -m comment --comment "block echo" -p tcp -j DROP',
                                      "-A INPUT -j ACCEPT", "COMMIT"]


def test_a_service_runs_netlab_s_server_and_a_body_with_a_newline_stays_one_word() -> None:
    lines = step(StartService("nl-x.a", "a", "web", "http", "tcp", "0.0.0.0", 80, "it's\nme\n")).lines
    assert lines[-1].startswith('ip netns exec nl-x.a "${PYTHON:-python3}" -m netlab.features.services.server '
                                "--node a --kind http --name web --address 0.0.0.0 --port 80 ")
    assert "--body $'it\\'s\\nme\\n'" in lines[-1]
    assert shell_word("plain") == "plain"


def test_the_cli_prints_the_script_or_writes_it_executable(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["export", "routed"]) == 0
    out = capsys.readouterr().out
    lab = Lab.load("routed")
    assert out == render(lab.plan(), lab.topology.description or "")
    target = tmp_path / "routed-down.sh"
    assert main(["export", "routed", "--teardown", "-o", str(target)]) == 0
    assert target.read_text() == render(lab.plan(), lab.topology.description or "", teardown=True)
    assert target.stat().st_mode & stat.S_IXUSR
