"""``assets-map store ...``: the register from the command line.

The command line runs with the store's own credentials, so it acts as an
administrator named after the operating-system user (recorded in the history).
It is how the first administrator of a signed-in deployment is made
(``assets-map store role alice@example.org admin``: matches a user whose sign-in
provider verified that address; ``--issuer URL`` names a provider's subject instead).
"""
from __future__ import annotations

import argparse
import getpass
from pathlib import Path

from assets_map.io.report import InputError
from assets_map.store import backup, open_store
from assets_map.store.roles import ROLE_KINDS, Role
from assets_map.store.sqlite import SqliteStore


def _cli_role() -> Role:
    return Role("admin", f"{getpass.getuser()} (command line)")


def add_parser(sub) -> None:
    """Add the ``store`` command (info, import, backup, restore, roles) to the CLI's sub-parsers."""
    p = sub.add_parser("store", help="the register: import, backup, restore, roles",
                       description="Work with the register store (SQLite by default; PostGIS when "
                                   "ASSETS_MAP_DATABASE_URL is set).")
    p.add_argument("--store", help="SQLite file or postgresql:// URL (default: ASSETS_MAP_DATABASE_URL, "
                                   "ASSETS_MAP_STORE or ~/.assets_map/register.sqlite)")
    cmds = p.add_subparsers(dest="store_command", required=True)
    info = cmds.add_parser("info", help="where the register is and what it holds")
    info.set_defaults(func=_info)
    imp = cmds.add_parser("import", help="analyse a register and store it as one import batch")
    imp.add_argument("--assets", required=True)
    imp.add_argument("--boundaries", required=True)
    imp.add_argument("--deprivation")
    imp.add_argument("--postcodes")
    imp.add_argument("--exclude", action="append", default=[], metavar="FILE")
    imp.add_argument("--weights")
    imp.add_argument("--organisation", required=True, help="whose register this is")
    imp.add_argument("--allow-removals", type=int, metavar="N",
                     help="confirm that up to N of the organisation's assets may be marked as no longer in the "
                          "register (default: at most 5, or 2%% of its assets when more; a larger loss is refused "
                          "naming the assets)")
    imp.set_defaults(func=_import)
    bk = cmds.add_parser("backup", help="copy the whole register to a new SQLite file")
    bk.add_argument("file")
    bk.set_defaults(func=_backup)
    rs = cmds.add_parser("restore", help="fill an empty register from a backup file")
    rs.add_argument("file")
    rs.set_defaults(func=_restore)
    rl = cmds.add_parser("role", help="give a signed-in user a role (by verified e-mail, or issuer and subject)",
                         description="Give a signed-in user a role. An e-mail address matches only a user whose "
                                     "sign-in provider marked it verified; with --issuer, SUBJECT is that "
                                     "provider's id of the user (the ID token's sub).")
    rl.add_argument("subject", help="an e-mail address, or with --issuer the provider's subject (sub)")
    rl.add_argument("kind", choices=ROLE_KINDS)
    rl.add_argument("--organisation", help="the organisation of an editor")
    rl.add_argument("--issuer", help="the sign-in provider (the ID token's iss, e.g. https://accounts.google.com)")
    rl.set_defaults(func=_role)
    us = cmds.add_parser("users", help="list who has a role")
    us.set_defaults(func=_users)


def _info(args: argparse.Namespace) -> int:
    store = open_store(args.store)
    print(f"register: {store.describe()}")
    role = _cli_role()
    a = store.assets(role, include_removed=True)
    print(f"assets: {int((~a['removed']).sum()) if len(a) else 0} in the register, "
          f"{int(a['removed'].sum()) if len(a) else 0} removed (kept in the history)")
    for b in store.batches(role=role)[:5]:
        print(f"batch {b['batch_id']}: {b['organisation']}, {b['source_name']} by {b['imported_by']} at "
              f"{b['imported_at']} (sha256 {b['file_sha256'][:12]}…): {b['added']} added, {b['changed']} changed, "
              f"{b['removed']} removed")
    print(f"corrections waiting: {len(store.corrections(role=role))}")
    if isinstance(store, SqliteStore):
        print(f"integrity: {store.integrity()}")
    return 0


def _import(args: argparse.Namespace) -> int:
    from assets_map.engine.pipeline import analyse
    from assets_map.io.provenance import sha256_of

    if args.allow_removals is not None and args.allow_removals < 0:
        raise InputError("--allow-removals must be 0 or more")
    store = open_store(args.store)
    result = analyse(args.assets, args.boundaries, args.deprivation, postcodes=args.postcodes,
                     exclude=args.exclude, weights=args.weights)
    for report in result.reports:  # what was read (lines in the file, records, warnings) before what is stored
        for line in report.summary_lines():
            print(line)
    out = store.import_analysis(result, organisation=args.organisation, role=_cli_role(),
                                source_name=Path(args.assets).name, file_sha256=sha256_of(args.assets),
                                exclude=result.exclude, allow_removals=args.allow_removals)
    for line in out.lines():
        print(line)
    return 0


def _backup(args: argparse.Namespace) -> int:
    store = open_store(args.store)
    copy = backup(store, args.file)
    print(f"backed up {store.describe()} to {args.file} (integrity {copy.integrity()})")
    return 0


def _restore(args: argparse.Namespace) -> int:
    src = Path(args.file)
    if not src.is_file():
        raise InputError(f"no backup file {src.name}")
    store = open_store(args.store)
    store.load(SqliteStore(src, read_only=True))  # never written: a backup on read-only media restores
    print(f"restored {src.name} into {store.describe()}")
    return 0


def _role(args: argparse.Namespace) -> int:
    store = open_store(args.store)
    store.set_user(args.subject, args.kind, args.organisation, issuer=args.issuer, role=_cli_role())
    who = f"subject {args.subject} of {args.issuer}" if args.issuer else args.subject.strip().lower()
    print(f"{who}: {args.kind}" + (f" for {args.organisation}" if args.kind == "editor" else ""))
    return 0


def _users(args: argparse.Namespace) -> int:
    store = open_store(args.store)
    for u in store.users(role=_cli_role()):
        who = f"subject {u['subject']} of {u['issuer']}" if u["issuer"] else u["subject"]
        inert = "" if u["issuer"] or "@" in u["subject"] else (" (matches no one: not an e-mail address; "
                                                               "give it again with --issuer)")
        print(f"{who}: {u['role']}" + (f" for {u['organisation']}" if u["organisation"] else "")
              + f", set by {u['added_by']} at {u['added_at']}{inert}")
    return 0
