"""Node limits: a node's services in a cgroup v2 of their own, with ``cpu.max``, ``memory.max`` and ``pids.max``.

What a container runtime does besides the network namespace (``docker run --cpus 0.25 --memory 64m``), on the
processes netlab starts in the node. The cgroup lives outside every namespace, so it is found again by name:
``<cgroup2 mount>/netlab/<lab>.<run>/<node>``, recomputed by ``down`` and ``clean`` from the lab and run alone.
"""
