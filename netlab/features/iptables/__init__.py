"""iptables as a first-class part of a lab: per-node tables, user chains and rules in iptables' own syntax.

:mod:`.model` is what the topology says; :mod:`.rules` checks it statically (file:line per rule, before
anything touches the kernel) and renders one ``iptables-restore`` payload per node (pure, golden-tested);
:mod:`.kernel` picks a backend that works in this kernel (nft or legacy), loads the payload inside the
node all-or-nothing, and reads rules and counters back for ``status`` and the ``counters`` probe.
"""
