"""The register store: one interface, two backends (SQLite embedded, PostGIS shared).

Everything a team confirms goes through :class:`Store`:

* :meth:`Store.import_analysis` writes an analysed register as one transaction:
  an import batch (who, when, file hash, import report), the current records with
  a version number each, and an append-only history row for every change;
* :meth:`Store.save` edits one asset with optimistic concurrency: the caller
  names the version it read and a save against a moved version is refused with a
  :class:`ConflictError` that shows the other change, never a silent overwrite;
* :meth:`Store.submit_correction` / :meth:`Store.decide_correction` form the
  moderation queue for community users' "have we got this wrong?";
* every read (:meth:`Store.assets`, :meth:`Store.get`) takes a :class:`Role`, and a
  public viewer's rows come from the ``public_assets`` view: internal assets and
  fields never leave the store for them.

After an edit the asset is re-scored by the engine (:func:`assets_map.engine.pipeline.score`
with the need areas and exclusion layers stored at import), never by a second
scoring implementation. Backends supply only connections and a few SQL fragments.
"""
from __future__ import annotations

import abc
import contextlib
import datetime as dt
import re
import urllib.parse
from dataclasses import dataclass, field
from typing import Any, Iterable, Iterator, Mapping

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from assets_map.engine.geo import repair_one
from assets_map.io.report import InputError
from assets_map.schema import MEASURE_CRS, STATUSES, keep_sources_apart, order_columns
from assets_map.store import codec, views
from assets_map.store.roles import PUBLIC, Identity, NotAllowed, Role, email_address

#: 2: users are keyed by (issuer, subject); an empty issuer marks an e-mail entry.
SCHEMA_VERSION = 2

#: Statuses an estates user can set, by label; canonical statuses are accepted too.
EDIT_STATUSES: dict[str, str] = {
    "in use": "occupied", "vacant": "vacant", "surplus": "surplus", "sold": "sold",
    "not available for transfer": "not-available",
}
STORE_STATUSES = tuple(dict.fromkeys(STATUSES + tuple(EDIT_STATUSES.values())))
#: What an edit may change.
EDITABLE = ("status", "notes", "contact_route", "disposal_plans", "vacant_since", "location", "visibility",
            "field_visibility", "name", "tenure", "uprn", "postcode", "floor_area_m2", "site_area_ha", "location_note",
            "location_quality")
#: Numbers an edit may set (blank clears them), with the largest value accepted.
EDIT_NUMBERS = {"floor_area_m2": 10_000_000.0, "site_area_ha": 100_000.0}
#: How an edited location was found (an edit placing a site at its postcode says so).
EDIT_QUALITIES = ("register coordinates", "full postcode")
#: What a community correction may propose (besides its message).
PROPOSABLE = ("status", "contact_route", "location")
TEXT_LIMIT = 5000
#: The register's own fields (set in the app, not from files), always present in internal reads.
REGISTER_FIELDS = ("notes", "contact_route", "disposal_plans")
#: Britain in EPSG:27700 (eastings, northings), for checking corrected locations.
GB_BOUNDS = (0.0, 0.0, 700_000.0, 1_300_000.0)

HISTORY_KINDS = ("import", "edit", "correction", "remove")
#: An organisation's estates contact route, as the register holds it (see :meth:`Store.set_contact`).
CONTACT_FIELDS = ("email", "phone", "web_page", "transfer_policy")
CONTACT_LABELS = {"email": "E-mail", "phone": "Phone", "web_page": "Estates web page",
                  "transfer_policy": "Community asset transfer policy"}
_EMAIL = re.compile(r"^[^@\s<>\"']+@[^@\s<>\"']+\.[^@\s<>\"']+$")
_PHONE = re.compile(r"^\+?[0-9 ()\-]{7,25}$")


#: Called with the store after each committed change (an edit, an accepted correction, an import);
#: :mod:`assets_map.store.notify` adds the one that tells followers (it never raises).
AFTER_CHANGE: list = []
#: Extra settings a register read (:meth:`Store.register_analysis`) carries: name -> callable(store, role,
#: asset ids) giving a JSON-safe value for the sites that role sees; :mod:`assets_map.store.listings` adds ``acv``.
ANALYSIS_EXTRAS: dict = {}


class StoreError(RuntimeError):
    """A store operation that could not be done; the register is unchanged."""


class StoreFull(StoreError):
    """The disk (or the database's size limit) is full; the transaction was rolled back."""


class RateLimited(StoreError):
    """Too many corrections from one visitor, or from everyone, in the rate-limit window; nothing was queued."""


#: Public corrections allowed per browser session (or signed-in viewer), and from everyone, per window.
CORRECTION_LIMITS = {"session": 5, "all": 60}
#: The rate-limit window for public corrections, in seconds.
CORRECTION_WINDOW_S = 600


class ConflictError(StoreError):
    """The asset changed since the caller read it; the save was refused.

    Attributes
    ----------
    asset_id, expected, current : the asset and the versions read and found
    others : list of dict
        The history entries that moved the version (who, when, what changed).
    """

    def __init__(self, asset_id: str, expected: int, current: int, others: list[dict]):
        self.asset_id, self.expected, self.current, self.others = asset_id, expected, current, others
        parts = []
        for h in others:
            what = ", ".join(f"{k}: {_short(v[0])} -> {_short(v[1])}" for k, v in h["changes"].items()
                             if k not in _SCORE_FIELDS) or "scores only"
            parts.append(f"version {h['version']} by {h['by']} at {h['at']} ({h['kind']}: {what})")
        super().__init__(f"asset {asset_id} was changed by someone else since you opened it (you had version "
                         f"{expected}, it is now {current}): " + "; ".join(parts)
                         + ". Nothing was saved: reload it and make your change again.")


_SCORE_FIELDS = ("need_area_code", "need_area_name", "imd_decile", "iod_year", "need_score", "need_decile",
                 "excluded", "exclusion_reason", "underuse_score", "underuse_confidence", "transfer_score",
                 "priority", "reasons", "constraints")


def _short(v: Any, n: int = 60) -> str:
    s = "empty" if v is None else str(v)
    return s if len(s) <= n else s[: n - 1] + "…"


@dataclass
class ImportOutcome:
    """What one import did to the register."""

    batch_id: int
    organisation: str
    rows: int
    added: int = 0
    changed: int = 0
    unchanged: int = 0
    removed: int = 0
    kept_edits: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        """The outcome as lines to print: counts of added, changed, unchanged and removed rows, and kept edits."""
        out = [f"import batch {self.batch_id} for {self.organisation}: {self.rows} rows; {self.added} added, "
               f"{self.changed} changed, {self.unchanged} unchanged, {self.removed} no longer in the register "
               f"(kept in the history)"]
        if self.kept_edits:
            out.append(f"kept app edits over the file's values for {len(self.kept_edits)} assets: "
                       + ", ".join(self.kept_edits[:10]) + (" …" if len(self.kept_edits) > 10 else ""))
        return out


#: An import may mark at most this many of an organisation's assets removed unconfirmed ...
REMOVAL_FEW = 5
#: ... or this share of the assets it has in the register, when that is more.
REMOVAL_SHARE = 0.02


def removals_allowed(in_register: int) -> int:
    """How many of an organisation's ``in_register`` assets an import may mark removed without confirmation.

    More than :data:`REMOVAL_FEW` assets and more than :data:`REMOVAL_SHARE` of the
    register need the caller's confirmation (``allow_removals``): a register file
    that lost rows (a stray quote, a cut-off export) must not take assets off the
    register unseen, while a yearly update that drops a few sold sites goes through.
    """
    return max(REMOVAL_FEW, int(in_register * REMOVAL_SHARE))


class RemovalsNotConfirmed(StoreError):
    """An import would mark more assets removed than the caller confirmed; nothing was written.

    Attributes
    ----------
    organisation : str
    removed : list of (asset_id, name)
        Every asset the import would mark as no longer in the register, in asset_id order.
    in_register : int
        The organisation's assets in the register before the import.
    allowed : int
        How many removals went through unconfirmed (or the number the caller confirmed).
    """

    def __init__(self, organisation: str, removed: list[tuple[str, str | None]], in_register: int, allowed: int,
                 source: str, confirmed: bool):
        self.organisation, self.removed, self.in_register, self.allowed = organisation, removed, in_register, allowed
        shown = ", ".join(a for a, _ in removed[:8]) + (f" and {len(removed) - 8} more" if len(removed) > 8 else "")
        limit = (f"you confirmed {allowed}" if confirmed else
                 f"an import may remove {allowed} unconfirmed (more than {REMOVAL_FEW} assets and "
                 f"{REMOVAL_SHARE:.0%} of the register need confirmation)")
        super().__init__(f"{source}: the import would mark {len(removed)} of {organisation}'s {in_register} assets as "
                         f"no longer in the register ({shown}); {limit}. Nothing was imported: check the file, or "
                         f"confirm the {len(removed)} removals (command line: --allow-removals {len(removed)})")


def _check_removals(current: Mapping[str, tuple], seen: set, allow: int | None, organisation: str,
                    source: str) -> None:
    """Refuse (before anything is written) an import that would remove more assets than allowed."""
    live = [aid for aid, old in current.items() if not old[2]]
    gone = sorted(aid for aid in live if aid not in seen)
    allowed = removals_allowed(len(live)) if allow is None else max(0, int(allow))
    if len(gone) > allowed:
        removed = [(aid, codec.loads(current[aid][3]).get("name")) for aid in gone]
        raise RemovalsNotConfirmed(organisation, removed, len(live), allowed, source, allow is not None)


class Json:
    """A parameter to be stored as JSON (text in SQLite, jsonb in PostgreSQL)."""

    __slots__ = ("value",)

    def __init__(self, value: Any):
        self.value = value


class Tx:
    """A cursor inside one transaction; SQL is written with ``?`` placeholders."""

    def __init__(self, cur, *, qmark: bool, json_param=None):
        self.cur = cur
        self.qmark = qmark
        self.json_param = json_param or (lambda v: codec.dumps(v))

    def _params(self, params: Iterable) -> list:
        return [self.json_param(p.value) if isinstance(p, Json) else p for p in params]

    def _sql(self, sql: str) -> str:
        return sql if self.qmark else sql.replace("%", "%%").replace("?", "%s")

    def x(self, sql: str, params: Iterable = ()):
        """Execute one statement; returns the cursor."""
        self.cur.execute(self._sql(sql), self._params(params))
        return self.cur

    def q(self, sql: str, params: Iterable = ()) -> list[tuple]:
        """Every row a query returns."""
        return list(self.x(sql, params).fetchall())

    def one(self, sql: str, params: Iterable = ()):
        """The first row a query returns, or None."""
        rows = self.q(sql, params)
        return rows[0] if rows else None

    def many(self, sql: str, rows: Iterable[Iterable]) -> None:
        """Execute one statement once per row of parameters."""
        self.cur.executemany(self._sql(sql), [self._params(r) for r in rows])


# Column lists of every table, for backup and restore (geometry and JSON columns marked). The table
# ``public_records`` is not here: it is derived (views.public_records) and made again after a restore.
TABLES: dict[str, tuple[str, ...]] = {
    "batches": ("batch_id", "organisation", "imported_by", "imported_at", "source_name", "file_sha256",
                "report", "settings", "rows", "added", "changed", "unchanged", "removed"),
    "assets": ("asset_id", "organisation", "version", "batch_id", "removed", "visibility", "name", "status",
               "priority", "attrs", "edits", "field_visibility", "geom", "updated_at", "updated_by"),
    "history": ("id", "asset_id", "version", "at", "by_user", "kind", "batch_id", "changes", "state",
                "visibility", "field_visibility", "geom"),
    "context": ("organisation", "layer", "label", "row_no", "attrs", "geom", "minx", "miny", "maxx", "maxy"),
    "corrections": ("id", "asset_id", "submitted_at", "submitted_by", "contact", "message", "proposed", "state",
                    "decided_by", "decided_at", "decision_note", "applied_version"),
    "users": ("issuer", "subject", "role", "organisation", "added_by", "added_at"),
    "contacts": ("organisation", "version", "email", "phone", "web_page", "transfer_policy", "updated_at",
                 "updated_by"),
    "contact_history": ("id", "organisation", "version", "at", "by_user", "changes"),
    # What follows a flag (store.casework): followers, the inbox, transfer cases, ACV listings.
    "followers": ("follower", "issuer", "subject", "sign_in_email", "local", "email", "email_confirmed_at",
                  "confirm_token", "confirm_sent_at", "unsubscribe_token", "delivery", "created_at"),
    "follows": ("follower", "asset_id", "group_name", "steward", "created_at"),
    "notify_log": ("id", "at", "kind", "who"),
    "inbox": ("id", "follower", "asset_id", "at", "kind", "title", "body", "source_key", "read_at", "email_state",
              "emailed_at"),
    "notify_state": ("key", "value"),
    "cases": ("id", "asset_id", "organisation", "opened_by", "group_name", "opened_at", "stage", "stage_date",
              "next_step", "deadline", "version", "updated_at", "updated_by"),
    "case_events": ("id", "case_id", "version", "stage", "stage_date", "recorded_at", "by_user", "note", "reason",
                    "documents", "next_step", "deadline", "public"),
    "acv_listings": ("reference", "record", "asset_id", "confidence", "confidence_words", "evidence", "source_name",
                     "imported_at", "imported_by"),
    # An estates team's decisions on a Land Registry reconciliation (store.decisions), append-only.
    "match_decisions": ("id", "anchor", "anchor_key", "match_key", "title_number", "asset_id", "decision", "note",
                        "decided_by", "decided_at"),
}
JSON_COLUMNS: dict[str, set[str]] = {
    "batches": {"report", "settings"}, "assets": {"attrs", "edits", "field_visibility"},
    "history": {"changes", "state", "field_visibility"}, "context": {"attrs"}, "corrections": {"proposed"},
    "users": set(), "contacts": set(), "contact_history": {"changes"},
    "followers": set(), "follows": set(), "notify_log": set(), "inbox": set(), "notify_state": set(), "cases": set(),
    "case_events": {"documents"}, "acv_listings": {"record"}, "match_decisions": set(),
}
#: Tables added after schema 2: a backup written before them has none (read as empty).
ADDED_TABLES = ("contacts", "contact_history", "followers", "follows", "notify_log", "inbox", "notify_state", "cases",
                "case_events", "acv_listings", "match_decisions")
#: Columns added after schema 1, with the SQL value a backup written before them restores as.
ADDED_COLUMNS: dict[tuple[str, str], str] = {("users", "issuer"): "''"}


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="milliseconds")


def _rescore_rows(rows: gpd.GeoDataFrame, needs: gpd.GeoDataFrame, *,
                 exclude: list[tuple[str, gpd.GeoDataFrame]] = (), weights: dict[str, float] | None = None,
                 settings: dict | None = None) -> gpd.GeoDataFrame:
    """Edited rows scored again with their organisation's stored need areas, layers and weights.

    Goes through :func:`assets_map.engine.pipeline.rescore` (the one re-scoring path) without building
    the need model again: the stored need areas were built with the stored weights.
    """
    from assets_map.engine.pipeline import Analysis, rescore

    context = Analysis(assets=rows, needs=needs, exclude=list(exclude), settings=dict(settings or {}))
    return rescore(context, weights=weights, reweight=False).assets


class Store(abc.ABC):
    """The register: batches, current records with versions, history, moderation, users.

    Subclasses provide :meth:`_write` and :meth:`_read` (a :class:`Tx` in one
    transaction) and the SQL fragments below.
    """

    backend = "abstract"
    #: SQL for a geometry parameter and for reading the ``geom`` column as WKB.
    G_IN = "?"
    G_OUT = "geom"
    FOR_UPDATE = ""
    #: SQL reading the owner name (``organisation``) a record of the ``assets`` table gives.
    ATTR_ORGANISATION = "json_extract(attrs, '$.organisation')"

    # ----------------------------------------------------------------- plumbing
    @abc.abstractmethod
    def _write(self) -> contextlib.AbstractContextManager[Tx]:
        """A write transaction (exclusive enough that read-check-write is safe)."""

    @abc.abstractmethod
    def _read(self) -> contextlib.AbstractContextManager[Tx]:
        """A read transaction (one consistent snapshot)."""

    def _lock_register(self, tx: Tx) -> None:  # noqa: B027 (a hook: no-op unless a backend needs a lock)
        """Serialise imports (SQLite's write lock already does)."""

    @abc.abstractmethod
    def describe(self) -> str:
        """Where the register lives, for the app and CLI (no password)."""

    def revision(self) -> int:
        """A number that grows with every change: a cache key for public views."""
        with self._read() as tx:
            h = tx.one("SELECT COALESCE(MAX(id), 0) FROM history")[0]
            c = tx.one("SELECT COALESCE(MAX(id), 0) FROM corrections")[0]
            b = tx.one("SELECT COALESCE(MAX(batch_id), 0) FROM batches")[0]
            k = tx.one("SELECT COALESCE(MAX(id), 0) FROM contact_history")[0] if self._has_table(tx, "contact_history") \
                else 0
        # Every term only grows and every change grows one: the sum grows with every change.
        return int(h) * 1_000_003 + int(c) * 1009 + int(b) + int(k)

    def _has_table(self, tx: Tx, table: str) -> bool:  # a backend answers from its catalogue
        return True

    def raw(self, sql: str, params: Iterable = ()) -> list[tuple]:
        """Run one SQL statement (``?`` placeholders) in its own transaction: for checks and tests."""
        with self._write() as tx:
            cur = tx.x(sql, params)
            return list(cur.fetchall()) if cur.description else []

    def raw_columns(self, table: str) -> list[str]:
        """Column names of a table or view."""
        with self._read() as tx:
            cur = tx.x(f"SELECT * FROM {table} WHERE 1 = 0")
            return [d[0] for d in cur.description]

    def close(self) -> None:  # noqa: B027 (a hook: no-op unless a backend holds a connection)
        """Release resources (connections are opened per operation)."""

    def is_empty(self) -> bool:
        """True when no table of the register holds a row."""
        with self._read() as tx:
            return all(tx.one(f"SELECT COUNT(*) FROM {t}")[0] == 0 for t in TABLES
                       if t not in ADDED_TABLES or self._has_table(tx, t))

    # ------------------------------------------------------------------ imports
    def import_analysis(self, result, *, organisation: str, role: Role, source_name: str, file_sha256: str,
                        exclude: list[tuple[str, gpd.GeoDataFrame]] = (),
                        allow_removals: int | None = None) -> ImportOutcome:
        """Write an analysed register for one organisation as a single transaction.

        Assets new to the register get version 1; changed assets a new version;
        assets missing from the file are marked removed (never deleted). Values an
        estates user set in the app are kept over the file's, and those assets are
        re-scored. Either all of this is written or, on any error, nothing.

        Parameters
        ----------
        result : assets_map.engine.pipeline.Analysis
            The analysed register (assets in EPSG:27700, needs, reports, settings).
        organisation : the team whose register this is (editors may import only their own)
        role : who imports
        source_name : the file's name (never a server path)
        file_sha256 : hash of the file's bytes (see :func:`assets_map.io.provenance.sha256_of`)
        exclude : the greenspace/allotment layers used in the analysis, kept so that
            later edits are scored the same way
        allow_removals : how many assets the caller confirmed may be marked removed. None:
            at most :func:`removals_allowed` of the organisation's assets (a file that lost
            rows must not empty the register unseen); more raises :class:`RemovalsNotConfirmed`,
            checked in the import's transaction before anything is written.
        """
        role.require_edit(organisation, "import a register")
        assets = result.assets
        _require_own_rows(role, assets)
        problems = []
        if not organisation or not str(organisation).strip():
            problems.append("the register needs an organisation")
        if assets.crs is None or assets.crs.to_epsg() != 27700:
            problems.append(f"assets must be in {MEASURE_CRS} (got {assets.crs})")
        ids = assets["asset_id"] if "asset_id" in assets.columns else pd.Series([None] * len(assets))
        missing = [i + 1 for i, v in enumerate(ids) if not isinstance(v, str) or not v.strip()]
        if missing:
            from assets_map.io.report import rows_text
            problems.append(f"asset_id is missing in {rows_text(missing)}")
        dup = sorted(set(ids[ids.duplicated() & ids.notna()]))
        if dup:
            problems.append(f"asset_id repeated: {', '.join(map(str, dup[:10]))}")
        if problems:
            raise InputError(problems, source=source_name)

        records = [codec.row_record(r) for r in assets.drop(columns="geometry").to_dict("records")]
        wkbs = [codec.geom_wkb(g) for g in assets.geometry]
        reports = [r.to_dict() for r in getattr(result, "reports", [])]
        settings = codec.json_value(dict(getattr(result, "settings", {}) or {}))
        weights = (getattr(result, "settings", {}) or {}).get("weights")
        now = _now()
        with self._write() as tx:
            self._lock_register(tx)
            taken = {}
            for chunk in _chunks(list(ids), 500):
                marks = ",".join("?" * len(chunk))
                taken.update(dict(tx.q(f"SELECT asset_id, organisation FROM assets WHERE asset_id IN ({marks}) "
                                       f"AND organisation <> ?", [*chunk, organisation])))
            if taken:
                shown = ", ".join(f"{a} ({o})" for a, o in list(taken.items())[:10])
                raise InputError(f"{len(taken)} asset_id values already belong to another organisation's "
                                 f"register: {shown}; nothing was imported", source=source_name)
            current = {r[0]: r for r in tx.q(
                f"SELECT asset_id, version, removed, attrs, edits, {self.G_OUT} FROM assets WHERE organisation = ?",
                [organisation])}
            _check_removals(current, set(ids), allow_removals, organisation, source_name)
            # Keep app edits over the file's values, then re-score those rows through the engine.
            edited = [i for i, a in enumerate(ids) if a in current and codec.loads(current[a][4])]
            kept = []
            if edited:
                frame = codec.records_frame([records[i] for i in edited], [codec.wkb_geom(wkbs[i]) for i in edited])
                for pos, i in enumerate(edited):
                    edits = codec.loads(current[ids.iloc[i]][4])
                    _apply_edits(frame, pos, edits)
                    kept.append(ids.iloc[i])
                scored = _rescore_rows(frame, result.needs, exclude=exclude, weights=weights, settings=result.settings)
                for pos, i in enumerate(edited):
                    records[i] = codec.row_record(scored.drop(columns="geometry").iloc[pos].to_dict())
                    wkbs[i] = codec.geom_wkb(scored.geometry.iloc[pos])
            cur = tx.x("INSERT INTO batches (organisation, imported_by, imported_at, source_name, file_sha256, report, "
                       "settings, rows) VALUES (?, ?, ?, ?, ?, ?, ?, ?)" + self._returning("batch_id"),
                       [organisation, role.user, now, source_name, file_sha256, Json(reports), Json(settings),
                        len(records)])
            batch_id = self._last_id(tx, cur, "batches", "batch_id")
            out = ImportOutcome(batch_id, organisation, len(records), kept_edits=kept)
            hist, inserts, updates = [], [], []
            for rec, wkb in zip(records, wkbs, strict=True):
                aid = rec["asset_id"]
                vis = views.normalise_visibility(rec.get("visibility"))
                rec["visibility"] = vis
                old = current.get(aid)
                if old is None:
                    inserts.append([aid, organisation, 1, batch_id, 0, vis, rec.get("name"), rec.get("status"),
                                    rec.get("priority"), Json(rec), Json({}), Json({}), wkb, now, role.user])
                    changes = {k: [None, v] for k, v in rec.items() if v is not None}
                    if wkb is not None:
                        changes["geometry"] = [None, codec.geom_text(codec.wkb_geom(wkb))]
                    hist.append([aid, 1, now, role.user, "import", batch_id, Json(changes), Json(rec), vis, Json({}), wkb])
                    out.added += 1
                    continue
                changes = _diff(codec.loads(old[3]), rec, old[5], wkb)
                if old[2]:
                    changes["removed"] = [True, False]
                if not changes:
                    out.unchanged += 1
                    continue
                version = old[1] + 1
                updates.append([version, batch_id, vis, rec.get("name"), rec.get("status"), rec.get("priority"),
                                Json(rec), wkb, now, role.user, aid, old[1]])
                hist.append([aid, version, now, role.user, "import", batch_id, Json(changes), Json(rec), vis,
                             None, wkb])
                out.changed += 1
            seen = set(ids)
            for aid, old in current.items():
                if aid in seen or old[2]:
                    continue
                version = old[1] + 1
                tx.x("UPDATE assets SET removed = 1, version = ?, batch_id = ?, updated_at = ?, updated_by = ? "
                     "WHERE asset_id = ? AND version = ?", [version, batch_id, now, role.user, aid, old[1]])
                hist.append([aid, version, now, role.user, "remove", batch_id,
                             Json({"removed": [False, True]}), Json(codec.loads(old[3])), None, None, old[5]])
                out.removed += 1
            if inserts:
                tx.many(f"INSERT INTO assets (asset_id, organisation, version, batch_id, removed, visibility, name, "
                        f"status, priority, attrs, edits, field_visibility, geom, updated_at, updated_by) "
                        f"VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, {self.G_IN}, ?, ?)", inserts)
            for u in updates:
                cur = tx.x(f"UPDATE assets SET version = ?, batch_id = ?, removed = 0, visibility = ?, name = ?, "
                           f"status = ?, priority = ?, attrs = ?, geom = {self.G_IN}, updated_at = ?, updated_by = ? "
                           f"WHERE asset_id = ? AND version = ?", u)
                if cur.rowcount != 1:
                    raise StoreError(f"asset {u[10]} changed during the import; nothing was imported")
            self._insert_history(tx, hist)
            self._replace_context(tx, organisation, result.needs, exclude)
            self._refresh_public(tx, organisation=organisation, context=(result.needs, list(exclude), weights))
            tx.x("UPDATE batches SET added = ?, changed = ?, unchanged = ?, removed = ? WHERE batch_id = ?",
                 [out.added, out.changed, out.unchanged, out.removed, batch_id])
        self._after_change()
        return out

    def _after_change(self) -> None:
        """Run the :data:`AFTER_CHANGE` hooks (telling followers); a failure there never undoes the committed change."""
        for hook in AFTER_CHANGE:
            hook(self)

    def _returning(self, col: str) -> str:
        return ""

    def _last_id(self, tx: Tx, cur, table: str, col: str) -> int:
        return int(cur.lastrowid)

    def _insert_history(self, tx: Tx, rows: list[list]) -> None:
        # A history row of a removal or an import keeps the asset's field visibility as it is.
        if not rows:
            return
        tx.many(f"INSERT INTO history (asset_id, version, at, by_user, kind, batch_id, changes, state, visibility, "
                f"field_visibility, geom) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, {self.G_IN})", rows)

    def _replace_context(self, tx: Tx, organisation: str, needs: gpd.GeoDataFrame,
                         exclude: Iterable[tuple[str, gpd.GeoDataFrame]]) -> None:
        tx.x("DELETE FROM context WHERE organisation = ?", [organisation])
        rows = []
        layers = [("needs", "need areas", needs)] + [(f"exclude:{i}", label, g) for i, (label, g) in enumerate(exclude)]
        for layer, label, gdf in layers:
            if gdf is None or gdf.empty:
                continue
            gdf = gdf.to_crs(MEASURE_CRS)
            keep = [c for c in gdf.columns if c != gdf.geometry.name][:40]
            bounds = gdf.geometry.bounds.to_numpy()
            for n, (rec, geom, b) in enumerate(zip(gdf[keep].to_dict("records"), gdf.geometry, bounds, strict=True)):
                if geom is None or geom.is_empty:
                    continue
                rows.append([organisation, layer, label, n, Json(codec.row_record(rec)), codec.geom_wkb(geom),
                             *map(float, b)])
        if rows:
            tx.many(f"INSERT INTO context (organisation, layer, label, row_no, attrs, geom, minx, miny, maxx, maxy) "
                    f"VALUES (?, ?, ?, ?, ?, {self.G_IN}, ?, ?, ?, ?)", rows)

    def _context(self, tx: Tx, organisation: str, geom) -> tuple[gpd.GeoDataFrame, list, dict | None]:
        """Need areas and exclusion layers near ``geom`` (all when it is None), and the weights."""
        where, params = "organisation = ?", [organisation]
        if geom is not None:
            x0, y0, x1, y1 = geom.bounds
            where += " AND maxx >= ? AND minx <= ? AND maxy >= ? AND miny <= ?"
            params += [x0, x1, y0, y1]
        rows = tx.q(f"SELECT layer, label, attrs, {self.G_OUT} FROM context WHERE {where} ORDER BY layer, row_no",
                    params)
        by_layer: dict[str, tuple[str, list, list]] = {}
        for layer, label, attrs, g in rows:
            entry = by_layer.setdefault(layer, (label, [], []))
            entry[1].append(codec.loads(attrs))
            entry[2].append(codec.wkb_geom(g))
        needs_cols = ["code", "name", "imd_decile", "iod_year", "need_score", "need_decile"]
        if "needs" in by_layer:
            _, recs, geoms = by_layer.pop("needs")
            needs = gpd.GeoDataFrame(pd.DataFrame(recs), geometry=geoms, crs=MEASURE_CRS)
            for c in needs_cols:
                if c not in needs.columns:
                    needs[c] = None
        else:
            needs = gpd.GeoDataFrame({c: pd.Series([], dtype=object) for c in needs_cols},
                                     geometry=gpd.GeoSeries([], crs=MEASURE_CRS), crs=MEASURE_CRS)
        exclude = [(label, gpd.GeoDataFrame(pd.DataFrame(recs), geometry=geoms, crs=MEASURE_CRS))
                   for label, recs, geoms in by_layer.values()]
        row = tx.one("SELECT settings FROM batches WHERE organisation = ? ORDER BY batch_id DESC LIMIT 1",
                     [organisation])
        weights = (codec.loads(row[0]) or {}).get("weights") if row else None
        return needs, exclude, weights

    def _refresh_public(self, tx: Tx, *, organisation: str | None = None, asset_ids: list[str] | None = None,
                        context: tuple | None = None) -> int:
        """Recompute the public records (:func:`views.public_records`) of public assets; returns how many changed.

        Every public asset of ``organisation``, or the assets ``asset_ids``, or (neither given)
        the whole register; ``context`` is (needs, exclude, weights) when the caller has it,
        else each organisation's stored context. Records of assets that are no longer public
        are deleted, so the ``public_assets`` view never shows a stale one.
        """
        if asset_ids is not None:
            groups = [(None, list(asset_ids))]
        elif organisation is not None:
            groups = [(organisation, None)]
        else:
            groups = [(r[0], None) for r in tx.q("SELECT DISTINCT organisation FROM assets ORDER BY organisation")]
        changed = 0
        for org, ids in groups:
            for part in (_chunks(ids, 500) if ids is not None else [None]):
                if part is None:
                    where, params = "a.organisation = ?", [org]
                else:
                    where, params = f"a.asset_id IN ({','.join('?' * len(part))})", list(part)
                rows = tx.q(f"SELECT a.asset_id, a.organisation, a.version, a.visibility, a.removed, a.attrs, "
                            f"a.field_visibility, {self.G_OUT.replace('geom', 'a.geom')} FROM assets a "
                            f"WHERE {where} ORDER BY a.asset_id", params)
                have = {r[0]: (r[1], codec.loads(r[2])) for r in tx.q(
                    f"SELECT p.asset_id, p.version, p.record FROM public_records p JOIN assets a "
                    f"ON a.asset_id = p.asset_id WHERE {where}", params)}
                live = [r for r in rows if r[3] == "public" and not r[4]]
                gone = [r[0] for r in rows if r[0] in have and (r[3] != "public" or r[4])]
                upserts = []
                for o in sorted({r[1] for r in live}):
                    mine = [r for r in live if r[1] == o]
                    needs, exclude, weights = context if context is not None else self._context(tx, o, None)
                    pubs = views.public_records([codec.loads(r[5]) for r in mine], [codec.wkb_geom(r[7]) for r in mine],
                                                [codec.loads(r[6]) or {} for r in mine], needs=needs, exclude=exclude,
                                                weights=weights)
                    upserts += [[r[0], r[2], Json(pub)] for r, pub in zip(mine, pubs, strict=True) if have.get(r[0]) != (r[2], pub)]
                for chunk in _chunks(gone, 500):
                    tx.x(f"DELETE FROM public_records WHERE asset_id IN ({','.join('?' * len(chunk))})", chunk)
                if upserts:
                    tx.many("INSERT INTO public_records (asset_id, version, record) VALUES (?, ?, ?) ON CONFLICT "
                            "(asset_id) DO UPDATE SET version = excluded.version, record = excluded.record", upserts)
                changed += len(gone) + len(upserts)
        return changed

    # -------------------------------------------------------------------- edits
    def save(self, asset_id: str, changes: Mapping[str, Any], *, expected_version: int, role: Role,
             kind: str = "edit") -> int:
        """Edit one asset; returns its new version.

        Parameters
        ----------
        asset_id : the asset
        changes : field -> new value. ``status`` (a label of :data:`EDIT_STATUSES` or a
            canonical status), ``notes``, ``contact_route``, ``disposal_plans``,
            ``vacant_since`` (date or ISO text), ``location`` (a shapely geometry or an
            (easting, northing) pair in EPSG:27700), ``visibility`` (public/internal),
            ``field_visibility`` ({field: public/internal}).
        expected_version : the version the user was shown
        role : who edits (an editor of the asset's organisation, or an admin)

        Raises
        ------
        ConflictError
            when the asset moved past ``expected_version``; nothing is written.
        InputError
            for invalid changes (every problem listed).
        """
        clean = validate_changes(changes)
        with self._write() as tx:
            version = self._save_in(tx, asset_id, clean, expected_version=expected_version, role=role, kind=kind)
        self._after_change()
        return version

    def _save_in(self, tx: Tx, asset_id: str, clean: dict, *, expected_version: int, role: Role, kind: str) -> int:
        row = tx.one(f"SELECT organisation, version, attrs, edits, field_visibility, visibility, {self.G_OUT} "
                     f"FROM assets WHERE asset_id = ?{self.FOR_UPDATE}", [asset_id])
        if row is None:
            raise StoreError(f"there is no asset {asset_id!r} in the register")
        org, version, attrs, edits, fvis, vis, wkb = row
        role.require_edit(org)
        if version != expected_version:
            others = [self._history_row(h) for h in tx.q(
                "SELECT id, asset_id, version, at, by_user, kind, batch_id, changes FROM history "
                "WHERE asset_id = ? AND version > ? ORDER BY version", [asset_id, expected_version])]
            raise ConflictError(asset_id, expected_version, version, others)
        attrs, edits, fvis = codec.loads(attrs), dict(codec.loads(edits) or {}), dict(codec.loads(fvis) or {})
        if "field_visibility" in clean:
            fvis.update(clean.pop("field_visibility"))
            # Keep only choices that differ from the default, so the history shows real changes.
            fvis = {f: v for f, v in fvis.items() if v != ("public" if f in views.PUBLIC_FIELDS else "internal")}
        for k, v in clean.items():
            edits[k] = shapely.to_wkt(v, rounding_precision=-1) if k == "location" else v
        frame = codec.records_frame([attrs], [codec.wkb_geom(wkb)])
        _apply_edits(frame, 0, edits, user=role.user)
        needs, exclude, weights = self._context(tx, org, frame.geometry.iloc[0])
        scored = _rescore_rows(frame, needs, exclude=exclude, weights=weights)
        new = codec.row_record(scored.drop(columns="geometry").iloc[0].to_dict())
        new_geom = codec.geom_wkb(scored.geometry.iloc[0])
        new["visibility"] = views.normalise_visibility(new.get("visibility"))
        changes = _diff(attrs, new, wkb, new_geom)
        old_fvis = dict(codec.loads(row[4]) or {})
        if fvis != old_fvis:
            changes["field_visibility"] = [old_fvis, fvis]
        if not changes:
            return version
        now = _now()
        cur = tx.x(f"UPDATE assets SET version = ?, visibility = ?, name = ?, status = ?, priority = ?, attrs = ?, "
                   f"edits = ?, field_visibility = ?, geom = {self.G_IN}, updated_at = ?, updated_by = ? "
                   f"WHERE asset_id = ? AND version = ?",
                   [version + 1, new["visibility"], new.get("name"), new.get("status"), new.get("priority"),
                    Json(new), Json(edits), Json(fvis), new_geom, now, role.user, asset_id, version])
        if cur.rowcount != 1:
            raise StoreError(f"asset {asset_id} changed while saving; nothing was saved")
        self._insert_history(tx, [[asset_id, version + 1, now, role.user, kind, None, Json(changes), Json(new),
                                   new["visibility"], Json(fvis), new_geom]])
        self._refresh_public(tx, asset_ids=[asset_id], context=(needs, exclude, weights))
        return version + 1

    # -------------------------------------------------------------------- reads
    def assets(self, role: Role = PUBLIC, *, organisation: str | None = None,
               include_removed: bool = False) -> gpd.GeoDataFrame:
        """The register as ``role`` may see it, as a GeoDataFrame in EPSG:27700.

        A viewer gets rows of the ``public_assets`` view only (public assets still in
        the register, allow-listed fields). Editors and admins also get ``version``
        (for :meth:`save`), ``removed`` and ``field_visibility`` on the rows they may
        edit; an editor sees other organisations' assets as the public does.
        """
        if role.is_public:
            return self._public_frame(organisation)
        where, params = ["1 = 1"], []
        if role.kind != "admin":
            where.append("organisation = ?")
            params.append(role.organisation)
        if organisation:
            where.append("organisation = ?")
            params.append(organisation)
        if not include_removed:
            where.append("removed = 0")
        with self._read() as tx:
            rows = tx.q(f"SELECT asset_id, organisation, version, removed, visibility, attrs, field_visibility, "
                        f"{self.G_OUT} FROM assets WHERE {' AND '.join(where)} ORDER BY asset_id", params)
            # Other organisations' assets exactly as the public sees them: through the same view.
            others = [] if role.kind == "admin" else self._public_rows(tx, organisation, not_of=role.organisation)
        recs, geoms, version, removed, fvs, registers = [], [], [], [], [], []
        for aid, org, ver, rem, _visible, attrs, fv, wkb in rows:
            rec = codec.loads(attrs)
            for f in REGISTER_FIELDS:
                rec.setdefault(f, None)
            rec["asset_id"] = aid
            recs.append(rec)
            geoms.append(codec.wkb_geom(wkb))
            version.append(ver)
            removed.append(bool(rem))
            fvs.append(codec.loads(fv) or {})
            registers.append(org)
        for rec, geom, org in others:
            recs.append(rec)
            geoms.append(geom)
            version.append(None)
            removed.append(False)
            fvs.append(None)
            registers.append(org)
        order = sorted(range(len(recs)), key=lambda i: recs[i]["asset_id"])
        frame = codec.records_frame([recs[i] for i in order], [geoms[i] for i in order],
                                    extra={"version": pd.array([version[i] for i in order], dtype="Int64"),
                                           "removed": [removed[i] for i in order],
                                           "field_visibility": [fvs[i] for i in order]})
        # two registers' src_uprn and src_UPRN kept apart
        return keep_sources_apart(frame, [registers[i] for i in order])

    def _public_rows(self, tx: Tx, organisation: str | None = None, *, asset_id: str | None = None,
                     not_of: str | None = None) -> list[tuple[dict, Any, str]]:
        """Rows of the ``public_assets`` view as (record, geometry, owning organisation).

        ``organisation`` filters on the organisation the public sees; ``not_of`` leaves out the
        assets of one organisation (an editor's own, which they read in full).
        """
        cols = views.VIEW_FIELDS
        where, params = ["1 = 1"], []
        if organisation:
            where.append("v.organisation = ?")
            params.append(organisation)
        if asset_id is not None:
            where.append("v.asset_id = ?")
            params.append(asset_id)
        if not_of is not None:
            where.append("a.organisation <> ?")
            params.append(not_of)
        geom = self.G_OUT.replace("geom", "v.geom")
        rows = tx.q(f"SELECT {', '.join('v.' + c for c in cols)}, a.organisation, {geom} FROM public_assets v "
                    f"JOIN assets a ON a.asset_id = v.asset_id WHERE {' AND '.join(where)} ORDER BY v.asset_id",
                    params)
        out = []
        for r in rows:
            rec = {c: codec.json_value(v) for c, v in zip(cols, r[:-2], strict=True)}
            if rec["excluded"] is not None:
                rec["excluded"] = bool(rec["excluded"])
            out.append((rec, codec.wkb_geom(r[-1]), r[-2]))
        return out

    def _public_frame(self, organisation: str | None) -> gpd.GeoDataFrame:
        with self._read() as tx:
            rows = self._public_rows(tx, organisation)
        return codec.records_frame([r[0] for r in rows], [r[1] for r in rows])

    def register_analysis(self, role: Role = PUBLIC):
        """The register as ``role`` may see it, as an :class:`~assets_map.engine.pipeline.Analysis` for the map.

        Assets come from :meth:`assets` (so a viewer gets the public view, filtered here where
        it is read); need areas and exclusion layers are those stored with each organisation's
        import (need areas are public data). Columns a role may not see are present but empty.
        """
        from assets_map.engine.pipeline import Analysis
        from assets_map.schema import empty_asset_frame

        frame = self.assets(role)
        blank = empty_asset_frame(len(frame))
        for col in blank.columns:
            if col not in frame.columns:
                frame[col] = blank[col].to_numpy()
        frame["excluded"] = frame["excluded"].fillna(False).astype(bool)
        needs_parts, exclude, weights = [], [], None
        orgs = self.organisations()
        with self._read() as tx:
            for org in orgs:
                needs, layers, w = self._context(tx, org, None)
                needs_parts.append(needs)
                # A layer's label is the name of its file: the public reasons never name it.
                exclude += layers if role.sees_internal(org) else [(views.PUBLIC_LAYER_LABEL, g) for _, g in layers]
                weights = weights or w
        needs = (pd.concat(needs_parts, ignore_index=True).drop_duplicates("code") if needs_parts
                 else self._context_empty_needs())
        needs = gpd.GeoDataFrame(needs, geometry="geometry", crs=MEASURE_CRS)
        years = pd.to_numeric(needs.get("iod_year", pd.Series(dtype=float)), errors="coerce").dropna()
        settings = {"weights": weights or {"imd": 1.0}, "iod_year": int(years.iloc[0]) if len(years) else None,
                    "source": "register", "role": role.describe(), "contacts": self.contacts_by_owner()}
        for key, extra in ANALYSIS_EXTRAS.items():  # e.g. each site's ACV clocks (store.listings)
            value = extra(self, role, frame["asset_id"].astype(str).tolist())
            if value:
                settings[key] = value
        return Analysis(assets=frame[order_columns(frame)], needs=needs, settings=settings, exclude=exclude)

    @staticmethod
    def _context_empty_needs() -> gpd.GeoDataFrame:
        cols = ["code", "name", "imd_decile", "iod_year", "need_score", "need_decile"]
        return gpd.GeoDataFrame({c: pd.Series([], dtype=object) for c in cols},
                                geometry=gpd.GeoSeries([], crs=MEASURE_CRS), crs=MEASURE_CRS)

    def get(self, asset_id: str, role: Role = PUBLIC) -> dict | None:
        """One asset as ``role`` may see it (None when absent or not visible to them).

        The dict has the record's fields, ``geometry`` (shapely, EPSG:27700) and for
        roles that may edit it ``version``, ``removed``, ``edits`` and ``field_visibility``.
        """
        with self._read() as tx:
            row = tx.one(f"SELECT organisation, version, removed, visibility, attrs, edits, field_visibility, "
                         f"{self.G_OUT} FROM assets WHERE asset_id = ?", [asset_id])
            if row is None:
                return None
            if not role.sees_internal(row[0]):
                public = self._public_rows(tx, asset_id=asset_id)
                if not public:
                    return None
                rec, geom, _ = public[0]
                return {**rec, "geometry": geom}
        _, ver, rem, _, attrs, edits, fv, wkb = row
        out = dict(codec.loads(attrs))
        for f in REGISTER_FIELDS:
            out.setdefault(f, None)
        out.update(version=ver, removed=bool(rem), edits=codec.loads(edits) or {}, field_visibility=codec.loads(fv) or {},
                   geometry=codec.wkb_geom(wkb))
        return out

    def history(self, asset_id: str | None = None, *, role: Role, limit: int = 500) -> list[dict]:
        """The audit trail (newest first) of one asset or of everything ``role`` may edit."""
        if role.is_public:
            raise NotAllowed("the public may not read the audit trail")
        where, params = "", []
        if asset_id is not None:
            where, params = " WHERE h.asset_id = ?", [asset_id]
        with self._read() as tx:
            rows = tx.q("SELECT h.id, h.asset_id, h.version, h.at, h.by_user, h.kind, h.batch_id, h.changes, "
                        f"a.organisation FROM history h JOIN assets a ON a.asset_id = h.asset_id{where} "
                        f"ORDER BY h.id DESC LIMIT {int(limit)}", params)
        return [self._history_row(r[:8]) for r in rows if role.sees_internal(r[8])]

    @staticmethod
    def _history_row(r) -> dict:
        return {"id": r[0], "asset_id": r[1], "version": r[2], "at": r[3], "by": r[4], "kind": r[5],
                "batch_id": r[6], "changes": codec.loads(r[7]) or {}}

    def batches(self, *, role: Role) -> list[dict]:
        """Import batches ``role`` may see (who, when, file, hash, counts, report)."""
        if role.is_public:
            raise NotAllowed("the public may not read import batches")
        with self._read() as tx:
            rows = tx.q("SELECT batch_id, organisation, imported_by, imported_at, source_name, file_sha256, rows, "
                        "added, changed, unchanged, removed, report FROM batches ORDER BY batch_id DESC")
        keys = ("batch_id", "organisation", "imported_by", "imported_at", "source_name", "file_sha256", "rows",
                "added", "changed", "unchanged", "removed", "report")
        return [dict(zip(keys, r[:-1] + (codec.loads(r[-1]),), strict=True)) for r in rows if role.sees_internal(r[1])]

    def organisations(self) -> list[str]:
        """The organisations with assets in the register, sorted."""
        with self._read() as tx:
            return [r[0] for r in tx.q("SELECT DISTINCT organisation FROM assets ORDER BY organisation")]

    # ------------------------------------------------------- organisation contacts
    def contacts(self, organisation: str | None = None) -> dict[str, dict]:
        """Each organisation's estates contact route, as set in the register (public information).

        Returns
        -------
        dict
            organisation -> {``email``, ``phone``, ``web_page``, ``transfer_policy`` (None when not set),
            ``version``, ``updated_at``, ``updated_by``}; organisations with none set are absent.
        """
        keys = ("organisation", "version", *CONTACT_FIELDS, "updated_at", "updated_by")
        where, params = ("WHERE organisation = ?", [organisation]) if organisation else ("", [])
        with self._read() as tx:
            if not self._has_table(tx, "contacts"):
                return {}
            rows = tx.q(f"SELECT {', '.join(keys)} FROM contacts {where} ORDER BY organisation", params)
        return {r[0]: dict(zip(keys[1:], r[1:], strict=True)) for r in rows}

    def contacts_by_owner(self) -> dict[str, dict]:
        """:meth:`contacts` keyed by each register's organisation and by every owner name its assets give.

        What the site card and site pack look a site's owner up in (public information).
        """
        out = self.contacts()
        if not out:
            return out
        with self._read() as tx:
            pairs = tx.q(f"SELECT DISTINCT organisation, {self.ATTR_ORGANISATION} FROM assets WHERE removed = 0")
        for register, owner in pairs:
            if register in out and isinstance(owner, str) and owner.strip():
                out.setdefault(owner.strip(), out[register])
        return out

    def set_contact(self, organisation: str, values: Mapping[str, Any], *, role: Role,
                    expected_version: int | None = None) -> int:
        """Set an organisation's estates contact route; returns its new version (audited, append-only history).

        Parameters
        ----------
        organisation : whose contact (an organisation with assets in the register, or any for an admin)
        values : some of :data:`CONTACT_FIELDS` (e-mail, phone, estates web page, community asset
            transfer policy link); an empty value clears that field, a field not given is kept
        role : an editor of that organisation, or an admin
        expected_version : the version the user was shown (None: no contact yet, or no check)

        Raises
        ------
        NotAllowed : the role may not edit this organisation
        InputError : a value that is not an e-mail address, phone number or web address (every problem listed)
        ConflictError : the contact changed since ``expected_version``; nothing is written
        """
        organisation = (organisation or "").strip()
        if not organisation:
            raise InputError("name the organisation whose contact this is")
        role.require_edit(organisation, "edit the estates contact")
        clean = validate_contact(values)
        keys = ("version", *CONTACT_FIELDS)
        with self._write() as tx:
            row = tx.one(f"SELECT {', '.join(keys)} FROM contacts WHERE organisation = ?{self.FOR_UPDATE}",
                         [organisation])
            old = dict(zip(keys, row, strict=True)) if row else {"version": 0, **dict.fromkeys(CONTACT_FIELDS)}
            if expected_version is not None and old["version"] != expected_version:
                raise StoreError(f"the estates contact of {organisation} was changed by someone else since you "
                                 f"opened it (version {expected_version}, now {old['version']}); nothing was saved: "
                                 "reload it and make your change again")
            new = {f: clean.get(f, old[f]) for f in CONTACT_FIELDS}
            changes = {f: [old[f], new[f]] for f in CONTACT_FIELDS if old[f] != new[f]}
            if not changes:
                return int(old["version"])
            version, now = int(old["version"]) + 1, _now()
            if row is None:
                tx.x("INSERT INTO contacts (organisation, version, email, phone, web_page, transfer_policy, updated_at, "
                     "updated_by) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                     [organisation, version, *(new[f] for f in CONTACT_FIELDS), now, role.user])
            else:
                tx.x("UPDATE contacts SET version = ?, email = ?, phone = ?, web_page = ?, transfer_policy = ?, "
                     "updated_at = ?, updated_by = ? WHERE organisation = ?",
                     [version, *(new[f] for f in CONTACT_FIELDS), now, role.user, organisation])
            tx.x("INSERT INTO contact_history (organisation, version, at, by_user, changes) VALUES (?, ?, ?, ?, ?)",
                 [organisation, version, now, role.user, Json(changes)])
        return version

    def contact_history(self, organisation: str, *, role: Role) -> list[dict]:
        """The audit trail of an organisation's estates contact (newest first); its editors and admins only."""
        role.require_edit(organisation, "read the contact history")
        with self._read() as tx:
            rows = tx.q("SELECT version, at, by_user, changes FROM contact_history WHERE organisation = ? "
                        "ORDER BY version DESC", [organisation])
        return [{"version": r[0], "at": r[1], "by": r[2], "changes": codec.loads(r[3]) or {}} for r in rows]

    # --------------------------------------------------------------- moderation
    def submit_correction(self, asset_id: str, *, message: str, role: Role = PUBLIC,
                          proposed: Mapping[str, Any] | None = None, contact: str | None = None,
                          session: str | None = None) -> int:
        """Queue a community correction ("have we got this wrong?"); it changes nothing until accepted.

        Corrections from the public are rate-limited, in the store so that every
        app process shares the count: at most ``CORRECTION_LIMITS["session"]`` per
        browser session (or per signed-in viewer) and ``CORRECTION_LIMITS["all"]``
        from everyone in any ``CORRECTION_WINDOW_S`` seconds; beyond that the
        correction is refused with :class:`RateLimited` and nothing is queued.

        Parameters
        ----------
        asset_id : the asset the correction is about (one the role may see)
        message : what is wrong
        role : who sends it (editors and admins are not rate-limited)
        proposed : optional new values of :data:`PROPOSABLE` fields
        contact : how the owner can reply
        session : an opaque id of the visitor's browser session; only a hash of it is kept
            (in ``submitted_by``, so moderators see which corrections came from one session)
        """
        problems = []
        message = (message or "").strip()
        if not message:
            problems.append("say what is wrong")
        if len(message) > TEXT_LIMIT:
            problems.append(f"the message is longer than {TEXT_LIMIT} characters")
        if contact and len(contact) > 300:
            problems.append("the contact is longer than 300 characters")
        proposed = dict(proposed or {})
        bad = [k for k in proposed if k not in PROPOSABLE]
        if bad:
            problems.append(f"a correction may propose only {', '.join(PROPOSABLE)} (not {', '.join(bad)})")
        clean = {}
        if not bad and proposed:
            try:
                clean = validate_changes(proposed)
            except InputError as exc:
                problems += exc.problems
        if problems:
            raise InputError(problems)
        if "location" in clean:
            clean["location"] = codec.geom_text(clean["location"])
        if self.get(asset_id, role) is None:
            raise StoreError(f"there is no asset {asset_id!r} to correct")
        sender = role.user
        if session and role.is_public:
            import hashlib

            sender = f"{role.user} (session {hashlib.sha256(str(session).encode()).hexdigest()[:10]})"
        now = dt.datetime.now(dt.timezone.utc)
        with self._write() as tx:
            if role.is_public:
                since = (now - dt.timedelta(seconds=CORRECTION_WINDOW_S)).isoformat(timespec="milliseconds")
                minutes = f"{CORRECTION_WINDOW_S // 60} minutes"
                mine = tx.one("SELECT COUNT(*) FROM corrections WHERE submitted_by = ? AND submitted_at >= ?",
                              [sender, since])[0]
                if mine >= CORRECTION_LIMITS["session"]:
                    raise RateLimited(f"you have sent {mine} corrections in the last {minutes}, the most we take "
                                      f"from one visitor: please wait a few minutes and send this one again")
                everyone = tx.one("SELECT COUNT(*) FROM corrections WHERE submitted_at >= ?", [since])[0]
                if everyone >= CORRECTION_LIMITS["all"]:
                    raise RateLimited(f"the register has received {everyone} corrections in the last {minutes}, "
                                      f"the most it takes: please try again later")
            cur = tx.x("INSERT INTO corrections (asset_id, submitted_at, submitted_by, contact, message, proposed, "
                       "state) VALUES (?, ?, ?, ?, ?, ?, 'pending')" + self._returning("id"),
                       [asset_id, now.isoformat(timespec="milliseconds"), sender, contact, message, Json(clean)])
            return self._last_id(tx, cur, "corrections", "id")

    def corrections(self, *, role: Role, state: str | None = "pending") -> list[dict]:
        """The moderation queue for the assets ``role`` may edit."""
        if role.is_public:
            raise NotAllowed("only editors and admins moderate corrections")
        where, params = "", []
        if state:
            where, params = " WHERE c.state = ?", [state]
        with self._read() as tx:
            rows = tx.q("SELECT c.id, c.asset_id, c.submitted_at, c.submitted_by, c.contact, c.message, c.proposed, "
                        "c.state, c.decided_by, c.decided_at, c.decision_note, c.applied_version, a.organisation, "
                        f"a.version FROM corrections c JOIN assets a ON a.asset_id = c.asset_id{where} ORDER BY c.id",
                        params)
        keys = ("id", "asset_id", "submitted_at", "submitted_by", "contact", "message", "proposed", "state",
                "decided_by", "decided_at", "decision_note", "applied_version", "organisation", "asset_version")
        out = []
        for r in rows:
            if role.sees_internal(r[12]):
                d = dict(zip(keys, r, strict=True))
                d["proposed"] = codec.loads(d["proposed"]) or {}
                out.append(d)
        return out

    def decide_correction(self, correction_id: int, *, accept: bool, role: Role, note: str = "",
                          expected_version: int | None = None) -> int | None:
        """Accept (applying any proposed change as an edit) or reject a queued correction.

        Returns the asset's new version when a change was applied. Both the decision
        and the change are one transaction; a moved asset refuses with ConflictError.
        """
        with self._write() as tx:
            row = tx.one("SELECT c.asset_id, c.proposed, c.state, a.organisation, a.version FROM corrections c "
                         "JOIN assets a ON a.asset_id = c.asset_id WHERE c.id = ?", [correction_id])
            if row is None:
                raise StoreError(f"there is no correction {correction_id}")
            asset_id, proposed, state, org, version = row
            role.require_edit(org, "moderate corrections")
            if state != "pending":
                raise StoreError(f"correction {correction_id} was already {state}")
            applied = None
            proposed = codec.loads(proposed) or {}
            if accept and proposed:
                if "location" in proposed:
                    proposed["location"] = shapely.from_wkt(proposed["location"])
                applied = self._save_in(tx, asset_id, validate_changes(proposed),
                                        expected_version=version if expected_version is None else expected_version,
                                        role=role, kind="correction")
            cur = tx.x("UPDATE corrections SET state = ?, decided_by = ?, decided_at = ?, decision_note = ?, "
                       "applied_version = ? WHERE id = ? AND state = 'pending'",
                       ["accepted" if accept else "rejected", role.user, _now(), note[:TEXT_LIMIT], applied,
                        correction_id])
            if cur.rowcount != 1:
                raise StoreError(f"correction {correction_id} was decided by someone else meanwhile")
        if applied is not None:
            self._after_change()
        return applied

    # -------------------------------------------------------------------- users
    def set_user(self, subject: str, kind: str, organisation: str | None = None, *, issuer: str | None = None,
                 role: Role) -> None:
        """Give a signed-in user a role; admins only.

        Parameters
        ----------
        subject : str
            Without ``issuer``: an e-mail address, which matches a user only when their
            provider marked it verified. With ``issuer``: the provider's ``sub`` for the user.
        kind : {"viewer", "editor", "admin"}
        organisation : str, optional
            The organisation of an editor.
        issuer : str, optional
            The sign-in provider (the ID token's ``iss``, e.g. ``https://accounts.google.com``).
        role : who makes the change (an admin)
        """
        role.require_admin("manage users")
        issuer = (issuer or "").strip()
        subject = subject.strip() if issuer else email_address(subject)
        if not subject:
            raise ValueError("a user needs a subject (the provider's id of the user)")
        Role(kind, subject, organisation)  # validates
        with self._write() as tx:
            if issuer:
                tx.x("DELETE FROM users WHERE issuer = ? AND subject = ?", [issuer, subject])
            else:
                tx.x("DELETE FROM users WHERE issuer = '' AND lower(subject) = ?", [subject])
            tx.x("INSERT INTO users (issuer, subject, role, organisation, added_by, added_at) "
                 "VALUES (?, ?, ?, ?, ?, ?)",
                 [issuer, subject, kind, organisation if kind == "editor" else None, role.user, _now()])

    def users(self, *, role: Role) -> list[dict]:
        """Everyone given a role (``issuer`` is empty for an e-mail entry); admins only."""
        role.require_admin("list users")
        keys = ("issuer", "subject", "role", "organisation", "added_by", "added_at")
        with self._read() as tx:
            rows = tx.q(f"SELECT {', '.join(keys)} FROM users ORDER BY issuer, subject")
        return [dict(zip(keys, r, strict=True)) for r in rows]

    def role_for(self, identity: Identity | None) -> Role:
        """The role of a signed-in user from the users table (a viewer when not listed).

        An entry with an issuer matches that issuer's subject only; an e-mail entry
        matches only the verified e-mail address an :class:`Identity` carries (never a
        subject, so a ``sub`` spelled like an admin's address gains nothing).
        """
        if identity is None:
            return PUBLIC
        if not isinstance(identity, Identity):
            raise TypeError("role_for needs an Identity built from verified claims (roles.identity_from_claims)")
        with self._read() as tx:
            row = tx.one("SELECT role, organisation FROM users WHERE issuer = ? AND subject = ?",
                         [identity.issuer, identity.subject])
            if row is None and identity.email:
                row = tx.one("SELECT role, organisation FROM users WHERE issuer = '' AND lower(subject) = ? "
                             "ORDER BY added_at DESC", [identity.email.lower()])
        if row is None:
            return Role("viewer", identity.name)
        return Role(row[0], identity.name, row[1])

    # ---------------------------------------------------------- backup, restore
    def dump(self) -> Iterator[tuple[str, tuple[str, ...], list[tuple]]]:
        """Every table's rows (geometry as WKB, JSON decoded), in a dependency-safe order."""
        with self._read() as tx:
            for table, cols in TABLES.items():
                if table in ADDED_TABLES and not self._has_table(tx, table):
                    yield table, cols, []
                    continue
                have = {d[0] for d in tx.x(f"SELECT * FROM {table} WHERE 1 = 0").description}
                sel = ", ".join(self.G_OUT if c == "geom" else c if c in have or (table, c) not in ADDED_COLUMNS
                                else f"{ADDED_COLUMNS[table, c]} AS {c}" for c in cols)
                order = cols[0] if table != "context" else "organisation, layer, row_no"
                rows = tx.q(f"SELECT {sel} FROM {table} ORDER BY {order}")
                yield table, cols, [tuple(bytes(v) if isinstance(v, memoryview) else
                                          (codec.loads(v) if c in JSON_COLUMNS[table] else v)
                                          for c, v in zip(cols, r, strict=True)) for r in rows]

    def load(self, source: "Store") -> None:
        """Fill this (empty) store with everything in ``source``, as one transaction."""
        if not self.is_empty():
            raise StoreError(f"restore needs an empty register; {self.describe()} already holds data")
        with self._write() as tx:
            for table, cols, rows in source.dump():
                vals = ", ".join(self.G_IN if c == "geom" else "?" for c in cols)
                tx.many(f"INSERT INTO {table} ({', '.join(cols)}) VALUES ({vals})",
                        [[Json(v) if c in JSON_COLUMNS[table] and v is not None else v for c, v in zip(cols, r, strict=True)]
                         for r in rows])
            self._after_load(tx)
            self._refresh_public(tx)  # public records are derived: made again under the rules in force

    def _after_load(self, tx: Tx) -> None:  # noqa: B027 (a hook: no-op unless a backend has sequences)
        """Reset identity counters after rows were inserted with their ids."""

    def _note_backup(self, partial) -> None:
        """Record (or clear) the partial file of a backup in progress, with this process's id and host."""
        import json
        import os
        import socket

        try:
            with self._write() as tx:
                tx.x("DELETE FROM meta WHERE key = ?", [BACKUP_NOTE])
                if partial is not None:
                    tx.x("INSERT INTO meta (key, value) VALUES (?, ?)",
                         [BACKUP_NOTE, json.dumps({"partial": str(partial), "pid": os.getpid(),
                                                   "host": socket.gethostname()})])
        except StoreError:  # a register opened read-only: nothing to note
            pass


def _require_own_rows(role: Role, assets: pd.DataFrame) -> None:
    """Refuse an editor's import whose rows name another organisation (blank names the importer's own)."""
    if role.kind == "admin" or "organisation" not in assets.columns:
        return
    own = str(role.organisation).strip().casefold()
    names = assets["organisation"].astype(object).to_numpy()
    bad = [i for i, v in enumerate(names) if isinstance(v, str) and v.strip() and v.strip().casefold() != own]
    if bad:
        from assets_map.io.report import rows_text

        others = sorted({names[i].strip() for i in bad})
        src = assets["source_row"].to_numpy() if "source_row" in assets.columns else [None] * len(assets)
        rows = [int(src[i]) if pd.notna(src[i]) else i + 1 for i in bad]  # the file's rows where known
        raise NotAllowed(f"{role.user} is an editor for {role.organisation} and may not import assets of "
                         f"{', '.join(others[:3])}{' …' if len(others) > 3 else ''} ({rows_text(rows)} "
                         f"of the register); nothing was imported")


#: The ``meta`` key naming the partial file of a backup in progress.
BACKUP_NOTE = "backup_in_progress"


def remove_partial(partial) -> None:
    """Delete the partial file of an unfinished backup and its journal or log files."""
    from pathlib import Path

    for p in (Path(partial), Path(f"{partial}-journal"), Path(f"{partial}-wal"), Path(f"{partial}-shm")):
        p.unlink(missing_ok=True)


def stale_backup(note: str | None) -> str | None:
    """The partial file named by a backup note when the process that wrote it is gone (else None).

    Only a note written on this machine by a process that no longer runs counts:
    a backup still running, or one on another machine, is left alone.
    """
    import json
    import os
    import socket

    try:
        info = json.loads(note or "")
        partial, pid, host = str(info["partial"]), int(info["pid"]), info["host"]
    except (ValueError, KeyError, TypeError):
        return None
    if host != socket.gethostname() or not partial.endswith(".partial"):
        return None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return partial
    except PermissionError:  # a live process of another user
        return None
    return None


def _chunks(seq: list, n: int) -> Iterator[list]:
    for i in range(0, len(seq), n):
        yield seq[i:i + n]


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return a == b or (np.isnan(a) and np.isnan(b))
    return a == b


def _diff(old: Mapping[str, Any], new: Mapping[str, Any], old_wkb, new_wkb) -> dict[str, list]:
    """Field -> [old, new] for every value that differs (geometry as short WKT)."""
    out = {}
    for k in dict.fromkeys(list(old) + list(new)):
        if not _same(old.get(k), new.get(k)):
            out[k] = [old.get(k), new.get(k)]
    og, ng = codec.wkb_geom(old_wkb), codec.wkb_geom(new_wkb)
    if (og is None) != (ng is None) or (og is not None and not og.equals_exact(ng, 1e-6)):
        out["geometry"] = [codec.geom_text(og), codec.geom_text(ng)]
    return out


def _apply_edits(frame: gpd.GeoDataFrame, pos: int, edits: Mapping[str, Any], *, user: str | None = None) -> None:
    """Write stored edits onto row ``pos`` of ``frame`` (in place), location included."""
    for k, v in edits.items():
        if k == "location":
            geom = shapely.from_wkt(v) if isinstance(v, str) else v
            frame.loc[frame.index[pos], "geometry"] = geom
            frame.loc[frame.index[pos], "location_quality"] = edits.get("location_quality") or "register coordinates"
            continue
        if k in ("location_note", "location_quality"):
            continue
        if k in EDIT_NUMBERS:
            col = pd.to_numeric(frame[k], errors="coerce") if k in frame.columns else \
                pd.Series(np.nan, index=frame.index, dtype="float64")
            col.iloc[pos] = np.nan if v is None else float(v)
            frame[k] = col.astype("float64")
            continue
        if k == "vacant_since":
            v = dt.date.fromisoformat(v) if isinstance(v, str) else v
        if k not in frame.columns:
            frame[k] = pd.Series([None] * len(frame), index=frame.index, dtype=object)
        elif frame[k].dtype != object:
            frame[k] = frame[k].astype(object)
        frame.at[frame.index[pos], k] = v
    if "location" in edits:
        note = edits.get("location_note") or "location corrected in the register"
        frame.loc[frame.index[pos], "location_note"] = note


def validate_changes(changes: Mapping[str, Any]) -> dict[str, Any]:
    """Check an edit; returns it in stored form (JSON-safe except ``location``).

    Raises
    ------
    InputError
        listing every problem.
    """
    problems, clean = [], {}
    for k, v in changes.items():
        if k not in EDITABLE:
            problems.append(f"{k!r} cannot be edited (editable: {', '.join(EDITABLE)})")
            continue
        if k == "status":
            s = EDIT_STATUSES.get(str(v).strip().lower(), str(v).strip().lower())
            if s not in STORE_STATUSES:
                problems.append(f"status {v!r} is not one of: {', '.join(EDIT_STATUSES)} "
                                f"(or {', '.join(STATUSES)})")
            clean[k] = s
        elif k in ("notes", "contact_route", "disposal_plans"):
            text = None if v is None else str(v).strip()
            if text and len(text) > TEXT_LIMIT:
                problems.append(f"{k} is longer than {TEXT_LIMIT} characters")
            clean[k] = text or None
        elif k in _RECORD_EDITS:
            value = _clean_record_edit(k, v, problems)
            if value is not _BAD:
                clean[k] = value
        elif k == "vacant_since":
            if v in (None, ""):
                clean[k] = None
                continue
            try:
                d = v if isinstance(v, dt.date) else dt.date.fromisoformat(str(v)[:10])
            except ValueError:
                problems.append(f"vacant_since {v!r} is not a date (YYYY-MM-DD)")
                continue
            if d > dt.date.today():
                problems.append(f"vacant_since {d} is in the future")
            clean[k] = d.isoformat()
        elif k == "visibility":
            if v not in views.VISIBILITIES:
                problems.append(f"visibility must be public or internal (got {v!r})")
            clean[k] = v
        elif k == "field_visibility":
            fv = {}
            for f, vis in dict(v or {}).items():
                if vis not in views.VISIBILITIES:
                    problems.append(f"visibility of {f} must be public or internal (got {vis!r})")
                elif f == "asset_id" and vis == "internal":
                    problems.append("the asset_id is always shown (hide the whole asset instead)")
                elif vis == "public" and views.is_locked(f):
                    problems.append(f"{f} is always internal (rent, valuation, disposal plans and imported source "
                                    f"columns are never published)")
                elif vis == "public" and f not in views.PUBLIC_FIELDS + views.OPTIONAL_FIELDS:
                    problems.append(f"{f} cannot be published (publishable: "
                                    f"{', '.join(views.PUBLIC_FIELDS + views.OPTIONAL_FIELDS)})")
                else:
                    fv[f] = vis
            clean[k] = fv
        elif k == "location":
            geom = v
            if isinstance(v, (tuple, list)) and len(v) == 2:
                try:
                    geom = shapely.Point(float(v[0]), float(v[1]))
                except (TypeError, ValueError):
                    geom = None
            if not isinstance(geom, shapely.Geometry) or geom.is_empty:
                problems.append("location must be a point or polygon, or an (easting, northing) pair in EPSG:27700")
                continue
            x0, y0, x1, y1 = geom.bounds
            if not (GB_BOUNDS[0] <= x0 and x1 <= GB_BOUNDS[2] and GB_BOUNDS[1] <= y0 and y1 <= GB_BOUNDS[3]):
                problems.append(f"location ({x0:.0f}, {y0:.0f}) is outside Great Britain in EPSG:27700 "
                                f"(eastings 0-700000, northings 0-1300000): were longitude and latitude given?")
                continue
            clean[k] = repair_one(geom)  # a polygon stays polygonal
    if problems:
        raise InputError(problems)
    return clean



def validate_contact(values: Mapping[str, Any]) -> dict[str, str | None]:
    """Check an estates contact route; returns it cleaned (empty values as None).

    Raises
    ------
    InputError
        listing every problem, each with the value given.
    """
    problems, clean = [], {}
    for k, v in values.items():
        if k not in CONTACT_FIELDS:
            problems.append(f"{k!r} is not part of a contact ({', '.join(CONTACT_LABELS.values())})")
            continue
        text = None if v is None else " ".join(str(v).split())
        if not text:
            clean[k] = None
            continue
        label = CONTACT_LABELS[k]
        if len(text) > 500:
            problems.append(f"{label} is longer than 500 characters")
        elif k == "email" and not _EMAIL.match(text.removeprefix("mailto:")):
            problems.append(f"{label} {text!r} is not an e-mail address (name@example.org)")
        elif k == "phone" and (not _PHONE.match(text) or sum(c.isdigit() for c in text) < 7):
            problems.append(f"{label} {text!r} is not a phone number (digits, spaces, + ( ) -)")
        elif k in ("web_page", "transfer_policy"):
            url = urllib.parse.urlsplit(text)
            if url.scheme.lower() not in ("http", "https") or not url.netloc or any(c.isspace() for c in text):
                problems.append(f"{label} {text!r} is not a web address (https://...)")
        clean[k] = text.removeprefix("mailto:") if k == "email" else text
    if problems:
        raise InputError(problems)
    return clean


_BAD = object()
_RECORD_EDITS = ("name", "tenure", "location_note", "uprn", "postcode", "location_quality", *EDIT_NUMBERS)


def _clean_record_edit(k: str, v: Any, problems: list[str]) -> Any:
    """One of the record's own fields an edit sets (name, tenure, UPRN, sizes...), cleaned; _BAD after a problem."""
    label = {"uprn": "UPRN", "floor_area_m2": "floor area (m²)", "site_area_ha": "site area (ha)"}.get(
        k, k.replace("_", " "))
    if k in EDIT_NUMBERS:
        if v is None or (isinstance(v, str) and not v.strip()):
            return None
        try:
            f = float(str(v).replace(",", "").strip())
        except ValueError:
            problems.append(f"{label} {v!r} is not a number")
            return _BAD
        if not (0 <= f <= EDIT_NUMBERS[k]):
            problems.append(f"{label} {v!r} is not between 0 and {EDIT_NUMBERS[k]:,.0f}")
            return _BAD
        return f
    if k == "location_quality":
        if v not in EDIT_QUALITIES:
            problems.append(f"location quality {v!r} is not one of: {', '.join(EDIT_QUALITIES)}")
            return _BAD
        return v
    if k == "uprn":
        text = "" if v is None else re.sub(r"\s+", "", str(v)).removesuffix(".0")
        if text and not re.fullmatch(r"\d{1,12}", text):
            problems.append(f"{label} {v!r} is not a UPRN (up to 12 digits)")
            return _BAD
        return text or None
    text = None if v is None else " ".join(str(v).split())
    if k == "postcode" and text:
        text = text.upper()
    if text and len(text) > 300:
        problems.append(f"{label} is longer than 300 characters")
        return _BAD
    return text or None
