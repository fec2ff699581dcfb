"""Account services: password hashing, users and organisations.

Services flush and never commit; the caller (a view or a CLI command) commits once.
"""

from __future__ import annotations

import sqlalchemy as sa
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from flask import current_app, has_app_context
from sqlalchemy.orm import Session

from workbench.accounts.models import Organisation, OrganisationKind, Role, User
from workbench.audit.services import diff, record, snapshot
from workbench.db import utcnow

MIN_PASSWORD_LENGTH = 10
USER_AUDIT_FIELDS = ["username", "display_name", "email", "role", "organisation_id", "is_enabled"]
ORG_AUDIT_FIELDS = ["name", "kind", "region", "contact"]


class AccountError(ValueError):
    """A user-facing problem with an account operation."""


def password_hasher() -> PasswordHasher:
    """argon2id with the configured cost (cheap in tests, RFC 9106 defaults otherwise)."""
    if has_app_context():
        cfg = current_app.config
        return PasswordHasher(
            time_cost=cfg["ARGON2_TIME_COST"],
            memory_cost=cfg["ARGON2_MEMORY_COST"],
            parallelism=cfg["ARGON2_PARALLELISM"],
        )
    return PasswordHasher()


def password_problem(password: str) -> str | None:
    """Why ``password`` is too weak, or ``None``. Kept simple and explainable (NIST 800-63B)."""
    if len(password) < MIN_PASSWORD_LENGTH:
        return "too_short"
    if password.isdigit() or password.isalpha():
        return "one_kind"
    return None


def hash_password(password: str) -> str:
    return password_hasher().hash(password)


def verify_password(user: User, password: str) -> bool:
    """Check ``password``; re-hash transparently when the cost parameters changed."""
    hasher = password_hasher()
    try:
        hasher.verify(user.password_hash, password)
    except (VerificationError, InvalidHashError):
        return False
    if hasher.check_needs_rehash(user.password_hash):
        user.password_hash = hasher.hash(password)
    return True


# A hash to verify against when the user name is unknown, so that timing does not reveal
# which user names exist.
_DUMMY_HASH: dict[str, str] = {}


def authenticate(session: Session, username: str, password: str) -> User | None:
    """The enabled user with these credentials, or ``None``."""
    user = session.scalar(sa.select(User).where(sa.func.lower(User.username) == username.lower()))
    if user is None:
        key = "hash"
        if key not in _DUMMY_HASH:
            _DUMMY_HASH[key] = hash_password("not-a-real-password-0")
        password_hasher().verify(_DUMMY_HASH[key], "not-a-real-password-0")
        return None
    if not verify_password(user, password) or not user.is_enabled:
        return None
    user.last_login_at = utcnow()
    return user


def create_user(
    session: Session,
    actor: User | None,
    *,
    username: str,
    display_name: str,
    password: str,
    role: Role,
    organisation: Organisation | None = None,
    email: str | None = None,
) -> User:
    """Create a user. Raises :class:`AccountError` on a taken name, weak password or a client
    user without a client organisation."""
    username = username.strip()
    if not username:
        raise AccountError("username_required")
    if session.scalar(sa.select(User.id).where(sa.func.lower(User.username) == username.lower())):
        raise AccountError("username_taken")
    if password_problem(password):
        raise AccountError(f"password_{password_problem(password)}")
    if role is Role.CLIENT and (
        organisation is None or organisation.kind is not OrganisationKind.CLIENT
    ):
        raise AccountError("client_needs_client_org")
    user = User(
        username=username,
        display_name=display_name.strip() or username,
        password_hash=hash_password(password),
        role=role,
        organisation=organisation,
        email=(email or "").strip() or None,
    )
    session.add(user)
    session.flush()
    record(
        session,
        actor,
        "user.create",
        "user",
        user.id,
        changes=diff({}, snapshot(user, USER_AUDIT_FIELDS)),
        summary=user.username,
    )
    return user


def update_user(session: Session, actor: User, user: User, **values: object) -> User:
    """Change a user's profile, role, organisation or enabled flag (audited)."""
    before = snapshot(user, USER_AUDIT_FIELDS)
    for key in ("display_name", "email", "role", "organisation", "is_enabled"):
        if key in values:
            setattr(user, key, values[key])
    if user.role is Role.CLIENT and (
        user.organisation is None or user.organisation.kind is not OrganisationKind.CLIENT
    ):
        raise AccountError("client_needs_client_org")
    if actor.id == user.id and (not user.is_enabled or user.role is not Role.ADMIN):
        raise AccountError("cannot_demote_self")
    if not user.is_enabled and before["is_enabled"]:
        user.session_version += 1  # log the disabled user out everywhere
    session.flush()
    changes = diff(before, snapshot(user, USER_AUDIT_FIELDS))
    if changes:
        record(
            session, actor, "user.update", "user", user.id, changes=changes, summary=user.username
        )
    return user


def end_sessions(
    session: Session,
    actor: User,
    user: User,
    *,
    action: str = "user.sessions",
    ip_address: str | None = None,
) -> None:
    """Log ``user`` out everywhere: every session carries the version it was opened with, and
    the user loader refuses an older one (audited as ``action``; logout passes ``auth.logout``)."""
    user.session_version = User.session_version + 1  # in SQL: two bumps never make one
    session.flush()
    session.refresh(user, ["session_version"])
    record(session, actor, action, "user", user.id, summary=user.username, ip_address=ip_address)


def change_password(session: Session, actor: User, user: User, new_password: str) -> None:
    """Set a new password and end the user's other sessions (audited, value not recorded)."""
    problem = password_problem(new_password)
    if problem:
        raise AccountError(f"password_{problem}")
    user.password_hash = hash_password(new_password)
    user.session_version += 1
    session.flush()
    record(session, actor, "user.password", "user", user.id, summary=user.username)


def create_organisation(
    session: Session,
    actor: User | None,
    *,
    name: str,
    kind: OrganisationKind,
    region: str | None = None,
    contact: str | None = None,
) -> Organisation:
    """Create an organisation; names are unique."""
    name = name.strip()
    if session.scalar(sa.select(Organisation.id).where(Organisation.name == name)):
        raise AccountError("organisation_taken")
    org = Organisation(name=name, kind=kind, region=region or None, contact=contact or None)
    session.add(org)
    session.flush()
    record(
        session,
        actor,
        "organisation.create",
        "organisation",
        org.id,
        changes=diff({}, snapshot(org, ORG_AUDIT_FIELDS)),
        summary=org.name,
    )
    return org


def update_organisation(
    session: Session, actor: User, org: Organisation, **values: object
) -> Organisation:
    """Edit an organisation (audited)."""
    before = snapshot(org, ORG_AUDIT_FIELDS)
    new_name = str(values.get("name", org.name)).strip()
    if new_name != org.name and session.scalar(
        sa.select(Organisation.id).where(Organisation.name == new_name)
    ):
        raise AccountError("organisation_taken")
    org.name = new_name
    for key in ("kind", "region", "contact"):
        if key in values:
            setattr(org, key, values[key] or None if key != "kind" else values[key])
    session.flush()
    changes = diff(before, snapshot(org, ORG_AUDIT_FIELDS))
    if changes:
        record(
            session,
            actor,
            "organisation.update",
            "organisation",
            org.id,
            changes=changes,
            summary=org.name,
        )
    return org
