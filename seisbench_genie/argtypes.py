"""Value types for the ``seisbench-genie`` subcommands' ``argparse`` options, shared by all
of them so that a bad value gets the same message everywhere.

Examples
--------
>>> positive_int("3"), count("0"), positive_float("2.5"), probability("0.3"), fraction("1")
(3, 0, 2.5, 0.3, 1.0)
>>> positive_int("0")
Traceback (most recent call last):
...
argparse.ArgumentTypeError: expected an integer >= 1, got '0'
"""

from __future__ import annotations

import argparse
import math


def _integer(text: str, minimum: int) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
    if value < minimum:
        raise argparse.ArgumentTypeError(f"expected an integer >= {minimum}, got {text!r}")
    return value


def positive_int(text: str) -> int:
    """An integer >= 1 (``argparse`` type)."""
    return _integer(text, 1)


def count(text: str) -> int:
    """An integer >= 0 (``argparse`` type)."""
    return _integer(text, 0)


def positive_float(text: str) -> float:
    """A number > 0 (``argparse`` type)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"expected a number > 0, got {text!r}")
    return value


def nonnegative_float(text: str) -> float:
    """A finite number >= 0 (``argparse`` type)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not (math.isfinite(value) and value >= 0):
        raise argparse.ArgumentTypeError(f"expected a finite number >= 0, got {text!r}")
    return value


def probability(text: str) -> float:
    """A number in (0, 1) (``argparse`` type)."""
    value = positive_float(text)
    if not value < 1:
        raise argparse.ArgumentTypeError(f"expected a number in (0, 1), got {text!r}")
    return value


def fraction(text: str) -> float:
    """A number in (0, 1] (``argparse`` type)."""
    value = positive_float(text)
    if not value <= 1:
        raise argparse.ArgumentTypeError(f"expected a number in (0, 1], got {text!r}")
    return value
