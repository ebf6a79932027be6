"""Probes: declared checks that prove a lab's packet path with real traffic between its namespaces.

A probe is declared in the topology (``probes:``, one entry per check, discriminated by ``kind``) and
run by ``netlab probe LAB``, ``netlab run LAB``, ``Lab.probe(name)`` or the pytest plugin. Every result
says what was expected and what was observed, in words a learner can act on.

How it runs (and why): the runner lives in one Python process that has imported what it needs once
(scapy only when a capture probe has ``match`` fields, and only the layers they name: :mod:`.layers`).
Each side of a probe -- a sender, a sniffer, an ARP asker -- is a child forked from that process that
``setns()``-es into its node's namespace and talks back over a pipe (:mod:`.nsfork`). Forking costs
milliseconds; a new interpreter inside the full-kernel VM would cost tens of seconds of imports.
Sniffers report "listening" only after their packet socket is bound with its filter attached, and the
sender starts only after every sniffer has reported, so nothing depends on a sleep.

Modules: :mod:`.model` (the YAML), :mod:`.checks` (cross-references, called by validate),
:mod:`.result` (results, JSON, JUnit), :mod:`.nsfork` (fork + setns), :mod:`.packets` (packet sockets,
BPF, pcap files), :mod:`.layers` (which scapy modules a ``match`` needs), :mod:`.runner` (the suite),
and one module per kind family.
"""
