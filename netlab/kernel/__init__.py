"""Thin, fast wrappers over the kernel interfaces netlab uses: namespaces (ctypes syscalls), rtnetlink
(raw sockets carrying pyroute2-encoded messages), /proc sysctls and processes."""
