"""The rules of accounts, logins and beaks: plain Python, no Flask, SQL or images.

An account changes only through `change_account`, which says which events the change causes;
`FailureWindow` and `LoginLimits` decide when a client must wait; `beaks_match` compares two beak prints.
"""

import ipaddress
import re
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from ates import rules, text
from ates.roles import ROLES
from auth import passwords

SIGN_UP_ROLE = "developer"
USERNAME_PATTERN = re.compile(r"[a-z0-9_.-]{3,64}")
MIN_PASSWORD_LENGTH = passwords.MIN_LENGTH
MAX_PASSWORD_LENGTH = passwords.MAX_LENGTH
MAX_FULL_NAME_LENGTH = 200
_ATOM = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
EMAIL_PATTERN = re.compile(rf"(?P<local>{_ATOM}(?:\.{_ATOM})*)@{_LABEL}(?:\.{_LABEL})+")


class RuleBroken(rules.RuleBroken, ValueError):
    """A request the rules refuse; str() is the reason, for a person (pages show it in the form)."""

    code = "invalid_request"


def normalize_username(raw: str) -> str:
    """Usernames are case-insensitive: stored lower-case, 3–64 of a-z 0-9 _ . -"""
    refuse_unprintable(raw or "", "The username")
    username = (raw or "").strip().lower()
    if not USERNAME_PATTERN.fullmatch(username):
        raise RuleBroken(
            "A username is 3 to 64 characters: lower-case letters, digits, '_', '.' or '-'."
        )
    return username


def check_password(password: str, username: str = "") -> str:
    """Wherever a password is set: sign-up, the admin page and API, the production admin's."""
    problem = passwords.weakness(password, username)
    if problem:
        raise RuleBroken(problem)
    return password


def check_email(raw: str) -> str:
    """A plain ASCII address with a dotted domain: stricter than every email check downstream."""
    refuse_unprintable(raw or "", "The email address")
    email = (raw or "").strip()
    match = EMAIL_PATTERN.fullmatch(email)
    if not match or len(email) > 254 or len(match["local"]) > 64:
        raise RuleBroken("Give an email address like kesha@uberpopug.example.")
    return email


def check_full_name(full_name: str) -> str:
    refuse_unprintable(full_name, "The full name")
    if len(full_name) > MAX_FULL_NAME_LENGTH:
        raise RuleBroken(f"A full name is at most {MAX_FULL_NAME_LENGTH} characters.")
    return full_name


def refuse_unprintable(value: str, what: str) -> None:
    """The shared rule of ates/text.py: no control character or lone surrogate in a name."""
    reason = text.unprintable(value, what)
    if reason:
        raise RuleBroken(reason[0].upper() + reason[1:] + ".")


def check_role(role: str) -> str:
    if role not in ROLES:
        raise RuleBroken(f"Unknown role {role!r}; a role is one of {', '.join(ROLES)}.")
    return role


@dataclass(frozen=True)
class Account:
    account_id: str
    username: str
    email: str
    full_name: str
    role: str
    active: bool
    version: int
    created_at: datetime

    def snapshot(self) -> dict:
        """The account as events and the API show it (no secrets)."""
        return {
            "account_id": self.account_id,
            "username": self.username,
            "email": self.email,
            "full_name": self.full_name,
            "role": self.role,
            "active": self.active,
            "version": self.version,
        }


@dataclass(frozen=True)
class AccountChange:
    """What an admin asks to change; None leaves a field as it is."""

    email: str | None = None
    full_name: str | None = None
    role: str | None = None
    active: bool | None = None


def change_account(
    account: Account, change: AccountChange, actor_id: str
) -> tuple[Account, list[tuple[str, dict]]]:
    """The account after the change and the events (type, data) it causes; no change, no events.

    One request is one change: the version goes up by one however many fields it touches.
    """
    if account.account_id == actor_id:
        if change.role is not None and change.role != account.role:
            raise RuleBroken("You cannot change your own role; ask another admin.")
        if change.active is False and account.active:
            raise RuleBroken("You cannot deactivate your own account.")
    if change.role is not None:
        check_role(change.role)
    if change.full_name is not None:
        check_full_name(change.full_name)
    if change.email is not None:
        change = replace(change, email=check_email(change.email))
    asked = {name: value for name, value in vars(change).items() if value is not None}
    changed = replace(account, **asked)
    if changed == account:
        return account, []
    changed = replace(changed, version=account.version + 1)
    events = []
    if changed.role != account.role:
        events.append(
            (
                "account.role_changed",
                {
                    "account_id": changed.account_id,
                    "role": changed.role,
                    "previous_role": account.role,
                    "version": changed.version,
                },
            )
        )
    if account.active and not changed.active:
        events.append(
            ("account.deactivated", {"account_id": changed.account_id, "version": changed.version})
        )
    events.append(("account.updated", changed.snapshot()))
    return changed, events


@dataclass(frozen=True)
class FailureWindow:
    """After `max_failures` failed logins within `window`, a client waits until the oldest leaves it."""

    max_failures: int = 5
    window: timedelta = timedelta(minutes=10)

    def since(self, now: datetime) -> datetime:
        """Failures before this moment no longer count."""
        return now - self.window

    def retry_after(self, failures: list[datetime], now: datetime) -> timedelta | None:
        """How long the client must wait before trying again; None when it may try now."""
        recent = sorted(moment for moment in failures if moment > self.since(now))
        if len(recent) < self.max_failures:
            return None
        return recent[len(recent) - self.max_failures] + self.window - now


def client_network(client_ip: str) -> str:
    """Who is counted as one client: an IPv4 address, or an IPv6 /64 (one subscriber's, who can change
    the last 64 bits at will)."""
    try:
        address = ipaddress.ip_address(client_ip)
    except ValueError:
        return (client_ip or "unknown")[:64]
    if address.version == 6 and address.ipv4_mapped:
        return str(address.ipv4_mapped)
    if address.version == 6:
        return str(ipaddress.ip_network(f"{address}/64", strict=False))
    return str(address)


@dataclass(frozen=True)
class LoginLimits:
    """Failed logins are counted three ways, each with its own limit within the same ten minutes:
    per client and username (one person mistyping blocks only themselves), per client across
    usernames (password spraying), per username across clients (one account guessed from many).
    A username is counted whether or not it exists, so the answers cannot tell which exist."""

    per_client_and_username: FailureWindow = field(default_factory=lambda: FailureWindow(5))
    per_client: FailureWindow = field(default_factory=lambda: FailureWindow(8))
    per_username: FailureWindow = field(default_factory=lambda: FailureWindow(10))

    def counters(self, client_ip: str, username: str) -> dict[str, FailureWindow]:
        """The counter keys a failure of this client with this username adds to, and their windows."""
        # typed by anybody: without the characters no name may have, so the key can be stored (no
        # NUL in PostgreSQL)
        client, name = (
            client_network(client_ip),
            text.printable_part(username or "").strip().lower()[:200],
        )
        return {
            f"client+user {client} {name}": self.per_client_and_username,
            f"client {client}": self.per_client,
            f"user {name}": self.per_username,
        }

    def client_counter(self, client_ip: str) -> dict[str, FailureWindow]:
        return {f"client {client_network(client_ip)}": self.per_client}

    def cleared_by_success(self, client_ip: str, username: str) -> list[str]:
        """A right password forgives its own username's failures, never the client's: otherwise a
        sprayer could wipe its count by signing in to an account of its own now and then."""
        return [
            key
            for key in self.counters(client_ip, username)
            if key not in self.client_counter(client_ip)
        ]

    def oldest_counted(self, now: datetime) -> datetime:
        return now - max(
            self.per_client_and_username.window, self.per_client.window, self.per_username.window
        )


def longest_wait(
    counters: dict[str, FailureWindow], failures: dict[str, list[datetime]], now: datetime
) -> timedelta | None:
    """How long until every counter lets the client try again; None when it may try now."""
    waits = [window.retry_after(failures.get(key, []), now) for key, window in counters.items()]
    return max((wait for wait in waits if wait is not None), default=None)


BEAK_PRINT_BITS = 128
BEAK_MATCH_DISTANCE = (
    20  # of 128 bits; a re-taken photo differs by a few, another beak by ~40 or more
)


def hamming_distance(a: int, b: int) -> int:
    return (a ^ b).bit_count()


def beaks_match(registered: int, offered: int, max_distance: int = BEAK_MATCH_DISTANCE) -> bool:
    return hamming_distance(registered, offered) <= max_distance
