"""tc's units, parsed strictly: ``20ms``, ``1.5s``, ``10mbit``, ``1%``.

Why strings with units and not bare numbers: a bare ``20`` is 20 µs to ``tc`` and 20 ms to most people; the
unit is required, and a message says which ones exist. Rates are decimal, as tc's (``1mbit`` = 10⁶ bit/s).
"""

from __future__ import annotations

import re

__all__ = ["UnitError", "parse_percent", "parse_rate", "parse_time"]

TIME_UNITS = {"us": 1, "usec": 1, "ms": 1_000, "msec": 1_000, "s": 1_000_000, "sec": 1_000_000}
RATE_UNITS = {"bit": 1, "kbit": 10**3, "mbit": 10**6, "gbit": 10**9,
              "bps": 8, "kbps": 8 * 10**3, "mbps": 8 * 10**6, "gbps": 8 * 10**9}
_NUMBER = r"(\d+(?:\.\d+)?)"


class UnitError(ValueError):
    """The text, what was expected, and an example: the message a topology error shows."""


def _split(text: object, units: dict[str, int], what: str, example: str) -> tuple[float, int]:
    if not isinstance(text, str):
        raise UnitError(f"{text!r} needs a unit: a {what} is written like {example} "
                        f"(units: {', '.join(units)})")
    m = re.fullmatch(_NUMBER + r"\s*([a-z]+)", text.strip().lower())
    if m is None or m.group(2) not in units:
        raise UnitError(f"{text!r} is not a {what}: write it like {example} (units: {', '.join(units)})")
    return float(m.group(1)), units[m.group(2)]


def parse_time(text: object) -> int:
    """Microseconds."""
    value, scale = _split(text, TIME_UNITS, "time", "'20ms'")
    return round(value * scale)


def parse_rate(text: object) -> int:
    """Bits per second."""
    value, scale = _split(text, RATE_UNITS, "rate", "'10mbit'")
    rate = round(value * scale)
    if rate <= 0:
        raise UnitError(f"{text!r}: a rate must be more than 0")
    return rate


def parse_percent(text: object) -> float:
    """0-100."""
    if isinstance(text, str):
        m = re.fullmatch(_NUMBER + r"\s*%", text.strip())
        if m is not None and float(m.group(1)) <= 100:
            return float(m.group(1))
    raise UnitError(f"{text!r} is not a percentage: write it like '1%' (0% to 100%)")
