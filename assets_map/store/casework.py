"""The register's tables for what happens after a flag: follows, inbox, cases, ACV listings, reconciliation decisions.

Made (``CREATE ... IF NOT EXISTS``) the first time a store is used for them, in one
transaction, with the same kinds of rules as the register's own tables: checked values,
and an append-only history of transfer-case stages (updates and deletes refused by triggers).
:mod:`assets_map.store.follow`, :mod:`assets_map.store.notify`, :mod:`assets_map.store.cases`
and :mod:`assets_map.store.listings` read and write them through the store's transactions;
:mod:`assets_map.store.decisions` keeps an estates team's decisions on a Land Registry reconciliation and the
other names (aliases, company numbers) each anchor holds land under.
"""
from __future__ import annotations

import datetime as dt

from assets_map.store.base import Store

#: Transfer-case stages in order; the last three end a case.
STAGES = ("enquiry", "expression of interest", "business case", "decision", "heads of terms",
          "lease or transfer completed", "withdrawn", "refused")
CLOSED_STAGES = ("lease or transfer completed", "withdrawn", "refused")
DELIVERIES = ("immediate", "digest", "inbox")

_COMMON = """
CREATE TABLE IF NOT EXISTS followers (
  follower TEXT PRIMARY KEY CHECK (length(follower) > 0),
  issuer TEXT, subject TEXT, sign_in_email TEXT, local SMALLINT NOT NULL DEFAULT 0,
  email TEXT, email_confirmed_at TEXT, confirm_token TEXT, confirm_sent_at TEXT,
  unsubscribe_token TEXT NOT NULL UNIQUE,
  delivery TEXT NOT NULL DEFAULT 'immediate' CHECK (delivery IN ('immediate', 'digest', 'inbox')),
  created_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS follows (
  follower TEXT NOT NULL REFERENCES followers (follower),
  asset_id TEXT NOT NULL,
  group_name TEXT, steward TEXT,
  created_at TEXT NOT NULL,
  PRIMARY KEY (follower, asset_id));
CREATE INDEX IF NOT EXISTS follows_asset ON follows (asset_id);
CREATE TABLE IF NOT EXISTS notify_log (
  {id}, at TEXT NOT NULL, kind TEXT NOT NULL CHECK (kind IN ('signup', 'email')), who TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS inbox (
  {id},
  follower TEXT NOT NULL REFERENCES followers (follower),
  asset_id TEXT NOT NULL, at TEXT NOT NULL, kind TEXT NOT NULL,
  title TEXT NOT NULL, body TEXT NOT NULL, source_key TEXT NOT NULL,
  read_at TEXT,
  email_state TEXT NOT NULL DEFAULT 'pending' CHECK (email_state IN ('pending', 'sent', 'none')),
  emailed_at TEXT,
  UNIQUE (follower, source_key));
CREATE TABLE IF NOT EXISTS notify_state (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS cases (
  {id},
  asset_id TEXT NOT NULL, organisation TEXT NOT NULL,
  opened_by TEXT NOT NULL, group_name TEXT, opened_at TEXT NOT NULL,
  stage TEXT NOT NULL CHECK (stage IN ({stages})),
  stage_date TEXT NOT NULL, next_step TEXT, deadline TEXT, version INTEGER NOT NULL CHECK (version > 0),
  updated_at TEXT NOT NULL, updated_by TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS cases_asset ON cases (asset_id);
CREATE TABLE IF NOT EXISTS case_events (
  {id},
  case_id BIGINT NOT NULL REFERENCES cases (id), version INTEGER NOT NULL CHECK (version > 0),
  stage TEXT NOT NULL CHECK (stage IN ({stages})),
  stage_date TEXT NOT NULL, recorded_at TEXT NOT NULL, by_user TEXT NOT NULL,
  note TEXT, reason TEXT, documents TEXT NOT NULL DEFAULT '[]', next_step TEXT, deadline TEXT,
  public SMALLINT NOT NULL DEFAULT 0 CHECK (public IN (0, 1)),
  UNIQUE (case_id, version));
CREATE TABLE IF NOT EXISTS acv_listings (
  reference TEXT PRIMARY KEY CHECK (length(reference) > 0),
  record TEXT NOT NULL, asset_id TEXT, confidence DOUBLE PRECISION, confidence_words TEXT, evidence TEXT,
  source_name TEXT NOT NULL, imported_at TEXT NOT NULL, imported_by TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS acv_asset ON acv_listings (asset_id);
CREATE TABLE IF NOT EXISTS match_decisions (
  {id},
  anchor TEXT NOT NULL CHECK (length(anchor) > 0), anchor_key TEXT NOT NULL CHECK (length(anchor_key) > 0),
  match_key TEXT NOT NULL CHECK (length(match_key) > 0), title_number TEXT, asset_id TEXT,
  decision TEXT NOT NULL CHECK (decision IN ('confirmed', 'rejected')),
  note TEXT, decided_by TEXT NOT NULL, decided_at TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS match_decisions_anchor ON match_decisions (anchor_key, match_key);
CREATE TABLE IF NOT EXISTS anchor_aliases (
  {id},
  anchor TEXT NOT NULL CHECK (length(anchor) > 0), anchor_key TEXT NOT NULL CHECK (length(anchor_key) > 0),
  alias TEXT, company_number TEXT, alias_key TEXT NOT NULL CHECK (length(alias_key) > 0),
  action TEXT NOT NULL CHECK (action IN ('added', 'withdrawn')),
  note TEXT, by_user TEXT NOT NULL, at TEXT NOT NULL,
  CHECK (alias IS NOT NULL OR company_number IS NOT NULL));
CREATE INDEX IF NOT EXISTS anchor_aliases_anchor ON anchor_aliases (anchor_key, alias_key);
"""
_STAGE_LIST = ", ".join(f"'{s}'" for s in STAGES)

#: Tables that are histories: rows are added, never changed or removed (enforced by the database itself).
_APPEND_ONLY = (("case_events", "the case history is append-only"),
                ("match_decisions", "the reconciliation decisions are append-only"),
                ("anchor_aliases", "the alias history is append-only"))


def _sqlite_guard(table: str, what: str) -> str:
    return "".join(f"""
CREATE TRIGGER IF NOT EXISTS {table}_no_{op.lower()} BEFORE {op} ON {table}
  BEGIN SELECT RAISE(ABORT, '{what}'); END;""" for op in ("UPDATE", "DELETE"))


def _postgis_guard(table: str, what: str) -> str:
    return f"""
CREATE OR REPLACE FUNCTION {table}_append_only() RETURNS trigger LANGUAGE plpgsql AS
  $$ BEGIN RAISE EXCEPTION '{what}'; END $$;
CREATE OR REPLACE TRIGGER {table}_no_change BEFORE UPDATE OR DELETE ON {table}
  FOR EACH ROW EXECUTE FUNCTION {table}_append_only();
CREATE OR REPLACE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table}
  FOR EACH STATEMENT EXECUTE FUNCTION {table}_append_only();"""


SQLITE_DDL = (_COMMON.format(id="id INTEGER PRIMARY KEY AUTOINCREMENT", stages=_STAGE_LIST)
              + "".join(_sqlite_guard(t, w) for t, w in _APPEND_ONLY) + "\n")
POSTGIS_DDL = (_COMMON.format(id="id bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY", stages=_STAGE_LIST)
               + "".join(_postgis_guard(t, w) for t, w in _APPEND_ONLY) + "\n")


def now() -> str:
    """The time now (UTC, ISO with milliseconds), as the register's history writes it."""
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="milliseconds")


def ensure(store: Store) -> Store:
    """Make the casework tables of ``store`` when absent; returns the store.

    Both backends make them when a register is opened, so this only checks (once per store object);
    a register opened some other way gets them here.
    """
    if has_tables(store):
        return store
    with store._write() as tx:
        if store.backend == "postgis":
            tx.cur.execute("SELECT pg_advisory_xact_lock(hashtext('assets_map_casework'))")
            tx.cur.execute(POSTGIS_DDL)
        else:
            for stmt in (s.strip() for s in _split(SQLITE_DDL)):
                if stmt:
                    tx.cur.execute(stmt)
    store._casework_ready = True
    return store


def has_tables(store: Store) -> bool:
    """True when the casework tables exist (a register nobody followed anything in has none)."""
    if getattr(store, "_casework_ready", False):
        return True
    with store._read() as tx:
        ready = all(store._has_table(tx, t) for t in ("followers", "follows", "inbox", "cases", "case_events",
                                                       "acv_listings", "notify_log", "notify_state", "match_decisions",
                                                       "anchor_aliases"))
    store._casework_ready = ready
    return ready


def _split(ddl: str) -> list[str]:
    """Statements of a DDL script (a trigger's body keeps its inner semicolons)."""
    out, buf = [], []
    for line in ddl.splitlines():
        buf.append(line)
        text = "\n".join(buf).strip()
        if text.endswith(";") and (not text.upper().startswith("CREATE TRIGGER") or text.upper().endswith("END;")):
            out.append(text)
            buf = []
    return out
