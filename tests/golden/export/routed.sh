#!/usr/bin/env bash
# Lab routed: Client and server on two subnets, joined by a router that forwards between them. Observe: the client
# reaches 10.0.2.10 only because the router has net.ipv4.ip_forward=1 and both ends have a route through it; `netlab
# exec routed router -- sysctl -w net.ipv4.ip_forward=0` breaks the path, and `ip route` in the client shows where its
# packets go. `netlab probe routed` proves it with traffic: echo over TCP and UDP, HTTP, the router on the path
# (captured on its interface), the server seeing the client's own address, ARP on the server's LAN.
#
# Written by `netlab export routed` from the plan `netlab up` applies. Run it as root; it needs ip (iproute2), sysctl
# (procps), python3 importing netlab (for the services). From the environment: PYTHON (default python3), LOG_DIR
# (default /run).
#
#   bash routed.sh          build the lab (refused if one of its namespaces exists)
#   bash routed.sh down     remove it
#
# `ip -n NS ...` is `ip` run inside namespace NS, as `ip netns exec NS ip ...` would.
set -euo pipefail

namespaces=(
    nl-routed.client
    nl-routed.router
    nl-routed.server
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
# node client
ip netns add nl-routed.client
ip -n nl-routed.client link set lo up
# node router
ip netns add nl-routed.router
ip -n nl-routed.router link set lo up
# node server
ip netns add nl-routed.server
ip -n nl-routed.server link set lo up

# == links: both ends of each veth made directly in their namespaces, with the lab's names, MACs and MTUs; interface
#    indexes are the kernel's choice here (netlab picks its own; nothing depends on them); each bridge with IPv6 off:
#    with multicast snooping on it joins ff02::6a as it comes up, and would report that join (MLD) even without a
#    link-local address
ip link add eth0 netns nl-routed.client type veth peer name eth0 netns nl-routed.router
ip link add eth1 netns nl-routed.router type veth peer name eth0 netns nl-routed.server

# == sysctls, after the links (a per-interface key exists only once its interface does)
ip netns exec nl-routed.router sysctl -qw net.ipv4.ip_forward=1
ip netns exec nl-routed.router sysctl -qw net.ipv4.icmp_ratelimit=0

# == interfaces up, each but a bridge first set to addrgenmode none: with no link-local address an interface sends no
#    duplicate address detection, router solicitation or MLD report (turning IPv6 off in each namespace would do the
#    same, at the cost of a /proc/sys lookup that grows with the number of namespaces); bridge ports into their bridge
ip -n nl-routed.client link set eth0 addrgenmode none
ip -n nl-routed.client link set eth0 up
ip -n nl-routed.router link set eth0 addrgenmode none
ip -n nl-routed.router link set eth0 up
ip -n nl-routed.router link set eth1 addrgenmode none
ip -n nl-routed.router link set eth1 up
ip -n nl-routed.server link set eth0 addrgenmode none
ip -n nl-routed.server link set eth0 up

# == addresses: IPv4 with its broadcast address (brd +), IPv6 without duplicate address detection
ip -n nl-routed.client addr add 10.0.1.10/24 brd + dev eth0
ip -n nl-routed.router addr add 10.0.1.1/24 brd + dev eth0
ip -n nl-routed.router addr add 10.0.2.1/24 brd + dev eth1
ip -n nl-routed.server addr add 10.0.2.10/24 brd + dev eth0

# == static routes (proto static, main table), once the addresses that reach their gateways exist
ip -n nl-routed.client route add default via 10.0.1.1 proto static
ip -n nl-routed.server route add default via 10.0.2.1 proto static

# == services, last: they may listen on addresses or behind rules set up above
# tcp-echo on tcp 0.0.0.0:7 in server; without netlab: socat TCP-LISTEN:7,bind=0.0.0.0,reuseaddr,fork PIPE (no
# IP_FREEBIND)
ip netns exec nl-routed.server "${PYTHON:-python3}" -m netlab.features.services.server --node server --kind tcp-echo --address 0.0.0.0 --port 7 --log "${LOG_DIR:-/run}"/nl-routed.server.tcp-echo.log
# udp-echo on udp 0.0.0.0:7 in server; without netlab: socat UDP-RECVFROM:7,bind=0.0.0.0,fork PIPE (it replies from
# the routed source address, not from the one asked)
ip netns exec nl-routed.server "${PYTHON:-python3}" -m netlab.features.services.server --node server --kind udp-echo --address 0.0.0.0 --port 7 --log "${LOG_DIR:-/run}"/nl-routed.server.udp-echo.log
# http on tcp 0.0.0.0:80 in server; without netlab: python3 -m http.server 80 --bind 0.0.0.0 (no X-Netlab-Node header:
# probes with served_by fail)
ip netns exec nl-routed.server "${PYTHON:-python3}" -m netlab.features.services.server --node server --kind http --address 0.0.0.0 --port 80 --log "${LOG_DIR:-/run}"/nl-routed.server.http.log

trap - ERR
echo "lab routed is up: 3 namespaces; remove it with: $0 down"
