"""The ``shaping:`` section: what leaves an interface is delayed, lost, duplicated, reordered or rate-limited."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

Value = str | int | float | None
"""A value with its unit (``20ms``); a bare number is accepted here only to be refused by the check with the
unit it needs, rather than as a type error."""


class Shape(BaseModel):
    """The egress of one node interface, shaped: a netem qdisc when anything is impaired (delay, loss, …; netem
    also limits the rate), else a token bucket (tbf) for a plain bottleneck. Both directions of a link: shape
    both ends."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    at: str
    """``node:interface`` whose outgoing packets are shaped (``router:eth1``)."""
    delay: Value = None
    """Added one-way delay, e.g. ``20ms`` (netem)."""
    jitter: Value = None
    """Random variation of the delay, e.g. ``2ms`` (needs ``delay``)."""
    loss: Value = None
    """Random loss, e.g. ``1%`` (netem)."""
    duplicate: Value = None
    """Random duplication, e.g. ``0.5%`` (netem)."""
    reorder: Value = None
    """Share of packets sent at once, ahead of the delayed others, e.g. ``5%`` (needs ``delay``)."""
    rate: Value = None
    """The bottleneck's rate, e.g. ``10mbit`` (netem's rate with impairments, else tbf)."""
    limit: int | None = Field(default=None, ge=1, le=1_000_000)
    """The queue in front of the bottleneck, in packets (the buffer whose size Cubic fills and BBR does not).
    Default: netem's 1000 packets; with tbf alone, 100 ms at ``rate``; fq_codel's 10240."""
    qdisc: Literal["fq", "fq_codel"] | None = None
    """The queue discipline that holds the queue: ``fq_codel`` (fair queueing with CoDel, the AQM that keeps a
    bottleneck's queue short whatever the sender does) or ``fq`` (per-flow fair queueing and pacing). With
    ``rate`` it manages the bottleneck's queue (tbf's child); alone it is the interface's root qdisc (``fq`` on
    a sender: pacing). Not with netem's impairments: netem's own queue is the one that fills."""

