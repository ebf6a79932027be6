#!/usr/bin/env python3
"""Mininet's build of the star that bench/star.py builds with netlab: N hosts on one Linux bridge, no controller.

    sudo python3 bench/mininet_star.py 100          # prints {"n": 100, "up": s, "down": s} as JSON

Run with the Python that has Mininet (Debian: ``apt-get install --no-install-recommends mininet bridge-utils``,
then ``/usr/bin/python3``); bench/star.py calls it that way when ``--mininet`` is given and Mininet is importable.
The switch is Mininet's ``LinuxBridge`` (``--switch lxbr``), so no Open vSwitch and no controller are involved:
the comparison is of the builds, namespaces and veths and a bridge on both sides. "up" is ``build()`` +
``start()`` (Mininet's hosts are shells in their namespaces; it configures each with ``ip``/``ifconfig``
commands through them), "down" is ``stop()``. Mininet's bridge lives in the namespace it is run in: run this
inside ``scripts/isolated`` (bench/star.py is run that way) so nothing lands in the machine's root namespace.
"""

from __future__ import annotations

import json
import sys
import time


def main() -> int:
    n = int(sys.argv[1])
    from mininet.log import setLogLevel
    from mininet.net import Mininet
    from mininet.nodelib import LinuxBridge
    from mininet.topo import SingleSwitchTopo

    setLogLevel("error")
    net = Mininet(topo=SingleSwitchTopo(n), switch=LinuxBridge, controller=None, autoSetMacs=True, build=False)
    start = time.perf_counter()
    net.build()
    net.start()
    up = time.perf_counter() - start
    ok = "0% packet loss" in net.hosts[0].cmd(f"ping -c1 -W2 {net.hosts[-1].IP()}")
    start = time.perf_counter()
    net.stop()
    down = time.perf_counter() - start
    print(json.dumps({"n": n, "up": round(up, 3), "down": round(down, 3), "ping": ok}))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
