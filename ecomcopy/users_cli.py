"""`python -m ecomcopy users ...`: add a user, set a role, remove, list (sign-in, ECOMCOPY_AUTH=on). The password
is typed twice at a prompt that does not echo it, or read from stdin (`--password-stdin`); it is never logged,
printed or passed as an argument (which `ps` would show). Each change is recorded in the app's audit trail."""

from __future__ import annotations

import getpass
import sys

from .audit import AuditTrail
from .catalog import open_catalog
from .config import AppConfig
from .errors import InputError
from .users import ROLES, UserStore


def add_parser(sub) -> None:
    u = sub.add_parser("users", help="the users who may sign in (ECOMCOPY_AUTH=on) and their roles")
    u.add_argument("--db", default=None, help="users database (default: users.db in the data folder)")
    actions = u.add_subparsers(dest="action", required=True)
    add = actions.add_parser("add", help="add a user (asks for the password)")
    add.add_argument("name")
    add.add_argument("--role", choices=ROLES, default="writer")
    add.add_argument("--password-stdin", action="store_true", help="read the password from stdin (scripts)")
    role = actions.add_parser("role", help="set a user's role")
    role.add_argument("name")
    role.add_argument("role", choices=ROLES)
    remove = actions.add_parser("remove", help="remove a user")
    remove.add_argument("name")
    actions.add_parser("list", help="list users and roles")
    u.set_defaults(func=cmd_users)


def _password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    first = getpass.getpass("Password: ")
    if getpass.getpass("Again: ") != first:
        raise InputError("The two passwords differ; nothing was changed.")
    return first


def _record(action: str, name: str, after: dict | None = None) -> None:
    """User changes go into the app's audit trail (its working catalog, made as the app would make it), by the
    account that ran the command."""
    app = AppConfig.from_env()
    catalog = open_catalog(app.catalog, app.seed)
    try:
        AuditTrail(catalog).record(f"{getpass.getuser()} (command line)", f"users {action}", f"user {name}", after=after)
    finally:
        catalog.close()


def cmd_users(args) -> int:
    store = UserStore(args.db or AppConfig.from_env().users_db)
    try:
        if args.action == "add":
            store.add(args.name, args.role, _password(args.password_stdin))
            _record("add", args.name, {"role": args.role})
            print(f"Added {args.name} ({args.role}).")
        elif args.action == "role":
            store.set_role(args.name, args.role)
            _record("role", args.name, {"role": args.role})
            print(f"{args.name} is now {args.role}.")
        elif args.action == "remove":
            store.remove(args.name)
            _record("remove", args.name)
            print(f"Removed {args.name}.")
        else:
            for name, role in store.list():
                print(f"{name}\t{role}")
    finally:
        store.close()
    return 0
