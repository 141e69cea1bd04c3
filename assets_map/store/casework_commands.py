"""``assets-map acv ...``, ``assets-map notify ...`` and ``assets-map cases ...``: what follows a flag, from the command line.

* ``acv clocks LIST`` prints each listing's statutory dates and what the group must do by each;
* ``acv export LIST --out FILE.csv`` writes a council's list in the planning.data.gov.uk layout;
* ``acv import LIST`` stores a list in the register, matched to its sites (followers are told);
* ``acv publish --out FILE.csv`` writes the register's listings in the planning.data.gov.uk layout;
* ``notify run`` / ``notify digest`` make inbox items and send e-mail (``digest`` from cron, e.g. daily);
* ``notify disposals`` tells followers of sites HM Land Registry's change-only files show as possibly disposed of;
* ``cases dashboard`` prints the estates dashboard.

Like ``assets-map store``, these act as an administrator named after the operating-system user.
"""
from __future__ import annotations

import argparse
import datetime as dt
from pathlib import Path

from assets_map.io.report import InputError

_STORE_HELP = "SQLite file or postgresql:// URL (default: ASSETS_MAP_DATABASE_URL, ASSETS_MAP_STORE or the default file)"


def add_parsers(sub) -> None:
    """Add the ``acv``, ``notify`` and ``cases`` commands to the CLI's sub-parsers."""
    p = sub.add_parser("acv", help="assets of community value: clocks, the national layout, the register's list",
                       description="Read a council's list of assets of community value (CSV or Excel) or the "
                                   "planning.data.gov.uk asset-of-community-value layout.")
    cmds = p.add_subparsers(dest="acv_command", required=True)
    c = cmds.add_parser("clocks", help="each listing's statutory dates and what to do by each")
    c.add_argument("list")
    c.add_argument("--today", help="count days left from this date (YYYY-MM-DD; default today)")
    c.set_defaults(func=_clocks)
    e = cmds.add_parser("export", help="write a list in the planning.data.gov.uk layout")
    e.add_argument("list")
    e.add_argument("--out", required=True, help="a .csv file")
    e.set_defaults(func=_export)
    i = cmds.add_parser("import", help="store a list in the register, matched to its sites")
    i.add_argument("list")
    i.add_argument("--store", help=_STORE_HELP)
    i.set_defaults(func=_import)
    pb = cmds.add_parser("publish", help="write the register's listings in the planning.data.gov.uk layout")
    pb.add_argument("--out", required=True, help="a .csv file")
    pb.add_argument("--store", help=_STORE_HELP)
    pb.set_defaults(func=_publish)

    n = sub.add_parser("notify", help="tell followers of changes: inbox items and e-mail")
    ncmds = n.add_subparsers(dest="notify_command", required=True)
    for name, helptext in (("run", "make inbox items for new changes and send immediate e-mail"),
                           ("digest", "send every follower's waiting items as one e-mail (run daily from cron)")):
        x = ncmds.add_parser(name, help=helptext)
        x.add_argument("--store", help=_STORE_HELP)
        x.set_defaults(func=_notify, digest=name == "digest")

    x = ncmds.add_parser("disposals", help="tell followers of sites that HM Land Registry's change-only files show "
                                           "as possibly disposed of")
    x.add_argument("--ownership", action="append", required=True, metavar="FILE",
                   help="the anchor's CCOD/OCOD files: a full file and the change-only files (repeatable)")
    x.add_argument("--anchor", required=True, help="the anchor, e.g. 'Trafford Council'")
    x.add_argument("--aliases", action="append", default=[], metavar="FILE", help="alias tables (as reconcile)")
    x.add_argument("--store", help=_STORE_HELP)
    x.set_defaults(func=_disposals)

    k = sub.add_parser("cases", help="community asset transfer cases")
    kcmds = k.add_subparsers(dest="cases_command", required=True)
    d = kcmds.add_parser("dashboard", help="cases by stage, ageing, flagged sites never asked about")
    d.add_argument("--store", help=_STORE_HELP)
    d.set_defaults(func=_dashboard)


def _role():
    from assets_map.store.commands import _cli_role

    return _cli_role()


def _csv_out(out: str) -> Path:
    path = Path(out)
    if path.suffix.lower() != ".csv":
        raise InputError(f"--out must end in .csv (got {path.name})")
    return path


def _clocks(args: argparse.Namespace) -> int:
    from assets_map.community.acv import acv_clocks, read_acv_list

    try:
        today = dt.date.fromisoformat(args.today) if args.today else dt.date.today()
    except ValueError:
        raise InputError(f"--today {args.today!r} is not a date (YYYY-MM-DD)") from None
    acv = read_acv_list(args.list)
    for rec in acv.frame.drop(columns="geometry").to_dict("records"):
        clocks = acv_clocks(rec, today=today)
        print(f"{rec['reference']}: {rec.get('name') or rec.get('address-text') or 'no name'} "
              f"({rec['decision_kind']})")
        for clock in clocks:
            print(f"  {clock.line()}")
        if not clocks and rec["decision_kind"] == "listed" and not rec.get("decision-date"):
            print("  listed, but the list gives no decision date to count the listing's five years from")
        elif not clocks:
            print("  no clock runs (no nomination waiting, no listing, or a refusal)")
    return 0


def _export(args: argparse.Namespace) -> int:
    from assets_map.community.acv import read_acv_list, write_planning_data

    out = _csv_out(args.out)
    acv = read_acv_list(args.list)
    write_planning_data(acv, out)
    print(f"wrote {len(acv.frame)} listings in the planning.data.gov.uk layout to {out}")
    return 0


def _import(args: argparse.Namespace) -> int:
    from assets_map.community.acv import read_acv_list
    from assets_map.store import listings, open_store

    store = open_store(args.store)
    acv = read_acv_list(args.list)
    out = listings.import_listings(store, acv, role=_role())
    for r in out.itertuples(index=False):
        site = f"site {r.asset_id} ({r.confidence_words}: {r.evidence})" if r.asset_id else f"no site ({r.evidence})"
        print(f"{r.reference}: {r.change}; {site}")
    counts = out["change"].value_counts()
    print(f"{len(out)} listings: {counts.get('new', 0)} new, {counts.get('updated', 0)} updated, "
          f"{counts.get('unchanged', 0)} unchanged")
    return 0


def _publish(args: argparse.Namespace) -> int:
    from assets_map.community.acv import write_planning_data
    from assets_map.store import listings, open_store

    out = _csv_out(args.out)
    acv = listings.stored_list(open_store(args.store))
    write_planning_data(acv, out)
    print(f"wrote {len(acv.frame)} listings in the planning.data.gov.uk layout to {out}")
    return 0


def _notify(args: argparse.Namespace) -> int:
    from assets_map.store import notify, open_store

    store = open_store(args.store)
    made = notify.make_items(store)
    sent = notify.deliver(store, digest=args.digest)
    print(f"{made} new inbox items; {sent} e-mails sent. {notify.email_setup()}")
    return 0


def _disposals(args: argparse.Namespace) -> int:
    from assets_map.community.ownership import disposals, read_anchor_files
    from assets_map.store import open_store
    from assets_map.store.disposals import tell_disposals

    held, changes, anchor = read_anchor_files(args.ownership, alias_files=args.aliases, anchor=args.anchor)
    if changes is None:
        raise InputError("give a change-only CCOD or OCOD file too (--ownership): disposals are read from it")
    out = tell_disposals(open_store(args.store), disposals(changes, anchor, held=held), role=_role())
    for r in out.itertuples(index=False):
        site = f"site {r.asset_id} ({r.confidence_words}: {r.evidence})" if r.asset_id else "no site in the register"
        print(f"title {r.title_number}: {site}; {r.told} followers told")
    print(f"{len(out)} possible disposals of {anchor.name}")
    return 0


def _dashboard(args: argparse.Namespace) -> int:
    from assets_map.store import cases, open_store

    board = cases.dashboard(open_store(args.store), role=_role())
    print("cases by stage: " + ", ".join(f"{s} {n}" for s, n in board["by_stage"].items() if n) or "no cases")
    for c in board["open"]:
        print(f"case {c['id']} on {c['asset_id']}: {c['stage']} for {c['days_at_stage']} days "
              f"({c['days_open']} days open)" + (f"; deadline {c['deadline']} passed" if c["overdue"] else ""))
    never = board["never_asked"]
    print(f"flagged sites never asked about: {len(never)}")
    for r in never[:20]:
        print(f"  {r['asset_id']} {r['name'] or ''} ({r['priority']})")
    return 0
