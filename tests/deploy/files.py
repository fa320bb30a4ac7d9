"""Reading docs/deploy/: the manifests, the commands they run, and checking a command line."""

from __future__ import annotations

import os
import re
import shlex
from pathlib import Path
from typing import Any

import yaml
from django.core.management import get_commands, load_command_class

from tests.conftest import ROOT

DEPLOY = ROOT / "docs" / "deploy"
DAPHNE_APP = "project.asgi:application"
# In CI a missing checker (nginx, systemd-analyze) fails the test; elsewhere it skips, saying so.
REQUIRED = os.environ.get("CI") == "true" or os.environ.get("JOBDECK_REQUIRE_SERVICES") == "1"


def load_all(path: Path) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc]


def kubernetes() -> dict[tuple[str, str], dict[str, Any]]:
    """Every Kubernetes object under docs/deploy/kubernetes, by (kind, name)."""
    objects = {}
    for path in sorted((DEPLOY / "kubernetes").glob("*.yaml")):
        for doc in load_all(path):
            objects[doc["kind"], doc["metadata"]["name"]] = doc
    return objects


def compose() -> dict[str, Any]:
    return load_all(DEPLOY / "compose.yaml")[0]


def systemd_units() -> dict[str, str]:
    return {p.name: p.read_text() for p in sorted((DEPLOY / "systemd").glob("jobdeck-*"))}


def unit_values(text: str, key: str) -> list[str]:
    return [m.group(1).strip() for m in re.finditer(rf"^{key}=(.*)$", text, re.MULTILINE)]


def env_file(path: Path) -> dict[str, str]:
    lines = [line for line in path.read_text().splitlines() if line.strip() and not line.startswith("#")]
    return dict(line.split("=", 1) for line in lines)


def check_command(argv: list[str]) -> None:
    """Fail unless `argv` is a command line Jobdeck can run: a management command whose parser
    accepts these options, or daphne with its options and this project's application."""
    if argv[:2] == ["sh", "-c"]:
        for part in argv[2].split(";"):
            if "manage.py" in part:
                check_command(shlex.split(part))
        return
    program = Path(argv[0]).name
    if program.startswith("python"):
        assert argv[1] == "manage.py", argv
        name, options = argv[2], argv[3:]
        commands = get_commands()
        assert name in commands, f"manage.py {name}: no such command"
        # The command's own parser, with its validators: a bad queue list or worker name fails here.
        load_command_class(commands[name], name).create_parser("manage.py", name).parse_args(options)
        return
    assert program == "daphne", argv
    from daphne.cli import CommandLineInterface

    parsed = CommandLineInterface().parser.parse_args(argv[1:])
    assert parsed.application == DAPHNE_APP, argv
    assert parsed.proxy_headers, "behind a proxy daphne must take the client address from it"
