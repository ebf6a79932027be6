#!/usr/bin/env bash
# Lab dr-mode: IPVS direct routing (DR): real servers answer the client directly, never through the director. The
# director forwards each request to a real server by rewriting only the destination MAC. Observe: frames from the
# director to rs1 still carry destination IP = VIP (10.0.10.100) but rs1's MAC; the director sees every request and
# not one reply; only the director answers ARP for the VIP, because the real servers hold the VIP on lo with
# arp_ignore=1/arp_announce=2 (see `netlab up dr-mode --dry-run` for why each setting is there). `netlab status
# dr-mode` shows the IPVS table. Notes often say the client and the real servers must share an L2 segment in DR mode.
# In Linux they need not: only the director and the real servers must (the director reaches a real server by its MAC).
# Here the client is a routed hop away, on 10.0.1.0/24 behind the router, and every probe from it passes (web,
# round-robin, replies-direct).
#
# Written by `netlab export dr-mode` from the plan `netlab up` applies. Run it as root; it needs ip (iproute2), sysctl
# (procps), ipvsadm, python3 importing netlab (for the services). From the environment: PYTHON (default python3),
# LOG_DIR (default /run).
#
#   bash dr-mode.sh          build the lab (refused if one of its namespaces exists)
#   bash dr-mode.sh down     remove it
#
# `ip -n NS ...` is `ip` run inside namespace NS, as `ip netns exec NS ip ...` would.
set -euo pipefail

namespaces=(
    nl-dr-mode.client
    nl-dr-mode.router
    nl-dr-mode.director
    nl-dr-mode.rs1
    nl-dr-mode.rs2
    nl-dr-mode.servers
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
ip netns add nl-dr-mode.client
ip -n nl-dr-mode.client link set lo up
# node router
ip netns add nl-dr-mode.router
ip -n nl-dr-mode.router link set lo up
# node director
ip netns add nl-dr-mode.director
ip -n nl-dr-mode.director link set lo up
# node rs1
ip netns add nl-dr-mode.rs1
ip -n nl-dr-mode.rs1 link set lo up
# node rs2
ip netns add nl-dr-mode.rs2
ip -n nl-dr-mode.rs2 link set lo up
# LAN servers
ip netns add nl-dr-mode.servers
ip -n nl-dr-mode.servers link set lo up

# == links: both ends of each veth made directly in their namespaces, with the lab's names, MACs and MTUs; interface
#    indexes are the kernel's choice here (netlab picks its own; nothing depends on them); each bridge with IPv6 off:
#    with multicast snooping on it joins ff02::6a as it comes up, and would report that join (MLD) even without a
#    link-local address
ip -n nl-dr-mode.servers link add br0 type bridge
ip netns exec nl-dr-mode.servers sysctl -qew net.ipv6.conf.br0.disable_ipv6=1
ip link add eth0 netns nl-dr-mode.client type veth peer name eth0 netns nl-dr-mode.router
ip link add eth1 netns nl-dr-mode.router address 02:00:00:00:10:01 type veth peer name router netns nl-dr-mode.servers
ip link add eth0 netns nl-dr-mode.director address 02:00:00:00:10:02 type veth peer name director netns nl-dr-mode.servers
ip link add eth0 netns nl-dr-mode.rs1 address 02:00:00:00:10:11 type veth peer name rs1 netns nl-dr-mode.servers
ip link add eth0 netns nl-dr-mode.rs2 address 02:00:00:00:10:12 type veth peer name rs2 netns nl-dr-mode.servers

# == sysctls, after the links (a per-interface key exists only once its interface does)
ip netns exec nl-dr-mode.router sysctl -qw net.ipv4.ip_forward=1
# web (DR): answer ARP only for addresses on the receiving interface, so the VIP on lo stays hidden and only the
# director answers for it
ip netns exec nl-dr-mode.rs1 sysctl -qw net.ipv4.conf.all.arp_ignore=1
# web (DR): use the outgoing interface's own address as ARP source, never the VIP, so neighbours do not learn the VIP
# at this real server's MAC
ip netns exec nl-dr-mode.rs1 sysctl -qw net.ipv4.conf.all.arp_announce=2
# web (DR): answer ARP only for addresses on the receiving interface, so the VIP on lo stays hidden and only the
# director answers for it
ip netns exec nl-dr-mode.rs2 sysctl -qw net.ipv4.conf.all.arp_ignore=1
# web (DR): use the outgoing interface's own address as ARP source, never the VIP, so neighbours do not learn the VIP
# at this real server's MAC
ip netns exec nl-dr-mode.rs2 sysctl -qw net.ipv4.conf.all.arp_announce=2

# == interfaces up, each but a bridge first set to addrgenmode none: with no link-local address an interface sends no
#    duplicate address detection, router solicitation or MLD report (turning IPv6 off in each namespace would do the
#    same, at the cost of a /proc/sys lookup that grows with the number of namespaces); bridge ports into their bridge
ip -n nl-dr-mode.servers link set br0 up
ip -n nl-dr-mode.servers link set router addrgenmode none
ip -n nl-dr-mode.servers link set router master br0 up
ip -n nl-dr-mode.servers link set director addrgenmode none
ip -n nl-dr-mode.servers link set director master br0 up
ip -n nl-dr-mode.servers link set rs1 addrgenmode none
ip -n nl-dr-mode.servers link set rs1 master br0 up
ip -n nl-dr-mode.servers link set rs2 addrgenmode none
ip -n nl-dr-mode.servers link set rs2 master br0 up
ip -n nl-dr-mode.client link set eth0 addrgenmode none
ip -n nl-dr-mode.client link set eth0 up
ip -n nl-dr-mode.router link set eth0 addrgenmode none
ip -n nl-dr-mode.router link set eth0 up
ip -n nl-dr-mode.router link set eth1 addrgenmode none
ip -n nl-dr-mode.router link set eth1 up
ip -n nl-dr-mode.director link set eth0 addrgenmode none
ip -n nl-dr-mode.director link set eth0 up
ip -n nl-dr-mode.rs1 link set eth0 addrgenmode none
ip -n nl-dr-mode.rs1 link set eth0 up
ip -n nl-dr-mode.rs2 link set eth0 addrgenmode none
ip -n nl-dr-mode.rs2 link set eth0 up

# == addresses: IPv4 with its broadcast address (brd +), IPv6 without duplicate address detection
ip -n nl-dr-mode.client addr add 10.0.1.10/24 brd + dev eth0
ip -n nl-dr-mode.router addr add 10.0.1.1/24 brd + dev eth0
ip -n nl-dr-mode.router addr add 10.0.10.1/24 brd + dev eth1
ip -n nl-dr-mode.director addr add 10.0.10.2/24 brd + dev eth0
# web: the VIP on eth0, whose subnet contains it, so the director answers ARP for the VIP and clients' packets come to
# it
ip -n nl-dr-mode.director addr add 10.0.10.100/32 dev eth0
ip -n nl-dr-mode.rs1 addr add 10.0.10.11/24 brd + dev eth0
# web (DR): packets arrive still addressed to the VIP; the real server must own it to accept them, and holds it on lo
# so that it is not announced on the network
ip -n nl-dr-mode.rs1 addr add 10.0.10.100/32 dev lo
ip -n nl-dr-mode.rs2 addr add 10.0.10.12/24 brd + dev eth0
# web (DR): packets arrive still addressed to the VIP; the real server must own it to accept them, and holds it on lo
# so that it is not announced on the network
ip -n nl-dr-mode.rs2 addr add 10.0.10.100/32 dev lo

# == static routes (proto static, main table), once the addresses that reach their gateways exist
ip -n nl-dr-mode.client route add default via 10.0.1.1 proto static
ip -n nl-dr-mode.director route add default via 10.0.10.1 proto static
ip -n nl-dr-mode.rs1 route add default via 10.0.10.1 proto static
ip -n nl-dr-mode.rs2 route add default via 10.0.10.1 proto static

# == IPVS virtual services, in the director's namespace
# web: ipvs service tcp 10.0.10.100:80 scheduler rr -> rs1 10.0.10.11:80 dr w1, rs2 10.0.10.12:80 dr w1 in
# nl-dr-mode.director
ip netns exec nl-dr-mode.director ipvsadm -A -t 10.0.10.100:80 -s rr
ip netns exec nl-dr-mode.director ipvsadm -a -t 10.0.10.100:80 -r 10.0.10.11:80 -g -w 1  # rs1
ip netns exec nl-dr-mode.director ipvsadm -a -t 10.0.10.100:80 -r 10.0.10.12:80 -g -w 1  # rs2
# echo: ipvs service tcp 10.0.10.100:8080 scheduler rr -> rs1 10.0.10.11:8080 dr w1, rs2 10.0.10.12:8080 dr w1 in
# nl-dr-mode.director
ip netns exec nl-dr-mode.director ipvsadm -A -t 10.0.10.100:8080 -s rr
ip netns exec nl-dr-mode.director ipvsadm -a -t 10.0.10.100:8080 -r 10.0.10.11:8080 -g -w 1  # rs1
ip netns exec nl-dr-mode.director ipvsadm -a -t 10.0.10.100:8080 -r 10.0.10.12:8080 -g -w 1  # rs2

# == services, last: they may listen on addresses or behind rules set up above
# http on tcp 0.0.0.0:80 in rs1; without netlab: python3 -m http.server 80 --bind 0.0.0.0 (no X-Netlab-Node header:
# probes with served_by fail)
ip netns exec nl-dr-mode.rs1 "${PYTHON:-python3}" -m netlab.features.services.server --node rs1 --kind http --address 0.0.0.0 --port 80 --log "${LOG_DIR:-/run}"/nl-dr-mode.rs1.http.log
# tcp-echo on tcp 0.0.0.0:8080 in rs1; without netlab: socat TCP-LISTEN:8080,bind=0.0.0.0,reuseaddr,fork PIPE (no
# IP_FREEBIND)
ip netns exec nl-dr-mode.rs1 "${PYTHON:-python3}" -m netlab.features.services.server --node rs1 --kind tcp-echo --address 0.0.0.0 --port 8080 --log "${LOG_DIR:-/run}"/nl-dr-mode.rs1.tcp-echo.log
# http on tcp 0.0.0.0:80 in rs2; without netlab: python3 -m http.server 80 --bind 0.0.0.0 (no X-Netlab-Node header:
# probes with served_by fail)
ip netns exec nl-dr-mode.rs2 "${PYTHON:-python3}" -m netlab.features.services.server --node rs2 --kind http --address 0.0.0.0 --port 80 --log "${LOG_DIR:-/run}"/nl-dr-mode.rs2.http.log
# tcp-echo on tcp 0.0.0.0:8080 in rs2; without netlab: socat TCP-LISTEN:8080,bind=0.0.0.0,reuseaddr,fork PIPE (no
# IP_FREEBIND)
ip netns exec nl-dr-mode.rs2 "${PYTHON:-python3}" -m netlab.features.services.server --node rs2 --kind tcp-echo --address 0.0.0.0 --port 8080 --log "${LOG_DIR:-/run}"/nl-dr-mode.rs2.tcp-echo.log

trap - ERR
echo "lab dr-mode is up: 6 namespaces; remove it with: $0 down"
