"""Argument types and the parser class shared by the command groups of ``crossbar``."""

from __future__ import annotations

import argparse
from typing import NoReturn

__all__ = [
    "EXIT_USAGE", "CliError", "Parser", "float_list", "int_at_least", "non_negative_float",
    "positive_float", "positive_int", "pulse_list", "seed_int",
]  # fmt: skip

EXIT_USAGE = 2


class CliError(Exception):
    """A user error to be reported as one ``error:`` line with exit status 2."""


class Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:  # one line, no usage block
        raise CliError(f"{self.prog}: {message} (see '{self.prog} --help')")


def pulse_list(text: str) -> list[int]:
    out = []
    for i, token in enumerate(text.split(","), start=1):
        token = token.strip()
        try:
            value = int(token)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"item {i} of --pulses must be a non-negative integer; got {token!r} in {text!r}"
            ) from None
        if value < 0:
            raise argparse.ArgumentTypeError(
                f"item {i} of --pulses must be a non-negative integer; got {value} in {text!r}"
            )
        out.append(value)
    return out


def int_at_least(low: int, what: str, high: int | None = None):
    """An argparse type: an integer in ``[low, high]`` (``what`` names it in the message)."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be {what}; got {text!r}") from None
        if value < low or (high is not None and value > high):
            raise argparse.ArgumentTypeError(f"must be {what}; got {value}")
        return value

    return parse


positive_int = int_at_least(1, "a positive integer")

#: numpy's and torch's generators take seeds below 2**64; torch's manual_seed below 2**63 here
seed_int = int_at_least(0, "an integer from 0 to 2**63 - 1", 2**63 - 1)


def positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a positive number; got {text!r}") from None
    if not (value > 0 and value < float("inf")):
        raise argparse.ArgumentTypeError(f"must be a positive number; got {text!r}")
    return value


def non_negative_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a number >= 0; got {text!r}") from None
    if not (value >= 0 and value < float("inf")):
        raise argparse.ArgumentTypeError(f"must be a number >= 0; got {text!r}")
    return value


def float_list(text: str) -> list[float]:
    out = []
    for i, token in enumerate(text.split(","), start=1):
        try:
            out.append(positive_float(token.strip()))
        except argparse.ArgumentTypeError:
            raise argparse.ArgumentTypeError(
                f"item {i} must be a positive number; got {token.strip()!r} in {text!r}"
            ) from None
    return out
