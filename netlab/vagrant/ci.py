"""``netlab vagrant ci``: a disposable VM that runs the labs in a full kernel, its reports brought back.

The steps, each with a time limit: box (the given one, or the offline box ``scripts/vagrant-box`` builds and
caches), ``vagrant up`` without provisioning, provisioning through ansible-runner (twice with ``--idempotent``:
the second run must change nothing), ``netlab run LAB --junit`` inside per lab, reports copied back, destroy.

Nothing of netlab's is left behind after success, failure, a time limit or Ctrl-C: the VM is destroyed in a
``finally``, the run's names carry its own id (domain prefix, management network, box volume), and what
vagrant-libvirt leaves after ``destroy`` (the box's base volume, the management network) is removed by those
names -- never by a pattern that could match someone else's VM. A leftover that cannot be removed is
reported with the command that removes it.
"""

from __future__ import annotations

import json
import os
import secrets
import shlex
import shutil
import subprocess
import time
from collections.abc import Callable
from dataclasses import asdict, field
from pathlib import Path

from netlab.core.frozen import frozen
from netlab.errors import InvalidInput, NetlabError
from netlab.interrupts import sigterm_as_interrupt
from netlab.kernel import tools
from netlab.naming import checked_lab_name
from netlab.vagrant.provision import Provisioned, SshTarget, parse_ssh_config, provision
from netlab.vagrant.steps import StepFailed, Steps
from netlab.vagrant.vagrantfile import VagrantConfig, render, source_dir

__all__ = ["CiOptions", "CiReport", "Limits", "leftovers", "read_box_env", "run_ci"]

REPORTS_IN_GUEST = "/var/tmp/netlab-ci"
BOX_ENV_KEYS = ("BOX_NAME", "BOX_PATH", "KERNEL", "INITRD", "CMDLINE")


@frozen
class Limits:
    """Seconds per step; TCG needs the generous ones (boot ≈ 3 min, a provisioning task 6-30 s)."""

    box: int = 1800
    up: int = 1200
    provision: int = 1800
    lab: int = 900
    fetch: int = 120
    destroy: int = 300


@frozen
class CiOptions:
    labs: tuple[str, ...]
    out: Path
    box: str | None = None
    """A box name Vagrant can fetch (``debian/bookworm64``); None builds/reuses the offline box."""
    driver: str = "auto"
    cpus: int = 2
    memory: int = 2048
    idempotent: bool = False
    keep: bool = False
    limits: Limits = field(default_factory=Limits)
    vms: int = 1
    multihost: tuple[str, ...] = ()
    """Labs spread over all the VMs (netlab up --hosts from here, the VMs' management network as underlay)."""
    place: tuple[tuple[str, str], ...] = ()
    """(node, VM) placements for the spread labs (the inventory's netlab_nodes)."""


@frozen
class CiReport:
    run_id: str
    steps: list[dict[str, object]]
    labs: dict[str, int]
    provisioning: list[dict[str, object]]
    leftovers: list[str]

    @property
    def passed(self) -> bool:
        return bool(self.labs) and all(rc == 0 for rc in self.labs.values()) and not self.leftovers


def read_box_env(path: Path) -> dict[str, str]:
    """``box.env`` of ``scripts/vagrant-box``: KEY=value lines, only the known keys, every path absolute."""
    values: dict[str, str] = {}
    for line in path.read_text().splitlines():
        key, sep, value = line.partition("=")
        if sep and key in BOX_ENV_KEYS:
            values[key] = value.strip().strip("'\"")
    missing = [k for k in BOX_ENV_KEYS if k not in values]
    bad = [k for k in ("BOX_PATH", "KERNEL", "INITRD") if k in values and not values[k].startswith("/")]
    if missing or bad:
        raise NetlabError(f"{path}: missing {missing} or not absolute {bad}; rebuild with scripts/vagrant-box --force")
    return values


def _driver(requested: str) -> str:
    """kvm only where a KVM guest really boots here (kvm-pvm opens /dev/kvm and hangs): decided by booting."""
    if requested != "auto":
        return requested
    from netlab.vm import VmBackend
    from netlab.vm.backends import backend
    from netlab.vm.choice import BootCache
    from netlab.vm.runner import check_backend

    if not os.path.exists("/dev/kvm"):
        return "qemu"
    record = check_backend(backend(VmBackend.KVM), BootCache())
    return "kvm" if record.boots else "qemu"


def _virsh(*args: str) -> list[str]:
    done = subprocess.run(["virsh", "-q", "-c", "qemu:///system", *args], capture_output=True, text=True,
                          timeout=60, check=False)
    return [ln.strip() for ln in done.stdout.splitlines() if ln.strip()] if done.returncode == 0 else []


def _volumes() -> set[str]:
    return {f"{pool}/{row.split()[0]}" for pool in _virsh("pool-list", "--all", "--name")
            for row in _virsh("vol-list", pool)}


def leftovers(run_id: str, box_prefix: str | None = None, before: frozenset[str] = frozenset()) -> list[str]:
    """What libvirt still holds of this run: domains, networks and volumes named after it, and the box's base
    volume this run's ``vagrant up`` uploaded (named after the box plus a timestamp; ``before`` are the ones of
    that box that existed already -- another run's, not ours to remove)."""
    found = [f"domain {d}" for d in _virsh("list", "--all", "--name") if run_id in d]
    found += [f"network {n}" for n in _virsh("net-list", "--all", "--name") if run_id in n]
    for vol in sorted(_volumes()):
        name = vol.split("/", 1)[1]
        if run_id in name or (box_prefix is not None and name.startswith(box_prefix) and vol not in before):
            found.append(f"volume {vol}")
    return found


def _remove_leftovers(run_id: str, box_prefix: str | None, before: frozenset[str]) -> None:
    for item in leftovers(run_id, box_prefix, before):
        kind, name = item.split(" ", 1)
        if kind == "domain":
            _virsh("destroy", name)
            _virsh("undefine", name, "--remove-all-storage")
        elif kind == "network":
            _virsh("net-destroy", name)
            _virsh("net-undefine", name)
        else:
            pool, vol = name.split("/", 1)
            _virsh("vol-delete", vol, "--pool", pool)


class _Run:
    """One CI run's names, directories and steps."""

    def __init__(self, options: CiOptions, say: Callable[[str], None]) -> None:
        self.options = options
        self.say = say
        self.run_id = "netlab-ci-" + secrets.token_hex(3)
        self.work = Path(os.environ.get("NETLAB_VAGRANT_WORK", "/var/tmp")) / self.run_id
        self.work.mkdir(parents=True, mode=0o700)
        self.steps = Steps(options.out / "logs", say)
        self.env = {**os.environ, "VAGRANT_CHECKPOINT_DISABLE": "1", "VAGRANT_BOX_UPDATE_CHECK_DISABLE": "1",
                    "VAGRANT_DEFAULT_PROVIDER": "libvirt", "VAGRANT_CWD": str(self.work)}
        if options.box is None:
            # the offline box is added to a Vagrant home of the run's own, and its base volume removed afterwards;
            # a public box stays in the user's (downloaded once, its base volume reused by the next run)
            self.env["VAGRANT_HOME"] = str(self.work / "vagrant.d")
        self.box_prefix: str | None = None
        self.volumes_before: frozenset[str] = frozenset()
        self.provisioning: list[Provisioned] = []
        self.labs: dict[str, int] = {}
        self.vm_names = tuple(f"netlab{i}" for i in range(1, options.vms + 1)) if options.vms > 1 else ("netlab",)

    def vagrant(self, name: str, *args: str, timeout: int, check: bool = True) -> str:
        return self.steps.run(name, ["vagrant", *args], timeout=timeout, cwd=self.work, env=self.env,
                              check=check).output

    def box(self) -> VagrantConfig:
        o = self.options
        start = time.monotonic()
        driver = _driver(o.driver)
        self.steps.record("driver", time.monotonic() - start, 0, driver)
        self.say(f"libvirt driver: {driver}" + (" (a KVM guest was booted to decide)" if o.driver == "auto" else ""))
        common = {"vms": self.vm_names, "cpus": o.cpus, "memory": o.memory, "libvirt_driver": driver,
                  "src_dir": str(source_dir()), "playbook": None, "management_network": self.run_id,
                  "default_prefix": self.run_id + "-", "console_log": str(o.out / "logs" / "console-%s.log")}
        if o.box is not None:
            return VagrantConfig(box=o.box, **common)  # type: ignore[arg-type]
        built = self.steps.run("box", ["bash", str(source_dir() / "scripts" / "vagrant-box")],
                               timeout=o.limits.box)
        box_file = Path(built.output.strip().splitlines()[-1])
        env = read_box_env(box_file.parent / "box.env")
        self.steps.run("box-add", ["vagrant", "box", "add", "--name", env["BOX_NAME"], str(box_file)],
                       timeout=o.limits.box, cwd=self.work, env=self.env)
        # vagrant-libvirt uploads the box as a base volume named after it (and the time it was added); it
        # outlives `destroy`
        self.box_prefix = env["BOX_NAME"].replace("/", "-VAGRANTSLASH-") + "_vagrant_box_image_"
        return VagrantConfig(box=env["BOX_NAME"], kernel=env["KERNEL"], initrd=env["INITRD"],
                             cmd_line=env["CMDLINE"], **common)  # type: ignore[arg-type]

    def up(self, config: VagrantConfig) -> None:
        (self.work / "Vagrantfile").write_text(render(config))
        self.volumes_before = frozenset(_volumes())
        self.vagrant("up", "up", "--no-provision", timeout=self.options.limits.up)

    def provision(self, which: str) -> Provisioned:
        targets = parse_ssh_config(self.vagrant("ssh-config", "ssh-config", timeout=120))
        result = provision(source_dir() / "playbooks" / "provision.yml", targets, self.work / f"runner-{which}",
                           self.say, timeout=self.options.limits.provision)
        self.provisioning.append(result)
        self.steps.record(f"provision-{which}", result.seconds, result.rc,
                          f"status {result.status}, changed {result.changed}, failed {result.failed}")
        self.say(f"provision ({which}): {result.status} in {result.seconds:.0f} s, changed {result.total_changed}")
        if result.status != "successful":
            raise StepFailed(f"provisioning ({which}) {result.status} (rc {result.rc}); the events are in "
                             f"{self.work / f'runner-{which}'}/artifacts")
        return result

    def run_labs(self) -> None:
        for lab in self.options.labs:
            xml, js = f"{REPORTS_IN_GUEST}/{lab}.xml", f"{REPORTS_IN_GUEST}/{lab}.json"
            inner = (f"sudo mkdir -p {REPORTS_IN_GUEST} && sudo netlab run {shlex.quote(lab)} --junit "
                     f"{shlex.quote(xml)} --json | sudo tee {shlex.quote(js)} >/dev/null")
            result = self.steps.run(f"lab-{lab}", ["vagrant", "ssh", self.vm_names[0], "-c", inner],
                                    timeout=self.options.limits.lab, cwd=self.work, env=self.env, check=False)
            self.labs[lab] = result.rc
            self.say(f"lab {lab}: {'passed' if result.rc == 0 else f'FAILED (exit {result.rc})'}")
            for path, suffix in ((xml, "xml"), (js, "json")):
                got = self.steps.run(f"fetch-{lab}-{suffix}", ["vagrant", "ssh", self.vm_names[0], "-c",
                                                               f"sudo cat {shlex.quote(path)}"],
                                     timeout=self.options.limits.fetch, cwd=self.work, env=self.env, check=False)
                if got.rc == 0:
                    (self.options.out / f"{lab}.{suffix}").write_text(got.output)

    def run_multihost(self) -> None:
        """Each spread lab: ``netlab run LAB --hosts`` from here over the VMs (reached as provisioning reaches them,
        the management network as underlay): up, probes, down; the reports in OUT/LAB.hosts.log and .xml."""
        import sys

        inventory = self.work / "hosts.yml"
        inventory.write_text(multihost_inventory(parse_ssh_config(self.vagrant("ssh-config", "ssh-config",
                                                                               timeout=120)), self.options.place))
        for lab in self.options.multihost:
            stem = Path(lab).stem
            done = self.steps.run(f"hosts-{stem}", [sys.executable, "-m", "netlab", "run", lab, "--hosts",
                                                    str(inventory), "--json", "--junit",
                                                    str(self.options.out / f"{stem}.hosts.xml")],
                                  timeout=self.options.limits.lab, check=False)
            (self.options.out / f"{stem}.hosts.log").write_text(done.output)  # the JSON report, and any warning
            self.labs[f"{lab}@{len(self.vm_names)}-hosts"] = done.rc
            self.say(f"lab {lab} over {len(self.vm_names)} VMs: "
                     f"{'passed' if done.rc == 0 else f'FAILED (exit {done.rc})'}")

    def destroy(self) -> list[str]:
        try:
            if (self.work / "Vagrantfile").exists():
                self.vagrant("destroy", "destroy", "-f", timeout=self.options.limits.destroy, check=False)
        finally:
            _remove_leftovers(self.run_id, self.box_prefix, self.volumes_before)
            left = leftovers(self.run_id, self.box_prefix, self.volumes_before)
            shutil.rmtree(self.work, ignore_errors=True)
        return left


def multihost_inventory(targets: list[SshTarget], place: tuple[tuple[str, str], ...] = ()) -> str:
    """The inventory of ``netlab up --hosts`` over the VMs: reached as provisioning reaches them (vagrant's key,
    become root), netlab where the provision playbook put it, the management address as underlay."""
    hosts: dict[str, dict[str, object]] = {}
    for t in targets:
        nodes = [node for node, vm in place if vm == t.name]
        hosts[t.name] = {"ansible_host": t.host, "ansible_port": t.port, "ansible_user": t.user,
                         "ansible_ssh_private_key_file": t.key, "netlab_underlay": t.host,
                         **({"netlab_nodes": nodes} if nodes else {})}
    data = {"all": {"vars": {"ansible_become": True, "netlab_command": "/opt/netlab/venv/bin/netlab",
                             "ansible_python_interpreter": "/usr/bin/python3",
                             "ansible_ssh_common_args": "-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null "
                                                        "-o IdentitiesOnly=yes"},
                    "hosts": hosts}}
    return json.dumps(data, indent=1) + "\n"  # JSON is YAML: no quoting to get wrong


def run_ci(options: CiOptions, say: Callable[[str], None]) -> CiReport:
    """The whole workflow; the report is also written to ``OUT/summary.json``."""
    for lab in options.labs:
        checked_lab_name(lab, "netlab vagrant ci")
    if options.multihost and options.vms < 2:
        raise InvalidInput(message="--multihost spreads a lab over the VMs: it needs --vms 2 or more")
    if not options.labs and not options.multihost:
        raise InvalidInput(message="netlab vagrant ci needs at least one lab\n    hint: netlab vagrant ci dr-mode")
    tools.require("vagrant", "netlab vagrant ci drives Vagrant (scripts/install-vagrant-deps installs it)")
    tools.require("virsh", "netlab vagrant ci checks libvirt for what a run leaves")
    options.out.mkdir(parents=True, exist_ok=True)
    run = _Run(options, say)
    left: list[str] = []
    error: BaseException | None = None
    start = time.monotonic()
    with sigterm_as_interrupt():
        try:
            config = run.box()
            run.up(config)
            run.provision("first")
            if options.idempotent:
                second = run.provision("second")
                if second.total_changed:
                    raise StepFailed(f"the second provisioning changed {second.changed}: the playbook is not "
                                     "idempotent")
            run.run_labs()
            run.run_multihost()
        except BaseException as exc:  # reported after the cleanup, which must run whatever happened
            error = exc
        finally:
            if not options.keep:
                left = run.destroy()
    report = CiReport(run.run_id, [{"step": r.name, "seconds": r.seconds, "rc": r.rc} for r in run.steps.results]
                      + [{"step": "total", "seconds": round(time.monotonic() - start, 1), "rc": 0}],
                      run.labs, [asdict(p) for p in run.provisioning], left)
    (options.out / "summary.json").write_text(json.dumps(asdict(report), indent=1))
    if error is not None:
        raise error
    return report
