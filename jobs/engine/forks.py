"""Forked worker processes never use a database connection their parent opened.

huey's process workers are fork()ed children of `runworkers`, at start and again whenever the
health check replaces a dead one. A child that kept the parent's open connection would talk over
the parent's server session: two processes interleaving messages on one socket (PostgreSQL then
reports "prepared statement already exists", or one process reads the other's rows). So right
after every fork the child forgets every inherited connection and opens its own on first use.

Forgetting must not touch the socket: closing a psycopg connection sends Terminate, which would end
the parent's session, and freeing it (garbage collection) closes it too. The child therefore keeps
the inherited connection objects referenced, unused, for its whole life. They cost a few kilobytes.

Other connections a worker holds: the PostgreSQL LISTEN connection (jobs.engine.wake) is opened
lazily by the process that waits on it, never by the forking parent; workers open no Redis
connection (only web processes use the channel layer).
"""

from __future__ import annotations

import os
from typing import Any

from django.db import connections

# Inherited DB-API connections, kept alive so they are never closed (see the module docstring).
_inherited: list[Any] = []
_installed = False


def forget_inherited_connections() -> None:
    """In a freshly forked child: drop every Django connection without sending anything on it."""
    for wrapper in connections.all(initialized_only=True):
        if wrapper.connection is not None:
            _inherited.append(wrapper.connection)
        # A fresh wrapper on next access: no connection, no transaction state copied from the parent.
        del connections[wrapper.alias]


def install() -> None:
    """Run forget_inherited_connections() in the child after every fork of this process (idempotent)."""
    global _installed
    if not _installed:
        os.register_at_fork(after_in_child=forget_inherited_connections)
        _installed = True
