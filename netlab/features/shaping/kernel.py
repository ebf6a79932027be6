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
from typing import TYPE_CHECKING, Any

from netlab.errors import ApplyError
from netlab.model.plan import SetQdisc

if TYPE_CHECKING:  # an annotation: down, clean and up of a cached plan need no feature table
    from netlab.features.base import Executor


def options(a: SetQdisc) -> dict[str, object]:
    """netem's or tbf's plugin keywords for one action (pyroute2's units: bytes per second, microseconds, percent)."""
    if a.kind == "tbf":
        return {"rate": a.rate_bps // 8, "burst": a.burst, "limit": a.limit}
    opts: dict[str, object] = {"delay": a.delay_us, "jitter": a.jitter_us, "loss": a.loss,
                               "duplicate": a.duplicate, "limit": a.limit}
    if a.reorder:
        opts["prob_reorder"] = a.reorder
    if a.rate_bps:
        opts["rate"] = a.rate_bps // 8
    return opts


ROOT_HANDLE = 0x10000  # 1:, so that tbf's child can be attached at 1:1
CHILD_PARENT = 0x10001


def _attrs(kind: str, a: SetQdisc, limit: int) -> list[list[object]]:
    """TCA_KIND and TCA_OPTIONS of one qdisc. fq and fq_codel are built here (pyroute2 has no fq encoder and
    warns on every fq_codel key): fq with the kernel's defaults, fq_codel with its limit in packets."""
    from pyroute2.netlink.rtnl.tcmsg import sched_netem, sched_tbf

    if kind == "fq":
        return [["TCA_KIND", "fq"]]
    if kind == "fq_codel":
        return [["TCA_KIND", "fq_codel"], ["TCA_OPTIONS", {"attrs": [["TCA_FQ_CODEL_LIMIT", limit]] if limit else []}]]
    plugin = sched_tbf if kind == "tbf" else sched_netem
    return [["TCA_KIND", kind], ["TCA_OPTIONS", plugin.get_parameters(options(a))]]


def _message(index: int, parent: int, handle: int, attrs: list[list[object]], flags: int) -> Any:
    from pyroute2.netlink import NLM_F_ACK, NLM_F_REQUEST
    from pyroute2.netlink.rtnl import RTM_NEWQDISC
    from pyroute2.netlink.rtnl.tcmsg import tcmsg

    msg = tcmsg()
    msg["index"], msg["parent"], msg["handle"] = index, parent, handle
    msg["attrs"] = attrs
    msg["header"]["type"] = RTM_NEWQDISC
    msg["header"]["flags"] = NLM_F_REQUEST | NLM_F_ACK | flags
    return msg


def send(ipr: Any, index: int, a: SetQdisc, replace: bool = False) -> None:
    """One root qdisc on interface ``index`` (and tbf's child, when the queue is fq_codel or fq): added, or with
    ``replace`` put in place of the one there (the old one's children go with it)."""
    from pyroute2.netlink import NLM_F_CREATE, NLM_F_EXCL
    from pyroute2.netlink.exceptions import NetlinkError
    from pyroute2.netlink.rtnl import TC_H_ROOT

    flags = NLM_F_CREATE | NLM_F_EXCL
    if replace:  # swapped as a whole, children too: NLM_F_REPLACE keeps the old root's handle and children
        try:
            delete(ipr, index)
        except NetlinkError as exc:
            if exc.code != 2:  # ENOENT: only the kernel's default was there
                raise
    messages = [_message(index, TC_H_ROOT, ROOT_HANDLE if a.queue else 0, _attrs(a.kind, a, a.limit), flags)]
    if a.queue:
        messages.append(_message(index, CHILD_PARENT, 0, _attrs(a.queue, a, a.queue_limit), NLM_F_CREATE))
    for msg in messages:
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
            modules = " or ".join(f"sch_{k}" for k in (a.kind, a.queue) if k) if a is not None else ""
            hint = f" (this kernel lacks {modules}: run the lab in the VM)" if a is not None and exc.code == 2 else ""
            return f"the kernel refused it: {exc}{hint}"
    return ""
