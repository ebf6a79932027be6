"""``netlab export`` of a stitch: ``ip link add … netns NODE type vxlan …`` run in the host's namespace."""

from __future__ import annotations

from shlex import quote

from netlab.model.plan import CreateStitch


def commands(action: CreateStitch) -> list[str]:
    mac = f" address {action.mac}" if action.mac else ""
    return [f"# {action.name} of {action.netns}: its other end is on {action.remote}; the VXLAN socket stays in "
            "this (the host's) namespace, the device is born in the node's",
            f"ip link add {quote(action.name)} netns {quote(action.netns)} mtu {action.mtu}{mac} type vxlan "
            f"id {action.vni} local {action.local} remote {action.remote} dstport {action.port}"]
