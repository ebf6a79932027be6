"""Provisioning through ansible-runner: ``playbooks/provision.yml`` against the VMs ``vagrant ssh-config`` names.

Why ansible-runner and not ``vagrant provision``: the result comes back as data -- status, rc and per-host
stats (ok/changed/failed) -- which is how CI proves the second run changes nothing, and its events arrive
one by one, shown as progress (a task under TCG takes 6-30 s; silence for minutes looks like a hang). The
same playbook still runs from Vagrant's own ansible provisioner for a learner's ``vagrant up``.

Ansible is kept thin: ansible-core and ansible-runner pinned in pyproject's ``vagrant`` extra, no
collections, pipelining on (halves the time per task under TCG).
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Mapping
from dataclasses import field
from pathlib import Path
from typing import Any

from netlab.core.frozen import frozen
from netlab.errors import MissingTool, NetlabError

__all__ = ["Provisioned", "SshTarget", "inventory", "parse_ssh_config", "provision"]

_HOST = re.compile(r"[a-z][a-z0-9-]{0,30}")
_ADDR = re.compile(r"[A-Za-z0-9.:-]{1,253}")


@frozen
class SshTarget:
    """How to reach one VM, from ``vagrant ssh-config``."""

    name: str
    host: str
    port: int
    user: str
    key: str


@frozen
class Provisioned:
    status: str
    rc: int
    seconds: float
    changed: dict[str, int] = field(default_factory=dict)
    ok: dict[str, int] = field(default_factory=dict)
    failed: dict[str, int] = field(default_factory=dict)
    unreachable: dict[str, int] = field(default_factory=dict)

    @property
    def total_changed(self) -> int:
        return sum(self.changed.values())


def parse_ssh_config(text: str) -> list[SshTarget]:
    """The ``Host`` blocks of ``vagrant ssh-config``; every value checked, since it ends up in an inventory."""
    targets: list[SshTarget] = []
    block: dict[str, str] = {}

    def flush() -> None:
        if not block:
            return
        name, host = block.get("host", ""), block.get("hostname", "")
        port, user, key = block.get("port", "22"), block.get("user", ""), block.get("identityfile", "")
        key = key.strip('"')
        if not (_HOST.fullmatch(name) and _ADDR.fullmatch(host) and port.isdigit() and _HOST.fullmatch(user)
                and key.startswith("/")):
            raise NetlabError(f"vagrant ssh-config gave an entry netlab does not trust: {block}")
        targets.append(SshTarget(name, host, int(port), user, key))

    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        key, _, value = line.partition(" ")
        if key.lower() == "host":
            flush()
            block = {}
        block[key.lower()] = value.strip()
    flush()
    return targets


def inventory(targets: list[SshTarget]) -> dict[str, Any]:
    """An Ansible inventory (as data: no INI quoting to get wrong) for the VMs."""
    hosts = {t.name: {"ansible_host": t.host, "ansible_port": t.port, "ansible_user": t.user,
                      "ansible_ssh_private_key_file": t.key,
                      "ansible_ssh_common_args": "-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null"
                                                 " -o IdentitiesOnly=yes"}
             for t in targets}
    return {"all": {"hosts": hosts}}


def _progress(say: Callable[[str], None]) -> Callable[[Mapping[str, Any]], bool]:
    started = time.monotonic()

    def handler(event: Mapping[str, Any]) -> bool:
        kind = event.get("event", "")
        data = event.get("event_data") or {}
        at = f"{time.monotonic() - started:6.0f} s"
        if kind == "playbook_on_task_start":
            say(f"{at}  task: {data.get('task', '?')}")
        elif kind in ("runner_on_failed", "runner_on_unreachable") and not data.get("ignore_errors"):
            result = data.get("res") or {}
            say(f"{at}  {data.get('host', '?')}: {kind.removeprefix('runner_on_')}: "
                f"{result.get('msg') or result.get('stderr') or ''}".rstrip())
        return True  # keep the event in the artifacts

    return handler


def provision(playbook: Path, targets: list[SshTarget], work: Path, say: Callable[[str], None], *,
              timeout: int = 1800, extravars: Mapping[str, Any] | None = None) -> Provisioned:
    """Run ``playbook`` on ``targets`` through ansible-runner; the caller decides what a failure means."""
    try:
        import ansible_runner
    except ImportError as exc:
        raise MissingTool("ansible-runner is not installed\n    hint: pip install 'netlab[vagrant]' "
                          "(ansible-runner and ansible-core, pinned)") from exc
    work.mkdir(parents=True, exist_ok=True)
    start = time.monotonic()
    runner = ansible_runner.run(
        private_data_dir=str(work), playbook=str(playbook.resolve()), inventory=inventory(targets),
        extravars=dict(extravars or {}), quiet=True, timeout=timeout, event_handler=_progress(say),
        envvars={"ANSIBLE_PIPELINING": "True", "ANSIBLE_HOST_KEY_CHECKING": "False",
                 "ANSIBLE_RETRY_FILES_ENABLED": "False", "ANSIBLE_NOCOLOR": "True"},
    )
    stats = runner.stats or {}

    def per_host(key: str) -> dict[str, int]:
        return {str(h): int(n) for h, n in (stats.get(key) or {}).items()}

    return Provisioned(status=str(runner.status), rc=int(runner.rc if runner.rc is not None else -1),
                       seconds=round(time.monotonic() - start, 1), changed=per_host("changed"), ok=per_host("ok"),
                       failed=per_host("failures"), unreachable=per_host("dark"))
