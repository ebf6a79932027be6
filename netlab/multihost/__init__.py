"""One lab over several machines: an inventory of hosts, the nodes placed on them, each host's part an ordinary
lab, the links between hosts stitched with VXLAN over their network (netlab.features.stitches).

:mod:`.inventory` reads the hosts (an Ansible YAML inventory, so one file drives both), :mod:`.partition` places
the nodes and cuts the lab into parts -- pure functions of the validated topology, with golden tests.
"""
