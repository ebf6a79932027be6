"""The rule of validation, as a property over generated topologies, checked against the real kernel:

* ``validate`` accepts ⇒ ``up`` succeeds (and ``down`` leaves nothing), or refuses with exit 4 (a kernel feature
  is missing) before creating anything;
* ``validate`` refuses ⇒ :class:`InvalidInput`, every diagnostic with file and line, and the kernel untouched.

Why a property: a tester found 36 of 600 accepted fuzz mutants and 21 of 40 hand-written edge cases that passed
``validate`` and failed ``up``; the unit tests pin each of those, this keeps looking for the next one. The
topologies are small (1-6 nodes, links, a LAN) and mostly sensible, with edge values mixed in: addresses
(network, broadcast, ``::``, ``::1``, multicast, scope ids), routes (metrics, ``src``, duplicates, connected
prefixes), sysctls (any key of the generated table with in-range, boundary and bad values), MACs, MTUs and
odd names.

``up`` runs for real, so the whole test runs in a private mount + network namespace of its own, with tmpfs on
/run/netns and /run/netlab (``NETLAB_RUN_DIR``): the test re-executes itself there (``unshare``), and nothing
reaches the machine's namespaces. ``NETLAB_PROPERTY_EXAMPLES`` sets the number of examples (100 by default,
a few seconds; 1000 for a thorough run, about 15 s); ``NETLAB_PROPERTY_LEVEL=0`` makes every example a clean one.
Every distinct failure is collected with the smallest example that showed it (rather than stopping at the first
and shrinking it): one run then tells all it found.

Not generated, on purpose: sysctls of modules this table does not know (``net.sctp.*``) and IPVS's
(``net.ipv4.vs.*`` on a kernel without ip_vs): ``validate`` accepts them (see netlab.core.kernel_limits) and
``up`` reports the kernel's "no such sysctl"; and free-text sysctls whose values depend on the kernel's modules
(tcp_congestion_control, nf_log.*), except with their default value.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import yaml

from netlab.core import netns_sysctls
from netlab.core.kernel_limits import GROUPS

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

pytestmark = pytest.mark.root

REPO = Path(__file__).resolve().parents[2]
INNER = "NETLAB_PROPERTY_INNER"
OUTER_NETNS = "NETLAB_PROPERTY_OUTER_NETNS"
EXAMPLES = int(os.environ.get("NETLAB_PROPERTY_EXAMPLES", "100"))

NODE_NAMES = ["a", "b", "c", "r1", "h-2", "x_y", "n5", "srv"]
ODD_NODE_NAMES = ["all", "default", "lo", "br0", "tunl0", "A", "n\n", "é", "a" * 16, "n\x00", "-x"]
IFNAMES = ["eth0", "e1", "wan", "lan0", "a..b", "x.y", "v-1"]
ODD_IFNAMES = ["all", "default", "lo", "eth 0", "à", "ü", "e" * 16, "gre0", "e\n", "e\x00", "a/b", ".."]
ODD_MACS = ["00:00:00:00:00:00", "01:00:5e:00:00:01", "ff:ff:ff:ff:ff:ff", "02:00:00:00:00:0g", "02:00:00:00:00"]
MTUS = [68, 576, 1000, 1279, 1280, 1500, 9000, 65535]
GOOD_SYSCTLS: list[tuple[str, int | str]] = [
    ("net.ipv4.ip_forward", 1), ("net.ipv6.conf.all.forwarding", 1), ("net.ipv4.conf.all.rp_filter", 2),
    ("net.ipv4.ip_local_port_range", "20000 30000"), ("net.ipv4.ip_unprivileged_port_start", 2000),
    ("net.ipv6.conf.all.disable_ipv6", 1), ("net.ipv4.ipfrag_high_thresh", 6000000),
    ("net.ipv4.ipfrag_low_thresh", 5000000), ("net.ipv4.ip_local_reserved_ports", "8080,9000-9010"),
    ("net.ipv4.conf.all.arp_ignore", 1), ("net.ipv4.conf.all.arp_announce", 2), ("net.ipv4.tcp_rmem", "4096 131072"),
]
BAD_SYSCTLS: list[tuple[str, int | str]] = [
    ("net.ipv4.tcp_ecn", 7), ("net.core.rmem_max", 1), ("net.core.netdev_max_backlog", 5),
    ("net.ipv4.conf....ip_forward", 1), ("net.ipv4.ip_local_port_range", "300 200"),
    ("net.ipv4.ip_local_port_range", "80 90"), ("net.ipv4.neigh.default.gc_stale_time", 5), ("kernel.panic", 1),
    ("net.ipv4.tcp_ecnn", 1), ("net.ipv4.conf.all.arp_ignore", 9), ("net.ipv4.ip_local_reserved_ports", "8080, 9000"),
    ("net.ipv4.ip_forward", "010"), ("net.ipv4.ip_forward", "on"), ("net.ipv4.ipfrag_low_thresh", 9000000),
]
TEXT_OK = {"net.ipv4.ip_local_reserved_ports", "net.ipv6.icmp.ratemask", "net.ipv4.tcp_fastopen_key"}
"""Free-text keys whose format validate knows: generated with bad values too."""
KEYS = sorted(k for k, (mode, values, sample) in netns_sysctls.KEYS.items()
              if mode != "ro" or k.startswith("net.core."))


# ------------------------------------------------------------------------------------------------ the topologies

@st.composite
def labs(draw: st.DrawFn) -> dict[str, Any]:
    """A small topology. Half of them are clean (no edge value on purpose: what validate must accept, and up must
    then build); the others get edge values at one of three rates."""
    def chance(percent: float) -> bool:
        return draw(st.sampled_from(range(100))) < percent

    level = int(os.environ.get("NETLAB_PROPERTY_LEVEL", "-1"))  # to study one rate: 0 = clean examples only
    if level < 0:
        level = draw(st.sampled_from([0, 0, 0, 2, 6, 12]))

    def odd(percent: float) -> bool:
        """An edge value, at this example's rate (never in a clean example)."""
        return level > 0 and chance(percent * level / 6)

    def pick(options: list[Any]) -> Any:
        return draw(st.sampled_from(options))

    name = pick(["g06\n", "PT", "p" * 25, "p_t", "p\x00", "p.t"]) if odd(6) else "pt"
    count = draw(st.integers(1, 6))
    pool = NODE_NAMES + (ODD_NODE_NAMES if odd(15) else [])
    names: list[str] = draw(st.lists(st.sampled_from(pool), min_size=count, max_size=count, unique=True))
    nodes: dict[str, dict[str, Any]] = {n: {} for n in names}
    own: dict[str, list[str]] = {n: [] for n in names}
    gateways: dict[str, list[str]] = {n: [] for n in names}
    ifs: dict[str, list[str]] = {n: [] for n in names}
    lab: dict[str, Any] = {"name": name, "nodes": nodes}
    if odd(20):
        lab["ipv6"] = pick([True, False])
    elif chance(10):
        lab["ipv6"] = True

    def address(family: int, seg: int, host: int) -> str:
        if odd(8):
            return pick([f"10.{seg}.0.0/24", f"10.{seg}.0.255/24", "0.0.0.0/24", "127.0.0.1/8", "224.0.0.5/24",
                         f"10.{seg}.0.{host}", "10.0.0.1/33"] if family == 4 else
                        ["::/128", "::1/128", "ff02::1/64", f"fe80::{host}/64", f"2001:db8:{seg}::{host}/128",
                         f"fe80::{host}%eth0/64", "::ffff:10.0.0.1/96"])
        return f"10.{seg}.0.{host}/24" if family == 4 else f"2001:db8:{seg}::{host}/64"

    def endpoint(node: str, seg: int, host: int, families: list[int], mtu: int | None) -> dict[str, Any]:
        ep: dict[str, Any] = {"node": node}
        if odd(10):
            ep["interface"] = pick(IFNAMES + ODD_IFNAMES)
        elif chance(30):
            ep["interface"] = pick(IFNAMES) if chance(30) else f"e{len(ifs[node])}"
        if ep.get("interface"):
            ifs[node].append(ep["interface"])
        addrs = [address(f, seg, host) for f in families]
        if addrs:
            ep["address"] = addrs if len(addrs) > 1 else addrs[0]
            own[node] += [a.split("/")[0] for a in addrs]
        if odd(12):
            ep["mac"] = pick(ODD_MACS)
        elif chance(10):
            ep["mac"] = f"02:00:00:00:{seg:02x}:{host:02x}"
        if odd(10):
            ep["mtu"] = pick(MTUS)
        elif mtu is not None:
            ep["mtu"] = mtu
        if chance(12):
            ep["sysctls"] = dict(iface_sysctl() for _ in range(draw(st.integers(1, 2))))
        return ep

    def iface_sysctl() -> tuple[str, int | str]:
        if odd(10):
            return pick([("foo", 1), ("net.ipv4.conf.eth0.rp_filter", 0), ("ipv6.foo", 1), ("rp_filter", 3)])
        group = pick(["net.ipv4.conf", "net.ipv6.conf"])
        leaf = pick(sorted(netns_sysctls.LEAVES[group]))
        _mode, values, _other, sample, _scopes = netns_sysctls.LEAVES[group][leaf]
        return ("ipv6." if group == "net.ipv6.conf" else "") + leaf, value_for(leaf, values, sample)

    def value_for(key: str, values: Any, sample: str | None) -> int | str:
        if values is None:
            if key.endswith("stable_secret"):
                return pick(["2001:db8::1", "foo"])
            return pick([sample or "", "zz"]) if key in TEXT_OK else (sample or "")
        if odd(8):
            return pick(["abc", "1 2 3 4", "010", "", "-"])
        if sample is not None and chance(30):
            return sample
        numbers = []
        for field in values:
            lo, hi = pick(list(field))
            lo, hi = max(lo, -2 ** 64), min(hi, 2 ** 64)
            numbers.append(pick([lo, hi, lo - 1, hi + 1]) if chance(25) else draw(st.integers(lo, hi)))
        return numbers[0] if len(numbers) == 1 and chance(50) else " ".join(str(n) for n in numbers)

    def node_sysctl(node: str) -> tuple[str, int | str]:
        kind = pick(["data", "data", "iface", "fixed"])
        if kind == "fixed":
            return pick(BAD_SYSCTLS) if odd(40) else pick(GOOD_SYSCTLS)
        if kind == "data":
            key = pick(KEYS)
            _mode, values, sample = netns_sysctls.KEYS[key]
            if values is None and key not in TEXT_OK:
                return key, sample or ""
            return key, value_for(key, values, sample)
        group = pick(list(GROUPS))
        leaf = pick(sorted(netns_sysctls.LEAVES[group]))
        _mode, values, _other, sample, _scopes = netns_sysctls.LEAVES[group][leaf]
        scopes = ["all", "default", "lo"] if group.endswith(".conf") else ["lo"]
        ifname = pick([*ifs[node], *scopes, *(["eth9", "eth0", "all", "default"] if odd(20) else [])])
        return f"{group}.{ifname}.{leaf}", value_for(leaf, values, sample)

    def route(node: str) -> dict[str, Any] | None:
        v6 = chance(30)
        mine = [a for a in own[node] if (":" in a) == v6]
        via = [g for g in gateways[node] if (":" in g) == v6]
        connected = sorted({net for a in mine if (net := _network(a))})
        destinations = ["default", "::/0" if v6 else "0.0.0.0/0", "2001:db8:200::/64" if v6 else "10.200.0.0/24",
                        "2001:db8:201::/64" if v6 else "10.201.0.0/24", *connected]
        r: dict[str, Any] = {"to": pick(destinations)}
        if odd(15):
            r["to"] = pick(["10.1.0.1/24", "bogus", "fe80::/64", "2001:db8::%1/64", "::/0", "0.0.0.0/0"])
        if odd(15):
            r["via"] = pick([*own[node], *gateways[node], "10.1.0.255", "10.250.0.1", "fe80::1", "2001:db8:1::%eth0"])
        elif via and (r["to"] != "default" or not v6 or chance(100)):
            r["via"] = pick(via)
        if r["to"] == "default" and v6 and "via" not in r:
            return None  # `default` without an IPv6 via is IPv4
        if "via" not in r or odd(15):
            names = [i for i in ifs[node] if i in own_ifs[node]] or ["lo"]
            r["dev"] = pick([*names, *(["eth9", "eth0"] if odd(20) else [])])
        if odd(25):
            r["metric"] = pick([0, 256, 1024, 4294967295, 4294967296])
        elif chance(30) or r["to"] in connected:
            r["metric"] = pick([1, 100, 1000, 4294967295])
        if odd(20):
            r["src"] = pick([*own[node], *gateways[node], "foo", "127.0.0.1", "::1", "10.250.0.9"])
        elif chance(15) and mine:
            r["src"] = pick([a for a in mine if not a.startswith(("127.", "::1"))] or mine)
        return r

    own_ifs: dict[str, set[str]] = {n: set() for n in names}
    links = []
    seg = 0
    for _ in range(draw(st.integers(0, 4))):
        a, b = pick(names), pick(names)
        if a == b and not odd(30):
            if len(names) == 1:
                continue
            b = next(n for n in names if n != a)
        seg += 1
        families = pick([[4], [4], [6], [4, 6], []])
        mtu = pick([1280, 1500, 9000, 1000, 68]) if chance(10) else None
        if mtu is not None and mtu < 1280 and 6 in families and not odd(50):
            mtu = 1280
        link: dict[str, Any] = {"a": endpoint(a, seg, 1, families, None), "b": endpoint(b, seg, 2, families, None)}
        if mtu is not None:
            link["mtu"] = mtu
        links.append(link)
        for me, other in (("a", "b"), ("b", "a")):
            node = link[me]["node"]
            gateways[node] += [x.split("/")[0] for x in _list(link[other].get("address"))]
            if link[me].get("interface") and link[me].get("address"):
                own_ifs[node].add(link[me]["interface"])
    if links:
        lab["links"] = links
    if chance(40):
        seg += 1
        members = [pick(names) for _ in range(draw(st.integers(1, 5)))]
        families = pick([[4], [6], [4, 6]])
        lan: dict[str, Any] = {"members": [endpoint(m, seg, i + 1, families, None) for i, m in enumerate(members)]}
        if odd(15):
            lan["mtu"] = pick(MTUS)
        lab["lans"] = {pick(["office", "all", "lan\n", *names]) if odd(10) else "lan1": lan}
        for i, m in enumerate(members):
            gateways[m] += [x.split("/")[0] for j, e in enumerate(lan["members"]) if j != i
                            for x in _list(e.get("address"))]
            if lan["members"][i].get("interface"):
                own_ifs[m].add(lan["members"][i]["interface"])
    for n in names:
        node = nodes[n]
        if odd(25):
            node["loopback"] = draw(st.lists(st.sampled_from(
                ["10.255.0.1", "10.255.0.1/32", "127.0.0.1/8", "::1", "2001:db8:fe::1/64"]), min_size=1, max_size=3))
        elif chance(20):
            node["loopback"] = pick([f"10.255.{names.index(n)}.1", f"2001:db8:ff::{names.index(n) + 1}", "127.0.0.2"])
        own[n] += [x.split("/")[0] for x in _list(node.get("loopback"))]
        if chance(50):
            routes = [r for _ in range(draw(st.integers(1, 3))) if (r := route(n)) is not None]
            if routes:
                node["routes"] = routes
        if chance(35):
            node["sysctls"] = dict(node_sysctl(n) for _ in range(draw(st.integers(1, 4))))
        if odd(4):
            node["commands"] = [pick(["true", "echo \x00", "ip -br link"])]
    return lab


def _list(value: Any) -> list[str]:
    return [] if value is None else [value] if isinstance(value, str) else list(value)


def _network(ip: str) -> str | None:
    """The /24 or /64 a generated address of that form is in (the connected prefix a route may collide with)."""
    m = re.fullmatch(r"10\.(\d+)\.0\.\d+", ip)
    if m:
        return f"10.{m[1]}.0.0/24"
    m = re.fullmatch(r"2001:db8:(\d+)::\d+", ip)
    return f"2001:db8:{m[1]}::/64" if m else None


# ------------------------------------------------------------------------------------------------ the property

def test_validate_implies_up(tmp_path: Path) -> None:
    """Run the property inside a private mount + network namespace (this test again, re-executed there)."""
    if os.environ.get(INNER) == "1":
        _run_property()
        return
    env = {**os.environ, INNER: "1", OUTER_NETNS: str(os.stat("/proc/self/ns/net").st_ino),
           "HYPOTHESIS_STORAGE_DIRECTORY": str(tmp_path / "hypothesis")}  # not .hypothesis/ in the checkout
    proc = subprocess.run(["unshare", "--mount", "--net", "--fork", "--propagation", "private", sys.executable, "-m",
                           "pytest", f"{__file__}::test_validate_implies_up", "-q", "-s", "-p", "no:cacheprovider"],
                          cwd=REPO, env=env, capture_output=True, text=True, check=False,
                          timeout=max(600, EXAMPLES * 3))
    report = proc.stdout[proc.stdout.find("property:"):] if "property:" in proc.stdout else proc.stdout[-4000:]
    print(report)
    assert proc.returncode == 0, f"{proc.stdout[-12000:]}\n{proc.stderr[-3000:]}"


def _isolate() -> None:
    """In the namespaces unshare made for us: tmpfs on /run/netns and /run/netlab. Refuse to run anywhere
    else (the machine's own namespaces must never see a lab)."""
    assert os.environ.get(OUTER_NETNS) not in (None, str(os.stat("/proc/self/ns/net").st_ino)), \
        "the inner run must be in a network namespace of its own"
    for directory in ("/run/netns", "/run/netlab"):
        os.makedirs(directory, exist_ok=True)
        subprocess.run(["mount", "-t", "tmpfs", "-o", "mode=755", "netlab-property", directory], check=True)
    os.environ["NETLAB_RUN_DIR"] = "/run/netlab"


def _kernel() -> tuple[object, ...]:
    """What a refused topology must not change: the namespaces and this namespace's interfaces."""
    return tuple(sorted(os.listdir("/run/netns"))), tuple(sorted(socket.if_nameindex()))


def _kind(message: str) -> str:
    """A diagnostic's message without its values, to count which rules fired."""
    text = re.sub(r"'[^']*'|\"[^\"]*\"", "…", message)
    text = re.sub(r"[0-9a-fA-F:.]*[0-9][0-9a-fA-F:./-]*", "N", text)
    return text[:70]


def _run_property() -> None:
    from hypothesis import given

    from netlab.api import Lab
    from netlab.errors import InvalidInput, MissingFeatures

    _isolate()
    work = Path("/run/netlab/property")
    work.mkdir()
    stats: Counter[str] = Counter()
    kinds: Counter[str] = Counter()
    violations: dict[str, tuple[str, str]] = {}

    @settings(max_examples=EXAMPLES, deadline=None, database=None, print_blob=True,
              suppress_health_check=list(HealthCheck))
    @given(labs())
    def prop(data: dict[str, Any]) -> None:
        text = yaml.safe_dump(data, allow_unicode=True, sort_keys=False)
        path = work / "lab.yml"
        path.write_text(text, encoding="utf-8")
        before = _kernel()
        stats["examples"] += 1
        try:
            lab = Lab.load(path)
        except InvalidInput as exc:
            stats["refused"] += 1
            assert exc.diagnostics, f"InvalidInput without diagnostics: {exc}\n{text}"
            for d in exc.diagnostics:
                assert d.file == str(path) and d.line, f"a diagnostic without file:line: {d.render()}\n{text}"
                kinds[_kind(d.message)] += 1
            stats["diagnostics"] += len(exc.diagnostics)
            assert _kernel() == before, f"refused, yet the kernel changed\n{text}"
            return
        stats["accepted"] += 1
        try:
            lab.up()
        except MissingFeatures:
            stats["exit 4"] += 1
            assert _kernel() == before, f"exit 4, yet the kernel changed\n{text}"
            return
        except Exception as exc:
            stats["VIOLATION"] += 1
            what = f"{type(exc).__name__}: {_kind(str(exc).splitlines()[-1] if str(exc) else '')}"
            if what not in violations or len(text) < len(violations[what][1]):
                violations[what] = (f"{type(exc).__name__}: {exc}", text)
            assert _kernel() == before, f"up failed and left something behind\n{text}"
            return
        stats["up"] += 1
        lab.down()
        assert _kernel() == before, f"down left something\n{text}"

    try:
        prop()
    finally:
        print(f"property: {dict(stats)}")
        print("refusals by rule (most frequent first):")
        for kind, n in kinds.most_common(40):
            print(f"  {n:5d}  {kind}")
    # every distinct way validate said yes and up said no, each with the smallest example seen (hypothesis does
    # not shrink these: collecting them all tells more than the first one shrunk)
    assert not violations, "validate accepted, up failed:\n" + "\n".join(
        f"--- {error}\n{text}" for error, text in violations.values())


# ------------------------------------------------------------------------------------------------ the sysctl table

def test_the_netns_sysctl_table_matches_this_kernel() -> None:
    """netlab/stages/netns_sysctls.py was generated from a real namespace; walk a fresh one again now and compare
    keys, modes and the values the kernel takes (not the defaults: some depend on the machine's memory). A
    difference means validation would refuse what this kernel takes, or accept what it refuses: regenerate the
    table (``scripts/gen-netns-sysctls``) and review the diff. The walk runs in a namespace of its own (the
    script unshares one) and writes only there."""
    proc = subprocess.run([sys.executable, str(REPO / "scripts" / "gen-netns-sysctls"), "--check"],
                          capture_output=True, text=True, check=False, timeout=300)
    assert proc.returncode == 0, (f"the sysctl table differs from this kernel ({os.uname().release}):\n"
                                  f"{proc.stdout}{proc.stderr}\nregenerate it: scripts/gen-netns-sysctls")
