"""netlab.core.digest.sha256 gives hashlib's digests (it avoids importing hashlib, for speed)."""

from __future__ import annotations

import hashlib
import subprocess
import sys

from netlab.core.digest import sha256


def test_the_same_digests_as_hashlib() -> None:
    for data in (b"", b"x", b"netlab" * 1000, bytes(range(256))):
        assert sha256(data).hexdigest() == hashlib.sha256(data).hexdigest()
        assert sha256(data).digest() == hashlib.sha256(data).digest()
    h = sha256()
    h.update(b"net")
    h.update(b"lab")
    assert h.hexdigest() == hashlib.sha256(b"netlab").hexdigest()


def test_importing_it_does_not_import_hashlib() -> None:
    code = "import sys, netlab.core.digest as d; d.sha256(b'x').hexdigest(); print('hashlib' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"
