"""``netlab vagrant``: the Vagrantfile for a learner's VM, and CI that runs the labs inside a disposable one.

Forms:
  netlab vagrant render [-o FILE] [--vms N] ...   the Vagrantfile from vagrant/Vagrantfile.j2
  netlab vagrant ci LAB... --out DIR              box, up, provision (ansible-runner), labs, reports, destroy
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from netlab.cli.common import HelpFormatter
from netlab.errors import InvalidInput

CI_DESCRIPTION = (
    "Boot a disposable Vagrant VM (libvirt) with a full kernel, provision it with playbooks/provision.yml through "
    "ansible-runner, run `netlab run LAB --junit` inside for each LAB, copy the JUnit and JSON reports to --out, "
    "and destroy the VM. Without --box the offline box of scripts/vagrant-box is built (or reused from its cache) "
    "from Debian packages: no download from Vagrant Cloud. Every step has a time limit; after success, failure, "
    "a limit or Ctrl-C/SIGTERM nothing of the run is left in libvirt (domain, volumes, management network). "
    "Exit 0 only if every lab passed.")


def _say(line: str) -> None:
    sys.stderr.write(f"netlab vagrant: {line}\n")
    sys.stderr.flush()


def cmd_vagrant(args: argparse.Namespace) -> int:
    if args.action == "render":
        return _render(args)
    return _ci(args)


def _render(args: argparse.Namespace) -> int:
    from netlab.vagrant.vagrantfile import VagrantConfig, render

    vms = tuple(f"netlab{i}" for i in range(1, args.vms + 1)) if args.vms > 1 else ("netlab",)
    driver = "kvm" if args.driver == "auto" else args.driver
    config = VagrantConfig(vms=vms, box=args.box or "debian/bookworm64", provider=args.provider, cpus=args.cpus,
                           memory=args.memory, libvirt_driver=driver)
    if args.box_env:
        from dataclasses import replace

        from netlab.vagrant.ci import read_box_env

        # the offline box of scripts/vagrant-box: `vagrant up` adds it from its file; it boots by direct kernel boot
        env = read_box_env(Path(args.box_env))
        config = replace(config, box=env["BOX_NAME"], box_url="file://" + env["BOX_PATH"], kernel=env["KERNEL"],
                         initrd=env["INITRD"], cmd_line=env["CMDLINE"], provider="libvirt")
    text = render(config)
    if args.output in (None, "-"):
        sys.stdout.write(text)
    else:
        Path(args.output).write_text(text)
    return 0


def _ci(args: argparse.Namespace) -> int:
    from netlab.naming import HOST_NAME, is_node_name
    from netlab.vagrant.ci import CiOptions, run_ci

    if not args.labs and not args.multihost:
        raise InvalidInput(message="netlab vagrant ci needs at least one lab\n    hint: netlab vagrant ci dr-mode")
    place = []
    for item in args.place:
        node, sep, vm = item.partition("=")
        if not sep or not is_node_name(node) or not HOST_NAME.fullmatch(vm):
            raise InvalidInput(message=f"--place {item!r}: write NODE=VM (director=netlab1)")
        place.append((node, vm))
    report = run_ci(CiOptions(labs=tuple(args.labs), out=Path(args.out), box=args.box, driver=args.driver,
                              cpus=args.cpus, memory=args.memory, idempotent=args.idempotent, keep=args.keep,
                              vms=args.vms, multihost=tuple(args.multihost), place=tuple(place)),
                    _say)
    if args.json:
        import json
        from dataclasses import asdict

        print(json.dumps(asdict(report), indent=1))
    else:
        width = max(len(str(s["step"])) for s in report.steps)
        for s in report.steps:
            print(f"{s['step']:<{width}}  {s['seconds']:>7} s  {'ok' if s['rc'] == 0 else 'rc ' + str(s['rc'])}")
        for lab, rc in report.labs.items():
            print(f"lab {lab}: {'passed' if rc == 0 else f'failed (exit {rc})'}")
        for item in report.leftovers:
            print(f"LEFT BEHIND: {item}")
    return 0 if report.passed else 1


def register(verb: Callable[..., Any]) -> None:
    p = verb("vagrant", cmd_vagrant, "a Vagrant VM for learners, and CI that runs the labs inside one",
             __doc__.split("\n\n", 1)[0] if __doc__ else None)
    sub = p.add_subparsers(dest="action", metavar="ACTION", required=True)

    def common(q: argparse.ArgumentParser) -> None:
        q.add_argument("--box", help="a box name Vagrant can fetch (default for render: debian/bookworm64; for ci: "
                                     "the offline box of scripts/vagrant-box)")
        q.add_argument("--driver", choices=["auto", "kvm", "qemu"], default="auto",
                       help="libvirt domain type; auto: kvm only if a KVM guest really boots here, else qemu (TCG)")
        q.add_argument("--cpus", type=int, default=2)
        q.add_argument("--memory", type=int, default=2048, help="MiB")

    r = sub.add_parser("render", help="print the Vagrantfile (from vagrant/Vagrantfile.j2)",
                       formatter_class=HelpFormatter,
                       description="Render vagrant/Vagrantfile.j2: the file `vagrant up` reads in vagrant/.")
    common(r)
    r.add_argument("-o", "--output", help="file (default: stdout)")
    r.add_argument("--vms", type=int, default=1, help="how many VMs (netlab1, netlab2, …)")
    r.add_argument("--provider", choices=["libvirt", "virtualbox"], default="libvirt")
    r.add_argument("--box-env", metavar="FILE", help="use the offline box scripts/vagrant-box built (its box.env, "
                   "printed next to the .box): no download from Vagrant Cloud; libvirt only")

    c = sub.add_parser("ci", help="labs inside a disposable VM; JUnit back; nothing left", description=CI_DESCRIPTION,
                       formatter_class=HelpFormatter)
    common(c)
    c.add_argument("labs", nargs="*", metavar="LAB", help="catalog labs to run inside")
    c.add_argument("--out", "--junit", default="vagrant-ci", help="directory for the reports and logs")
    c.add_argument("--idempotent", action="store_true",
                   help="provision twice; fail if the second run changes anything")
    c.add_argument("--keep", action="store_true", help="leave the VM up (debugging; `vagrant destroy` it yourself)")
    c.add_argument("--json", action="store_true", help="the report as JSON")
    c.add_argument("--vms", type=int, default=1, help="how many VMs (netlab1, netlab2, …; LABs run in the first)")
    c.add_argument("--multihost", action="append", default=[], metavar="LAB",
                   help="spread LAB over all the VMs (netlab up --hosts from here; repeatable)")
    c.add_argument("--place", action="append", default=[], metavar="NODE=VM",
                   help="put NODE of the --multihost labs on VM (netlab1…; repeatable; else spread)")
