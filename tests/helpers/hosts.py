"""Namespace-hosts: stand-ins for machines on one kernel, for the multi-host tests.

A host is a network namespace with a mount namespace of its own, held by a ``sleep`` that runs in both: its own
``/run/netns`` and ``/run/netlab`` (tmpfs), so the namespaces a host's netlab makes are invisible to the others,
as on separate machines. Hosts are joined by an underlay: a bridge in a namespace of its own, one veth per host
(192.0.2.N/24). Code runs "on" a host in a forked child that joins its network and mount namespaces.
"""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from netlab.kernel.netns import CLONE_NEWNET, CLONE_NEWNS, setns

UNDERLAY = "netlab-test-underlay"


def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True)


@dataclass
class NamespaceHost:
    name: str
    address: str
    holder: subprocess.Popen[bytes] | None = None
    sshd: subprocess.Popen[bytes] | None = None

    @property
    def netns(self) -> str:
        return f"netlab-test-host-{self.name}"

    def start(self, index: int) -> None:
        _ip("netns", "add", self.netns)
        _ip("-n", self.netns, "link", "set", "lo", "up")
        _ip("link", "add", "uplink", "netns", self.netns, "type", "veth", "peer", f"to-{self.name}",
            "netns", UNDERLAY)
        _ip("-n", UNDERLAY, "link", "set", f"to-{self.name}", "master", "br0", "up")
        _ip("-n", self.netns, "address", "add", f"{self.address}/24", "dev", "uplink")
        _ip("-n", self.netns, "link", "set", "uplink", "up")
        script = ("mount -t tmpfs -o mode=755 netlab-host /run/netns && mkdir -p /run/netlab && "
                  "mount -t tmpfs -o mode=755 netlab-host /run/netlab && touch /run/netlab/.host-ready && "
                  "exec sleep infinity")
        self.holder = subprocess.Popen(["ip", "netns", "exec", self.netns, "unshare", "--mount",
                                        "--propagation", "private", "sh", "-c", script])
        deadline = time.monotonic() + 10
        while not os.path.exists(f"/proc/{self.holder.pid}/root/run/netlab/.host-ready"):
            assert time.monotonic() < deadline, f"host {self.name} did not start"
            time.sleep(0.02)

    @property
    def pid(self) -> int:
        """The holder's pid: ``ip netns exec`` execs unshare, which execs sh, which execs sleep -- one process."""
        assert self.holder is not None
        return self.holder.pid

    def call(self, function: Callable[[], int]) -> int:
        """Run ``function`` in a forked child on this host (its network and mount namespaces); its exit code."""
        net = os.open(f"/proc/{self.pid}/ns/net", os.O_RDONLY)
        mnt = os.open(f"/proc/{self.pid}/ns/mnt", os.O_RDONLY)
        pid = os.fork()
        if pid == 0:
            code = 1
            try:
                setns(net, CLONE_NEWNET)
                setns(mnt, CLONE_NEWNS)
                os.chdir("/")
                code = function()
            except BaseException:
                import traceback

                traceback.print_exc()
            finally:
                os._exit(code)
        os.close(net)
        os.close(mnt)
        return os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])

    def run(self, *argv: str, timeout: float = 30) -> subprocess.CompletedProcess[str]:
        """A command on this host."""
        return subprocess.run(["nsenter", f"--target={self.pid}", "--net", "--mount", "--", *argv],
                              capture_output=True, text=True, timeout=timeout, check=False)

    def start_sshd(self, directory: Path, authorized_key: str) -> None:
        """An sshd on the host's underlay address, root by key only (what Ansible reaches it with)."""
        directory.mkdir(parents=True, exist_ok=True)
        key = directory / f"{self.name}-hostkey"
        if not key.exists():
            subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True)
        (directory / "authorized_keys").write_text(authorized_key)
        config = directory / f"{self.name}-sshd_config"
        config.write_text(f"ListenAddress {self.address}\nHostKey {key}\nPidFile none\n"
                          f"AuthorizedKeysFile {directory / 'authorized_keys'}\nStrictModes no\n"
                          "PermitRootLogin prohibit-password\nUsePAM no\nPasswordAuthentication no\n"
                          "KbdInteractiveAuthentication no\nSubsystem sftp internal-sftp\n")
        os.makedirs("/run/sshd", mode=0o755, exist_ok=True)  # sshd's privilege separation directory
        self.sshd = subprocess.Popen(["nsenter", f"--target={self.pid}", "--net", "--mount", "--",
                                      "/usr/sbin/sshd", "-D", "-e", "-f", str(config)],
                                     stderr=open(directory / f"{self.name}-sshd.log", "w"))  # noqa: SIM115
        deadline = time.monotonic() + 10
        while ":22 " not in self.run("ss", "-Hltn").stdout:
            assert self.sshd.poll() is None and time.monotonic() < deadline, f"sshd of {self.name} did not start"
            time.sleep(0.05)

    def stop_sshd(self) -> None:
        if self.sshd is not None:
            self.sshd.kill()
            self.sshd.wait()
            self.sshd = None

    def stop(self) -> None:
        """Everything that runs on the host goes (what a failed test's `down` did not stop: its services live in
        the host's mount namespace), then the host."""
        self.stop_sshd()
        if self.holder is not None:
            mnt = os.stat(f"/proc/{self.pid}/ns/mnt").st_ino
            for entry in os.scandir("/proc"):
                if entry.name.isdigit() and int(entry.name) != self.pid:
                    try:
                        if os.stat(f"/proc/{entry.name}/ns/mnt").st_ino == mnt:
                            os.kill(int(entry.name), 9)
                    except OSError:
                        pass
            self.holder.kill()
            self.holder.wait()
        subprocess.run(["ip", "netns", "del", self.netns], capture_output=True, check=False)


@contextmanager
def namespace_hosts(count: int, controller: bool = False) -> Iterator[list[NamespaceHost]]:
    """``count`` hosts h1..hN at 192.0.2.1..N on one underlay bridge; all removed afterwards. ``controller``:
    this namespace joins the underlay too, as 192.0.2.254 (what Ansible connects from)."""
    _ip("netns", "add", UNDERLAY)
    hosts = [NamespaceHost(f"h{i + 1}", f"192.0.2.{i + 1}") for i in range(count)]
    try:
        _ip("-n", UNDERLAY, "link", "add", "br0", "type", "bridge")
        _ip("-n", UNDERLAY, "link", "set", "br0", "up")
        if controller:
            _ip("link", "add", "netlab-ctl", "type", "veth", "peer", "to-ctl", "netns", UNDERLAY)
            _ip("-n", UNDERLAY, "link", "set", "to-ctl", "master", "br0", "up")
            _ip("address", "add", "192.0.2.254/24", "dev", "netlab-ctl")
            _ip("link", "set", "netlab-ctl", "up")
        for i, host in enumerate(hosts):
            host.start(i)
        yield hosts
    finally:
        for host in hosts:
            host.stop()
        subprocess.run(["ip", "netns", "del", UNDERLAY], capture_output=True, check=False)
        subprocess.run(["ip", "link", "del", "netlab-ctl"], capture_output=True, check=False)
