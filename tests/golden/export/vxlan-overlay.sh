#!/usr/bin/env bash
# Lab vxlan-overlay: VXLAN: one L2 subnet (10.10.0.0/24) stretched across a routed L3 underlay by two VTEPs. Observe:
# h1 and h2 are on one subnet at two sites; between them is a router (u) that knows only the underlay (10.0.1.0/24,
# 10.0.2.0/24). Each VTEP bridges its host's link with a vxlan interface (VNI 4242, remote = the other VTEP), so every
# Ethernet frame -- ARP broadcasts included -- crosses the underlay as UDP to port 4789 with the VNI in the VXLAN
# header. On u, `tcpdump -ni eth0 udp port 4789` shows the hosts' frames inside; h1's ARP who-has for h2 is answered
# by h2 itself, from the other site. The hosts' MTU is 1450: VXLAN adds 50 bytes, and the underlay carries 1500
# (probes full-size-crosses: 1450 bytes with DF cross; vxlan-adds-50: on the underlay they are 1500).
#
# Written by `netlab export vxlan-overlay` from the plan `netlab up` applies. Run it as root; it needs ip (iproute2),
# sysctl (procps), python3 importing netlab (for the services). From the environment: PYTHON (default python3),
# LOG_DIR (default /run).
#
#   bash vxlan-overlay.sh          build the lab (refused if one of its namespaces exists)
#   bash vxlan-overlay.sh down     remove it
#
# `ip -n NS ...` is `ip` run inside namespace NS, as `ip netns exec NS ip ...` would.
set -euo pipefail

namespaces=(
    nl-vxlan-overlay.h1
    nl-vxlan-overlay.v1
    nl-vxlan-overlay.u
    nl-vxlan-overlay.v2
    nl-vxlan-overlay.h2
)

# Remove the lab: stop what still runs in its namespaces (the services the script started), then delete them; their
# interfaces, addresses, routes, rules and IPVS services go with them. A namespace that is not there is skipped.
teardown() {
    local ns
    for ns in "${namespaces[@]}"; do
        [ -e "/run/netns/$ns" ] || continue
        ip netns pids "$ns" | xargs -r kill 2>/dev/null || true
        for _ in $(seq 50); do
            [ -z "$(ip netns pids "$ns")" ] && break
            sleep 0.1
        done
        ip netns del "$ns"
    done
}

case "${1:-up}" in
    up) ;;
    down) teardown; exit 0 ;;
    *) echo "usage: $0 [up|down]" >&2; exit 2 ;;
esac
for ns in "${namespaces[@]}"; do
    if [ -e "/run/netns/$ns" ]; then
        echo "$0: namespace $ns exists: is the lab up already? ($0 down removes it)" >&2
        exit 1
    fi
done
trap 'echo "$0: a step failed; removing what was made" >&2; teardown' ERR

# == namespaces, one per node and per LAN, lo up; IPv6 stays on but silent: the lab uses none, so each bridge gets IPv6
#    off and every other interface addrgenmode none before it comes up (below)
# node h1
ip netns add nl-vxlan-overlay.h1
ip -n nl-vxlan-overlay.h1 link set lo up
# node v1
ip netns add nl-vxlan-overlay.v1
ip -n nl-vxlan-overlay.v1 link set lo up
# node u
ip netns add nl-vxlan-overlay.u
ip -n nl-vxlan-overlay.u link set lo up
# node v2
ip netns add nl-vxlan-overlay.v2
ip -n nl-vxlan-overlay.v2 link set lo up
# node h2
ip netns add nl-vxlan-overlay.h2
ip -n nl-vxlan-overlay.h2 link set lo up

# == links: both ends of each veth made directly in their namespaces, with the lab's names, MACs and MTUs; interface
#    indexes are the kernel's choice here (netlab picks its own; nothing depends on them); each bridge with IPv6 off:
#    with multicast snooping on it joins ff02::6a as it comes up, and would report that join (MLD) even without a
#    link-local address
ip link add eth0 netns nl-vxlan-overlay.h1 mtu 1450 address 02:00:00:10:00:11 type veth peer name eth0 netns nl-vxlan-overlay.v1 mtu 1450
ip link add eth0 netns nl-vxlan-overlay.u type veth peer name eth1 netns nl-vxlan-overlay.v1
ip link add eth1 netns nl-vxlan-overlay.u type veth peer name eth1 netns nl-vxlan-overlay.v2
ip link add eth0 netns nl-vxlan-overlay.h2 mtu 1450 address 02:00:00:10:00:12 type veth peer name eth0 netns nl-vxlan-overlay.v2 mtu 1450
ip -n nl-vxlan-overlay.v1 link add br0 type bridge
ip netns exec nl-vxlan-overlay.v1 sysctl -qew net.ipv6.conf.br0.disable_ipv6=1
ip -n nl-vxlan-overlay.v2 link add br0 type bridge
ip netns exec nl-vxlan-overlay.v2 sysctl -qew net.ipv6.conf.br0.disable_ipv6=1
ip -n nl-vxlan-overlay.v1 link add vxlan1 mtu 1450 type vxlan id 4242 remote 10.0.2.1 local 10.0.1.1 dstport 4789
ip -n nl-vxlan-overlay.v2 link add vxlan1 mtu 1450 type vxlan id 4242 remote 10.0.1.1 local 10.0.2.1 dstport 4789

# == sysctls, after the links (a per-interface key exists only once its interface does)
ip netns exec nl-vxlan-overlay.u sysctl -qw net.ipv4.ip_forward=1

# == interfaces up, each but a bridge first set to addrgenmode none: with no link-local address an interface sends no
#    duplicate address detection, router solicitation or MLD report (turning IPv6 off in each namespace would do the
#    same, at the cost of a /proc/sys lookup that grows with the number of namespaces); bridge ports into their bridge
ip -n nl-vxlan-overlay.h1 link set eth0 addrgenmode none
ip -n nl-vxlan-overlay.h1 link set eth0 up
ip -n nl-vxlan-overlay.v1 link set eth0 addrgenmode none
ip -n nl-vxlan-overlay.v1 link set eth0 master br0 up
ip -n nl-vxlan-overlay.v1 link set eth1 addrgenmode none
ip -n nl-vxlan-overlay.v1 link set eth1 up
ip -n nl-vxlan-overlay.u link set eth0 addrgenmode none
ip -n nl-vxlan-overlay.u link set eth0 up
ip -n nl-vxlan-overlay.u link set eth1 addrgenmode none
ip -n nl-vxlan-overlay.u link set eth1 up
ip -n nl-vxlan-overlay.v2 link set eth0 addrgenmode none
ip -n nl-vxlan-overlay.v2 link set eth0 master br0 up
ip -n nl-vxlan-overlay.v2 link set eth1 addrgenmode none
ip -n nl-vxlan-overlay.v2 link set eth1 up
ip -n nl-vxlan-overlay.h2 link set eth0 addrgenmode none
ip -n nl-vxlan-overlay.h2 link set eth0 up
ip -n nl-vxlan-overlay.v1 link set br0 up
ip -n nl-vxlan-overlay.v2 link set br0 up
ip -n nl-vxlan-overlay.v1 link set vxlan1 addrgenmode none
ip -n nl-vxlan-overlay.v1 link set vxlan1 master br0 up
ip -n nl-vxlan-overlay.v2 link set vxlan1 addrgenmode none
ip -n nl-vxlan-overlay.v2 link set vxlan1 master br0 up

# == addresses: IPv4 with its broadcast address (brd +), IPv6 without duplicate address detection
ip -n nl-vxlan-overlay.h1 addr add 10.10.0.11/24 brd + dev eth0
ip -n nl-vxlan-overlay.v1 addr add 10.0.1.1/24 brd + dev eth1
ip -n nl-vxlan-overlay.u addr add 10.0.1.254/24 brd + dev eth0
ip -n nl-vxlan-overlay.u addr add 10.0.2.254/24 brd + dev eth1
ip -n nl-vxlan-overlay.v2 addr add 10.0.2.1/24 brd + dev eth1
ip -n nl-vxlan-overlay.h2 addr add 10.10.0.12/24 brd + dev eth0

# == static routes (proto static, main table), once the addresses that reach their gateways exist
ip -n nl-vxlan-overlay.v1 route add 10.0.2.0/24 via 10.0.1.254 proto static
ip -n nl-vxlan-overlay.v2 route add 10.0.1.0/24 via 10.0.2.254 proto static

# == services, last: they may listen on addresses or behind rules set up above
# tcp-echo on tcp 0.0.0.0:7 in h2; without netlab: socat TCP-LISTEN:7,bind=0.0.0.0,reuseaddr,fork PIPE (no
# IP_FREEBIND)
ip netns exec nl-vxlan-overlay.h2 "${PYTHON:-python3}" -m netlab.features.services.server --node h2 --kind tcp-echo --address 0.0.0.0 --port 7 --log "${LOG_DIR:-/run}"/nl-vxlan-overlay.h2.tcp-echo.log

trap - ERR
echo "lab vxlan-overlay is up: 5 namespaces; remove it with: $0 down"
