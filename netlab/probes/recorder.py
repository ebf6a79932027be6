"""The path recorder: while a traffic probe runs, every interface of every node is listened to, so that
``netlab graph --path`` can draw where the probe's packets really went (:mod:`netlab.probes.path` turns
the frames into hops).

Why one child for the whole run and not sniffers per probe as a capture probe has: a packet socket belongs
to the namespace it was created in, so one forked child can ``setns()`` into each node in turn and open one
unbound socket there (every interface of that node, both directions), then listen to all of them at once --
and keep them for every probe of the run. Before a probe the runner says *mark* (what was heard so far is
dropped), after it *collect* (what was heard since comes back): two pipe round trips a probe instead of a
fork, sockets to open and sockets to close (each close waits for an RCU grace period). No filter: the lab is
quiet apart from the probe, and which packets are the probe's is decided afterwards from their contents, in
the parent. No settling wait after the probe either: by the time its client has its answer, every hop of it
has been seen (a packet socket gets its copy on the packet's way); what may be missed is a last ACK.

The path is a by-product: a recorder that cannot start or answer costs the path, never a probe's verdict.
"""

from __future__ import annotations

import os
import select
from collections.abc import Callable
from typing import Any

from netlab.kernel.netns import netns_path, setns
from netlab.probes.context import LabView
from netlab.probes.nsfork import Channel, Child, ChildFailed, ChildTimeout, Reaper, fork_into
from netlab.probes.packets import ETH_P_ALL, PacketSocket
from netlab.probes.path import Captured, ProbePath, Target, observe
from netlab.probes.spec import AnyProbe, ArpProbe, DistributionProbe, HttpProbe, PingProbe, TcpProbe, UdpProbe

LISTEN_TIMEOUT = 20.0
"""Seconds the child may take to open its sockets, or to answer a command (a loaded one-CPU VM is slow)."""
FRAMES_PER_NODE = 5_000
"""Enough for the path of a distribution probe of a few hundred requests; beyond, the path is of the first ones."""
MARK, COLLECT, QUIT = b"m", b"c", b"q"


def target_of(probe: AnyProbe) -> Target | None:
    """What the recorder looks for, for a probe that makes traffic; None for the others."""
    if isinstance(probe, PingProbe):
        return Target(probe.name, probe.kind, probe.from_, (probe.to,))
    if isinstance(probe, TcpProbe | UdpProbe | HttpProbe):
        return Target(probe.name, probe.kind, probe.from_, (probe.to,), probe.port)
    if isinstance(probe, DistributionProbe):
        return Target(probe.name, probe.kind, probe.from_, tuple(probe.to), probe.port)
    if isinstance(probe, ArpProbe):
        return Target(probe.name, probe.kind, probe.from_, (probe.to,))
    return None


def _listener(nodes: list[tuple[str, str]]) -> Callable[[Channel], None]:
    def body(channel: Channel) -> None:
        socks: list[tuple[str, PacketSocket]] = []
        for node, netns in nodes:
            fd = os.open(netns_path(netns), os.O_RDONLY | os.O_CLOEXEC)
            try:
                setns(fd)
            finally:
                os.close(fd)
            sock = PacketSocket(None, ETH_P_ALL, raw=True)
            sock.limit = FRAMES_PER_NODE
            socks.append((node, sock))
        channel.send("listening")
        by_fd = {sock.fileno(): sock for _node, sock in socks}
        while True:
            ready, _, _ = select.select([*by_fd, channel.stop_fd], [], [])
            for fd in ready:
                if fd in by_fd:
                    by_fd[fd].read_ready()
            if channel.stop_fd not in ready:
                continue
            command = os.read(channel.stop_fd, 1)
            if command in (b"", QUIT):  # the parent is done (or gone)
                break
            for _node, sock in socks:
                sock.read_ready()
            if command == COLLECT:
                channel.send([(node, tuple(sock.frames)) for node, sock in socks])
            else:
                channel.send("marked")
            for _node, sock in socks:
                sock.frames.clear()
        for _node, sock in socks:
            sock.leave_open()  # closing waits for an RCU grace period per socket: let exit do it
    return body


class PathRecorder:
    """One listener for a probe run: ``start`` before each traffic probe, ``finish`` after it, ``close`` at the end."""

    def __init__(self, view: LabView, reaper: Reaper) -> None:
        self._view = view
        self._reaper = reaper
        self._nodes = [(name, node.netns) for name, node in view.nodes.items()]
        self._child: Child | None = None
        self._broken = not self._nodes

    def start(self) -> bool:
        """Listening from now on, on every node (the listener starts on first use); False if it cannot."""
        if self._broken:
            return False
        try:
            if self._child is None:
                self._child = fork_into(self._nodes[0][1], "path recorder", _listener(self._nodes), self._reaper)
                self._child.receive(LISTEN_TIMEOUT)
            self._child.signal(MARK)
            self._child.receive(LISTEN_TIMEOUT)
            return True
        except (ChildFailed, ChildTimeout, OSError):
            self._give_up()
            return False

    def finish(self, probe: AnyProbe, passed: bool) -> ProbePath | None:
        """The path of ``probe``, from what was heard since ``start``."""
        target = target_of(probe)
        if self._child is None:
            return None
        try:
            self._child.signal(COLLECT)
            heard: Any = self._child.receive(LISTEN_TIMEOUT)
        except (ChildFailed, ChildTimeout, OSError):
            self._give_up()
            return None
        if target is None:
            return None
        frames = [Captured(node, f.time, f.ifname, f.outgoing, f.pkttype, f.hatype, f.data)
                  for node, got in heard for f in got]
        return observe(target, passed, frames, self._view.segments)

    def close(self) -> None:
        """The listener told to exit (the reaper collects it)."""
        if self._child is not None:
            child, self._child = self._child, None
            try:
                child.signal(QUIT)
                child.result(LISTEN_TIMEOUT)
            except (ChildFailed, ChildTimeout, OSError):
                pass
            finally:
                child.close()

    def _give_up(self) -> None:
        self._broken = True
        if self._child is not None:
            self._child.close()
            self._child = None
