"""Stitches: one end of a link whose other end is on another machine, joined over that machine's network by VXLAN.

What a lab split over several hosts (netlab.multihost) turns each cut link into, and what a user may write to
join a lab to one on another machine. The node's interface is a VXLAN device created from the namespace netlab
runs in -- the host's, whose network is the underlay -- and born in the node's namespace (IFLA_NET_NS_FD), so its
UDP socket stays in the host's namespace while the node sees an ordinary Ethernet interface (Docker's overlay
network does the same). That socket is the one thing a stitch puts in the host's namespace; it goes with the
device, which goes with the node's namespace at ``down``.
"""
