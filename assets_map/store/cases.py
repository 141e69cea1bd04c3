"""Community asset transfer cases: a site's journey from an enquiry to a lease or transfer, with its audit trail.

A case is opened on a site by its owner's estates team or by a signed-in community user
(their group). Each stage is recorded with its date, who moved it, a note, linked documents,
the next step and its deadline, in an append-only history (:func:`case_history`). Who may
do what:

* the owner's editors and admins see every case of their sites and may move a case to any stage;
* the group that opened a case sees it whole and may move it to its own steps (an expression
  of interest, a business case, withdrawn);
* everyone else who may see the site sees only the stages marked public, with their dates
  (no notes, documents or names).

Withdrawn and refused cases need a reason; a closed case does not move again. Each move tells
the site's followers what their role may see (:func:`assets_map.store.notify.post`).
"""
from __future__ import annotations

import datetime as dt
import urllib.parse
from typing import Any, Iterable

from assets_map.io.report import InputError
from assets_map.store import casework, codec, notify
from assets_map.store.base import Json, Store, StoreError
from assets_map.store.casework import CLOSED_STAGES, STAGES
from assets_map.store.roles import NotAllowed, Role

#: The stages a group may move its own case to (the rest are the owner's decisions).
GROUP_STAGES = ("enquiry", "expression of interest", "business case", "withdrawn")
_CASE_KEYS = ("id", "asset_id", "organisation", "opened_by", "group_name", "opened_at", "stage", "stage_date",
              "next_step", "deadline", "version", "updated_at", "updated_by")
_EVENT_KEYS = ("version", "stage", "stage_date", "recorded_at", "by_user", "note", "reason", "documents", "next_step",
               "deadline", "public")


def _day(v: Any, what: str, problems: list[str]) -> str | None:
    if v in (None, ""):
        return None
    try:
        return (v if isinstance(v, dt.date) else dt.date.fromisoformat(str(v)[:10])).isoformat()
    except ValueError:
        problems.append(f"{what} {v!r} is not a date (YYYY-MM-DD)")
        return None


def _documents(docs: Iterable[str] | None, problems: list[str]) -> list[str]:
    out = []
    for d in docs or ():
        text = " ".join(str(d).split())
        if not text:
            continue
        url = urllib.parse.urlsplit(text)
        if url.scheme and (url.scheme.lower() not in ("http", "https") or not url.netloc):
            problems.append(f"document {text!r} is not a web address (https://...) or a document's name")
        elif len(text) > 500:
            problems.append("a document link is longer than 500 characters")
        else:
            out.append(text)
    return out


def _check_step(stage: str, *, stage_date, deadline, reason, note, next_step, documents, previous: str | None = None):
    problems: list[str] = []
    if stage not in STAGES:
        problems.append(f"stage {stage!r} is not one of: {', '.join(STAGES)}")
    day = _day(stage_date or dt.date.today(), "the stage's date", problems)
    due = _day(deadline, "the deadline", problems)
    if day and day > dt.date.today().isoformat():
        problems.append(f"the stage's date {day} is in the future")
    if day and previous and day < previous:
        problems.append(f"the stage's date {day} is before the case's last stage ({previous})")
    if day and due and due < day:
        problems.append(f"the deadline {due} is before the stage's date {day}")
    if stage in ("withdrawn", "refused") and not (reason or "").strip():
        problems.append(f"say why the case was {stage}")
    for label, text in (("the note", note), ("the reason", reason), ("the next step", next_step)):
        if text and len(text) > 2000:
            problems.append(f"{label} is longer than 2000 characters")
    docs = _documents(documents, problems)
    if problems:
        raise InputError(problems)
    return day, due, docs


def _site(store: Store, asset_id: str, role: Role) -> tuple[str, dict]:
    rec = store.get(asset_id, role)
    if rec is None:
        raise StoreError(f"there is no site {asset_id!r} you can see")
    with store._read() as tx:
        org = tx.one("SELECT organisation FROM assets WHERE asset_id = ?", [asset_id])[0]
    return org, rec


def open_case(store: Store, asset_id: str, *, role: Role, group: str | None = None, stage: str = "enquiry",
              stage_date: Any = None, note: str | None = None, next_step: str | None = None, deadline: Any = None,
              documents: Iterable[str] = (), public: bool = True) -> int:
    """Open a transfer case on a site; returns its number.

    Parameters
    ----------
    asset_id : a site ``role`` may see
    role : the owner's editor, an admin, or a signed-in community user
    group : the community group the case is for
    stage, stage_date : where the case starts (a group starts at an enquiry or an expression of interest)
    note, next_step, deadline, documents : the first stage's record
    public : whether the public sees this stage (its name and date only)
    """
    if role.is_public and role.user == "public":
        raise NotAllowed("sign in to open a transfer case")
    org, _ = _site(store, asset_id, role)
    if not role.can_edit(org) and stage not in GROUP_STAGES[:2]:
        raise NotAllowed(f"{role.user} may open a case at an enquiry or an expression of interest only "
                         f"(the owner records {stage})")
    day, due, docs = _check_step(stage, stage_date=stage_date, deadline=deadline, reason=None, note=note,
                                 next_step=next_step, documents=documents)
    casework.ensure(store)
    now = casework.now()
    with store._write() as tx:
        cur = tx.x("INSERT INTO cases (asset_id, organisation, opened_by, group_name, opened_at, stage, stage_date, "
                   "next_step, deadline, version, updated_at, updated_by) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 1, ?, ?)"
                   + store._returning("id"),
                   [asset_id, org, role.user, (group or "").strip() or None, now, stage, day, next_step, due, now,
                    role.user])
        case_id = store._last_id(tx, cur, "cases", "id")
        _event(tx, case_id, 1, stage, day, now, role.user, note, None, docs, next_step, due, public)
    _tell(store, case_id, asset_id, org, 1, stage, day, next_step, due, public)
    return case_id


def _event(tx, case_id, version, stage, day, now, user, note, reason, docs, next_step, due, public) -> None:
    tx.x("INSERT INTO case_events (case_id, version, stage, stage_date, recorded_at, by_user, note, reason, documents, "
         "next_step, deadline, public) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
         [case_id, version, stage, day, now, user, (note or "").strip() or None, (reason or "").strip() or None,
          Json(docs), (next_step or "").strip() or None, due, 1 if public else 0])


def move_case(store: Store, case_id: int, stage: str, *, role: Role, expected_version: int, stage_date: Any = None,
              note: str | None = None, reason: str | None = None, documents: Iterable[str] = (),
              next_step: str | None = None, deadline: Any = None, public: bool = True) -> int:
    """Move a case to a stage; returns the case's new version.

    Raises
    ------
    NotAllowed : the role may not move this case, or not to this stage
    InputError : a date, deadline, reason or document that does not hold (every problem listed)
    StoreError : the case is closed, or moved since ``expected_version`` (nothing saved)
    """
    casework.ensure(store)
    with store._read() as tx:
        row = tx.one("SELECT asset_id, organisation, opened_by, stage, stage_date, version FROM cases WHERE id = ?",
                     [int(case_id)])
    if row is None:
        raise StoreError(f"there is no transfer case {case_id}")
    asset_id, org, opened_by, current, last_day, version = row
    owner = role.can_edit(org)
    if not owner and role.user != opened_by:
        raise NotAllowed(f"{role.user} may not move transfer case {case_id} (its group and the owner may)")
    if not owner and stage not in GROUP_STAGES:
        raise NotAllowed(f"the owner records {stage}; a group moves its case to {', '.join(GROUP_STAGES[1:])}")
    if current in CLOSED_STAGES:
        raise StoreError(f"transfer case {case_id} is closed ({current}); open a new case to start again")
    day, due, docs = _check_step(stage, stage_date=stage_date, deadline=deadline, reason=reason, note=note,
                                 next_step=next_step, documents=documents, previous=last_day)
    now = casework.now()
    with store._write() as tx:
        cur = tx.x("UPDATE cases SET stage = ?, stage_date = ?, next_step = ?, deadline = ?, version = ?, "
                   "updated_at = ?, updated_by = ? WHERE id = ? AND version = ?",
                   [stage, day, (next_step or "").strip() or None, due, version + 1, now, role.user, int(case_id),
                    expected_version])
        if cur.rowcount != 1:
            raise StoreError(f"transfer case {case_id} was moved by someone else since you opened it (you had "
                             f"version {expected_version}, it is now {version}); nothing was saved: reload it")
        _event(tx, int(case_id), version + 1, stage, day, now, role.user, note, reason, docs, next_step, due, public)
    _tell(store, int(case_id), asset_id, org, version + 1, stage, day, next_step, due, public)
    return version + 1


def _tell(store, case_id, asset_id, org, version, stage, day, next_step, due, public) -> None:
    with store._read() as tx:
        opened_by = tx.one("SELECT opened_by FROM cases WHERE id = ?", [case_id])[0]

    def message(role: Role):
        rec = store.get(asset_id, role) or {}
        name = rec.get("name") or f"site {asset_id}"
        if role.sees_internal(org) or role.user == opened_by:
            more = f" Next step: {next_step}" + (f", by {due}." if due else ".") if next_step else ""
            return f"{name}: transfer case {case_id} now at {stage}", f"Transfer case {case_id} on {name} moved to " \
                f"{stage} on {day}.{more}"
        if public:
            return f"{name}: transfer case now at {stage}", f"A community asset transfer case on {name} moved to " \
                f"{stage} on {day}."
        return None

    notify.post(store, asset_id, kind="case", source_key=f"case:{case_id}:{version}", message=message)


def _visible(role: Role, org: str, opened_by: str) -> bool:
    return role.sees_internal(org) or role.user == opened_by


def cases(store: Store, *, role: Role, asset_id: str | None = None, include_closed: bool = True) -> list[dict]:
    """The cases ``role`` may see, newest first: whole for the owner and the group, public stages for others.

    Each dict has the case's fields and ``whole`` (False: only its public stages are shown,
    with the stage, its date and nothing else).
    """
    if not casework.has_tables(store):
        return []
    where, params = "1 = 1", []
    if asset_id is not None:
        where, params = "asset_id = ?", [asset_id]
    with store._read() as tx:
        rows = tx.q(f"SELECT {', '.join(_CASE_KEYS)} FROM cases WHERE {where} ORDER BY id DESC", params)
        public_stage = {r[0]: (r[1], r[2]) for r in tx.q(
            "SELECT e.case_id, e.stage, e.stage_date FROM case_events e WHERE e.public = 1 AND e.version = "
            "(SELECT MAX(version) FROM case_events x WHERE x.case_id = e.case_id AND x.public = 1)")}
    out = []
    for r in rows:
        d = dict(zip(_CASE_KEYS, r, strict=True))
        if not include_closed and d["stage"] in CLOSED_STAGES:
            continue
        if _visible(role, d["organisation"], d["opened_by"]):
            out.append({**d, "whole": True})
        elif d["id"] in public_stage and store.get(d["asset_id"], role) is not None:
            stage, day = public_stage[d["id"]]
            out.append({"id": d["id"], "asset_id": d["asset_id"], "stage": stage, "stage_date": day, "whole": False})
    return out


def case_history(store: Store, case_id: int, *, role: Role) -> list[dict]:
    """A case's stages, oldest first, as ``role`` may see them.

    Every stage with who, notes and documents for the owner and the group; the public ones
    (stage and date only) for everyone else who may see the site.
    """
    casework.ensure(store)
    with store._read() as tx:
        row = tx.one("SELECT asset_id, organisation, opened_by FROM cases WHERE id = ?", [int(case_id)])
        if row is None:
            raise StoreError(f"there is no transfer case {case_id}")
        events = tx.q(f"SELECT {', '.join(_EVENT_KEYS)} FROM case_events WHERE case_id = ? ORDER BY version",
                      [int(case_id)])
    whole = _visible(role, row[1], row[2])
    if not whole and store.get(row[0], role) is None:
        return []
    out = []
    for e in events:
        d = dict(zip(_EVENT_KEYS, e, strict=True))
        d["documents"] = codec.loads(d["documents"]) or []
        d["public"] = bool(d["public"])
        if whole:
            out.append(d)
        elif d["public"]:
            out.append({"version": d["version"], "stage": d["stage"], "stage_date": d["stage_date"], "public": True})
    return out


def dashboard(store: Store, *, role: Role, today: dt.date | None = None) -> dict[str, Any]:
    """The estates dashboard of the organisations ``role`` edits (all for an admin).

    Returns
    -------
    dict
        ``by_stage``: stage -> number of cases (open and closed, in stage order);
        ``open``: open cases with ``days_open``, ``days_at_stage`` and ``overdue`` (the next
        step's deadline passed), longest at their stage first;
        ``never_asked``: flagged sites (priority High, Medium or Low) still in the register that
        no case and no community correction has ever been about, highest priority first.
    """
    if role.is_public:
        raise NotAllowed("the estates dashboard is for the owner's editors and admins")
    today = today or dt.date.today()
    casework.ensure(store)
    with store._read() as tx:
        rows = tx.q(f"SELECT {', '.join(_CASE_KEYS)} FROM cases ORDER BY id")
        flagged = tx.q("SELECT a.asset_id, a.organisation, a.name, a.priority, a.status FROM assets a "
                       "WHERE a.removed = 0 AND a.priority IN ('High', 'Medium', 'Low') "
                       "AND NOT EXISTS (SELECT 1 FROM cases c WHERE c.asset_id = a.asset_id) "
                       "AND NOT EXISTS (SELECT 1 FROM corrections k WHERE k.asset_id = a.asset_id) "
                       "ORDER BY a.asset_id")
    mine = [dict(zip(_CASE_KEYS, r, strict=True)) for r in rows if role.sees_internal(r[2])]
    by_stage = {s: sum(1 for c in mine if c["stage"] == s) for s in STAGES}
    open_cases = []
    for c in mine:
        if c["stage"] in CLOSED_STAGES:
            continue
        opened = dt.date.fromisoformat(c["opened_at"][:10])
        at_stage = dt.date.fromisoformat(c["stage_date"])
        open_cases.append({**c, "days_open": (today - opened).days, "days_at_stage": (today - at_stage).days,
                           "overdue": bool(c["deadline"] and c["deadline"] < today.isoformat())})
    open_cases.sort(key=lambda c: -c["days_at_stage"])
    rank = {"High": 0, "Medium": 1, "Low": 2}
    never = [dict(zip(("asset_id", "organisation", "name", "priority", "status"), r, strict=True)) for r in flagged
             if role.sees_internal(r[1])]
    never.sort(key=lambda r: (rank[r["priority"]], r["asset_id"]))
    return {"by_stage": by_stage, "open": open_cases, "never_asked": never}
