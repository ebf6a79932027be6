"""Root qdiscs through rtnetlink, inside the node's namespace, one netlink socket per namespace.

The options are encoded by pyroute2's tc plugins (netem's and tbf's option structs, tbf's rate table); the
message is built here and sent with ``nlm_request_batch`` rather than through ``IPRoute.tc``, whose request
filter also copies a ``rate`` keyword into the message's top-level ``TCA_RATE`` attribute -- tbf's plugin
removes it, netem's does not, and netem with a rate then fails to encode (pyroute2 0.9).

``up`` adds (``NLM_F_EXCL``, never replace: an interface netlab just created has no root qdisc of its own,
and one that has one is not netlab's to overwrite); ``netlab tc`` on a live lab replaces.
"""

from __future__ import annotations

from itertools import groupby
from typing import Any

from netlab.errors import ApplyError
from netlab.features.base import Executor
from netlab.model.plan import SetQdisc


def options(a: SetQdisc) -> dict[str, object]:
    """The plugin's keywords for one action (pyroute2's units: bytes per second, microseconds, percent)."""
    if a.kind == "tbf":
        return {"rate": a.rate_bps // 8, "burst": a.burst, "limit": a.limit}
    opts: dict[str, object] = {"delay": a.delay_us, "jitter": a.jitter_us, "loss": a.loss,
                               "duplicate": a.duplicate, "limit": a.limit}
    if a.reorder:
        opts["prob_reorder"] = a.reorder
    if a.rate_bps:
        opts["rate"] = a.rate_bps // 8
    return opts


def send(ipr: Any, index: int, a: SetQdisc, replace: bool = False) -> None:
    """One root qdisc on interface ``index``: added, or with ``replace`` put in place of the one there."""
    from pyroute2.netlink import NLM_F_ACK, NLM_F_CREATE, NLM_F_EXCL, NLM_F_REPLACE, NLM_F_REQUEST
    from pyroute2.netlink.rtnl import RTM_NEWQDISC, TC_H_ROOT
    from pyroute2.netlink.rtnl.tcmsg import sched_netem, sched_tbf, tcmsg

    plugin = sched_tbf if a.kind == "tbf" else sched_netem
    msg = tcmsg()
    msg["index"], msg["parent"], msg["handle"] = index, TC_H_ROOT, 0
    msg["attrs"] = [["TCA_KIND", a.kind], ["TCA_OPTIONS", plugin.get_parameters(options(a))]]
    msg["header"]["type"] = RTM_NEWQDISC
    msg["header"]["flags"] = NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | (NLM_F_REPLACE if replace else NLM_F_EXCL)
    for _ in ipr.nlm_request_batch([msg]):
        pass


def apply(executor: Executor, actions: list[SetQdisc]) -> None:
    from pyroute2 import IPRoute
    from pyroute2.netlink.exceptions import NetlinkError

    for netns, group in groupby(sorted(actions, key=lambda a: a.netns), key=lambda a: a.netns):
        with executor.entered(executor.fd(netns)), IPRoute() as ipr:
            for a in group:
                found = ipr.link_lookup(ifname=a.ifname)
                if not found:
                    raise ApplyError(f"{a.node} has no interface {a.ifname} to shape ({a.origin})")
                try:
                    send(ipr, found[0], a)
                except NetlinkError as exc:
                    raise ApplyError(f"{a.describe()}: the kernel refused it: {exc}") from exc


def delete(ipr: Any, index: int) -> None:
    """Remove the root qdisc of interface ``index``: the kernel's default one takes its place."""
    from pyroute2.netlink import NLM_F_ACK, NLM_F_REQUEST
    from pyroute2.netlink.rtnl import RTM_DELQDISC, TC_H_ROOT
    from pyroute2.netlink.rtnl.tcmsg import tcmsg

    msg = tcmsg()
    msg["index"], msg["parent"], msg["handle"] = index, TC_H_ROOT, 0
    msg["header"]["type"] = RTM_DELQDISC
    msg["header"]["flags"] = NLM_F_REQUEST | NLM_F_ACK
    for _ in ipr.nlm_request_batch([msg]):
        pass


def change(ifname: str, a: SetQdisc | None) -> str:
    """In the current namespace (a child forked into the node's): replace the root qdisc of ``ifname`` by
    ``a``, or with None remove it. An error text, or "" when the kernel took it."""
    from pyroute2 import IPRoute
    from pyroute2.netlink.exceptions import NetlinkError

    with IPRoute() as ipr:
        found = ipr.link_lookup(ifname=ifname)
        if not found:
            return f"no interface {ifname}"
        try:
            if a is None:
                delete(ipr, found[0])
            else:
                send(ipr, found[0], a, replace=True)
        except NetlinkError as exc:
            if a is None and exc.code == 2:
                return ""  # nothing of netlab's there: already the default
            hint = " (no sch_netem in this kernel: run the lab in the VM)" if a is not None and a.kind == "netem" \
                and exc.code == 2 else ""
            return f"the kernel refused it: {exc}{hint}"
    return ""
