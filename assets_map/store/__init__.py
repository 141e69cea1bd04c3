"""The register store: durable, versioned, audited; SQLite by default, PostGIS when configured.

:func:`open_store` picks the backend:

* ``ASSETS_MAP_DATABASE_URL=postgresql://...`` (or a ``url`` argument): PostGIS,
  for several users on several machines;
* otherwise a SQLite file: ``ASSETS_MAP_STORE`` or ``~/.assets_map/register.sqlite``,
  created on first use, no server needed.
"""
from __future__ import annotations

import logging
import os
import sqlite3
from pathlib import Path

from assets_map.store import listings as _listings  # noqa: F401 (adds each site's ACV clocks to register reads)
from assets_map.store import notify as _notify  # noqa: F401 (adds the hook that tells followers of changes)
from assets_map.store.base import (
    CONTACT_FIELDS,
    CONTACT_LABELS,
    EDIT_STATUSES,
    EDITABLE,
    ConflictError,
    ImportOutcome,
    RemovalsNotConfirmed,
    Store,
    StoreError,
    StoreFull,
    removals_allowed,
    validate_changes,
    validate_contact,
)
from assets_map.store.roles import LOCAL_USER, PUBLIC, Identity, NotAllowed, Role
from assets_map.store.sqlite import SqliteStore, backup

DEFAULT_PATH = Path("~/.assets_map/register.sqlite")
_LOG = logging.getLogger(__name__)

__all__ = ["open_store", "default_location", "backup", "Store", "SqliteStore", "Role", "Identity", "LOCAL_USER", "PUBLIC",
           "NotAllowed", "ConflictError", "StoreError", "StoreFull", "ImportOutcome", "RemovalsNotConfirmed",
           "removals_allowed", "EDIT_STATUSES",
           "EDITABLE", "validate_changes", "CONTACT_FIELDS", "CONTACT_LABELS", "validate_contact"]


def default_location() -> str:
    """The store the app and CLI use: the database URL, the store path, or the default file."""
    url = os.environ.get("ASSETS_MAP_DATABASE_URL", "").strip()
    if url:
        return url
    return str(Path(os.environ.get("ASSETS_MAP_STORE", "") or DEFAULT_PATH).expanduser())


def open_store(location: str | os.PathLike | None = None) -> Store:
    """Open (creating when absent) the register at ``location`` (default: :func:`default_location`).

    Parameters
    ----------
    location : a ``postgresql://`` URL or a SQLite file path
    """
    loc = str(location) if location is not None else default_location()
    if loc.startswith(("postgresql://", "postgres://")):
        from assets_map.store.postgis import PostgisStore

        return PostgisStore(loc)  # its errors are one line without host, port, user or database
    path = Path(loc).expanduser()
    try:
        return SqliteStore(path)
    except (OSError, sqlite3.Error) as exc:  # a folder that cannot be made, a file that cannot be opened
        _LOG.error("cannot open the register file %s: %s", path, exc)
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise StoreError(f"the register file cannot be opened ({reason.lower()})") from exc
