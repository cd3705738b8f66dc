"""A Sphinx directive that prints ``pyscep`` commands' ``--help``, from the parser itself.

    ```{pyscep-help} serve
    ```

renders ``pyscep serve --help`` (and every subcommand below it) as literal
blocks, so the CLI reference cannot drift from the code.
"""

from __future__ import annotations

import argparse
import os
from typing import Any

from docutils import nodes
from sphinx.application import Sphinx
from sphinx.util.docutils import SphinxDirective

from pyscep.cli import parser as pyscep_parser


def _subcommands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def _helps(parser: argparse.ArgumentParser, words: list[str]) -> list[tuple[str, str]]:
    found = [(" ".join(words), parser.format_help())]
    for name, child in _subcommands(parser).items():
        found.extend(_helps(child, [*words, name]))
    return found


class PyscepHelp(SphinxDirective):
    """``pyscep <command> --help``, for the command and its subcommands."""

    required_arguments = 1
    final_argument_whitespace = True

    def run(self) -> list[nodes.Node]:
        os.environ["COLUMNS"] = "88"  # argparse wraps to the terminal; fix the width
        words = self.arguments[0].split()
        parser = pyscep_parser()
        for word in words:
            parser = _subcommands(parser)[word]
        result: list[nodes.Node] = []
        for command, text in _helps(parser, ["pyscep", *words]):
            title = nodes.paragraph()
            title += nodes.literal(text=command)
            result.append(title)
            result.append(nodes.literal_block(text, text, language="text"))
        return result


def setup(app: Sphinx) -> dict[str, Any]:
    app.add_directive("pyscep-help", PyscepHelp)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
