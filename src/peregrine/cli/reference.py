"""The command reference in docs/cli.md, generated from the real `--help` texts.

Regenerate after adding or changing a command:

    python -m peregrine.cli.reference docs/cli.md

A test renders the reference again and compares it with the file, so the docs cannot
drift from the commands.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import click

BEGIN = "<!-- BEGIN GENERATED COMMAND REFERENCE: python -m peregrine.cli.reference docs/cli.md -->"
END = "<!-- END GENERATED COMMAND REFERENCE -->"
_WIDTH = 88  # fixed, so the text does not depend on the terminal that renders it


def _walk(
    command: click.Command, ctx: click.Context
) -> Iterator[tuple[click.Context, click.Command]]:
    yield ctx, command
    if isinstance(command, click.Group):
        for name in sorted(command.list_commands(ctx)):
            sub = command.get_command(ctx, name)
            if sub is None or sub.hidden:
                continue
            sub_ctx = sub.make_context(name, [], parent=ctx, resilient_parsing=True)
            yield from _walk(sub, sub_ctx)


def render(root: click.Command, prog_name: str = "peregrine") -> str:
    """Markdown: one section per command, holding its exact `--help` output."""
    # make_context applies each command's context_settings (e.g. `-h` as well as `--help`);
    # resilient parsing lets commands with required arguments render without them.
    ctx = root.make_context(
        prog_name,
        [],
        resilient_parsing=True,
        terminal_width=_WIDTH,
        max_content_width=_WIDTH,
    )
    parts = [BEGIN, ""]
    for sub_ctx, command in _walk(root, ctx):
        parts += [
            f"### `{sub_ctx.command_path}`",
            "",
            "```text",
            command.get_help(sub_ctx).rstrip(),
            "```",
            "",
        ]
    parts.append(END)
    return "\n".join(parts) + "\n"


def replace_block(document: str, block: str) -> str:
    start, end = document.find(BEGIN), document.find(END)
    if start == -1 or end == -1:
        return document.rstrip("\n") + "\n\n" + block
    return document[:start] + block + document[end + len(END) + 1 :]


def main(argv: list[str]) -> int:
    from peregrine.cli.main import cli

    if len(argv) != 1:
        print("usage: python -m peregrine.cli.reference docs/cli.md", file=sys.stderr)
        return 2
    target = Path(argv[0])
    target.write_text(replace_block(target.read_text(encoding="utf-8"), render(cli)))
    print(f"updated {target}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
