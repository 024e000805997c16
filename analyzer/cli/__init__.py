"""The command line: `gupcheck PATH...` and its subcommands (`gupcheck.cli.commands`)."""

from gupcheck.cli.commands import main, run

__all__ = ["main", "run"]
