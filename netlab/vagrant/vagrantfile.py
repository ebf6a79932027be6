"""The Vagrantfile, rendered from ``vagrant/Vagrantfile.j2`` with validated settings.

Why a template and not a Ruby file with environment lookups: the file a learner reads is the file Vagrant
runs -- no ``ENV[...]`` indirection -- and CI renders its own copy (VM count, the offline box, TCG) next to
the run's private state without touching the repository's. Every value that reaches Ruby is validated here
with ``fullmatch`` and emitted as a JSON string (a valid Ruby literal), so a name cannot break out of it.
"""

from __future__ import annotations

import re
from dataclasses import asdict
from pathlib import Path

from netlab.core.frozen import frozen
from netlab.errors import InvalidInput

__all__ = ["VagrantConfig", "render", "source_dir"]

_NAME = re.compile(r"[a-z][a-z0-9-]{0,30}")
_BOX = re.compile(r"[A-Za-z0-9][A-Za-z0-9._/-]{0,100}")
_CMDLINE = re.compile(r"[A-Za-z0-9_.,:=/ -]{0,400}")


def source_dir() -> Path:
    """The checkout netlab runs from: the VM gets this tree (rsync) and provisions from its playbooks."""
    return Path(__file__).resolve().parents[2]


@frozen
class VagrantConfig:
    """What varies between a learner's VM and a CI run's (see the template's header for each field)."""

    vms: tuple[str, ...] = ("netlab",)
    box: str = "debian/bookworm64"
    box_url: str | None = None
    provider: str = "libvirt"
    cpus: int = 2
    memory: int = 2048
    libvirt_driver: str = "kvm"
    kernel: str | None = None
    initrd: str | None = None
    cmd_line: str = ""
    console_log: str | None = None
    """Host path of each VM's serial console log, ``%s`` standing for the VM's name (one file per VM)."""
    boot_timeout: int = 600
    src_dir: str = ".."
    playbook: str | None = "../playbooks/provision.yml"
    management_network: str | None = None
    """A libvirt management network of netlab's own (name and /24), so cleanup never touches another's."""
    management_subnet: str | None = None
    default_prefix: str = ""
    """libvirt's domain-name prefix: CI puts its run id there, so its domain is found (and removed) by name."""

    def problems(self) -> list[str]:
        out = []
        if not self.vms or len(set(self.vms)) != len(self.vms):
            out.append(f"vms: {list(self.vms)} must be one or more distinct names")
        out += [f"vms: {v!r} is not a VM name (a-z, 0-9, -; starts with a letter)"
                for v in self.vms if not _NAME.fullmatch(v)]
        if not _BOX.fullmatch(self.box):
            out.append(f"box: {self.box!r} is not a box name")
        if self.provider not in ("libvirt", "virtualbox"):
            out.append(f"provider: {self.provider!r} is not libvirt or virtualbox")
        if self.libvirt_driver not in ("kvm", "qemu"):
            out.append(f"libvirt_driver: {self.libvirt_driver!r} is not kvm or qemu")
        if not 1 <= self.cpus <= 64:
            out.append(f"cpus: {self.cpus} is not 1-64")
        if not 512 <= self.memory <= 262144:
            out.append(f"memory: {self.memory} MiB is not 512-262144")
        if not _CMDLINE.fullmatch(self.cmd_line):
            out.append(f"cmd_line: {self.cmd_line!r} has characters a kernel command line here never needs")
        if self.default_prefix and not re.fullmatch(r"[a-z][a-z0-9-]{0,40}", self.default_prefix):
            out.append(f"default_prefix: {self.default_prefix!r} is not a domain-name prefix")
        if self.management_network is not None and not _NAME.fullmatch(self.management_network):
            out.append(f"management_network: {self.management_network!r} is not a network name")
        if self.management_subnet is not None and not re.fullmatch(r"(\d{1,3}\.){3}0/24", self.management_subnet):
            out.append(f"management_subnet: {self.management_subnet!r} is not an IPv4 /24 (a.b.c.0/24)")
        return out


def render(config: VagrantConfig, template: Path | None = None) -> str:
    """The Vagrantfile text. Raises InvalidInput with every problem at once."""
    problems = config.problems()
    if problems:
        raise InvalidInput(message="the Vagrant settings are not valid:\n" + "\n".join(f"    {p}" for p in problems))
    import jinja2

    path = template if template is not None else source_dir() / "vagrant" / "Vagrantfile.j2"
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(path.parent)), undefined=jinja2.StrictUndefined,
                             keep_trailing_newline=True, autoescape=False)
    values = {k: (list(v) if isinstance(v, tuple) else v) for k, v in asdict(config).items()}
    return env.get_template(path.name).render(**values)
