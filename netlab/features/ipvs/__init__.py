"""IPVS as a first-class part of a lab: virtual services on a director, real servers behind it.

:mod:`.model` is what the topology says; :mod:`.derive` works out what every node needs for the
chosen forwarding mode (and why); :mod:`.kernel` talks to IPVS over generic netlink (pyroute2's
IPVS API) to create services and read the table back.
"""
