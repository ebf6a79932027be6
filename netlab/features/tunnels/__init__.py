"""Tunnels (GRE, IPIP, VXLAN), sub-interfaces (macvlan, ipvlan) and bridges inside a node, first-class.

Wired through every stage like IPVS: :mod:`.model` is what the topology says (top-level ``tunnels:``,
node ``subinterfaces:`` and ``bridges:``); :mod:`.checks` is the validate hook; :mod:`.resolve` picks
names, indexes and underlay addresses; :mod:`.plan` turns them into plan actions; :mod:`.kernel`
packs the rtnetlink messages apply sends; :mod:`.requirements` derives the kernel features.
"""
