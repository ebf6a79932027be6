"""``Lab.load(name_suffix=...)`` and the pytest plugin's choice of suffix, without root.

A suffix exists so that one lab file can be up twice at once (two pytest-xdist workers, two CI jobs on
one machine): every kernel name and the state file derive from the lab name, so the renamed lab must
differ in all of them, and a suffix that makes a name the kernel or the state directory cannot take
must fail exactly as such a name written in the file does.
"""

from __future__ import annotations

import pytest

from netlab.api import Lab
from netlab.errors import InvalidInput
from netlab.model.plan import CreateNetns
from netlab.naming import LAB_NAME_RULE
from netlab.pytest_plugin import name_suffix
from tests.helpers import CATALOG, problems


def test_without_a_suffix_the_lab_keeps_its_name() -> None:
    assert Lab.load("routed").name == "routed"


def test_a_suffix_renames_the_lab_and_every_namespace_it_makes() -> None:
    lab = Lab.load("routed", name_suffix="gw0")
    assert lab.name == lab.topology.name == "routed-gw0"
    assert lab.resolved.namespaces == ("nl-routed-gw0.client", "nl-routed-gw0.router", "nl-routed-gw0.server")
    assert [a.netns for a in lab.plan().actions if isinstance(a, CreateNetns)] == list(lab.resolved.namespaces)


def test_two_suffixes_of_one_lab_share_no_kernel_name() -> None:
    a, b = Lab.load("routed", name_suffix="gw0").plan(), Lab.load("routed", name_suffix="gw1").plan()
    assert set(a.namespaces).isdisjoint(b.namespaces)
    assert a.to_json().replace("routed-gw0", "routed-gw1") == b.to_json()  # otherwise the same lab


def test_a_suffix_that_makes_a_bad_name_fails_like_the_name_written_in_the_file() -> None:
    with pytest.raises(InvalidInput) as info:
        Lab.load("routed", name_suffix="GW0")
    (diag,) = info.value.diagnostics
    written = (CATALOG / "routed.yml").read_text().replace("name: routed", "name: routed-GW0", 1)
    (same,) = problems(written, diag.file)
    assert (diag.line, diag.path, diag.message, diag.hint) == (1, "name", "lab name 'routed-GW0' cannot be used",
                                                               LAB_NAME_RULE)
    assert diag == same


def test_a_suffix_past_the_length_limit_fails_at_the_name_line() -> None:
    assert len("iptables-chains-gw000001") == 24
    assert Lab.load("iptables-chains", name_suffix="gw000001").name == "iptables-chains-gw000001"
    with pytest.raises(InvalidInput) as info:
        Lab.load("iptables-chains", name_suffix="gw0000012")
    (diag,) = info.value.diagnostics
    assert (diag.line, diag.path) == (1, "name") and "1-24 characters" in (diag.hint or "")


class Config:
    """What ``name_suffix`` reads of a ``pytest.Config``: the option and the ini value."""

    def __init__(self, option: str | None = None, ini: str = "") -> None:
        self.option, self.ini = option, ini

    def getoption(self, name: str, default: object = None) -> object:
        assert name == "--netlab-suffix"
        return self.option

    def getini(self, name: str) -> object:
        assert name == "netlab_suffix"
        return self.ini


@pytest.mark.parametrize(("option", "ini", "worker", "expected"), [
    (None, "", None, None),
    (None, "", "gw3", "gw3"),
    ("ci7", "", None, "ci7"),
    (None, "ci7", None, "ci7"),
    ("cli", "ini", None, "cli"),
    ("ci7", "", "gw3", "ci7-gw3"),
])
def test_the_plugin_suffix_is_the_option_or_ini_then_the_xdist_worker(
        option: str | None, ini: str, worker: str | None, expected: str | None,
        monkeypatch: pytest.MonkeyPatch) -> None:
    if worker is None:
        monkeypatch.delenv("PYTEST_XDIST_WORKER", raising=False)
    else:
        monkeypatch.setenv("PYTEST_XDIST_WORKER", worker)
    assert name_suffix(Config(option, ini)) == expected  # type: ignore[arg-type]
