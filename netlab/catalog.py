"""The lab catalog: topology files that ship with netlab, found by name.

In a source checkout the catalog is the repository's ``topologies/`` folder; in an installed wheel
the same files are packaged as ``netlab/topologies/``. ``netlab up routed`` means the catalog lab;
anything that looks like a path (has a ``/`` or ends in ``.yml``/``.yaml``) is a file.
"""

from __future__ import annotations

from pathlib import Path

MAX_FILE_BYTES = 10 * 1024 * 1024
"""A topology file is read only up to this size (a symlink to /dev/zero never ends); netlab.stages.load says
what is wrong with a larger one."""


def catalog_dir() -> Path:
    packaged = Path(__file__).parent / "topologies"
    if packaged.is_dir():
        return packaged
    return Path(__file__).resolve().parent.parent / "topologies"


def looks_like_path(ref: str) -> bool:
    return "/" in ref or ref.endswith((".yml", ".yaml"))


def find(ref: str) -> Path | None:
    """The file a lab reference names: a path, or a catalog name. None if neither exists."""
    if looks_like_path(ref):
        return Path(ref)
    candidate = catalog_dir() / f"{ref}.yml"
    if candidate.is_file():
        return candidate
    if Path(ref).is_file():
        return Path(ref)
    return None


def names() -> list[str]:
    return sorted(p.stem for p in catalog_dir().glob("*.yml"))


def summary(path: Path) -> dict[str, object]:
    """Name, one-line description and declared requirements of a lab file, without validating it.

    Whatever the file holds (a list, a scalar, broken YAML), this answers with what it can; the name is
    the caller's to check (netlab.naming), since it becomes a state path; it is None when the file is not
    a mapping at all.
    """
    import yaml

    try:
        data = yaml.load(path.read_text(encoding="utf-8"), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    except (OSError, UnicodeDecodeError, yaml.YAMLError, RecursionError):
        data = None
    if not isinstance(data, dict):
        return {"name": None, "file": str(path), "summary": "", "description": "", "requires": []}
    description = str(data.get("description") or "").strip()
    requires = data.get("requires")
    return {"name": data.get("name", path.stem), "file": str(path),
            "summary": description.splitlines()[0] if description else "",
            "description": description, "requires": list(requires) if isinstance(requires, list) else []}

