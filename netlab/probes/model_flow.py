"""The ``flow`` probe's models: bulk TCP flows and the checks on what they measured (:mod:`netlab.probes.flow`).

Its own module for size only; the shared bases live in :mod:`netlab.probes.model_base`, and
:mod:`netlab.probes.model` puts it in the union of probe kinds.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from netlab.probes.model_base import Names, Port, Seconds, _Model, _Probe
from netlab.probes.spec import FlowMetric


class FlowCheck(_Model):
    """One assertion on what a flow probe measured (after its warm-up): a metric of one flow, or the ratio of
    that metric between two flows, within bounds."""

    flow: str | None = None
    """The flow, by its congestion control as listed in ``congestion`` (default: the probe's only flow)."""
    metric: FlowMetric
    """``throughput`` (Mbit/s acknowledged), ``rtt`` (median smoothed RTT, ms), ``rtt_growth`` (median RTT
    over the lowest RTT the kernel saw on the connection: 1 = an empty queue), ``retransmits`` (segments),
    ``cwnd_cuts`` (times the congestion window fell to 80 % or less of its peak while segments were
    retransmitted: the loss-driven sawtooth), ``probe_cycles`` (times BBR was seen entering its 1.25x
    bandwidth-probing phase), ``queue`` (median packets queued at ``queue``), ``drops`` (packets the
    ``queue`` dropped)."""
    over: str | None = None
    """Another flow: the check is on the ratio flow ÷ over (``{flow: bbr, metric: throughput, over: cubic,
    min: 2.5}``: BBR moved at least 2.5 times what Cubic did)."""
    min: float | None = None
    """At least this (in the metric's unit, or as a ratio with ``over``)."""
    max: float | None = None
    """At most this."""
    why: str | None = None
    """What the check proves, shown when it fails (the reason a learner should expect it to hold)."""


class FlowProbe(_Probe):
    """Bulk TCP transfers (one per congestion control, one after the other or together) to a ``discard``
    service, with the kernel's own view of each sampled every ``interval`` (TCP_INFO: cwnd, smoothed RTT,
    retransmissions, delivery and pacing rate; BBR's bandwidth, min RTT and gains) and, with ``queue``, the
    backlog and drops of a bottleneck's qdisc. The samples are in ``probe --json`` and ``netlab plot``."""

    kind: Literal["flow"]
    """``flow``."""
    from_: str = Field(alias="from")
    """Node the sender runs in."""
    to: str
    """Address of the receiver (a ``discard`` service)."""
    port: Port = 9
    """Destination port (default 9: a ``discard`` service)."""
    congestion: Names = ()
    """Congestion control of each flow (``TCP_CONGESTION``): ``[cubic, bbr]`` runs two flows. Default: one
    flow with the sender's default (``net.ipv4.tcp_congestion_control`` of its node)."""
    together: bool = False
    """Run the flows at the same time, sharing the path (default: one after the other)."""
    seconds: float = Field(default=10.0, gt=0, le=300)
    """How long each flow sends."""
    warmup: float = Field(default=2.0, ge=0, le=60)
    """Seconds at the start of each flow left out of the metrics (slow start)."""
    interval: float = Field(default=0.1, ge=0.01, le=5)
    """Seconds between two samples."""
    gap: float = Field(default=1.0, ge=0, le=60)
    """Seconds between two flows run one after the other (what the last one left in the queue drains)."""
    queue: str | None = None
    """``node:interface`` whose root qdisc (the bottleneck) is sampled: backlog and drops."""
    checks: tuple[FlowCheck, ...] = ()
    """Assertions on the metrics. Without any, the probe passes when every flow moved data."""
    timeout: Seconds = 2.0
    """Seconds to wait for each connection."""
