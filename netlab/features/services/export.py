"""``netlab export`` of services: netlab's own server, started in the node with ``ip netns exec``.

Why netlab's server and not ``socat`` or ``python3 -m http.server``: the lab's probes depend on what only it does
(see the package docstring): the HTTP answer names its node (``X-Netlab-Node``, what ``served_by`` checks), a UDP
echo answers from the address it was asked on (a VIP on ``lo``), every socket binds with ``IP_FREEBIND``. The
command (:func:`.server.main`) returns once the socket listens, so the script goes on only with the service ready,
and it needs a ``python3`` that imports netlab (``PYTHON=/path/to/venv/bin/python3`` picks another); its log is
``/run/NAMESPACE.SERVICE.log`` (``LOG_DIR=`` puts it elsewhere). The comment above each line gives the closest plain
equivalent, and what it loses.
"""

from __future__ import annotations

from shlex import quote

from netlab.model.plan import StartService

MODULE = "netlab.features.services.server"


def shell_word(text: str) -> str:
    """``text`` as one shell word; with a newline or another control character, as bash's ``$'…'``."""
    if text.isprintable():
        return quote(text)
    escaped = "".join(c if c.isprintable() and c not in "\\'" else
                      {"\n": "\\n", "\t": "\\t", "\\": "\\\\", "'": "\\'"}.get(c, f"\\x{ord(c):02x}") for c in text)
    return f"$'{escaped}'"


def equivalent(action: StartService) -> str:
    """The closest service without netlab, and what it does not do that a probe may check."""
    host = f"[{action.address}]" if ":" in action.address else action.address
    if action.kind == "tcp-echo":
        return f"socat TCP-LISTEN:{action.port},bind={host},reuseaddr,fork PIPE (no IP_FREEBIND)"
    if action.kind == "discard":
        return f"socat -u TCP-LISTEN:{action.port},bind={host},reuseaddr,fork OPEN:/dev/null (no IP_FREEBIND)"
    if action.kind == "udp-echo":
        return (f"socat UDP-RECVFROM:{action.port},bind={host},fork PIPE (it replies from the routed source "
                "address, not from the one asked)")
    return (f"python3 -m http.server {action.port} --bind {action.address} (no X-Netlab-Node header: "
            "probes with served_by fail)")


def commands(action: StartService) -> list[str]:
    """The export hook (netlab.features.base.Feature.export): one service, ready when the line returns."""
    args = [f"--node {quote(action.node)}", f"--kind {action.kind}"]
    if action.name != action.kind:
        args.append(f"--name {quote(action.name)}")
    args += [f"--address {quote(action.address)}", f"--port {action.port}"]
    if action.kind == "http" and action.body != f"{action.node}\n":
        args.append(f"--body {shell_word(action.body)}")
    log = quote(f"{action.netns}.{action.name}.log")
    host = f"[{action.address}]" if ":" in action.address else action.address
    what = action.kind if action.name == action.kind else f"{action.kind} {action.name}"
    return [f"# {what} on {action.protocol} {host}:{action.port} in {action.node}; "
            f"without netlab: {equivalent(action)}",
            f"ip netns exec {quote(action.netns)} \"${{PYTHON:-python3}}\" -m {MODULE} {' '.join(args)} "
            f"--log \"${{LOG_DIR:-/run}}\"/{log}"]
