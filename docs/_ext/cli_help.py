"""A Sphinx directive that prints the ``crossbar`` command's help, every subcommand included.

The help comes from the parser the program itself uses (:func:`crossbar.cli.build_parser`), so
the reference cannot fall behind the code.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Iterator

from docutils import nodes
from sphinx.application import Sphinx
from sphinx.util.docutils import SphinxDirective


def _commands(
    parser: argparse.ArgumentParser, path: str
) -> Iterator[tuple[str, argparse.ArgumentParser]]:
    yield path, parser
    for action in parser._actions:  # argparse has no public walk over its subcommands
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from _commands(sub, f"{path} {name}")


class CrossbarHelp(SphinxDirective):
    """``.. crossbar-help::`` — one rubric and one literal block per command."""

    def run(self) -> list[nodes.Node]:
        from crossbar.cli import build_parser

        os.environ["COLUMNS"] = "100"  # argparse wraps at the terminal width
        out: list[nodes.Node] = []
        for path, parser in _commands(build_parser(), "crossbar"):
            parser.prog = path
            out.append(nodes.rubric(text=path))
            text = parser.format_help()
            out.append(nodes.literal_block(text, text, language="text"))
        return out


def setup(app: Sphinx) -> dict[str, object]:
    app.add_directive("crossbar-help", CrossbarHelp)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
