"""The base of every Jobdeck command: argument errors are one line, as the README promises.

argparse prints its whole usage block before an argument error; in a script's log the actual
error is then the last of a dozen lines. Jobdeck's commands print only
`manage.py <command>: error: <what>` and exit with status 2.
"""

from __future__ import annotations

from typing import Any, NoReturn

from django.core.management.base import BaseCommand, CommandError, CommandParser


class OneLineErrorParser(CommandParser):
    def error(self, message: str) -> NoReturn:
        if not self.called_from_command_line:
            raise CommandError(f"Error: {message}")  # call_command(): the caller handles it
        self.exit(2, f"{self.prog}: error: {message}\n")


class JobdeckCommand(BaseCommand):
    def create_parser(self, prog_name: str, subcommand: str, **kwargs: Any) -> CommandParser:
        parser = super().create_parser(prog_name, subcommand, **kwargs)
        # Django builds the parser itself; only its error() changes, so swapping the class is the
        # smallest way in (CommandParser keeps no state this subclass depends on).
        parser.__class__ = OneLineErrorParser
        return parser
