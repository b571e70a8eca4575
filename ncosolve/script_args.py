"""Command-line flags for the training and benchmark scripts: from dataclasses, one ``--flag`` per field, its
default the field's, its ``--help`` text the string literal written under the field (CleanRL-style field docs);
and argparse types the scripts share."""

from __future__ import annotations

import argparse
import ast
import dataclasses
import inspect
import os
import textwrap
from pathlib import Path


def field_docs(cls) -> dict[str, str]:
    """{field name: the string literal right under its annotated assignment} from ``cls``'s source."""
    try:
        tree = ast.parse(textwrap.dedent(inspect.getsource(cls)))
    except (OSError, TypeError):  # no source (e.g. defined in an interactive session): flags without help
        return {}
    body = tree.body[0].body
    return {node.target.id: nxt.value.value for node, nxt in zip(body, body[1:])
            if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name)
            and isinstance(nxt, ast.Expr) and isinstance(nxt.value, ast.Constant) and isinstance(nxt.value.value, str)}


def add_fields(parser: argparse.ArgumentParser, cls, skip: tuple[str, ...] = ()) -> None:
    """Add one flag per field of the dataclass ``cls`` (except ``skip``) to ``parser``."""
    docs = field_docs(cls)
    for f in dataclasses.fields(cls):
        if f.name in skip:
            continue
        text = docs.get(f.name, "").replace("%", "%%")
        kind = {"action": argparse.BooleanOptionalAction} if isinstance(f.default, bool) else {"type": type(f.default)}
        parser.add_argument("--" + f.name.replace("_", "-"), default=f.default, help=f"{text} (default: %(default)s)",
                            **kind)


def parse_dataclass(cls, description: str, argv: list[str] | None = None):
    """``cls`` filled from the command line ``argv`` (default ``sys.argv``), one flag per field."""
    parser = argparse.ArgumentParser(description=description)
    add_fields(parser, cls)
    return cls(**vars(parser.parse_args(argv)))


def executable_file(text: str) -> Path:
    """argparse ``type`` of a flag naming a program to run (a peer binary, another venv's python): it must be an
    executable file, so a wrong path stops the script before any work."""
    path = Path(text)
    if not (path.is_file() and os.access(path, os.X_OK)):
        raise argparse.ArgumentTypeError(f"{text}: not an executable file")
    return path
