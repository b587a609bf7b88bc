"""Auth's use cases, one transaction each: accounts (with their events into the outbox in the
same transaction), password and beak logins with their failure counting, the first admin.
"""

import functools
import uuid
from collections import defaultdict
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash, generate_password_hash

from ates import clock
from ates.bus import Event, Outbox
from ates.unit_of_work import UnitOfWork
from auth import domain
from auth.domain import Account, AccountChange, FailureWindow, LoginLimits, RuleBroken
from auth.models import accounts, beak_prints, login_failures, outbox, refresh_tokens

ADMIN_USERNAME = "admin"
WRONG_CREDENTIALS = "Wrong username or password."
WRONG_BEAK = "Wrong username, or that beak is not the one registered for it."
DEACTIVATED = "This account has been deactivated."

_outbox = Outbox(outbox)


class UsernameTaken(RuleBroken):
    code, status = "conflict", 409


class AccountNotFound(LookupError):
    pass


class LoginRefused(Exception):
    """A login that did not succeed; str() is what the person is told."""


class TooManyFailures(LoginRefused):
    def __init__(self, wait: timedelta):
        self.retry_after = max(1, int(wait.total_seconds() + 0.999))
        minutes = (self.retry_after + 59) // 60
        super().__init__(
            f"Too many failed logins. Try again in {minutes} minute{'s' if minutes > 1 else ''}."
        )


# --- accounts -------------------------------------------------------------------------------------


def create_account(
    uow: UnitOfWork,
    username: str,
    password: str,
    email: str,
    full_name: str = "",
    role: str = domain.SIGN_UP_ROLE,
) -> Account:
    """Sign-up (role developer) and creation by an admin: one account, its account.created event."""
    username = domain.normalize_username(username)
    domain.check_password(password, username)
    domain.check_role(role)
    email = domain.check_email(email)
    full_name = domain.check_full_name((full_name or "").strip())
    with uow.begin() as session:
        return _insert_account(
            session, username, generate_password_hash(password), email, full_name, role
        )


def sign_up(
    uow: UnitOfWork,
    client_ip: str,
    limits: LoginLimits,
    username: str,
    password: str,
    email: str,
    full_name: str = "",
) -> Account:
    """Sign-up from a browser. "Taken" is the one thing it must tell a stranger about other accounts,
    so each "taken" counts as a failure of the client: probing usernames here is throttled like
    guessing them at the login form, by the same counter."""
    counter = limits.client_counter(client_ip)
    _refuse_while_waiting(uow, counter, limits)
    try:
        return create_account(uow, username, password, email, full_name)
    except UsernameTaken:
        _record_failure(uow, counter, limits)
        raise


def _insert_account(session: Session, username, password_hash, email, full_name, role) -> Account:
    if (
        session.scalar(select(accounts.c.account_id).where(accounts.c.username == username))
        is not None
    ):
        raise UsernameTaken(f"The username {username!r} is taken.")
    account = Account(str(uuid.uuid4()), username, email, full_name, role, True, 1, clock.utcnow())
    try:
        with session.begin_nested():
            session.execute(insert(accounts).values(**vars(account), password_hash=password_hash))
    except IntegrityError:  # taken in the meantime by a concurrent request
        raise UsernameTaken(f"The username {username!r} is taken.") from None
    _outbox.add(session, Event("account.created", 1, "/auth", account.snapshot()))
    return account


def change_account(
    uow: UnitOfWork, account_id: str, change: AccountChange, actor_id: str
) -> Account:
    """An admin's change: the events domain.change_account names; deactivation also ends its refresh
    tokens."""
    with uow.begin() as session:
        account = _load(session, account_id, lock=True)
        if account is None:
            raise AccountNotFound(account_id)
        changed, events = domain.change_account(account, change, actor_id)
        if not events:
            return account
        values = {
            name: getattr(changed, name)
            for name in ("email", "full_name", "role", "active", "version")
        }
        session.execute(
            update(accounts).where(accounts.c.account_id == account_id).values(**values)
        )
        if account.active and not changed.active:
            session.execute(
                update(refresh_tokens)
                .where(
                    refresh_tokens.c.account_id == account_id,
                    refresh_tokens.c.revoked_at.is_(None),
                )
                .values(revoked_at=clock.utcnow())
            )
        _outbox.add(session, *(Event(event_type, 1, "/auth", data) for event_type, data in events))
        return changed


def deactivate_account(uow: UnitOfWork, account_id: str, actor_id: str) -> Account:
    return change_account(uow, account_id, AccountChange(active=False), actor_id)


def list_accounts(uow: UnitOfWork) -> list[Account]:
    with uow.read() as session:
        rows = session.execute(select(*_ACCOUNT_COLUMNS).order_by(accounts.c.username)).all()
    return [_account(row) for row in rows]


def get_account(uow: UnitOfWork, account_id: str) -> Account | None:
    with uow.read() as session:
        return _load(session, account_id)


def get_active_account(uow: UnitOfWork, account_id: str) -> Account | None:
    account = get_account(uow, account_id)
    return account if account is not None and account.active else None


def ensure_admin(uow: UnitOfWork, password: str) -> bool:
    """The first start creates the admin `admin` (account.created); later starts change nothing."""
    with uow.begin() as session:
        if (
            session.scalar(
                select(accounts.c.account_id).where(accounts.c.username == ADMIN_USERNAME)
            )
            is not None
        ):
            return False
        try:
            _insert_account(
                session,
                ADMIN_USERNAME,
                generate_password_hash(password),
                "admin@uberpopug.example",
                "Administrator",
                "admin",
            )
        except UsernameTaken:  # another worker starting at the same moment made it
            return False
    return True


_ACCOUNT_COLUMNS = [accounts.c[name] for name in Account.__dataclass_fields__]


def _account(row) -> Account:
    values = {name: row._mapping[name] for name in Account.__dataclass_fields__}
    values["created_at"] = _aware(values["created_at"])
    return Account(**values)


def _load(session: Session, account_id: str, lock: bool = False) -> Account | None:
    query = select(*_ACCOUNT_COLUMNS).where(accounts.c.account_id == account_id)
    row = session.execute(query.with_for_update() if lock else query).first()
    return _account(row) if row else None


def _aware(moment: datetime) -> datetime:
    # SQLite hands back naive datetimes; every time auth stores is UTC.
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


# --- logins ---------------------------------------------------------------------------------------


@functools.cache
def _dummy_password_hash() -> str:
    return generate_password_hash("no account has this password")


def log_in(
    uow: UnitOfWork,
    username: str,
    password: str,
    client_ip: str,
    limits: LoginLimits = LoginLimits(),
) -> Account:
    """The account whose password this is; LoginRefused otherwise, the same way for an unknown user."""
    counters = limits.counters(client_ip, username)
    _refuse_while_waiting(uow, counters, limits)
    row = _credentials(uow, username)
    # An unknown user costs the same hash as a known one, so timing tells nothing either.
    if not check_password_hash(
        row.password_hash if row else _dummy_password_hash(), password or ""
    ):
        _record_failure(uow, counters, limits)
        raise LoginRefused(WRONG_CREDENTIALS)
    return _succeed(uow, limits.cleared_by_success(client_ip, username), row)


def register_beak(uow: UnitOfWork, account_id: str, print_hash: int) -> None:
    values = {"print_hash": f"{print_hash:032x}", "registered_at": clock.utcnow()}
    with uow.begin() as session:
        updated = session.execute(
            update(beak_prints).where(beak_prints.c.account_id == account_id).values(**values)
        )
        if updated.rowcount == 0:
            session.execute(insert(beak_prints).values(account_id=account_id, **values))


def has_beak(uow: UnitOfWork, account_id: str) -> bool:
    with uow.read() as session:
        return (
            session.scalar(
                select(func.count())
                .select_from(beak_prints)
                .where(beak_prints.c.account_id == account_id)
            )
            > 0
        )


def log_in_by_beak(
    uow: UnitOfWork,
    username: str,
    print_hash: int,
    client_ip: str,
    limits: LoginLimits = LoginLimits(),
) -> Account:
    """The account whose registered beak this photo shows; counts failures like password logins."""
    counters = limits.counters(client_ip, username)
    _refuse_while_waiting(uow, counters, limits)
    row = _credentials(uow, username)
    if (
        row is None
        or row.print_hash is None
        or not domain.beaks_match(int(row.print_hash, 16), print_hash)
    ):
        _record_failure(uow, counters, limits)
        raise LoginRefused(WRONG_BEAK)
    return _succeed(uow, limits.cleared_by_success(client_ip, username), row)


def _credentials(uow: UnitOfWork, username: str):
    try:
        username = domain.normalize_username(username)
    except RuleBroken:
        return None
    with uow.read() as session:
        return session.execute(
            select(*_ACCOUNT_COLUMNS, accounts.c.password_hash, beak_prints.c.print_hash)
            .outerjoin(beak_prints, beak_prints.c.account_id == accounts.c.account_id)
            .where(accounts.c.username == username)
        ).first()


def _succeed(uow: UnitOfWork, cleared: list[str], row) -> Account:
    if not row.active:
        raise LoginRefused(DEACTIVATED)
    with uow.begin() as session:
        session.execute(delete(login_failures).where(login_failures.c.client_key.in_(cleared)))
    return _account(row)


def _refuse_while_waiting(
    uow: UnitOfWork, counters: dict[str, FailureWindow], limits: LoginLimits
) -> None:
    now = clock.utcnow()
    with uow.read() as session:
        rows = session.execute(
            select(login_failures.c.client_key, login_failures.c.failed_at).where(
                login_failures.c.client_key.in_(list(counters)),
                login_failures.c.failed_at > limits.oldest_counted(now),
            )
        ).all()
    failures = defaultdict(list)
    for row in rows:
        failures[row.client_key].append(_aware(row.failed_at))
    wait = domain.longest_wait(counters, failures, now)
    if wait is not None:
        raise TooManyFailures(wait)


def _record_failure(
    uow: UnitOfWork, counters: dict[str, FailureWindow], limits: LoginLimits
) -> None:
    now = clock.utcnow()
    with uow.begin() as session:
        # Every client's failures that left the window go, so the table holds about one window's worth.
        session.execute(
            delete(login_failures).where(login_failures.c.failed_at <= limits.oldest_counted(now))
        )
        session.execute(
            insert(login_failures), [{"client_key": key, "failed_at": now} for key in counters]
        )
