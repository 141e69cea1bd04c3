"""The embedded default store: one SQLite file, WAL journal, synchronous=FULL.

A commit is on disk when :meth:`Store.save` or :meth:`Store.import_analysis`
returns; a crash or ``kill -9`` at any moment leaves the last committed state
(SQLite ignores WAL frames of a transaction that never committed). Writers take
the write lock up front (``BEGIN IMMEDIATE``), so the version check and the write
of an edit cannot interleave with another process's.
"""
from __future__ import annotations

import contextlib
import errno
import logging
import os
import sqlite3
import urllib.parse
from pathlib import Path
from typing import Iterator

from assets_map.store.base import (
    BACKUP_NOTE,
    SCHEMA_VERSION,
    Store,
    StoreError,
    StoreFull,
    Tx,
    remove_partial,
    stale_backup,
)
from assets_map.store.casework import SQLITE_DDL as CASEWORK_DDL
from assets_map.store.views import RULES_VERSION, public_view_sql

DDL = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS batches (
  batch_id INTEGER PRIMARY KEY AUTOINCREMENT,
  organisation TEXT NOT NULL CHECK (length(organisation) > 0),
  imported_by TEXT NOT NULL, imported_at TEXT NOT NULL, source_name TEXT NOT NULL,
  file_sha256 TEXT NOT NULL CHECK (length(file_sha256) = 64),
  report TEXT NOT NULL CHECK (json_valid(report)), settings TEXT NOT NULL CHECK (json_valid(settings)),
  rows INTEGER NOT NULL CHECK (rows >= 0), added INTEGER, changed INTEGER, unchanged INTEGER, removed INTEGER);
CREATE TABLE IF NOT EXISTS assets (
  asset_id TEXT PRIMARY KEY CHECK (length(asset_id) > 0),
  organisation TEXT NOT NULL,
  version INTEGER NOT NULL CHECK (version > 0),
  batch_id INTEGER NOT NULL REFERENCES batches (batch_id),
  removed INTEGER NOT NULL DEFAULT 0 CHECK (removed IN (0, 1)),
  visibility TEXT NOT NULL CHECK (visibility IN ('public', 'internal')),
  name TEXT, status TEXT, priority TEXT,
  attrs TEXT NOT NULL CHECK (json_valid(attrs)),
  edits TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(edits)),
  field_visibility TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(field_visibility)),
  geom BLOB,
  updated_at TEXT NOT NULL, updated_by TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS assets_org ON assets (organisation);
CREATE TABLE IF NOT EXISTS public_records (
  asset_id TEXT PRIMARY KEY REFERENCES assets (asset_id),
  version INTEGER NOT NULL CHECK (version > 0),
  record TEXT NOT NULL CHECK (json_valid(record)));
CREATE TABLE IF NOT EXISTS history (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  asset_id TEXT NOT NULL, version INTEGER NOT NULL CHECK (version > 0),
  at TEXT NOT NULL, by_user TEXT NOT NULL,
  kind TEXT NOT NULL CHECK (kind IN ('import', 'edit', 'correction', 'remove')),
  batch_id INTEGER REFERENCES batches (batch_id),
  changes TEXT NOT NULL CHECK (json_valid(changes)), state TEXT NOT NULL CHECK (json_valid(state)),
  visibility TEXT, field_visibility TEXT, geom BLOB,
  UNIQUE (asset_id, version));
CREATE TRIGGER IF NOT EXISTS history_no_update BEFORE UPDATE ON history
  BEGIN SELECT RAISE(ABORT, 'the history is append-only'); END;
CREATE TRIGGER IF NOT EXISTS history_no_delete BEFORE DELETE ON history
  BEGIN SELECT RAISE(ABORT, 'the history is append-only'); END;
CREATE TABLE IF NOT EXISTS context (
  organisation TEXT NOT NULL, layer TEXT NOT NULL, label TEXT NOT NULL, row_no INTEGER NOT NULL,
  attrs TEXT NOT NULL, geom BLOB NOT NULL, minx REAL, miny REAL, maxx REAL, maxy REAL,
  PRIMARY KEY (organisation, layer, row_no));
CREATE TABLE IF NOT EXISTS corrections (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  asset_id TEXT NOT NULL REFERENCES assets (asset_id),
  submitted_at TEXT NOT NULL, submitted_by TEXT NOT NULL, contact TEXT,
  message TEXT NOT NULL CHECK (length(message) BETWEEN 1 AND 5000),
  proposed TEXT NOT NULL DEFAULT '{}',
  state TEXT NOT NULL CHECK (state IN ('pending', 'accepted', 'rejected')),
  decided_by TEXT, decided_at TEXT, decision_note TEXT, applied_version INTEGER);
CREATE TABLE IF NOT EXISTS contacts (
  organisation TEXT PRIMARY KEY CHECK (length(organisation) > 0),
  version INTEGER NOT NULL CHECK (version > 0),
  email TEXT, phone TEXT, web_page TEXT, transfer_policy TEXT,
  updated_at TEXT NOT NULL, updated_by TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS contact_history (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  organisation TEXT NOT NULL, version INTEGER NOT NULL CHECK (version > 0),
  at TEXT NOT NULL, by_user TEXT NOT NULL,
  changes TEXT NOT NULL CHECK (json_valid(changes)),
  UNIQUE (organisation, version));
CREATE TRIGGER IF NOT EXISTS contact_history_no_update BEFORE UPDATE ON contact_history
  BEGIN SELECT RAISE(ABORT, 'the history is append-only'); END;
CREATE TRIGGER IF NOT EXISTS contact_history_no_delete BEFORE DELETE ON contact_history
  BEGIN SELECT RAISE(ABORT, 'the history is append-only'); END;
CREATE TABLE IF NOT EXISTS users (
  issuer TEXT NOT NULL DEFAULT '',
  subject TEXT NOT NULL CHECK (length(subject) > 0),
  role TEXT NOT NULL CHECK (role IN ('viewer', 'editor', 'admin')),
  organisation TEXT CHECK (role <> 'editor' OR organisation IS NOT NULL),
  added_by TEXT NOT NULL, added_at TEXT NOT NULL,
  PRIMARY KEY (issuer, subject));
"""
_USERS_DDL = DDL[DDL.index("CREATE TABLE IF NOT EXISTS users"):]

_FULL_TEXT = ("database or disk is full",)
#: The write-ahead log is cut back to this size after a checkpoint.
WAL_LIMIT_BYTES = 64 * 1024 * 1024
#: Free pages above this share of the file are given back after an import.
COMPACT_FREE_SHARE = 0.05

_LOG = logging.getLogger(__name__)


def _json_attr(field: str, kind: str) -> str:
    return f"json_extract(p.record, '$.\"{field}\"')"


def _json_fv(field: str) -> str:
    return f"json_extract(a.field_visibility, '$.\"{field}\"')"


class SqliteStore(Store):
    """The register in one SQLite file (created, with its folder, when absent).

    Parameters
    ----------
    path : file of the register
    pragmas : extra ``PRAGMA`` statements run on every connection (tests use
        ``max_page_count`` to simulate a full disk)
    read_only : open an existing register (a backup being restored) without ever
        writing to it or beside it: ``mode=ro``, and ``immutable`` unless it has a
        write-ahead log to read, so a backup on read-only media can be restored
    journal : ``"wal"`` for a register; ``"delete"`` for a backup being written,
        which then never has a write-ahead log (a backup killed half-way leaves no
        large orphan ``-wal`` file, and the finished file is readable on its own)

    A new register is created with incremental auto-vacuum; after each import
    the file gives back the space that import freed (:meth:`compact`).
    """

    backend = "sqlite"

    def __init__(self, path: str | os.PathLike, *, pragmas: tuple[str, ...] = (), read_only: bool = False,
                 journal: str = "wal"):
        self.path = Path(path)
        self.pragmas = tuple(pragmas)
        self.read_only = read_only
        if read_only:
            self._check_readable()
            return
        if journal not in ("wal", "delete"):
            raise ValueError(f"journal must be wal or delete (got {journal!r})")
        fresh = not self.path.exists()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            conn = self._connect()
            try:
                if fresh:  # only an empty file can take it: set before the first table
                    conn.execute("PRAGMA auto_vacuum = INCREMENTAL")
                mode = conn.execute(f"PRAGMA journal_mode={journal.upper()}").fetchone()[0]
                if mode.lower() != journal:
                    raise StoreError(f"{self.path.name}: could not switch the register to {journal.upper()} "
                                     f"(got {mode})")
                conn.execute("BEGIN IMMEDIATE")
                for stmt in _statements(DDL + CASEWORK_DDL):
                    conn.execute(stmt)
                note = conn.execute("SELECT value FROM meta WHERE key = ?", [BACKUP_NOTE]).fetchone()
                if note is not None and (partial := stale_backup(note[0])) is not None:
                    _LOG.warning("%s: removing %s, left by a backup that was stopped", self.path.name, partial)
                    remove_partial(partial)
                    conn.execute("DELETE FROM meta WHERE key = ?", [BACKUP_NOTE])
                view = public_view_sql(attr=_json_attr, fv=_json_fv)
                have = conn.execute("SELECT sql FROM sqlite_master WHERE type = 'view' AND name = 'public_assets'")
                have = have.fetchone()
                if have is None or have[0] != view:  # a register written before these rules: new view
                    conn.execute("DROP VIEW IF EXISTS public_assets")
                    conn.execute(view)
                rules = conn.execute("SELECT value FROM meta WHERE key = 'public_rules'").fetchone()
                if rules is None or rules[0] != RULES_VERSION:
                    self._refresh_public(Tx(conn.cursor(), qmark=True))
                    conn.execute("INSERT OR REPLACE INTO meta VALUES ('public_rules', ?)", [RULES_VERSION])
                row = conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
                if row is not None and int(row[0]) > SCHEMA_VERSION:
                    raise StoreError(f"{self.path.name} was written by a newer assets-map (schema {row[0]}); "
                                     f"upgrade assets-map to open it")
                _migrate_users(conn)
                if row is None or int(row[0]) < SCHEMA_VERSION:
                    conn.execute("INSERT OR REPLACE INTO meta VALUES ('schema_version', ?)", [str(SCHEMA_VERSION)])
                conn.execute("COMMIT")
                # A write-ahead log left by a process killed mid-transaction: fold in what was committed
                # and cut the file to nothing (best effort: a reader elsewhere may hold it a moment longer).
                conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            finally:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                conn.close()
        except sqlite3.DatabaseError as exc:
            raise _translate(exc, self.path) from exc
        if fresh:
            os.chmod(self.path, 0o600)  # the register holds internal fields: owner only

    def _check_readable(self) -> None:
        if not self.path.is_file():
            raise StoreError(f"no register file {self.path.name}")
        try:
            conn = self._connect()
            try:
                row = conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
            finally:
                conn.close()
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"{self.path.name} is not a readable register ({exc})") from exc
        if row is None or int(row[0]) > SCHEMA_VERSION:
            raise StoreError(f"{self.path.name} is not a register this assets-map can read "
                             f"(schema {row[0] if row else 'missing'})")

    def _uri(self) -> str:
        """The read-only URI: ``immutable`` (no lock, no -wal/-shm created) unless a write-ahead log holds data."""
        wal = Path(f"{self.path}-wal")
        immutable = not (wal.exists() and wal.stat().st_size > 0)
        path = urllib.parse.quote(str(self.path.resolve()))
        return f"file:{path}?mode=ro" + ("&immutable=1" if immutable else "")

    def _connect(self) -> sqlite3.Connection:
        if self.read_only:
            conn = sqlite3.connect(self._uri(), uri=True, timeout=60, isolation_level=None)
            conn.execute("PRAGMA query_only = ON")
            return conn
        conn = sqlite3.connect(self.path, timeout=60, isolation_level=None)
        conn.execute("PRAGMA busy_timeout = 60000")
        conn.execute("PRAGMA synchronous = FULL")
        conn.execute("PRAGMA foreign_keys = ON")
        # After a checkpoint the log is cut back to this size, instead of staying as large as the largest import.
        conn.execute(f"PRAGMA journal_size_limit = {WAL_LIMIT_BYTES}")
        for p in self.pragmas:
            conn.execute(f"PRAGMA {p}")
        return conn

    def import_analysis(self, *args, **kwargs):
        """:meth:`Store.import_analysis`, then :meth:`compact` (re-imports free pages and leave a large log)."""
        out = super().import_analysis(*args, **kwargs)
        try:
            self.compact()
        except (sqlite3.Error, StoreError) as exc:  # the import is committed; space comes back next time
            _LOG.warning("%s: compaction after the import did not run: %s", self.path.name, exc)
        return out

    def compact(self, *, min_free_share: float = COMPACT_FREE_SHARE) -> dict[str, int]:
        """Give free space back to the file system and cut the write-ahead log to nothing.

        Pages freed by re-imports (rewritten records, a removed column, dropped
        context layers) are released when they exceed ``min_free_share`` of the file:
        with ``PRAGMA incremental_vacuum`` on a register with incremental auto-vacuum
        (every register created by this version), or, once, with ``VACUUM`` on an
        older one, which also switches it to incremental auto-vacuum.

        Returns
        -------
        dict with ``bytes_before``, ``bytes_after`` (main file) and ``free_pages`` left.
        """
        if self.read_only:
            raise StoreError(f"{self.path.name} is opened read-only")
        before = self.path.stat().st_size
        conn = self._connect()
        try:
            pages = conn.execute("PRAGMA page_count").fetchone()[0]
            free = conn.execute("PRAGMA freelist_count").fetchone()[0]
            if free and free >= min_free_share * pages:
                if conn.execute("PRAGMA auto_vacuum").fetchone()[0] == 2:  # incremental
                    # executescript steps the pragma to the end (execute frees a single page per call)
                    conn.executescript("PRAGMA incremental_vacuum;")
                else:
                    conn.execute("PRAGMA auto_vacuum = INCREMENTAL")
                    conn.execute("VACUUM")
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            free = conn.execute("PRAGMA freelist_count").fetchone()[0]
        except sqlite3.DatabaseError as exc:
            raise _translate(exc, self.path) from exc
        finally:
            conn.close()
        return {"bytes_before": before, "bytes_after": self.path.stat().st_size, "free_pages": free}

    @contextlib.contextmanager
    def _write(self) -> Iterator[Tx]:
        if self.read_only:
            raise StoreError(f"{self.path.name} is opened read-only (a backup being restored); nothing was changed")
        conn = self._connect()
        try:
            conn.execute("BEGIN IMMEDIATE")
            yield Tx(conn.cursor(), qmark=True)
            conn.execute("COMMIT")
        except sqlite3.DatabaseError as exc:
            _rollback(conn)
            raise _translate(exc, self.path) from exc
        except OSError as exc:
            _rollback(conn)
            if exc.errno == errno.ENOSPC:
                raise StoreFull(f"{self.path.name}: the disk is full; nothing was changed") from exc
            raise
        except BaseException:
            _rollback(conn)
            raise
        finally:
            conn.close()

    @contextlib.contextmanager
    def _read(self) -> Iterator[Tx]:
        conn = self._connect()
        try:
            conn.execute("BEGIN")
            yield Tx(conn.cursor(), qmark=True)
        except sqlite3.DatabaseError as exc:
            raise _translate(exc, self.path) from exc
        finally:
            _rollback(conn)
            conn.close()

    def describe(self) -> str:
        """The path of the SQLite file."""
        return f"SQLite file {self.path}"

    def _has_table(self, tx: Tx, table: str) -> bool:
        return tx.one("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", [table]) is not None

    def integrity(self) -> str:
        """``ok`` or SQLite's list of problems (``PRAGMA integrity_check``)."""
        conn = self._connect()
        try:
            return "; ".join(r[0] for r in conn.execute("PRAGMA integrity_check").fetchall())
        finally:
            conn.close()

    def close(self) -> None:
        """Checkpoint the WAL into the main file (connections are per operation)."""
        if self.read_only:
            return
        conn = self._connect()
        try:
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        finally:
            conn.close()


def _migrate_users(conn: sqlite3.Connection) -> None:
    """Schema 1 to 2: users keyed by (issuer, subject); earlier entries become e-mail entries (empty issuer).

    An earlier entry that is not an e-mail address (a bare OIDC subject) then matches no one
    until it is given again with its issuer: a subject alone never proves who someone is.
    """
    if "issuer" in {r[1] for r in conn.execute("PRAGMA table_info(users)")}:
        return
    conn.execute("ALTER TABLE users RENAME TO users_schema1")
    conn.execute(_USERS_DDL.strip().rstrip(";"))
    conn.execute("INSERT INTO users (issuer, subject, role, organisation, added_by, added_at) "
                 "SELECT '', subject, role, organisation, added_by, added_at FROM users_schema1")
    conn.execute("DROP TABLE users_schema1")


def _statements(sql: str) -> list[str]:
    """Split DDL into statements (triggers keep their inner ``;``)."""
    out, buf = [], []
    for line in sql.strip().splitlines():
        buf.append(line)
        text = "\n".join(buf).strip()
        if text.endswith(";") and sqlite3.complete_statement(text):
            out.append(text)
            buf = []
    return out


def _rollback(conn: sqlite3.Connection) -> None:
    try:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
    except sqlite3.Error:
        pass  # the connection is closed next; SQLite rolls back an unfinished transaction itself


def _translate(exc: sqlite3.DatabaseError, path: Path) -> Exception:
    text = str(exc).lower()
    if any(t in text for t in _FULL_TEXT) or getattr(exc, "sqlite_errorcode", None) == sqlite3.SQLITE_FULL:
        return StoreFull(f"{path.name}: the disk is full (or the register reached its size limit); "
                         f"nothing was changed")
    if "disk i/o error" in text:
        return StoreFull(f"{path.name}: the disk refused a write (full or failing); nothing was changed")
    if "not a database" in text or "malformed" in text:
        return StoreError(f"{path.name} is not a readable register ({exc}); restore it from a backup")
    if "locked" in text or "busy" in text:
        return StoreError(f"{path.name} is busy with another writer; try again ({exc})")
    if isinstance(exc, sqlite3.IntegrityError):
        return StoreError(f"{path.name}: refused by the register's rules ({exc}); nothing was changed")
    return exc


def backup(store: Store, path) -> SqliteStore:
    """Write a complete copy of ``store`` (either backend) to a new SQLite file (the portable backup format).

    The copy appears at ``path`` only when complete; a failure removes the partial file. Returns the
    backup opened read-only.
    """
    path = Path(path)
    if path.exists():
        raise StoreError(f"{path.name} already exists; choose a new backup file")
    tmp = path.with_name(f".{path.name}.partial")
    remove_partial(tmp)  # an earlier backup to this file that was killed half-way
    store._note_backup(tmp)  # so that the next open removes the partial file if this process is killed
    try:
        # A rollback journal, not a write-ahead log: the copy is written straight into the file, so
        # a kill leaves no log as large as the register, and the backup reads on its own (read-only media).
        target = SqliteStore(tmp, journal="delete")
        target.load(store)
        os.replace(tmp, path)
    except BaseException:
        remove_partial(tmp)
        raise
    finally:
        store._note_backup(None)
    return SqliteStore(path, read_only=True)
