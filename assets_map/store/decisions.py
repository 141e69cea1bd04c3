"""An estates team's decisions on a Land Registry reconciliation, kept in the register with their audit trail.

Each row of :func:`assets_map.community.ownership.reconcile`'s report has a ``match_key`` (the title, which of its
addresses, and the register asset it was matched to, or a register asset with no title). An editor of the
anchor (or an administrator) confirms or rejects it with a note; every decision is a new row of the
append-only ``match_decisions`` table (who, when, decision, note), and the latest per key is carried into the
next report, in the app and by ``assets-map reconcile --store``. Viewers cannot decide, nor read the decisions.

The other names an anchor holds land under (its aliases and company numbers, beyond its standard forms) are kept
here too: an editor of the anchor or an administrator adds or withdraws one with a note, each a new row of the
append-only ``anchor_aliases`` table (who, when, added or withdrawn), and :func:`stored_aliases` gives those in
force, in the alias-table shape :func:`assets_map.community.ownership.build_anchor` reads, to the app's Land
ownership page and to ``assets-map reconcile --store`` alike. Anyone may read them (they name proprietors the
report shows); viewers cannot change them.
"""
from __future__ import annotations

import pandas as pd

from assets_map.community.ownership import DECISIONS, alias_key, normalise_name, split_alias
from assets_map.io.report import InputError
from assets_map.store import casework
from assets_map.store.base import TEXT_LIMIT, Store
from assets_map.store.roles import NotAllowed, Role

#: The columns :func:`decisions` and :func:`decision_history` give.
DECISION_COLUMNS = ("match_key", "title_number", "asset_id", "decision", "note", "decided_by", "decided_at")


def _clean_note(note: str | None) -> tuple[str, list[str]]:
    """A note as kept (stripped), and the problem when it is longer than the register keeps."""
    note = (note or "").strip()
    return note, ([f"the note is {len(note):,} characters; at most {TEXT_LIMIT:,} are kept"]
                  if len(note) > TEXT_LIMIT else [])


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
    note, too_long = _clean_note(note)
    problems += too_long
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


#: The columns :func:`alias_history` gives.
ALIAS_HISTORY_COLUMNS = ("id", "anchor", "alias", "company_number", "alias_key", "action", "note", "by_user", "at")


def _alias_rows(store: Store, anchor: str) -> pd.DataFrame:
    if not casework.has_tables(store):
        return pd.DataFrame(columns=list(ALIAS_HISTORY_COLUMNS))
    with store._read() as tx:
        rows = tx.q(f"SELECT {', '.join(ALIAS_HISTORY_COLUMNS)} FROM anchor_aliases WHERE anchor_key = ? "
                    "ORDER BY id DESC", [normalise_name(anchor)])
    return pd.DataFrame([tuple(r) for r in rows], columns=list(ALIAS_HISTORY_COLUMNS))


def alias_history(store: Store, anchor: str) -> pd.DataFrame:
    """Every alias of the anchor added or withdrawn in the register, newest first (the audit trail).

    Parameters
    ----------
    anchor : the anchor (any spelling that :func:`normalise_name` folds to the same name)

    Returns
    -------
    DataFrame with :data:`ALIAS_HISTORY_COLUMNS`
    """
    return _alias_rows(store, anchor)


def _in_force(store: Store, anchor: str) -> pd.DataFrame:
    """The latest row per alias of the anchor, where that row added it."""
    log = _alias_rows(store, anchor).drop_duplicates("alias_key", keep="first")
    return log[log["action"] == "added"].iloc[::-1].reset_index(drop=True)  # oldest first, as they were added


def _log_alias(store: Store, anchor: str, alias, number, key: str, action: str, note: str, role: Role) -> int:
    """One row of the anchor's alias history (``action``: "added" or "withdrawn"); its id."""
    with store._write() as tx:
        cur = tx.x("INSERT INTO anchor_aliases (anchor, anchor_key, alias, company_number, alias_key, action, note, "
                   "by_user, at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)" + store._returning("id"),
                   [anchor.strip(), normalise_name(anchor), alias, number, key, action, note or None, role.user,
                    casework.now()])
        return store._last_id(tx, cur, "anchor_aliases", "id")


def add_alias(store: Store, *, anchor: str, name: str, role: Role, note: str = "") -> int:
    """Keep another name (or a company number) the anchor holds land under in the register.

    Parameters
    ----------
    anchor : the anchor
    name : a proprietor name, or a company number (all digits, or two letters and six digits)
    role : an editor of the anchor, or an admin
    note : why (optional, up to 5,000 characters)

    Returns
    -------
    int : the row's id in the alias history

    Raises
    ------
    NotAllowed : a viewer, or an editor of another organisation
    InputError : no name, a name already kept for the anchor, or a note too long
    """
    _require(role, anchor, "add to the alias table")
    name = (name or "").strip() if isinstance(name, str) or name is None else str(name).strip()
    note, too_long = _clean_note(note)
    problems = []
    if not (anchor or "").strip():
        problems.append("name the anchor")
    if not name:
        problems.append("give the name or company number to add")
    elif len(name) > 500:
        problems.append(f"the name is {len(name):,} characters; a proprietor name is at most 500")
    problems += too_long
    if problems:
        raise InputError(problems)
    alias, number = split_alias(name)
    key = alias_key(alias, number)
    if not key:
        raise InputError(f"'{name}' has no letters or digits to match a proprietor by")
    if key in set(_in_force(store, anchor)["alias_key"]):
        raise InputError(f"'{name}' is already in the alias table of {anchor.strip()}")
    casework.ensure(store)
    return _log_alias(store, anchor, alias, number, key, "added", note, role)


def withdraw_alias(store: Store, *, anchor: str, key: str, role: Role, note: str = "") -> int:
    """Withdraw an alias kept for the anchor (a new row of the history: it is no longer used).

    Parameters
    ----------
    anchor : the anchor
    key : the alias's ``alias_key`` (as :func:`stored_aliases` gives it)
    role : an editor of the anchor, or an admin
    note : why (optional)

    Returns
    -------
    int : the row's id in the alias history

    Raises
    ------
    NotAllowed : a viewer, or an editor of another organisation
    InputError : no such alias in force, or a note too long
    """
    _require(role, anchor, "withdraw from the alias table")
    note, too_long = _clean_note(note)
    if too_long:
        raise InputError(too_long)
    now = _in_force(store, anchor)
    row = now[now["alias_key"] == key]
    if not len(row):
        raise InputError(f"that name is not in the alias table of {(anchor or '').strip()} kept in the register")
    r = row.iloc[0]
    return _log_alias(store, anchor, r["alias"], r["company_number"], key, "withdrawn", note, role)


def stored_aliases(store: Store, anchor: str) -> pd.DataFrame:
    """The aliases of the anchor kept in the register, as an alias table each row of which says where it came from.

    Parameters
    ----------
    anchor : the anchor

    Returns
    -------
    DataFrame with ``anchor``, ``alias``, ``company_number``, ``source_row`` (the history row's id), ``source``
    (words: added on the Land ownership page by whom and when, kept in the register), ``alias_key``, ``note``,
    ``added_by``, ``added_at``; empty when none is kept
    """
    now = _in_force(store, anchor)
    words = [f"added on the Land ownership page by {who} on {str(at)[:10]}, kept in the register"
             for who, at in zip(now["by_user"], now["at"], strict=True)]
    out = pd.DataFrame({"anchor": now["anchor"], "alias": now["alias"], "company_number": now["company_number"],
                        "source_row": now["id"], "source": words, "alias_key": now["alias_key"], "note": now["note"],
                        "added_by": now["by_user"], "added_at": now["at"]})
    out = out.astype({"anchor": "string", "alias": "string", "company_number": "string", "source": "string"})
    out.attrs["source"] = "the register"
    return out


__all__ = ["ALIAS_HISTORY_COLUMNS", "DECISION_COLUMNS", "add_alias", "alias_history", "decision_history",
           "decisions", "record_decision", "stored_aliases", "withdraw_alias"]
