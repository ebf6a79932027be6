"""``netlab export``: a lab as a standalone bash script of ``ip``, ``sysctl``, ``ipvsadm`` and ``iptables-restore``,
with the teardown that removes it.

Why from the plan (:mod:`netlab.model.plan`): it is what ``up`` applies, action by action and phase by phase, so
the script builds the lab netlab would -- tests/integration/test_export.py runs both on every catalog lab and
compares what the kernel holds. Each core action becomes the ``ip`` command that sends the message apply packs
(:mod:`netlab.kernel.rtnl`: routes ``proto static``, IPv4 addresses with ``brd +``, IPv6 ones ``nodad``); each
feature's action goes through the feature's ``export`` hook, found by the action types the feature applies
(its ``encoders`` and ``executors``), so this module names no feature. A derived setting keeps its reason as a
comment above it: the script is for reading as much as for running.

What the script leaves out on purpose: netlab's ownership tags (interface aliases, the iptables comments), since
it is the user's script, and the interface indexes netlab picks (the kernel picks them here; nothing depends on
them). The namespace names stay netlab's, so netlab's probes can run against the lab the script builds.

The shape of the script (header, teardown, refusing to build over an existing namespace, removing a half-built
lab on error) is in the Jinja2 templates ``templates/export*.sh.j2``; this module only makes the lines.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import re
import shlex
import textwrap
from collections.abc import Callable, Iterable
from pathlib import Path
from shlex import quote
from typing import Any

from netlab.core.frozen import frozen
from netlab.features.manifest import ENTRIES, load_hook
from netlab.features.registry import FEATURES
from netlab.model.ipv6 import silence_of
from netlab.model.plan import (
    PHASES,
    Action,
    AddAddress,
    AddRoute,
    CreateBridge,
    CreateNetns,
    CreateVeth,
    LinkUp,
    Phase,
    Plan,
    RunCommand,
    SetSysctl,
)

TEMPLATES = Path(__file__).resolve().parent / "templates"
WIDTH = 116
"""Comment lines are wrapped to this width (with ``# ``, the 120 columns of the code)."""

PHASE_TITLES: dict[Phase, str] = {
    "netns": "namespaces, one per node and per LAN, lo up; IPv6 stays on but silent: the lab uses none, so each "
             "bridge gets IPv6 off and every other interface addrgenmode none before it comes up (below)",
    "links": "links: both ends of each veth made directly in their namespaces, with the lab's names, MACs and MTUs; "
             "interface indexes are the kernel's choice here (netlab picks its own; nothing depends on them)",
    "sublinks": "sub-interfaces, once every parent exists",
    "sysctls": "sysctls, after the links (a per-interface key exists only once its interface does)",
    "up": "interfaces up; bridge ports into their bridge",
    "addresses": "addresses: IPv4 with its broadcast address (brd +), IPv6 without duplicate address detection",
    "routes": "static routes (proto static, main table), once the addresses that reach their gateways exist",
    "qdiscs": "shaped interfaces: a root qdisc each (netem impairs, tbf is a bottleneck), on what leaves them",
    "ipvs": "IPVS virtual services, in the director's namespace",
    "iptables": "iptables, one iptables-restore per node",
    "init": "nodes' inits: each holds its node's own uts/ipc/pid/mnt namespaces as pid 1; what runs in the node "
            "below joins them (nsenter --all)",
    "commands": "the nodes' own commands, once addresses, routes and rules are in place",
    "services": "services, last: they may listen on addresses or behind rules set up above",
    "limits": "node limits: a cgroup v2 per limited node, and the node's processes moved in (set LAB_RUN to name it)",
}
SILENT_LINKS = ("; each bridge with IPv6 off: with multicast snooping on it joins ff02::6a as it comes up, and would "
                "report that join (MLD) even without a link-local address")
SILENT_UP_TITLE = ("interfaces up, each but a bridge first set to addrgenmode none: with no link-local address an "
                   "interface sends no duplicate address detection, router solicitation or MLD report (turning IPv6 "
                   "off in each namespace would do the same, at the cost of a /proc/sys lookup that grows with the "
                   "number of namespaces); bridge ports into their bridge")
IPV6_TITLE = ("namespaces, one per node and per LAN, lo up; IPv6 on without duplicate address detection (the lab's "
              "addresses are unique by construction, and DAD would hold each one back for about a second)")
TOOLS = {"ip": "ip (iproute2)", "sysctl": "sysctl (procps)", "iptables-restore": "iptables-restore",
         "ipvsadm": "ipvsadm", "tc": "tc (iproute2)", "python3": "python3 importing netlab (for the services)",
         "sh": "sh"}
"""How the header names a program the script runs; one not listed here is named as it is."""
SETTING = re.compile(r"\$\{(\w+):-([^}]*)\}")
"""``${NAME:-default}`` in a line: a setting the user may give in the environment."""


@frozen
class Step:
    """One action's shell lines, after the comment lines that say why it is there."""

    why: tuple[str, ...]
    lines: tuple[str, ...]


@frozen
class Section:
    """A phase of the plan: the script runs them in the plan's order, as apply does."""

    phase: Phase
    title: tuple[str, ...]
    steps: tuple[Step, ...]


FALLBACK_DEVICES = {"tunl0": "ipip", "gre0": "ip_gre", "gretap0": "ip_gre", "erspan0": "ip_gre", "sit0": "sit",
                    "ip6tnl0": "ip6_tunnel", "ip6gre0": "ip6_gre"}
"""Devices the kernel makes in every namespace once their module is loaded, which a plan may bring up (index 0):
the script loads the module before it makes the namespaces, as netlab's requirement check does by trying it."""

Bridges = dict[tuple[str, int], str]
"""(namespace, index) → name of every bridge the plan makes: a port names its bridge by name in ``ip``."""


def _why(reason: str) -> tuple[str, ...]:
    return tuple(textwrap.wrap(reason, WIDTH, break_on_hyphens=False, break_long_words=False)) if reason else ()


def _netns(action: CreateNetns, _bridges: Bridges) -> Step:
    ns = quote(action.netns)
    v6 = [f"ip netns exec {ns} sysctl -qw net.ipv6.conf.all.accept_dad=0 net.ipv6.conf.default.accept_dad=0"]
    return Step((action.owner if action.owner.startswith("LAN ") else f"node {action.owner}",),
                (f"ip netns add {ns}", *(v6 if action.ipv6 else []), f"ip -n {ns} link set lo up"))


def _bridge(action: CreateBridge, _bridges: Bridges) -> Step:
    mtu = f" mtu {action.mtu}" if action.mtu else ""
    return Step((), (f"ip -n {quote(action.netns)} link add {quote(action.name)}{mtu} type bridge",))


def _link_options(mtu: int | None, mac: str | None) -> str:
    return (f" mtu {mtu}" if mtu else "") + (f" address {mac}" if mac else "")


def _veth(action: CreateVeth, _bridges: Bridges) -> Step:
    return Step((), (f"ip link add {quote(action.name)} netns {quote(action.netns)}"
                     f"{_link_options(action.mtu, action.mac)} type veth peer name {quote(action.peer_name)} "
                     f"netns {quote(action.peer_netns)}{_link_options(action.peer_mtu, action.peer_mac)}",))


def sysctl_word(key: str, value: str) -> str:
    """``key=value`` for ``sysctl -w``; a key naming an interface with a dot (``eth0.100``) in sysctl's slash form,
    which does not split at dots (as :func:`netlab.kernel.proc.sysctl_path` reads it)."""
    parts = key.split(".")
    if len(parts) > 5 and parts[0] == "net" and parts[2] in ("conf", "neigh"):
        key = "/".join([*parts[:3], ".".join(parts[3:-1]), parts[-1]])
    return quote(f"{key}={value}")


def _sysctl(action: SetSysctl, _bridges: Bridges) -> Step:
    return Step(_why(action.reason), (f"ip netns exec {quote(action.netns)} sysctl -qw "
                                      f"{sysctl_word(action.key, action.value)}",))


def _up(action: LinkUp, bridges: Bridges) -> Step:
    master = bridges.get((action.netns, action.master_index or 0))
    port = f" master {quote(master)}" if master else ""
    return Step(_why(action.reason), (f"ip -n {quote(action.netns)} link set {quote(action.name)}{port} up",))


def _address(action: AddAddress, _bridges: Bridges) -> Step:
    iface = ipaddress.ip_interface(action.address)
    extra = ""
    if iface.version == 4 and iface.network.prefixlen < 31:
        extra += " brd +"
    extra += f" dev {quote(action.name)}"
    if iface.version == 6:
        extra += " nodad"
    if iface.ip.is_loopback:
        extra += " scope host"  # as the kernel gives lo's own 127.0.0.1
    return Step(_why(action.reason), (f"ip -n {quote(action.netns)} addr add {action.address}{extra}",))


def _route(action: AddRoute, _bridges: Bridges) -> Step:
    parts = [f"ip{' -6' if action.family == 6 else ''} -n {quote(action.netns)} route add {action.to}"]
    if action.via:
        parts.append(f"via {action.via}")
    if action.dev:
        parts.append(f"dev {quote(action.dev)}")
    if action.metric is not None:
        parts.append(f"metric {action.metric}")
    if action.src:
        parts.append(f"src {action.src}")
    parts.append("proto static")
    return Step(_why(action.reason), (" ".join(parts),))


def _command(action: RunCommand, _bridges: Bridges) -> Step:
    return Step((), (f"ip netns exec {quote(action.netns)} sh -c {quote(action.command)}",))


CORE: dict[type, Callable[[Any, Bridges], Step]] = {
    CreateNetns: _netns, CreateBridge: _bridge, CreateVeth: _veth, SetSysctl: _sysctl, LinkUp: _up,
    AddAddress: _address, AddRoute: _route, RunCommand: _command}
"""The core's action types, rendered here; every other type is a feature's."""


def feature_exports() -> dict[str, str]:
    """Action type's name → the export hook of the feature that applies it (its manifest entry's ``encoders`` and
    ``executors`` say which actions are whose)."""
    exports = {feature.name: feature.export for feature in FEATURES if feature.export is not None}
    return {kind: exports[e.name] for e in ENTRIES if e.name in exports for kind, _ in (*e.encoders, *e.executors)}


def step(action: Action, bridges: Bridges | None = None) -> Step:
    """The shell lines of one action. Raises TypeError for an action type nothing exports (a feature whose
    ``export`` slot is empty: tests/unit/test_export.py checks there is none)."""
    core = CORE.get(type(action))
    if core is not None:
        return core(action, bridges or {})
    ref = feature_exports().get(type(action).__name__)
    if ref is None:
        raise TypeError(f"no export for {type(action).__name__}: fill the export slot of the feature that applies it")
    return Step((), _comments(load_hook(ref)(action)))


def _silencer(plan: Plan) -> Callable[[Action, Step], Step]:
    """What apply does for IPv6 in a lab without it (netlab.stages.apply, ``Applier._messages``), as ``ip`` and
    ``sysctl``: ``link set NAME addrgenmode none`` before each interface's ``up``, IPv6 off on each bridge
    right after it is made (netlab.kernel.proc.bridge_ipv6_off says why) and for the interfaces the lab's
    commands will make where it runs some (later_interfaces_ipv6_off there), by the same rule
    (netlab.model.ipv6). So the script builds what ``netlab up`` builds -- lo with ``::1``, no
    link-local address anywhere, the same ``addrgenmode`` and ``disable_ipv6`` on every interface -- and
    tests/integration/test_export.py compares the two without excusing IPv6.

    The kernel refuses the mode only on an interface without IPv6 (an MTU below 1280), which is silent already
    (apply ignores that answer); only a plan with such an MTU gets ``|| true`` on these lines, so every other
    script still stops on any failure."""
    actions = plan.actions
    silent = silence_of(plan)
    small = any(f.name.endswith("mtu") and isinstance(getattr(a, f.name), int) and getattr(a, f.name) < 1280
                for a in actions for f in dataclasses.fields(a))
    tail = " 2>/dev/null || true" if small else ""

    def silence(action: Action, done: Step) -> Step:
        if isinstance(action, CreateNetns) and action.netns in silent.later_off:
            off = f"ip netns exec {quote(action.netns)} sysctl -qew net.ipv6.conf.default.disable_ipv6=1"
            return Step(done.why, (done.lines[0], off, *done.lines[1:]))  # netlab.kernel.proc.later_interfaces_ipv6_off
        # -e: a kernel without IPv6 has none to turn off
        if isinstance(action, CreateBridge) and action.netns in silent.own:
            word = sysctl_word(f"net.ipv6.conf.{action.name}.disable_ipv6", "1")
            return Step(done.why, (*done.lines, f"ip netns exec {quote(action.netns)} sysctl -qew {word}"))
        if not isinstance(action, LinkUp) or not silent.gets_mode_none(action.netns, action.name):
            return done
        # a kernel's fallback tunnel device may have no IPv6 at all (tunl0 in Debian's user-mode Linux: the mode is
        # refused with EAFNOSUPPORT, which apply ignores too); its ``up`` on the next line still stops on a failure
        end = tail or (" 2>/dev/null || true" if action.name in FALLBACK_DEVICES else "")
        line = f"ip -n {quote(action.netns)} link set {quote(action.name)} addrgenmode none{end}"
        return Step(done.why, (line, *done.lines))

    return silence


def sections(plan: Plan) -> list[Section]:
    """The plan's phases as sections of the script, in order."""
    bridges = {(a.netns, a.index): a.name for a in plan.actions if isinstance(a, CreateBridge)}
    ipv6 = any(a.ipv6 for a in plan.actions if isinstance(a, CreateNetns))
    silent = not all(a.ipv6 for a in plan.actions if isinstance(a, CreateNetns))
    titles: dict[Phase, str] = {**PHASE_TITLES}
    if ipv6:
        titles["netns"] = IPV6_TITLE
    if silent:
        titles["links"] += SILENT_LINKS
        titles["up"] = SILENT_UP_TITLE
    silence = _silencer(plan)
    out = [Section(phase, _why(titles[phase]), tuple(silence(a, step(a, bridges)) for a in actions))
           for phase, actions in plan.by_phase()]
    modules = sorted({FALLBACK_DEVICES[a.name] for a in plan.actions
                      if isinstance(a, LinkUp) and not a.index and a.name in FALLBACK_DEVICES})
    if modules and out and out[0].phase == "netns":
        load = Step(_why(f"the kernel makes {', '.join(d for d, m in FALLBACK_DEVICES.items() if m in modules)} in "
                         "each new namespace only once its module is loaded (built in: nothing to load)"),
                    tuple(f"modprobe -q {m} || true" for m in modules))
        out[0] = Section("netns", out[0].title, (load, *out[0].steps))
    return _in_inits(out, {a.netns for a in plan.actions if a.phase == "init"})


def _in_inits(parts: list[Section], inits: set[str]) -> list[Section]:
    """After the init phase, what runs inside a node with an init (netlab.kernel.nodeinit) joins all its
    namespaces, as netlab does: ``ip netns exec NS`` becomes ``nsenter --target "$(node_init NS)" --all --``."""
    after = set(PHASES[PHASES.index("init") + 1:])
    prefixes = {f"ip netns exec {quote(ns)} ": f'nsenter --target "$(node_init {quote(ns)})" --all -- '
                for ns in inits}

    def swap(line: str) -> str:
        for old, new in prefixes.items():
            if line.startswith(old):
                return new + line[len(old):]
        return line

    return [Section(sec.phase, sec.title, tuple(Step(st.why, tuple(swap(x) for x in st.lines)) for st in sec.steps))
            if sec.phase in after and inits else sec for sec in parts]


def _command_lines(parts: Iterable[Section]) -> Iterable[str]:
    """Every line the shell runs as a command: comments and here-documents' bodies left out."""
    for section in parts:
        for s in section.steps:
            heredoc = None
            for line in s.lines:
                if heredoc is not None:
                    heredoc = None if line == heredoc else heredoc
                    continue
                if "<<" in line:
                    heredoc = line.rsplit("<<", 1)[1].strip().strip("'\"")
                if not line.startswith("#"):
                    yield line


def settings(parts: Iterable[Section]) -> list[str]:
    """The environment variables the script reads (``${PYTHON:-python3}``), with their defaults, for its header."""
    found = {m[1]: m[2] for line in _command_lines(parts) for m in SETTING.finditer(line)}
    return [f"{name} (default {default})" for name, default in found.items()]


def programs(parts: Iterable[Section]) -> list[str]:
    """The programs the script runs, in order of first use (for its header)."""
    found: dict[str, None] = {"ip": None}
    for line in _command_lines(parts):
        words = shlex.split(line, comments=True)
        if words[:3] == ["ip", "netns", "exec"] and len(words) > 4:
            words = words[4:]
        if words:
            word = words[0]
            found[word.split(":-", 1)[1].rstrip("}") if word.startswith("${") else word] = None
    return [TOOLS.get(name, name) for name in found]


def _comments(lines: Iterable[str]) -> tuple[str, ...]:
    """A feature's lines with its long comment lines wrapped, as the core's are."""
    out: list[str] = []
    for line in lines:
        if line.startswith("# ") and len(line) > WIDTH + 2:
            out += [f"# {part}" for part in _why(line[2:])]
        else:
            out.append(line)
    return tuple(out)


def render(plan: Plan, description: str = "", *, teardown: bool = False) -> str:
    """The script that builds the lab (``down`` as its argument removes it), or with ``teardown`` the script that
    only removes it. ``description``: the topology's, whose first paragraph heads the script."""
    import jinja2

    env = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES), undefined=jinja2.StrictUndefined,
                             autoescape=False, trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True)
    parts = sections(plan)
    first = " ".join(description.strip().split("\n\n")[0].split())
    written = (f"Written by `netlab export --teardown {plan.lab}`: it removes the lab that `netlab export "
               f"{plan.lab}` builds. Run it as root; it needs ip (iproute2)." if teardown else
               f"Written by `netlab export {plan.lab}` from the plan `netlab up` applies. Run it as root; it "
               f"needs {', '.join(programs(parts))}." + (f" From the environment: {', '.join(settings(parts))}."
                                                         if settings(parts) else ""))
    intro = [*_why(f"Lab {plan.lab}" + (f": {first}" if first else "")), "", *_why(written)]
    template = env.get_template("export-teardown.sh.j2" if teardown else "export.sh.j2")
    cgroups = any(a.phase == "limits" for a in plan.actions)  # the one phase that makes something outside them
    inits = any(a.phase == "init" for a in plan.actions)
    return template.render(lab=plan.lab, intro=intro, namespaces=plan.namespaces, sections=parts, cgroups=cgroups,
                           inits=inits)
