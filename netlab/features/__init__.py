"""The features a lab can use, each one package (tunnels, ipvs, iptables, services)."""
