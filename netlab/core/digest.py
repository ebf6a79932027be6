"""SHA-256 without importing :mod:`hashlib`.

Why: ``import hashlib`` loads OpenSSL's binding (``_hashlib``) and costs ≈ 4.5 ms here, in every command that
hashes anything -- ``down`` checks the state's shape fingerprint, ``up`` keys its compiled-lab cache, ``list``
and ``probe`` (derived MACs) hash too -- against ≈ 0.3 ms for CPython's own SHA-256 module, which every build
of CPython has (``_sha256`` up to 3.11, ``_sha2`` from 3.12) and which hashlib itself falls back to. The
digests are the same bytes (tests/unit/test_digest.py compares them with hashlib's); where neither module
exists, hashlib is used.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol, cast

__all__ = ["Hash", "sha256"]


class Hash(Protocol):
    def update(self, data: bytes, /) -> None: ...

    def digest(self) -> bytes: ...

    def hexdigest(self) -> str: ...


def _constructor() -> Callable[..., Hash]:
    try:
        from _sha256 import sha256 as builtin  # CPython <= 3.11
    except ImportError:
        try:
            from _sha2 import sha256 as builtin  # CPython >= 3.12
        except ImportError:
            from hashlib import sha256 as builtin
    return cast("Callable[..., Hash]", builtin)


sha256: Callable[..., Hash] = _constructor()
"""``sha256(data=b"")``: a hash object with ``update``, ``digest`` and ``hexdigest``, as hashlib's."""
