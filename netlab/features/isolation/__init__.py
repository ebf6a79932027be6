"""Node isolation: a node's own uts, ipc, pid and mount namespaces besides its network one, as Docker gives a
container (``isolate: [uts, ipc, pid, mnt]``).

The namespaces are held by the node's init (netlab.kernel.nodeinit): pid 1 of the node's pid namespace, named
``netlab-init``, with the node's name as hostname, its own /proc and /sys. Commands, services, state probes and
``netlab exec`` join them (``nsenter --target <init>``), so inside the node ``hostname`` says its name and ``ps``
shows the init and the node's services only -- while the host still sees every one of them.
"""
