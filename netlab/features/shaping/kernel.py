"""Root qdiscs through rtnetlink (pyroute2's tc encoders: netem's and tbf's option structs, tbf's rate table),
inside the node's namespace, one netlink socket per namespace. ``add``, never ``replace``: an interface netlab
just created has no root qdisc of its own, and one that has one is not netlab's to overwrite."""

from __future__ import annotations

from itertools import groupby

from netlab.errors import ApplyError
from netlab.features.base import Executor
from netlab.model.plan import SetQdisc


def _options(a: SetQdisc) -> dict[str, object]:
    if a.kind == "tbf":
        return {"rate": a.rate_bps // 8, "burst": a.burst, "limit": a.limit}
    opts: dict[str, object] = {"delay": a.delay_us, "jitter": a.jitter_us, "loss": a.loss,
                               "duplicate": a.duplicate, "limit": a.limit}
    if a.reorder:
        opts["prob_reorder"] = a.reorder
    if a.rate_bps:
        opts["rate"] = a.rate_bps // 8
    return opts


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
                    ipr.tc("add", a.kind, found[0], **_options(a))
                except NetlinkError as exc:
                    raise ApplyError(f"{a.describe()}: the kernel refused it: {exc}") from exc
