"""``netlab export`` of node isolation: the node's init, started by netlab's own module inside the node.

Why not ``unshare --fork --pid --mount-proc ... sleep infinity`` alone: the script's later steps (commands,
services) find the init the way netlab does -- the process named ``netlab-init`` that is pid 1 of its pid
namespace (the script's ``node_init`` function) -- and join it with ``nsenter --all``; the init also sets the
hostname and mounts the node's /sys. The comment gives the plain command.
"""

from __future__ import annotations

from shlex import quote

from netlab.model.plan import StartInit


def commands(action: StartInit) -> list[str]:
    flags = " ".join(f"--{'mount' if n == 'mnt' else n}" for n in action.namespaces)
    proc = " --mount-proc" if "pid" in action.namespaces else ""
    return [f"# {action.node}'s own {' '.join(action.namespaces)} namespaces, held by its init (pid 1 inside); "
            f"without netlab: ip netns exec {action.netns} unshare --fork {flags}{proc} sleep infinity &",
            f"ip netns exec {quote(action.netns)} \"${{PYTHON:-python3}}\" -m netlab.features.isolation.kernel "
            f"--node {quote(action.node)} --isolate {' '.join(action.namespaces)}"]
