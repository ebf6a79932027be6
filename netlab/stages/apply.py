"""Stage 5, apply: execute a plan against the kernel, and undo it.

How it stays fast (shared/NOTES.md §4, bench/README.md): namespaces are made in-process
(:mod:`netlab.kernel.netns`), two threads at a time for a large lab; each gets one raw rtnetlink
socket opened inside it; both ends of a veth are created directly in their namespaces with the
indexes the plan chose; messages are packed with :mod:`struct` (:mod:`netlab.kernel.netlink`), not
by pyroute2, and each phase of the plan is sent as one batch per namespace. Sysctls are written
through /proc from inside the namespace, with plain system calls. A lab that uses no IPv6 gets it
turned off in each namespace before any interface exists (no DAD, MLD or router solicitations
flooding a thousand-port bridge).

How it stays safe: before the first namespace is made, apply checks that none of the plan's names
exist (netlab never adopts what it did not make). Every namespace is tagged on ``lo`` before it gets
its name. If any step fails, everything this run made is removed and the error names the step and
the kernel's own message.
"""

from __future__ import annotations

import errno
import ipaddress
import os
import signal
import socket
import subprocess
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

from netlab.errors import ApplyError
from netlab.kernel.netlink import (
    IFA_ADDRESS,
    IFA_BROADCAST,
    IFA_LOCAL,
    IFLA_ADDRESS,
    IFLA_IFALIAS,
    IFLA_IFNAME,
    IFLA_INFO_DATA,
    IFLA_INFO_KIND,
    IFLA_LINKINFO,
    IFLA_MASTER,
    IFLA_MTU,
    IFLA_NET_NS_FD,
    NLM_F_CREATE,
    NLM_F_EXCL,
    RTA_DST,
    RTA_GATEWAY,
    RTA_OIF,
    RTA_PREFSRC,
    RTA_PRIORITY,
    RTA_TABLE,
    VETH_INFO_PEER,
    RtnlSocket,
    ifaddr,
    ifinfo,
    nla,
    nla_ip,
    nla_mac,
    nla_nested,
    nla_str,
    nla_u32,
    route,
)
from netlab.kernel.netns import NetnsDirectory, netns_path, raise_fd_limit, remove_netns
from netlab.model.plan import (
    Action,
    AddAddress,
    AddIpvsService,
    AddRoute,
    CreateBridge,
    CreateNetns,
    CreateSubInterface,
    CreateTunnel,
    CreateVeth,
    LinkUp,
    LoadIptables,
    Plan,
    RunCommand,
    SetSysctl,
    StartService,
)
from netlab.ownership import NamespaceTag, namespace_tag
from netlab.stages.record import ProcessRecord

RTM_NEWLINK = 16
RTM_NEWADDR = 20
RTM_NEWROUTE = 24
RT_TABLE_MAIN = 254
RTPROT_STATIC = 4
RT_SCOPE_UNIVERSE = 0
RT_SCOPE_LINK = 253
RT_SCOPE_HOST = 254
RTN_UNICAST = 1
IFF_UP = 1
IFA_F_PERMANENT = 0x80
IFA_F_NODAD = 0x02
IPV6_ALL = "/proc/sys/net/ipv6/conf/all/disable_ipv6"
IPV6_DEFAULT = "/proc/sys/net/ipv6/conf/default/disable_ipv6"
NETNS_WORKERS = 2
"""Threads creating namespaces (see :meth:`Applier._netns`); two is what the measurements justify."""
NETNS_THREADED_FROM = 16
"""Fewer namespaces than this are made in the calling thread: threads would not pay for themselves."""

Progress = Callable[[str, int, int], None]
"""progress(phase, done, total): called as apply moves through the plan."""


class _Handle:
    """An open namespace: its fd and its netlink socket."""

    def __init__(self, fd: int, sock: RtnlSocket) -> None:
        self.fd = fd
        self.sock = sock

    def close(self) -> None:
        self.sock.close()
        os.close(self.fd)


def _write_proc(path: str, value: str) -> None:
    """Write a /proc/sys file with plain system calls.

    Python's text-mode ``open()`` adds buffering, an fstat and an isatty ioctl: ≈ 0.1 ms more per
    file, which at two IPv6 sysctls per namespace is 0.2 s of a thousand-node ``up``.
    """
    fd = os.open(path, os.O_WRONLY | os.O_CLOEXEC)
    try:
        os.write(fd, value.encode())
    finally:
        os.close(fd)


def _disable_ipv6() -> None:
    """Turn IPv6 off in the current namespace, for ``lo`` and every interface made after.

    Writing ``all`` also sets ``default`` on current kernels, so the second write is skipped when
    ``default`` already reads 1: each write takes the RTNL lock (with two threads making
    namespaces, a busy lock makes the write spin), and at a thousand namespaces it is worth it.
    """
    try:
        _write_proc(IPV6_ALL, "1")
    except FileNotFoundError:
        return  # kernel without IPv6: nothing to turn off
    fd = os.open(IPV6_DEFAULT, os.O_RDONLY | os.O_CLOEXEC)
    try:
        if os.read(fd, 1) == b"1":
            return
    finally:
        os.close(fd)
    _write_proc(IPV6_DEFAULT, "1")


def _ipv6_without_dad() -> None:
    """IPv6 on, without duplicate address detection, for every interface made in this namespace after.

    Why: each interface's link-local address goes through DAD when it comes up (≈ 1 s; longer in a slow
    VM), and while it is tentative the node does not answer neighbour solicitations. A lab's first IPv6
    packets then wait for the 1 s retransmit of the solicitation: measured in the TCG VM, the first ping
    across gre-tunnel took 1.00 s in 5 of 5 runs and missed a 1 s probe timeout in 3 of 5; with DAD off,
    4-10 ms in 5 of 5. Addresses in a lab are unique by construction (validate checks them), and the
    global ones are added with IFA_F_NODAD already.
    """
    for scope in ("all", "default"):
        _write_proc(f"/proc/sys/net/ipv6/conf/{scope}/accept_dad", "0")


@contextmanager
def _sigint_deferred() -> Iterator[None]:
    """Hold SIGINT (Ctrl-C) back while the block runs; it is delivered, if pressed, when the block ends."""
    mask = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, mask)


def _wait_uninterrupted(events: list[threading.Event]) -> None:
    """Wait until every event is set, even if Ctrl-C is pressed again (workers stop within ms)."""
    for event in events:
        while not event.is_set():
            try:
                event.wait()
            except KeyboardInterrupt:
                continue


def _sysctl_key_to_path(key: str) -> str:
    """``net.ipv4.conf.eth0.rp_filter`` → path; interface names may contain dots, so only split the
    fixed prefix (``net.ipv4.conf.<ifname>.<leaf>``)."""
    parts = key.split(".")
    if len(parts) > 5 and parts[0] == "net" and parts[2] in ("conf", "neigh"):
        ifname = ".".join(parts[3:-1])
        return "/proc/sys/" + "/".join([*parts[:3], ifname, parts[-1]])
    return "/proc/sys/" + key.replace(".", "/")


class Applier:
    """Executes one plan. Not reusable: one instance per ``up``."""

    def __init__(self, plan: Plan, run: str, progress: Progress | None = None, log_dir: Path | None = None) -> None:
        self.plan = plan
        self.run = run
        self.log_dir = log_dir
        """Where services write their logs (default: /run/netlab/logs/<lab>)."""
        self.processes: list[ProcessRecord] = []
        """Services started so far, for the lab's state (``down`` stops them)."""
        self.progress = progress or (lambda phase, done, total: None)
        self.dirs = NetnsDirectory()
        self.handles: dict[str, _Handle] = {}
        self.created: list[str] = []

    # ------------------------------------------------------------------ main loop
    def apply(self) -> None:
        try:
            self._preflight()
            for phase, actions in self.plan.by_phase():
                self.progress(phase, 0, len(actions))
                if phase == "netns":
                    self._netns([a for a in actions if isinstance(a, CreateNetns)])
                elif phase == "sysctls":
                    self._sysctls([a for a in actions if isinstance(a, SetSysctl)])
                elif phase == "commands":
                    self._commands([a for a in actions if isinstance(a, RunCommand)])
                elif phase == "services":
                    self._services([a for a in actions if isinstance(a, StartService)])
                elif phase == "ipvs":
                    self._ipvs([a for a in actions if isinstance(a, AddIpvsService)])
                elif phase == "iptables":
                    self._iptables([a for a in actions if isinstance(a, LoadIptables)])
                else:
                    self._netlink(actions)
                self.progress(phase, len(actions), len(actions))
        except BaseException:
            with _sigint_deferred():  # a second Ctrl-C must not leave half the lab behind
                self.close()
                remove_namespaces(self.created)
            raise
        self.close()

    def _ipvs(self, actions: list[AddIpvsService]) -> None:
        """Virtual services through pyroute2's IPVS API, from inside each director's namespace."""
        from netlab.features.ipvs.kernel import configure

        by_ns: dict[str, list[AddIpvsService]] = defaultdict(list)
        for action in actions:
            by_ns[action.netns].append(action)
        for netns, items in by_ns.items():
            for action in items:
                try:
                    with self.dirs.entered(self.handles[netns].fd):
                        configure([action])
                except Exception as exc:  # pyroute2 raises NetlinkError (an OSError) or its own types
                    code = getattr(exc, "code", None)
                    detail = f"{os.strerror(code)} (errno {code})" if isinstance(code, int) else str(exc)
                    raise ApplyError(f"step `{action.describe()}` failed: {detail}") from None

    def _iptables(self, actions: list[LoadIptables]) -> None:
        """Each node's ruleset with one ``iptables-restore`` inside it, all or nothing (features.iptables.kernel)."""
        from netlab.features.iptables.kernel import load

        for action in actions:
            load(self.handles[action.netns].fd, action)

    def _services(self, actions: list[StartService]) -> None:
        """Start each service in its node (fork + setns) and wait until it listens; see netlab.features.services."""
        from netlab.features.services.runner import default_log_dir, start_service

        log_dir = self.log_dir or default_log_dir(self.plan.lab)
        for action in actions:
            self.processes.append(start_service(self.handles[action.netns].fd, action, log_dir))

    def close(self) -> None:
        for handle in self.handles.values():
            handle.close()
        self.handles.clear()
        self.dirs.close()

    def _preflight(self) -> None:
        taken = [ns for ns in self.plan.namespaces if os.path.lexists(netns_path(ns))]
        if taken:
            many = len(taken) > 1
            raise ApplyError(
                f"namespace{'s' if many else ''} {', '.join(taken)} already exist{'' if many else 's'}"
                " and netlab does not adopt what it did not make in this run.\n"
                "    hint: if a crashed netlab left them, `netlab clean` removes them; otherwise "
                "remove them with `ip netns del` or rename the lab")
        needed = 2 * len(self.plan.namespaces)  # an fd and a netlink socket per namespace, until the end
        available = raise_fd_limit(needed)
        if available < needed:
            raise ApplyError(
                f"this lab needs {needed} open files ({len(self.plan.namespaces)} namespaces) and the limit "
                f"allows {available} more\n    hint: raise it with `ulimit -n {needed + 1024}` (or "
                "LimitNOFILE= for a service) and run netlab again")

    # ------------------------------------------------------------------ phases
    def _netns(self, actions: list[CreateNetns]) -> None:
        """Create the namespaces, :data:`NETNS_WORKERS` threads at a time for a large lab.

        Why threads: a namespace costs ≈ 1 ms, nearly all of it in system calls that release the GIL
        and do not all wait for the same kernel lock (the mount-point file under /run/netns, the
        per-namespace setup in ``unshare``, the bind mount); two threads build a thousand namespaces
        in ≈ 0.75 s instead of ≈ 1.1 s. ``unshare``/``setns`` act on the calling thread only, so each
        worker enters and leaves namespaces for itself. A failure in one worker, or Ctrl-C in the
        main thread, stops every worker after the namespace it is making (≈ 1 ms); they are all
        waited for before this returns or raises, so ``self.created`` is complete when apply cleans up.
        """
        self.dirs.prepare()
        if len(actions) < NETNS_THREADED_FROM:
            for action in actions:
                self._create_netns(action)
            return
        stop = threading.Event()
        errors: list[BaseException] = []

        def work(part: list[CreateNetns], finished: threading.Event) -> None:
            try:
                for action in part:
                    if stop.is_set():
                        return
                    self._create_netns(action)
            except BaseException as exc:  # handed to the main thread, which raises it
                errors.append(exc)
                stop.set()
            finally:
                finished.set()

        # We wait for the workers on events of our own, not Thread.join(): a join interrupted by
        # Ctrl-C can mark a thread that is still running as stopped (CPython bpo-45274's fix), and
        # cleanup would then race a worker still making namespaces. SIGINT is blocked while the
        # workers start (they inherit the mask; Python runs signal handlers in the main thread
        # anyway), so Ctrl-C cannot land between a start and its bookkeeping.
        started: list[threading.Event] = []
        mask = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
        try:
            try:
                for i in range(NETNS_WORKERS):
                    finished = threading.Event()
                    threading.Thread(target=work, args=(actions[i::NETNS_WORKERS], finished),
                                     name=f"netlab-netns-{i}", daemon=True).start()
                    started.append(finished)
            finally:
                signal.pthread_sigmask(signal.SIG_SETMASK, mask)
            for finished in started:
                finished.wait()
        except BaseException:
            stop.set()
            _wait_uninterrupted(started)
            raise
        if errors:
            raise errors[0]

    def _create_netns(self, action: CreateNetns) -> None:
        """One namespace: IPv6 off if the lab does not use it, ``lo`` tagged and up, then named."""
        def inside() -> RtnlSocket:
            if action.ipv6:
                _ipv6_without_dad()
            else:
                _disable_ipv6()
            sock = RtnlSocket()
            tag = namespace_tag(self.plan.lab, self.run, action.owner)
            msg = ifinfo(1, IFF_UP, IFF_UP, nla_str(IFLA_IFALIAS, tag))
            (result,) = sock.request_many([(msg, RTM_NEWLINK, 0)])
            if not result.ok:
                sock.close()
                raise ApplyError(f"tagging lo in {action.netns}: {result.describe()}")
            return sock

        try:
            fd, sock = self.dirs.create(action.netns, inside)
        except FileExistsError:
            raise ApplyError(f"step `{action.describe()}` failed: /run/netns/{action.netns} exists") from None
        except OSError as exc:
            raise ApplyError(f"step `{action.describe()}` failed: {exc.strerror or exc}") from None
        self.created.append(action.netns)  # list.append and dict assignment are atomic under the GIL
        self.handles[action.netns] = _Handle(fd, sock)

    def _sysctls(self, actions: list[SetSysctl]) -> None:
        by_ns: dict[str, list[SetSysctl]] = defaultdict(list)
        for action in actions:
            by_ns[action.netns].append(action)
        failures: list[str] = []
        for netns, items in by_ns.items():
            with self.dirs.entered(self.handles[netns].fd):
                for action in items:
                    try:
                        _write_proc(_sysctl_key_to_path(action.key), action.value)
                    except FileNotFoundError:
                        failures.append(f"`{action.describe()}`: no such sysctl in this kernel")
                    except OSError as exc:
                        failures.append(f"`{action.describe()}`: {exc.strerror}")
        if failures:
            raise ApplyError("the kernel refused:\n  " + "\n  ".join(failures))

    def _netlink(self, actions: list[Action]) -> None:
        by_ns: dict[str, list[tuple[Action, bytes, int, int]]] = defaultdict(list)
        for action in actions:
            msg, msg_type, flags = self._encode(action)
            by_ns[action.netns].append((action, msg, msg_type, flags))
        failures: list[str] = []
        for netns, items in by_ns.items():
            results = self.handles[netns].sock.request_many([(m, t, f) for _, m, t, f in items])
            for (action, *_), result in zip(items, results, strict=True):
                if not result.ok:
                    failures.append(f"`{action.describe()}`: {result.describe()}")
        if failures:
            more = f"\n  (and {len(failures) - 10} more)" if len(failures) > 10 else ""
            raise ApplyError("the kernel refused:\n  " + "\n  ".join(failures[:10]) + more)

    def _encode(self, action: Action) -> tuple[bytes, int, int]:
        """The rtnetlink message (body, type, flags) for one action, packed by :mod:`netlab.kernel.netlink`.

        Attributes go in the order ``ip`` sends them; every create is NLM_F_EXCL, so an object that
        already exists is an error, never silently reused.
        """
        if isinstance(action, CreateTunnel | CreateSubInterface):
            from netlab.features.tunnels.kernel import encode  # gre/ipip/vxlan, macvlan/ipvlan (sub-interface: by fd)

            return encode(action, lambda netns: self.handles[netns].fd)
        if isinstance(action, CreateBridge):
            attrs = nla_str(IFLA_IFNAME, action.name)
            if action.mtu:
                attrs += nla_u32(IFLA_MTU, action.mtu)
            attrs += nla_nested(IFLA_LINKINFO, nla_str(IFLA_INFO_KIND, "bridge"))
            return ifinfo(action.index, attrs=attrs), RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL
        if isinstance(action, CreateVeth):
            # the peer is created directly in its namespace (by fd) with the index the plan chose
            peer = nla_str(IFLA_IFNAME, action.peer_name) + nla_u32(IFLA_NET_NS_FD,
                                                                    self.handles[action.peer_netns].fd)
            if action.peer_mtu:
                peer += nla_u32(IFLA_MTU, action.peer_mtu)
            if action.peer_mac:
                peer += nla_mac(IFLA_ADDRESS, action.peer_mac)
            attrs = nla_str(IFLA_IFNAME, action.name)
            if action.mtu:
                attrs += nla_u32(IFLA_MTU, action.mtu)
            if action.mac:
                attrs += nla_mac(IFLA_ADDRESS, action.mac)
            attrs += nla_nested(IFLA_LINKINFO, nla_str(IFLA_INFO_KIND, "veth"), nla_nested(
                IFLA_INFO_DATA, nla(VETH_INFO_PEER, ifinfo(action.peer_index, attrs=peer))))
            return ifinfo(action.index, attrs=attrs), RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL
        if isinstance(action, LinkUp):
            # index 0: a device the kernel made (tunl0), found by name; it is not ours, so not tagged
            attrs = nla_str(IFLA_IFALIAS, action.alias) if action.alias else b""
            if not action.index:
                attrs += nla_str(IFLA_IFNAME, action.name)
            if action.master_index:
                attrs += nla_u32(IFLA_MASTER, action.master_index)
            return ifinfo(action.index, IFF_UP, IFF_UP, attrs), RTM_NEWLINK, 0
        if isinstance(action, AddAddress):
            iface = ipaddress.ip_interface(action.address)
            ip = str(iface.ip)
            if iface.version == 4:
                family, flags = socket.AF_INET, 0
                a_attrs = nla_ip(IFA_LOCAL, ip) + nla_ip(IFA_ADDRESS, ip)
                if iface.network.prefixlen < 31:
                    a_attrs += nla_ip(IFA_BROADCAST, str(iface.network.broadcast_address))
            else:
                # no duplicate address detection: validate already proved addresses unique, and DAD would
                # leave the address "tentative" (unusable) for about a second after up
                family, flags = socket.AF_INET6, IFA_F_PERMANENT | IFA_F_NODAD
                a_attrs = nla_ip(IFA_ADDRESS, ip)
            scope = RT_SCOPE_HOST if iface.ip.is_loopback else RT_SCOPE_UNIVERSE
            body = ifaddr(family, iface.network.prefixlen, action.index, scope, flags, a_attrs)
            return body, RTM_NEWADDR, NLM_F_CREATE | NLM_F_EXCL
        if isinstance(action, AddRoute):
            r_attrs = nla_u32(RTA_TABLE, RT_TABLE_MAIN)
            dst_len = 0
            if action.to != "default":
                net = ipaddress.ip_network(action.to, strict=False)
                dst_len = net.prefixlen
                r_attrs += nla_ip(RTA_DST, str(net.network_address))
            if action.via:
                r_attrs += nla_ip(RTA_GATEWAY, action.via)
            if action.dev_index:
                r_attrs += nla_u32(RTA_OIF, action.dev_index)
            if action.metric is not None:
                r_attrs += nla_u32(RTA_PRIORITY, action.metric)
            if action.src:
                r_attrs += nla_ip(RTA_PREFSRC, action.src)
            body = route(socket.AF_INET if action.family == 4 else socket.AF_INET6, RT_TABLE_MAIN, RTPROT_STATIC,
                         RT_SCOPE_UNIVERSE if action.via else RT_SCOPE_LINK, RTN_UNICAST, dst_len, r_attrs)
            return body, RTM_NEWROUTE, NLM_F_CREATE | NLM_F_EXCL
        raise TypeError(f"not a netlink action: {action!r}")

    def _commands(self, actions: list[RunCommand]) -> None:
        for action in actions:
            result = run_in_netns(self.handles[action.netns].fd, ["/bin/sh", "-c", action.command],
                                  capture=True)
            if result.returncode != 0:
                output = (result.stdout or "").strip()
                tail = "\n    ".join(output.splitlines()[-10:])
                raise ApplyError(f"step `{action.describe()}` exited with {result.returncode}"
                                 + (f":\n    {tail}" if tail else "") + _not_found_hint(result.returncode, output))


def _not_found_hint(returncode: int, output: str) -> str:
    """A shell says "ping: not found" (exit 127): name the package that provides the program."""
    import re

    from netlab.kernel.tools import install_hint

    missing = re.findall(r"(?:^|: )([\w.+-]+): (?:command )?not found", output, re.MULTILINE)
    if returncode != 127 or not missing:
        return ""
    return f"\n    hint: {install_hint(missing[-1])}"


def run_in_netns(ns_fd: int, argv: list[str], *, capture: bool = False,
                 env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run ``argv`` inside a namespace (as ``ip netns exec`` would, /sys included); wait for it."""
    from netlab.kernel.netns import enter_for_exec

    return subprocess.run(argv, preexec_fn=lambda: enter_for_exec(ns_fd), text=True, env=env,
                          stdout=subprocess.PIPE if capture else None,
                          stderr=subprocess.STDOUT if capture else None, check=False)


# ---------------------------------------------------------------------- teardown

def read_namespace_tag(name: str) -> NamespaceTag | None:
    """The netlab tag on ``lo`` of namespace ``name``, or None (not ours, not a namespace, gone)."""
    from netlab.kernel.netns import inside

    with inside(name) as present:  # a bare file, or one removed since it was listed, is not ours to judge
        if not present:
            return None
        sock = RtnlSocket()  # stays bound to the namespace after we leave it
    try:
        return NamespaceTag.parse(sock.link_alias(1))
    finally:
        sock.close()


def tagged_namespaces() -> list[tuple[str, NamespaceTag]]:
    """Every named namespace that carries a netlab tag, with its tag: what ``clean`` and leak checks
    look at (by tag, never by name)."""
    from netlab.kernel.netns import NETNS_DIR

    if not NETNS_DIR.is_dir():
        return []
    found = []
    for entry in sorted(NETNS_DIR.iterdir()):
        tag = read_namespace_tag(entry.name)
        if tag is not None:
            found.append((entry.name, tag))
    return found


def pids_in_namespaces(names: Iterable[str]) -> dict[str, list[int]]:
    """Processes whose network namespace is one of ``names`` (one pass over /proc)."""
    inodes: dict[int, str] = {}
    for name in names:
        try:
            inodes[os.stat(netns_path(name)).st_ino] = name
        except FileNotFoundError:
            continue
    found: dict[str, list[int]] = defaultdict(list)
    if not inodes:
        return found
    me = os.getpid()
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit() or int(entry.name) == me:
            continue
        try:
            ino = os.stat(f"/proc/{entry.name}/ns/net").st_ino
        except (FileNotFoundError, PermissionError, ProcessLookupError):
            continue
        if ino in inodes:
            found[inodes[ino]].append(int(entry.name))
    return found


def kill_processes(pids: list[int], grace: float = 1.0) -> None:
    """SIGTERM, wait up to ``grace`` seconds, then SIGKILL what is left."""
    for pid in pids:
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
    deadline = time.monotonic() + grace
    alive = list(pids)
    while alive and time.monotonic() < deadline:
        alive = [p for p in alive if _alive(p)]
        if alive:
            time.sleep(0.02)
    for pid in alive:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            state = f.read().rsplit(b")", 1)[1].split()[0]
        if state == b"Z":
            try:
                os.waitpid(pid, os.WNOHANG)  # our own child: reap it
            except ChildProcessError:
                pass
            return False
        return True
    except (FileNotFoundError, ProcessLookupError):
        return False


def remove_namespaces(names: Iterable[str]) -> list[str]:
    """Kill what runs in the namespaces, then unmount and unlink them. Returns those removed.

    Callers pass only namespaces they have established are netlab's (by the state journal and the
    tag); this function does not look at names.

    Every namespace is held open (one fd each) until all are unmounted. Unmounting the last
    reference starts the kernel's destruction of that namespace on a worker thread, and each
    ``umount`` waits for an expedited RCU grace period, which that destruction (a thousand veths
    and bridge ports) keeps delaying: unmounting one by one while the first ones are being
    destroyed took 0.3 to 0.4 s at N=1000, single calls stalling up to 170 ms; holding them took
    0.04 s. Destruction then starts when we close the fds, and runs after we return.
    """
    names = list(names)
    pids = [p for group in pids_in_namespaces(names).values() for p in group]
    if pids:
        kill_processes(pids)
    held: list[int] = []
    removed: list[str] = []
    room = raise_fd_limit(len(names))
    try:
        for name in names[:room]:  # with too few fds, the rest is only removed more slowly
            try:
                # O_NONBLOCK: whatever the file turned out to be (a FIFO?), opening it must not hang
                held.append(os.open(netns_path(name), os.O_RDONLY | os.O_CLOEXEC | os.O_NONBLOCK))
            except OSError:
                pass  # gone already, or not openable: remove_netns below decides
        for name in names:
            try:
                if remove_netns(name):
                    removed.append(name)
            except OSError as exc:
                if exc.errno != errno.ENOENT:
                    raise
    finally:
        for fd in held:
            os.close(fd)
    return removed
