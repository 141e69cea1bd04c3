"""An estates team's decisions on a Land Registry reconciliation, kept in the register with their audit trail.

Each row of :func:`assets_map.community.ownership.reconcile`'s report has a ``match_key`` (the title, which of its
addresses, and the register asset it was matched to, or a register asset with no title). An editor of the
anchor (or an administrator) confirms or rejects it with a note; every decision is a new row of the
append-only ``match_decisions`` table (who, when, decision, note), and the latest per key is carried into the
next report, in the app and by ``assets-map reconcile --store``. Viewers cannot decide, nor read the decisions.
"""
from __future__ import annotations

import pandas as pd

from assets_map.community.ownership import DECISIONS, normalise_name
from assets_map.io.report import InputError
from assets_map.store import casework
from assets_map.store.base import TEXT_LIMIT, Store
from assets_map.store.roles import NotAllowed, Role

#: The columns :func:`decisions` and :func:`decision_history` give.
DECISION_COLUMNS = ("match_key", "title_number", "asset_id", "decision", "note", "decided_by", "decided_at")


def _require(role: Role, anchor: str, action: str) -> None:
    """Admins, and editors of the anchor (its name in any spelling :func:`normalise_name` folds together)."""
    if role.kind == "admin":
        return
    if role.kind == "editor" and normalise_name(role.organisation) == normalise_name(anchor):
        return
    who = "a public viewer" if role.kind == "viewer" else f"an editor for {role.organisation}"
    raise NotAllowed(f"{role.user} is {who} and may not {action} of {anchor}")


def record_decision(store: Store, *, anchor: str, match_key: str, decision: str, role: Role, note: str = "",
                    title_number: str | None = None, asset_id: str | None = None) -> int:
    """Record that a reconciliation row is confirmed or rejected (a new row of the audit trail).

    Parameters
    ----------
    anchor : the anchor reconciled
    match_key : the row's ``match_key``
    decision : "confirmed" or "rejected"
    role : an editor of the anchor, or an admin
    note : why (optional, up to 5,000 characters)
    title_number, asset_id : what the row matched, kept with the decision for the audit trail

    Returns
    -------
    int : the decision's id

    Raises
    ------
    NotAllowed : a viewer, or an editor of another organisation
    InputError : an unknown decision, no row named, or a note too long
    """
    _require(role, anchor, "decide matches of the Land Registry reconciliation")
    problems = []
    if decision not in DECISIONS:
        problems.append(f"a decision is {' or '.join(DECISIONS)} (got {decision!r})")
    if not (isinstance(match_key, str) and match_key.strip()):
        problems.append("name the report row decided (its match key)")
    note = (note or "").strip()
    if len(note) > TEXT_LIMIT:
        problems.append(f"the note is {len(note):,} characters; at most {TEXT_LIMIT:,} are kept")
    if not (anchor or "").strip():
        problems.append("name the anchor")
    if problems:
        raise InputError(problems)
    casework.ensure(store)
    with store._write() as tx:
        cur = tx.x("INSERT INTO match_decisions (anchor, anchor_key, match_key, title_number, asset_id, decision, "
                   "note, decided_by, decided_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)" + store._returning("id"),
                   [anchor.strip(), normalise_name(anchor), match_key.strip(), title_number, asset_id, decision,
                    note or None, role.user, casework.now()])
        return store._last_id(tx, cur, "match_decisions", "id")


def decision_history(store: Store, anchor: str, *, role: Role) -> pd.DataFrame:
    """Every decision recorded on the anchor's reconciliation, newest first (the audit trail).

    Parameters
    ----------
    anchor : the anchor (any spelling that :func:`normalise_name` folds to the same name)
    role : an editor of the anchor, or an admin

    Returns
    -------
    DataFrame with :data:`DECISION_COLUMNS`
    """
    _require(role, anchor, "read the reconciliation decisions")
    if not casework.has_tables(store):
        return pd.DataFrame(columns=list(DECISION_COLUMNS))
    with store._read() as tx:
        rows = tx.q(f"SELECT {', '.join(DECISION_COLUMNS)} FROM match_decisions WHERE anchor_key = ? "
                    "ORDER BY id DESC", [normalise_name(anchor)])
    return pd.DataFrame([tuple(r) for r in rows], columns=list(DECISION_COLUMNS))


def decisions(store: Store, anchor: str, *, role: Role) -> pd.DataFrame:
    """The latest decision on each row of the anchor's reconciliation, for :func:`~assets_map.community.ownership.reconcile`.

    Parameters
    ----------
    anchor : the anchor
    role : an editor of the anchor, or an admin

    Returns
    -------
    DataFrame with :data:`DECISION_COLUMNS`, one row per ``match_key``
    """
    history = decision_history(store, anchor, role=role)
    return history.drop_duplicates("match_key", keep="first").reset_index(drop=True)


__all__ = ["DECISION_COLUMNS", "decision_history", "decisions", "record_decision"]
