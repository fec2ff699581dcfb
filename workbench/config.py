"""Configuration read from the environment.

Every setting has a safe default for a single-machine install; production deployments override
them with environment variables (see README, "Configuration").
"""

from __future__ import annotations

import os
import secrets
import tempfile
from decimal import Decimal, InvalidOperation
from pathlib import Path
from urllib.parse import urlsplit

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_INSTANCE = PROJECT_ROOT / "instance"

#: Keys that must never sign sessions in production (copied from docs, tutorials, tests).
KNOWN_DEFAULT_KEYS = frozenset({"", "dev", "changeme", "change-me", "secret", "test", "default"})
#: Marks the sample keys of this repository (tests, benchmarks) carry: long, but public.
PUBLISHED_KEY_MARKERS = ("not-for-production",)
MIN_PRODUCTION_KEY_LENGTH = 32
#: A random key of 32+ characters has many different ones; "aaaa…" or "1212…" has not.
MIN_DISTINCT_KEY_CHARACTERS = 10


class ConfigError(RuntimeError):
    """Raised when the app is configured in a way that must not start."""


def _bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def instance_secret_key(instance_path: Path) -> str:
    """Return the key stored in ``instance/secret_key``, creating it on first use.

    The key is written whole to a temporary file, fsynced, then linked to its name with
    ``os.link`` (which fails if the name exists): two workers starting together agree on one
    key, no worker ever reads a half-written key, and a full disk leaves no key file behind.
    """
    instance_path.mkdir(parents=True, exist_ok=True)
    key_file = instance_path / "secret_key"
    if not key_file.exists():
        key = secrets.token_hex(32)
        fd, tmp = tempfile.mkstemp(dir=instance_path, prefix=".secret_key.")  # mode 0600
        try:
            with os.fdopen(fd, "w", encoding="ascii") as fh:
                fh.write(key)
                fh.flush()
                os.fsync(fh.fileno())
            try:
                os.link(tmp, key_file)
                return key
            except FileExistsError:
                pass  # another worker was first: use its key
        finally:
            os.unlink(tmp)
    stored = key_file.read_text(encoding="ascii").strip()
    if len(stored) < 32:
        raise ConfigError(
            f"{key_file} is damaged ({len(stored)} characters): delete it to make a new key "
            "(signing out every user) or set SECRET_KEY"
        )
    return stored


def base_url(value: str | None) -> str:
    """``WORKBENCH_BASE_URL`` checked: ``http(s)://host[:port][/prefix]``, no trailing slash."""
    value = (value or "").strip().rstrip("/")
    if not value:
        return ""
    parts = urlsplit(value)
    if parts.scheme not in {"http", "https"} or not parts.hostname or parts.query or parts.fragment:
        raise ConfigError(
            "WORKBENCH_BASE_URL must be the address people open, e.g. https://pj.example.gov.cn "
            f"(got {value!r})."
        )
    return value


def trusted_hosts(value: str | None, base: str, *, production: bool) -> list[str] | None:
    """``TRUSTED_HOSTS`` (comma-separated host names; a leading dot allows subdomains).

    Unset: in production the host of ``WORKBENCH_BASE_URL``; in development every host.
    """
    hosts = [h.strip().lower() for h in (value or "").split(",") if h.strip()]
    if not hosts and production and base:
        hosts = [str(urlsplit(base).hostname)]
    return hosts or None


def trusted_proxies(value: str | None) -> int:
    """``WORKBENCH_TRUSTED_PROXIES``: how many reverse proxies (0–5) stand in front of the app.

    >>> trusted_proxies(None), trusted_proxies(" 1 ")
    (0, 1)
    """
    text = (value or "0").strip()
    if not text.isdigit() or int(text) > 5:
        raise ConfigError(
            f"WORKBENCH_TRUSTED_PROXIES must be the number of reverse proxies (0–5), not {text!r}"
        )
    return int(text)


def loss_threshold(value: str | None) -> Decimal:
    """``WORKBENCH_REPORT_QA_LOSS_THRESHOLD``: points a leaf may lose before the report QA asks
    for a finding or a note about it (default 0.5).

    >>> loss_threshold(None), loss_threshold(" 1 ")
    (Decimal('0.5'), Decimal('1'))
    """
    text = (value or "0.5").strip()
    try:
        threshold = Decimal(text)
    except InvalidOperation:
        threshold = Decimal(-1)
    if not threshold.is_finite() or threshold <= 0 or threshold > 100:
        raise ConfigError(
            "WORKBENCH_REPORT_QA_LOSS_THRESHOLD must be a number of points above 0 (e.g. 0.5), "
            f"not {text!r}"
        )
    return threshold


def default_database_url(instance_path: Path) -> str:
    return f"sqlite:///{instance_path / 'workbench.db'}"


def load_config(instance_path: Path) -> dict[str, object]:
    """Build the configuration mapping from environment variables."""
    env = os.environ.get("WORKBENCH_ENV", "development").strip().lower()
    production = env == "production"
    secret = os.environ.get("SECRET_KEY")
    if secret is None and not production:
        secret = instance_secret_key(instance_path)
    max_upload_mb = float(os.environ.get("WORKBENCH_MAX_UPLOAD_MB", "20"))
    base = base_url(os.environ.get("WORKBENCH_BASE_URL"))
    return {
        "WORKBENCH_ENV": env,
        "SECRET_KEY": secret or "",
        "SQLALCHEMY_DATABASE_URI": os.environ.get("DATABASE_URL")
        or default_database_url(instance_path),
        "MAX_CONTENT_LENGTH": int(max_upload_mb * 1024 * 1024),
        "BABEL_DEFAULT_LOCALE": os.environ.get("WORKBENCH_LANGUAGE", "zh_Hans_CN"),
        "BABEL_DEFAULT_TIMEZONE": os.environ.get("WORKBENCH_TIMEZONE", "Asia/Shanghai"),
        # links that leave the site (survey links, QR codes, expert links) start with this
        "WORKBENCH_BASE_URL": base,
        # Flask refuses (400) a request whose Host header is not one of these
        "TRUSTED_HOSTS": trusted_hosts(
            os.environ.get("TRUSTED_HOSTS"), base, production=production
        ),
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_SECURE": _bool("WORKBENCH_SECURE_COOKIES", production),
        "REMEMBER_COOKIE_HTTPONLY": True,
        "REMEMBER_COOKIE_SAMESITE": "Lax",
        "REMEMBER_COOKIE_SECURE": _bool("WORKBENCH_SECURE_COOKIES", production),
        "PERMANENT_SESSION_LIFETIME": int(os.environ.get("WORKBENCH_SESSION_HOURS", "12")) * 3600,
        # reverse proxies in front of the app (nginx: 1) whose X-Forwarded-For/-Proto are
        # believed; 0 (default) believes none, so a client cannot choose its own address
        "TRUSTED_PROXIES": trusted_proxies(os.environ.get("WORKBENCH_TRUSTED_PROXIES")),
        "RATELIMIT_STORAGE_URI": os.environ.get("RATELIMIT_STORAGE_URI", "memory://"),
        "RATELIMIT_ENABLED": _bool("WORKBENCH_RATELIMIT", True),
        "LOGIN_RATE_LIMIT": os.environ.get("WORKBENCH_LOGIN_RATE_LIMIT", "10 per minute"),
        "LOGIN_USER_RATE_LIMIT": os.environ.get("WORKBENCH_LOGIN_USER_RATE_LIMIT", "5 per minute"),
        # stored submissions of the public questionnaire (only stored ones count: a form sent
        # back for a missing answer costs nothing), per survey: per browser/device id ...
        "SURVEY_RATE_LIMIT": os.environ.get("WORKBENCH_SURVEY_RATE_LIMIT", "10 per minute"),
        # ... per address (a village or school shares one Wi-Fi address: a loose backstop) ...
        "SURVEY_ADDRESS_RATE_LIMIT": os.environ.get(
            "WORKBENCH_SURVEY_ADDRESS_RATE_LIMIT", "600 per minute"
        ),
        # ... and all respondents together: the ceiling that protects the server
        "SURVEY_CEILING": os.environ.get("WORKBENCH_SURVEY_CEILING", "1200 per minute"),
        # views of the public questionnaire per browser (per address before the browser has
        # its id, with the looser second limit: a whole class opens the link at once)
        "SURVEY_READ_RATE_LIMIT": os.environ.get(
            "WORKBENCH_SURVEY_READ_RATE_LIMIT", "120 per minute"
        ),
        "SURVEY_ADDRESS_READ_RATE_LIMIT": os.environ.get(
            "WORKBENCH_SURVEY_ADDRESS_READ_RATE_LIMIT", "1200 per minute"
        ),
        # import jobs: seconds between a running job's heartbeats, and without one before the
        # job counts as dead (its worker was killed) and is marked failed
        "SURVEY_IMPORT_HEARTBEAT_S": int(os.environ.get("WORKBENCH_IMPORT_HEARTBEAT_S", "15")),
        "SURVEY_IMPORT_LEASE_S": int(os.environ.get("WORKBENCH_IMPORT_LEASE_S", "180")),
        # years an archived engagement's package must be kept (nothing archived is deleted)
        "RETENTION_YEARS": int(os.environ.get("WORKBENCH_RETENTION_YEARS", "10")),
        # report review levels before the 征求意见稿, comma-separated (signed in this order)
        "REPORT_REVIEW_LEVELS": os.environ.get(
            "WORKBENCH_REPORT_REVIEW_LEVELS", "项目负责人复核,质控复核"
        ),
        # report QA: points a leaf may lose before a finding or note must take it up
        "REPORT_QA_LOSS_THRESHOLD": loss_threshold(
            os.environ.get("WORKBENCH_REPORT_QA_LOSS_THRESHOLD")
        ),
        # argon2id parameters (RFC 9106 second recommended option is m=64 MiB, t=3, p=4).
        "ARGON2_TIME_COST": int(os.environ.get("WORKBENCH_ARGON2_TIME_COST", "3")),
        "ARGON2_MEMORY_COST": int(os.environ.get("WORKBENCH_ARGON2_MEMORY_KIB", "65536")),
        "ARGON2_PARALLELISM": int(os.environ.get("WORKBENCH_ARGON2_PARALLELISM", "4")),
        "SQLITE_BUSY_TIMEOUT_MS": int(os.environ.get("WORKBENCH_SQLITE_BUSY_MS", "5000")),
        "BOOTSTRAP_SERVE_LOCAL": True,
        "WTF_CSRF_TIME_LIMIT": None,  # token lives as long as the session
        "LANGUAGES": {"zh_Hans_CN": "中文", "en": "English"},
        # optional outgoing mail (expert links); nothing needs a mail server
        "MAIL_SERVER": os.environ.get("MAIL_SERVER", ""),
        "MAIL_PORT": int(os.environ.get("MAIL_PORT", "25")),
        "MAIL_USERNAME": os.environ.get("MAIL_USERNAME", ""),
        "MAIL_PASSWORD": os.environ.get("MAIL_PASSWORD", ""),
        "MAIL_FROM": os.environ.get("MAIL_FROM", ""),
        "MAIL_USE_TLS": _bool("MAIL_USE_TLS", False),
    }


def check_production_config(config: dict[str, object]) -> None:
    """Refuse to run in production with a missing, default or short secret key, or with links
    that would be built from whatever ``Host`` header a request sends."""
    base_url(str(config.get("WORKBENCH_BASE_URL") or ""))  # also when given as an override
    if config.get("WORKBENCH_ENV") != "production":
        return
    key = str(config.get("SECRET_KEY") or "")
    if (
        key.strip().lower() in KNOWN_DEFAULT_KEYS
        or len(key) < MIN_PRODUCTION_KEY_LENGTH
        or any(marker in key.lower() for marker in PUBLISHED_KEY_MARKERS)
        or len(set(key)) < MIN_DISTINCT_KEY_CHARACTERS
    ):
        raise ConfigError(
            "WORKBENCH_ENV=production needs SECRET_KEY set to a random value of at least "
            f"{MIN_PRODUCTION_KEY_LENGTH} characters (e.g. python -c "
            "'import secrets; print(secrets.token_hex(32))')."
        )
    if not config.get("WORKBENCH_BASE_URL") and not config.get("TRUSTED_HOSTS"):
        raise ConfigError(
            "WORKBENCH_ENV=production needs WORKBENCH_BASE_URL (the address people open, e.g. "
            "https://pj.example.gov.cn; survey links, QR codes and expert links are built from "
            "it) or TRUSTED_HOSTS (the host names the server answers to, comma-separated)."
        )
