"""What every subcommand shares: argument types and the errors they report.

Argument types are ``type=`` callables for :mod:`argparse`: each turns the
text of an option into its value or raises
:class:`argparse.ArgumentTypeError` saying what the option expects, which
argparse prints after the option's name (``argument --seeds: must be >= 1,
got 0``) with the usage line, exit status 2. Checks that need more than
the option's own text (a setting name, an output directory to create) run
after parsing and raise :class:`UsageError`, which ``main`` reports the
same way.
"""
# License: BSD 3 clause

import argparse
import math
import tempfile
from pathlib import Path


class UsageError(Exception):
    """A bad argument found after parsing: usage line, message, exit status 2."""


class TrainingError(Exception):
    """A failure while fitting, with the option to change: exit status 1."""


def _number(text, kind, expected):
    try:
        return kind(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected {expected}, got {text!r}") from None


def _int_at_least(text, low):
    value = _number(text, int, f"an integer >= {low}")
    if value < low:
        raise argparse.ArgumentTypeError(f"must be >= {low}, got {value}")
    return value


def positive_int(text):
    """An integer >= 1 (a count: seeds, draws, shots, epochs)."""
    return _int_at_least(text, 1)


def non_negative_int(text):
    """An integer >= 0 (a seed, an optional count)."""
    return _int_at_least(text, 0)


def positive_float(text):
    """A finite number > 0 (a regularisation strength, a temperature)."""
    value = _number(text, float, "a finite number > 0")
    if not (value > 0 and math.isfinite(value)):
        raise argparse.ArgumentTypeError(f"must be a finite number > 0, got {text!r}")
    return value


def positive_float_or(*words):
    """A :func:`positive_float` or one of ``words`` (e.g. ``"select"``)."""

    def check(text):
        if text in words:
            return text
        try:
            return positive_float(text)
        except argparse.ArgumentTypeError:
            raise argparse.ArgumentTypeError(
                f"expected a finite number > 0 or {' or '.join(map(repr, words))}, "
                f"got {text!r}"
            ) from None

    check.__name__ = "positive_float_or_" + "_".join(words)
    return check


def fraction_or_count(text):
    """A fraction in (0, 1), or a whole number >= 1 of rows (as an int)."""
    value = _number(text, float, "a fraction in (0, 1) or a whole number of rows")
    if value >= 1 and value.is_integer():
        return int(value)
    if not 0 < value < 1:
        raise argparse.ArgumentTypeError(
            f"must be a fraction in (0, 1) or a whole number of rows, got {text!r}"
        )
    return value


def existing_file(text):
    """The path of a file that exists (it is read later)."""
    if not Path(text).is_file():
        what = "is a directory" if Path(text).is_dir() else "no such file"
        raise argparse.ArgumentTypeError(f"{what}: {text!r}")
    return text


def device(text):
    """``auto`` or a torch device this machine has (torch imported only then)."""
    if text == "auto":
        return text
    import torch

    try:
        kind = torch.device(text)
    except (RuntimeError, ValueError):
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a torch device; use auto, cpu, cuda or cuda:N"
        ) from None
    if kind.type not in ("cpu", "cuda"):
        raise argparse.ArgumentTypeError(f"use auto, cpu, cuda or cuda:N, got {text!r}")
    if kind.type == "cuda" and not torch.cuda.is_available():
        raise argparse.ArgumentTypeError(
            f"{text!r}: CUDA is not available on this machine; use cpu (or auto)"
        )
    if kind.type == "cuda" and (kind.index or 0) >= torch.cuda.device_count():
        raise argparse.ArgumentTypeError(
            f"{text!r}: this machine has {torch.cuda.device_count()} CUDA device(s)"
        )
    return text


def writable_dir(path, option="--out"):
    """Create ``path`` if needed and check a file can be written in it.

    Run after parsing, once every other argument is known to be good, so
    that a bad command creates nothing.
    """
    out = Path(path)
    try:
        out.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=out):
            pass
    except OSError as exc:
        raise UsageError(
            f"{option} {str(path)!r} is not a writable directory "
            f"({exc.strerror or exc})."
        ) from None
    return out
