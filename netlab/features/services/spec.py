"""A service after resolve, as the plan, the state and the service daemon hold it.

Why a module of its own: the state file holds it, and what only reads state (``down``, ``status``) or runs a
service (:mod:`.server`, started once per service) must not import the pydantic models of :mod:`.model`.
"""

from __future__ import annotations

from netlab.core.frozen import frozen


@frozen
class ServiceSpec:
    """A service after resolve: every default filled in. Plain data, so it goes into the plan and state."""

    node: str
    name: str
    kind: str
    protocol: str
    address: str
    port: int
    body: str

    def describe(self) -> str:
        host = f"[{self.address}]" if ":" in self.address else self.address
        what = self.kind if self.name == self.kind else f"{self.name} ({self.kind})"
        return f"service {what} on {self.protocol} {host}:{self.port} in {self.node}"
