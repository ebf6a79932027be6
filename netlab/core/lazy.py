"""Two standard modules imported without a dependency they almost never use.

* ``dataclasses`` (which ``@frozen`` builds on) imports ``inspect`` at its top for one call -- ``inspect.signature``,
  to write a docstring for a class that has none. ``@frozen`` gives every class its docstring first, so netlab never
  makes that call; ``inspect`` is ≈ 14 ms of imports (ast, dis, tokenize, linecache).
* ``pathlib`` imports ``urllib.parse`` (≈ 5 ms with ipaddress) for ``Path.as_uri()`` alone.

Every command paid both: a tenth of a cached ``netlab up``, more of ``netlab down``.

How: while ``dataclasses`` (``pathlib``) is imported, ``sys.modules`` holds a stand-in for ``inspect``
(``urllib.parse``) whose attributes are the real module's, imported at the first one used; the stand-in is taken
out of ``sys.modules`` right after. Only that one module's own name refers to it -- anyone else's ``import inspect``
gets the real module, and ``Path.as_uri()`` or a class without a docstring gets the real function the day it is
called. (``importlib.util.LazyLoader`` cannot do this on Python 3.11: an ``import`` statement of a module already in
``sys.modules`` reads its ``__spec__``, which loads it.) Where either module is imported already, nothing changes.
"""

from __future__ import annotations

import importlib
import sys
import types
from collections.abc import Callable
from typing import Any

__all__ = ["import_sparing"]


class _StandIn(types.ModuleType):
    """A module whose every attribute is the real module's of the same name, imported on first use."""

    def __getattr__(self, attr: str) -> Any:
        if attr.startswith("__"):  # what the import system asks of a module (``__path__``...): not the real one's
            raise AttributeError(attr)
        if sys.modules.get(self.__name__) is self:  # asked while the module that imports it is still importing
            del sys.modules[self.__name__]
        return getattr(importlib.import_module(self.__name__), attr)


def _forwarder(module: str, name: str) -> Callable[..., Any]:
    """A function a ``from module import name`` may bind: it calls the real one, imported on first call."""
    def forward(*args: Any, **kwargs: Any) -> Any:
        return getattr(importlib.import_module(module), name)(*args, **kwargs)

    forward.__name__ = forward.__qualname__ = name
    return forward


def import_sparing(module: str, spared: str, from_names: tuple[str, ...] = ()) -> None:
    """Import ``module`` with ``spared`` (which it imports, and ``from_names`` of which it binds with a
    ``from`` import) imported only when first used."""
    if module in sys.modules or spared in sys.modules:
        return
    stand_in = _StandIn(spared)
    for name in from_names:
        setattr(stand_in, name, _forwarder(spared, name))
    sys.modules[spared] = stand_in
    try:
        importlib.import_module(module)
    finally:
        if sys.modules.get(spared) is stand_in:
            del sys.modules[spared]
