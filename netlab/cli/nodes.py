"""``netlab exec`` and ``netlab shell``: a command, or an interactive shell, inside a node of a lab that is up
(joining the node's init's namespaces too, for a node with ``isolate:``)."""

from __future__ import annotations

import argparse
import os

from netlab.cli.common import lab_name as _lab_name
from netlab.errors import InvalidInput


def cmd_exec(args: argparse.Namespace) -> int:
    from netlab.api import exec_in

    argv = list(args.argv)
    if argv and argv[0] == "--":
        argv = argv[1:]
    if not argv:
        raise InvalidInput(message="nothing to run\n    hint: netlab exec LAB NODE -- COMMAND [ARGS...]")
    return exec_in(_lab_name(args.lab), args.node, argv, capture=False).returncode


def cmd_shell(args: argparse.Namespace) -> int:
    import tempfile

    from netlab.api import exec_in
    from netlab.naming import is_node_name

    lab = _lab_name(args.lab)
    if not is_node_name(args.node):
        raise InvalidInput(message=f"{args.node!r} is not a node name")
    # No shell text is built from data: the rc file is constant and reads lab, node and prompt from the
    # environment; the prompt's own text is escaped for bash's prompt expansion ($, `, \).
    prompt = f"[{_prompt_escape(lab)}:{_prompt_escape(args.node)}] \\w \\$ "
    with tempfile.NamedTemporaryFile("w", prefix="netlab-rc-", suffix=".sh", delete=False) as rc:
        rc.write('[ -f ~/.bashrc ] && . ~/.bashrc\nPS1="$NETLAB_PS1"\nexport NETLAB_LAB NETLAB_NODE\n')
    try:
        os.environ.update(PS1=prompt, NETLAB_PS1=prompt, NETLAB_LAB=lab, NETLAB_NODE=args.node)
        shell = "/bin/bash" if os.path.exists("/bin/bash") else "/bin/sh"
        argv = [shell, "--rcfile", rc.name, "-i"] if shell.endswith("bash") else [shell, "-i"]
        print(f"entering node {args.node} of lab {lab}; exit the shell to leave")
        return exec_in(lab, args.node, argv, capture=False).returncode
    finally:
        os.unlink(rc.name)


def _prompt_escape(text: str) -> str:
    return "".join("\\" + c if c in "$`\\" else c for c in text if c.isprintable())
