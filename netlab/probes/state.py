"""``sysctl`` and ``state``: assert a value inside a node (for exercises: "turn forwarding on").

A sysctl is read from /proc/sys by a child that has entered the node's namespace (``net.*`` files
show the namespace of the reader). ``state`` runs a shell command in the node, as ``netlab exec``
does, and checks its exit status and output: ``ip route get``, ``ip -o link show``, ``ipvsadm -Ln``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from netlab.probes.context import Context, failed
from netlab.probes.nsfork import Channel, ChildFailed, ChildTimeout, call_in, exec_in
from netlab.probes.result import ProbeResult
from netlab.probes.spec import StateProbe, SysctlProbe


def sysctl_path(key: str) -> str:
    """``net.ipv4.conf.eth0.rp_filter`` → /proc/sys/…; interface names may contain dots, so only the fixed
    prefix ``net.<family>.(conf|neigh).<ifname>.<leaf>`` is split."""
    parts = key.split(".")
    if len(parts) > 5 and parts[0] == "net" and parts[2] in ("conf", "neigh"):
        return "/proc/sys/" + "/".join([*parts[:3], ".".join(parts[3:-1]), parts[-1]])
    return "/proc/sys/" + key.replace(".", "/")


def _read(path: str) -> Callable[[Channel], str | None]:
    def body(_channel: Channel) -> str | None:
        try:
            with open(path) as f:
                return f.read().strip()
        except FileNotFoundError:
            return None
    return body


def run_sysctl(ctx: Context, probe: SysctlProbe) -> ProbeResult:
    want = str(probe.value).strip()
    expected = f"{probe.key} = {want} in {probe.node}"
    try:
        value: Any = call_in(ctx.view.netns(probe.node), f"sysctl reader in {probe.node}",
                             _read(sysctl_path(probe.key)), timeout=10, reaper=ctx.reaper)
    except (ChildFailed, ChildTimeout) as exc:
        return failed(probe, expected, f"could not read {probe.key}: {exc}")
    if value is None:
        return ProbeResult(probe.name, probe.kind, False, expected,
                           f"{probe.node} has no sysctl {probe.key} (no such file under /proc/sys)", 0.0)
    shown = " ".join(str(value).split())
    return ProbeResult(probe.name, probe.kind, shown == " ".join(want.split()), expected,
                       f"{probe.key} = {shown} in {probe.node}", 0.0, details={"value": shown})


def run_state(ctx: Context, probe: StateProbe) -> ProbeResult:
    parts = [f"`{probe.command}` in {probe.node}"]
    if probe.exit is not None:
        parts.append(f"exits {probe.exit}")
    if probe.output is not None:
        parts.append(f"prints exactly {probe.output.strip()!r}")
    if probe.contains is not None:
        parts.append(f"prints {probe.contains!r}")
    if probe.absent is not None:
        parts.append(f"does not print {probe.absent!r}")
    expected = parts[0] + (" " + " and ".join(parts[1:]) if len(parts) > 1 else " runs")
    done = exec_in(ctx.view.netns(probe.node), ["/bin/sh", "-c", probe.command], timeout=probe.timeout)
    output = done.output.strip()
    if done.exit is None:
        return ProbeResult(probe.name, probe.kind, False, expected,
                           f"`{probe.command}` in {probe.node} still ran after {probe.timeout:g} s (killed)", 0.0,
                           error=True)
    passed = ((probe.exit is None or done.exit == probe.exit)
              and (probe.output is None or probe.output.strip() == output)
              and (probe.contains is None or probe.contains in output)
              and (probe.absent is None or probe.absent not in output))
    flat = " ".join(output.split())
    short = flat if len(flat) <= 300 else flat[:300] + " …"
    observed = f"`{probe.command}` in {probe.node} exited {done.exit}" + (
        f" and printed: {short}" if short else " and printed nothing")
    return ProbeResult(probe.name, probe.kind, passed, expected, observed, 0.0,
                       details={"exit": done.exit, "output": output[:4000]})
