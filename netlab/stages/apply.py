"""Stage 5, apply: execute a plan against the kernel, and undo it.

How it stays fast (bench/MEASUREMENTS.md §1, bench/README.md): namespaces are made in-process
(:mod:`netlab.kernel.netns`), two threads at a time for a large lab; each gets one raw rtnetlink
socket opened inside it; both ends of a veth are created directly in their namespaces with the
indexes the plan chose; messages are packed with :mod:`struct` (:mod:`netlab.kernel.rtnl`), not
by pyroute2, and each phase of the plan is sent as one batch per namespace. Sysctls are written
through /proc from inside the namespace, with plain system calls. A lab that uses no IPv6 keeps it
silent without a /proc write per namespace (:meth:`Applier._messages`): no interface gets a link-local
address, so none sends DAD, MLD or router solicitations to flood a thousand-port bridge.

How it stays safe: before the first namespace is made, apply checks that none of the plan's names
exist (netlab never adopts what it did not make). Every namespace is tagged on ``lo`` before it gets
its name. If any step fails, everything this run made is removed and the error names the step and
the kernel's own message.
"""

from __future__ import annotations

import errno
import functools
import os
import signal
import threading
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any

from netlab.errors import ApplyError
from netlab.features.manifest import by_action, load_hook
from netlab.kernel import rtnl
from netlab.kernel.netlink import RtnlSocket
from netlab.kernel.netns import NetnsDirectory, netns_path, raise_fd_limit
from netlab.kernel.nodeinit import run_in_netns
from netlab.kernel.proc import bridge_ipv6_off, ipv6_without_dad, later_interfaces_ipv6_off, sysctl_path, write_proc
from netlab.model.ipv6 import silence_of
from netlab.model.plan import (
    Action,
    AddAddress,
    AddRoute,
    CreateBridge,
    CreateNetns,
    CreateVeth,
    LinkUp,
    Plan,
    RunCommand,
    SetSysctl,
)
from netlab.ownership import namespace_tag
from netlab.stages.record import ProcessRecord
from netlab.stages.teardown import remove_namespaces

NETNS_WORKERS = 2
"""Threads creating namespaces (see :meth:`Applier._netns`); two is what the measurements justify."""
NETNS_THREADED_FROM = 16
"""Fewer namespaces than this are made in the calling thread: threads would not pay for themselves."""

_EXECUTORS = by_action("executors")
_ENCODERS = by_action("encoders")

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
        self._inits: frozenset[str] | None = None
        self._handlers: dict[type, Callable[[list[Action]], None]] = {}
        self.silence = silence_of(plan)
        """Which interfaces get no link-local address, where later interfaces get IPv6 off (netlab.model.ipv6)."""

    # ------------------------------------------------------------------ main loop
    def apply(self) -> None:
        try:
            self._preflight()
            for phase, actions in self.plan.by_phase():
                self.progress(phase, 0, len(actions))
                self._run_phase(actions)
                self.progress(phase, len(actions), len(actions))
        except BaseException:
            with _sigint_deferred():  # a second Ctrl-C must not leave half the lab behind
                self.close()
                remove_namespaces(self.created)
            raise
        self.close()

    def _run_phase(self, actions: list[Action]) -> None:
        """Hand each run of actions to its executor: the core's (namespaces, sysctls, commands), a feature's
        (netlab.features.base: IPVS, iptables, services), or the netlink batcher for everything that is one
        rtnetlink message. Runs keep the plan's order."""
        run: list[Action] = []
        current: Callable[[list[Action]], None] | None = None
        for action in actions:
            handler = self._handler(type(action))
            if current is not None and handler != current:
                current(run)
                run = []
            current = handler
            run.append(action)
        if current is not None:
            current(run)

    def _handler(self, kind: type) -> Callable[[list[Action]], None]:
        """The executor of an action type, made once per type: ``_run_phase`` compares handlers to find where a
        run ends, and two partials of one function are never equal -- a fresh one per action would hand a
        feature's executor its actions one at a time (services would start one after the other)."""
        handler = self._handlers.get(kind)
        if handler is None:
            core: dict[type, Callable[[list[Any]], None]] = {
                CreateNetns: self._netns, SetSysctl: self._sysctls, RunCommand: self._commands}
            ref = _EXECUTORS.get(kind.__name__)
            handler = core.get(kind) or (functools.partial(load_hook(ref), self) if ref is not None else self._netlink)
            self._handlers[kind] = handler
        return handler

    # the Executor interface features' executors use (netlab.features.base.Executor)
    @property
    def lab(self) -> str:
        return self.plan.lab

    def fd(self, netns: str) -> int:
        return self.handles[netns].fd

    def entered(self, fd: int) -> AbstractContextManager[None]:
        return self.dirs.entered(fd)

    def started(self, process: object) -> None:
        assert isinstance(process, ProcessRecord)
        self.processes.append(process)

    def has_init(self, netns: str) -> bool:
        """Whether the plan starts an init in ``netns`` (phase ``init``): only then is one looked for."""
        if self._inits is None:
            self._inits = frozenset(a.netns for a in self.plan.actions if a.phase == "init")
        return netns in self._inits

    def started_pids(self, node: str) -> list[int]:
        return [p.pid for p in self.processes if p.node == node]

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
        """One namespace: DAD off if the lab uses IPv6, ``lo`` tagged and up, then named. Without IPv6, /proc/sys
        (O(namespaces) per open: netlab.kernel.proc) only where the lab runs commands; ``lo`` keeps ``::1``."""
        def inside() -> RtnlSocket:
            if action.ipv6:
                ipv6_without_dad()
            elif action.netns in self.silence.later_off:
                later_interfaces_ipv6_off()
            sock = RtnlSocket()
            tag = namespace_tag(self.plan.lab, self.run, action.owner)
            (result,) = sock.request_many([rtnl.tag_loopback(tag)])
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
                        write_proc(sysctl_path(action.key), action.value)
                    except FileNotFoundError:
                        failures.append(f"`{action.describe()}`: no such sysctl in this kernel")
                    except OSError as exc:
                        failures.append(f"`{action.describe()}`: {exc.strerror}")
        if failures:
            raise ApplyError("the kernel refused:\n  " + "\n  ".join(failures))

    def _netlink(self, actions: list[Action]) -> None:
        by_ns: dict[str, list[tuple[Action, rtnl.Message]]] = defaultdict(list)
        for action in actions:
            by_ns[action.netns] += [(action, message) for message in self._messages(action)]
        failures: list[str] = []
        for netns, items in by_ns.items():
            results = self.handles[netns].sock.request_many([message for _, message in items])
            for (action, (_, msg_type, _)), result in zip(items, results, strict=True):
                if not result.ok and not (msg_type == rtnl.RTM_SETLINK and result.error == -errno.EAFNOSUPPORT):
                    failures.append(f"`{action.describe()}`: {result.describe()}")
            bridges = [a.name for a, _ in items if isinstance(a, CreateBridge)] if netns in self.silence.own else []
            if bridges and not failures:  # before the sysctls phase: a lab's own sysctl may turn IPv6 back on
                with self.dirs.entered(self.handles[netns].fd):
                    for name in bridges:
                        bridge_ipv6_off(name)
        if failures:
            more = f"\n  (and {len(failures) - 10} more)" if len(failures) > 10 else ""
            raise ApplyError("the kernel refused:\n  " + "\n  ".join(failures[:10]) + more)

    def _messages(self, action: Action) -> list[rtnl.Message]:
        """The action's message, after :func:`rtnl.no_link_local` for a :class:`LinkUp` in a lab without IPv6.

        Why on the way up: every interface netlab makes (veth ends, tunnels, sub-interfaces, stitches, the
        kernel's ``tunl0``) comes up through a ``LinkUp`` in its own namespace, so no feature has to remember
        IPv6. EAFNOSUPPORT to that RTM_SETLINK (the only one apply sends) means an interface without IPv6: silent
        already. Left out: interfaces whose IPv6 the lab's sysctls set (:func:`netlab.model.ipv6.ipv6_set_by_sysctls`)
        and bridges, whose IPv6 is off instead (:func:`netlab.kernel.proc.bridge_ipv6_off`, after their create).
        """
        message = self._encode(action)
        if isinstance(action, LinkUp) and self.silence.gets_mode_none(action.netns, action.name):
            return [rtnl.no_link_local(action.index, action.name), message]
        return [message]

    def _encode(self, action: Action) -> rtnl.Message:
        """The rtnetlink message (body, type, flags) for one action.

        Only a mapping: the bytes are those of :mod:`netlab.kernel.rtnl` (and of the tunnels feature),
        which know nothing of plans, so they can be pinned against pyroute2 without one
        (tests/unit/test_netlink_decode.py). What apply adds is the namespaces' fds: a veth's peer and a
        sub-interface made across namespaces are born in theirs.
        """
        ref = _ENCODERS.get(type(action).__name__)
        if ref is not None:  # a feature's message (tunnels: gre/ipip/vxlan, macvlan/ipvlan)
            message: rtnl.Message = load_hook(ref)(action, self.fd)
            return message
        if isinstance(action, CreateBridge):
            return rtnl.new_bridge(action.name, action.index, action.mtu)
        if isinstance(action, CreateVeth):
            return rtnl.new_veth(action.name, action.index, action.mtu, action.mac, action.peer_name,
                                 self.handles[action.peer_netns].fd, action.peer_index, action.peer_mtu,
                                 action.peer_mac)
        if isinstance(action, LinkUp):
            return rtnl.link_up(action.index, action.name, action.alias, action.master_index)
        if isinstance(action, AddAddress):
            return rtnl.new_address(action.index, action.address)
        if isinstance(action, AddRoute):
            return rtnl.new_route(action.to, action.via, action.dev_index, action.metric, action.src, action.family)
        raise TypeError(f"not a netlink action: {action!r}")

    def _commands(self, actions: list[RunCommand]) -> None:
        for action in actions:
            result = run_in_netns(self.handles[action.netns].fd, ["/bin/sh", "-c", action.command],
                                  capture=True, may_have_init=self.has_init(action.netns))
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
