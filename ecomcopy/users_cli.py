"""`python -m ecomcopy users ...`: add a user, set a role, remove, list (sign-in, ECOMCOPY_AUTH=on). The password
is typed twice at a prompt that does not echo it, or read from stdin (`--password-stdin`); it is never logged,
printed or passed as an argument (which `ps` would show)."""

from __future__ import annotations

import getpass
import sys

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


def cmd_users(args) -> int:
    store = UserStore(args.db or AppConfig.from_env().users_db)
    try:
        if args.action == "add":
            store.add(args.name, args.role, _password(args.password_stdin))
            print(f"Added {args.name} ({args.role}).")
        elif args.action == "role":
            store.set_role(args.name, args.role)
            print(f"{args.name} is now {args.role}.")
        elif args.action == "remove":
            store.remove(args.name)
            print(f"Removed {args.name}.")
        else:
            for name, role in store.list():
                print(f"{name}\t{role}")
    finally:
        store.close()
    return 0
