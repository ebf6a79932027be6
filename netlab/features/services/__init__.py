"""Services: small servers a lab runs inside its nodes (TCP echo, UDP echo, HTTP).

Why netlab ships its own instead of asking for ``socat`` or ``python -m http.server``: probes must be
able to tell *which* node answered (the HTTP answer names its node), a service must bind to an
address its node does not own (an IPVS virtual IP), a UDP echo must answer from the address it was
asked on (a VIP on ``lo``), and ``up`` must know for certain that a service is listening before it
says the lab is up. A service is one forked process per declaration, started by ``up`` in the node's
namespace, recorded in the lab's state and stopped by ``down`` and ``clean``.

Modules: :mod:`.model` (the YAML), :mod:`.server` (the servers' event loop, run in the service
process; also a command, for scripts), :mod:`.runner` (double fork, setns, log file, readiness handshake),
:mod:`.export` (the line ``netlab export`` writes to start one).
"""
