"""``netlab export LAB``: the lab as a standalone bash script (:mod:`netlab.views.export` writes it).

Why a verb of its own rather than ``up --dry-run --format sh``: the script is a product the user keeps and edits
(``netlab export dr-mode > dr-mode.sh``), with its own teardown, not a preview of what ``up`` would do.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from typing import Any

DESCRIPTION = (
    "Write the lab as a standalone bash script of ip, sysctl, ipvsadm and iptables-restore commands that builds "
    "the same namespaces, links, addresses, routes, sysctls, rules, IPVS services and services as `netlab up`, in "
    "the same order, with the reason for each derived setting as a comment. `SCRIPT down` removes the lab (it "
    "stops what runs in its namespaces and deletes them); --teardown writes a script that only removes it. "
    "Interface indexes are left to the kernel; netlab's ownership tags are left out (the script is yours). "
    "Nothing is brought up, and no root is needed to export.")


def cmd_export(args: argparse.Namespace) -> int:
    from netlab.api import Lab
    from netlab.views.export import render

    lab = Lab.load(args.lab)
    text = render(lab.plan(), lab.topology.description or "", teardown=args.teardown)
    if args.output in (None, "-"):
        sys.stdout.write(text)
        return 0
    with open(args.output, "w", encoding="utf-8") as f:
        f.write(text)
    os.chmod(args.output, 0o755)  # a script: ./dr-mode.sh runs it
    return 0


def register(verb: Callable[..., Any]) -> None:
    """Add the verb to the CLI's parser (``verb(name, handler, help, description)`` of netlab.cli.main)."""
    p: argparse.ArgumentParser = verb("export", cmd_export, "the lab as a plain bash script (ip, sysctl, ipvsadm, "
                                      "iptables-restore) that builds it, and its teardown", DESCRIPTION)
    p.add_argument("lab", metavar="LAB", help="catalog name (see `netlab list`) or path to a topology file")
    p.add_argument("--teardown", action="store_true", help="write the script that removes the lab instead")
    p.add_argument("-o", "--output", metavar="FILE", help="write FILE (executable) instead of stdout")
