"""The services' checks of validate: names, addresses and ports of the servers a lab runs in its nodes.

The shape of ``services:`` (pydantic's errors in words) is translated with the probes' (netlab.probes.checks),
because both are discriminated unions by ``kind`` and share that translation.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from pydantic import TypeAdapter

from netlab.core.checks import check_ip, parse_list
from netlab.features.services.model import Service, service_name, service_protocol

if TYPE_CHECKING:
    from netlab.core.diagnostics import Collector, PathKey
    from netlab.model.topology import Node

SERVICE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,31}")


def check_services(col: Collector, raw_nodes: object, nodes: dict[str, Node]) -> None:
    """Service names unique per node; addresses parse; no two services on one protocol, address and port."""
    if not isinstance(raw_nodes, dict):
        return
    adapter: TypeAdapter[Any] = TypeAdapter(Service)
    for node, raw in raw_nodes.items():
        if str(node) not in nodes or not isinstance(raw, dict):
            continue
        names: dict[str, int] = {}
        ports: dict[tuple[str, str, int], int] = {}
        for i, svc in parse_list(raw.get("services"), adapter):
            path: PathKey = ("nodes", str(node), "services", i)
            name = service_name(svc)
            if not SERVICE_NAME.fullmatch(name):
                col.add((*path, "name"), f"service name {name!r} cannot be used",
                        "1-32 characters: letters, digits, '-' and '_' (it names the log file)")
            if name in names:
                col.add(path, f"node {node!r} already has a service named {name!r}",
                        f"also at services[{names[name]}]; give one of them a `name:`")
            names.setdefault(name, i)
            if svc.address is not None and check_ip(col, (*path, "address"), svc.address) is None:
                continue
            proto, address = service_protocol(svc.kind), svc.address or "0.0.0.0"
            for (other_proto, other_address, other_port), j in ports.items():
                if other_proto == proto and other_port == svc.port and (
                        address == other_address or "0.0.0.0" in (address, other_address)
                        or "::" in (address, other_address)):
                    col.add((*path, "port"), f"{proto.upper()} port {svc.port} is already taken in node {node!r}",
                            f"by services[{j}]; two servers cannot listen on one port and address")
                    break
            ports.setdefault((proto, address, svc.port), i)
