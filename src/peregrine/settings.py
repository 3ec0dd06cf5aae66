"""The one place Peregrine reads its environment.

Every setting is declared once in ``SPECS`` (name, default, meaning) so that parsing,
``docs/configuration.md`` and the test that keeps the two in step share one list.
Nothing else in the package reads ``os.environ``.
"""

from __future__ import annotations

import ipaddress
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

Mode = Literal["local", "demo", "cloud"]

MIN_SECRET_BYTES = 32
DEFAULT_PORTS: dict[str, int] = {"local": 8502, "demo": 8504, "cloud": 8505}

# Values that people paste from examples; refusing them stops a "changeme" secret from
# protecting real tenants.
_PLACEHOLDER_MARKERS = (
    "changeme",
    "change-me",
    "change_me",
    "placeholder",
    "example",
    "your-",
    "your_",
    "replace",
    "secret-here",
    "xxxxxxxx",
    "<",
    "todo",
)


class SettingsError(ValueError):
    """A setting is missing or malformed; the message names the variable."""


class Secret:
    """A string that never shows itself in ``repr``, ``str``, logs or tracebacks."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('**********')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(("Secret", self._value))

    def __len__(self) -> int:
        return len(self._value.encode())


@dataclass(frozen=True)
class SettingSpec:
    name: str
    default: str
    meaning: str
    secret: bool = False


SPECS: tuple[SettingSpec, ...] = (
    SettingSpec("CLOUD_MODE", "false", "Run as the multi-tenant cloud service (port 8505)."),
    SettingSpec("DEMO_MODE", "false", "Run as the public demo; LLM calls are blocked (port 8504)."),
    SettingSpec(
        "PEREGRINE_DATA_DIR",
        "./data",
        "Local and demo mode: the folder that holds everything the user owns.",
    ),
    SettingSpec(
        "STAGING_DB",
        "<PEREGRINE_DATA_DIR>/staging.db",
        "Local and demo mode: path of the user's SQLite database.",
    ),
    SettingSpec(
        "PEREGRINE_HOST",
        "127.0.0.1",
        "Interface to listen on. Local mode refuses non-loopback addresses unless "
        "PEREGRINE_ALLOW_REMOTE is true.",
    ),
    SettingSpec(
        "PEREGRINE_PORT", "8502 / 8504 / 8505", "Port to listen on (local / demo / cloud default)."
    ),
    SettingSpec(
        "PEREGRINE_ALLOW_REMOTE",
        "false",
        "Local mode: allow listening on a non-loopback interface (you then need your own "
        "authentication in front).",
    ),
    SettingSpec(
        "PEREGRINE_ALLOWED_HOSTS",
        "127.0.0.1,localhost,[::1]",
        "Comma-separated Host header values accepted (protects against DNS rebinding). "
        "`*` accepts any.",
    ),
    SettingSpec(
        "PEREGRINE_ROOT_PATH",
        "",
        "Path prefix when served behind a proxy, e.g. `/peregrine`.",
    ),
    SettingSpec("PEREGRINE_LOG_LEVEL", "info", "debug, info, warning or error."),
    SettingSpec(
        "PEREGRINE_MAX_BODY_BYTES",
        "10485760",
        "Largest request body accepted, in bytes (uploads included).",
    ),
    SettingSpec(
        "PEREGRINE_PAGE_CACHE_MB",
        "192",
        "Memory for whole cached pages (the review page and the JSON job list), in MiB, per "
        "process and shared by its users: two thirds for review pages, one third for the "
        "list. A page is served from it until the user's jobs change. 0 turns it off.",
    ),
    SettingSpec(
        "PEREGRINE_FORWARDED_ALLOW_IPS",
        "(unset: 127.0.0.1 in cloud and demo mode, nobody in local mode)",
        "Comma-separated addresses or networks (CIDR) of the reverse proxy whose "
        "X-Forwarded-For/-Proto headers are believed, e.g. the Docker bridge gateway "
        "`172.30.0.1`. `*` is refused: it would let any client pick its own address.",
    ),
    SettingSpec(
        "DEMO_MAX_SANDBOXES",
        "200",
        "Demo mode: most visitor sandboxes kept at once; past it the least recently used "
        "one is dropped.",
    ),
    SettingSpec(
        "DEMO_SANDBOX_TTL_MINUTES",
        "120",
        "Demo mode: a visitor's sandbox is deleted after this many idle minutes.",
    ),
    SettingSpec(
        "PEREGRINE_MAX_BACKUP_BYTES",
        "2147483648",
        "Largest backup archive accepted for restore, in bytes (2 GiB).",
    ),
    SettingSpec(
        "CLOUD_DATA_ROOT",
        "/devl/menagerie-data",
        "Cloud mode: root of the per-user folders `<root>/<user-id>/<app>/`.",
    ),
    SettingSpec(
        "CLOUD_APP_SLUG",
        "peregrine",
        "Cloud mode: the app's folder name under each user's folder.",
    ),
    SettingSpec(
        "DIRECTUS_JWT_SECRET",
        "(required in cloud mode)",
        "Cloud mode: HS256 secret Directus signs session tokens with (at least 32 bytes).",
        secret=True,
    ),
    SettingSpec(
        "CF_SERVER_SECRET",
        "(required in cloud mode)",
        "Cloud mode: server secret the per-user database keys are derived from "
        "(HMAC-SHA256, at least 32 bytes).",
        secret=True,
    ),
    SettingSpec(
        "CF_SERVER_SECRET_PREVIOUS",
        "(unset)",
        "Cloud mode: the previous server secret during a rotation; databases that do not "
        "open with the current key are opened with this one and re-keyed.",
        secret=True,
    ),
    SettingSpec(
        "SESSION_COOKIE_NAME",
        "directus_session_token",
        "Cloud mode: name of the Directus session cookie.",
    ),
    SettingSpec(
        "LOGIN_URL",
        "/login",
        "Cloud mode: where the sign-in page sends people (a `next` parameter is added).",
    ),
    SettingSpec(
        "DIRECTUS_URL",
        "(unset)",
        "Cloud mode: when set, sessions are confirmed with Directus `/users/me` "
        "(cached up to 60 s), so logouts take effect within a minute.",
    ),
    SettingSpec(
        "CLOUD_DB_CACHE_SIZE",
        "1024",
        "Cloud mode: how many users' databases stay open at once (least recently used "
        "are closed first; about 240 KiB each). Keep it at or above the users active "
        "within CLOUD_DB_IDLE_SECONDS.",
    ),
    SettingSpec(
        "CLOUD_DB_IDLE_SECONDS",
        "300",
        "Cloud mode: an open user database unused for this long is closed.",
    ),
    SettingSpec(
        "PLATFORM_DB_URL",
        "(unset)",
        "Cloud mode: PostgreSQL URL of the platform database.",
        secret=True,
    ),
    SettingSpec(
        "PLATFORM_POOL_MIN_SIZE",
        "1",
        "Cloud mode: connections the platform database pool keeps open.",
    ),
    SettingSpec(
        "PLATFORM_POOL_MAX_SIZE",
        "5",
        "Cloud mode: most connections the platform database pool opens.",
    ),
    SettingSpec(
        "PLATFORM_CONNECT_TIMEOUT",
        "3",
        "Cloud mode: seconds to wait for a platform database connection before giving up "
        "(at least 2, the PostgreSQL client minimum).",
    ),
    SettingSpec(
        "PLATFORM_STATEMENT_TIMEOUT_MS",
        "2000",
        "Cloud mode: longest a platform database statement may run, in milliseconds.",
    ),
    SettingSpec(
        "TELEMETRY_DEFAULT_CONSENT",
        "false",
        "Cloud mode: treat users who never chose on the privacy page as consenting to usage "
        "statistics. Leave false (opt-in) unless your privacy notice says otherwise; "
        '"disable all" always wins.',
    ),
    SettingSpec(
        "TELEMETRY_BUFFER_SIZE",
        "10000",
        "Cloud mode: usage events held in memory before new ones are dropped (and counted).",
    ),
    SettingSpec(
        "TELEMETRY_FLUSH_INTERVAL_MS",
        "2000",
        "Cloud mode: how often buffered usage events are written, in milliseconds.",
    ),
    SettingSpec(
        "TELEMETRY_CONSENT_TTL_SECONDS",
        "15",
        "Cloud mode: how long a user's consent answer is remembered (at most 30, so a change "
        "takes effect within 30 s).",
    ),
    SettingSpec(
        "TIER_CACHE_SECONDS",
        "60",
        "Cloud mode: how long a user's subscription tier is remembered.",
    ),
    SettingSpec(
        "METRICS_ENABLED",
        "false (local, demo) / true (cloud)",
        "Serve Prometheus metrics at `/metrics`. Keep that path internal (the Caddyfile "
        "should not route it publicly).",
    ),
    SettingSpec(
        "PEREGRINE_LOG_FORMAT",
        "text (local, demo) / json (cloud)",
        "`json` writes one JSON object per log line with a request id; `text` is for people.",
    ),
    SettingSpec(
        "PEREGRINE_TASK_WORKERS",
        "2",
        "Local and demo mode: background task worker threads in the server process (1-16). "
        "Cloud mode with a platform database: how many tasks the embedded worker runs at once.",
    ),
    SettingSpec(
        "PEREGRINE_EMBEDDED_WORKER",
        "true",
        "Cloud mode with a platform database: the server process also runs queued tasks. Set "
        "false when separate `peregrine worker` processes run them (more than one app node).",
    ),
    SettingSpec(
        "PEREGRINE_NODE_NAME",
        "(unset)",
        "A short name for this app process (letters, digits, `.`, `_`, `-`), reported by "
        "`/healthz` and an `X-Peregrine-Node` response header, so an operator can tell which "
        "node served a request. Unset: neither is sent.",
    ),
    SettingSpec(
        "LLM_BACKENDS_FILE",
        "(unset)",
        "JSON or YAML file with the LLM backends and fallback chains (shape in docs/llm.md). "
        "Cloud mode uses only this file; local mode uses it when Settings has no backends.",
    ),
    SettingSpec(
        "LLM_API_KEY_VARIABLES",
        "OPENAI_API_KEY,ANTHROPIC_API_KEY",
        "Comma-separated names of the environment variables (each also as `NAME_FILE`) that "
        "LLM backends may take an API key from; a backend naming any other variable is refused.",
    ),
    SettingSpec(
        "SEARXNG_URL",
        "(unset)",
        "Base URL of a SearXNG instance with the JSON API enabled, used by company research.",
    ),
)

SPEC_BY_NAME = {spec.name: spec for spec in SPECS}
_TRUE = {"true", "1", "yes", "on"}
_FALSE = {"false", "0", "no", "off", ""}


@dataclass(frozen=True)
class Settings:
    mode: Mode = "local"
    data_dir: Path = Path("data")
    staging_db: Path = Path("data/staging.db")
    host: str = "127.0.0.1"
    port: int = 8502
    allow_remote: bool = False
    allowed_hosts: tuple[str, ...] = ("127.0.0.1", "localhost", "[::1]")
    root_path: str = ""
    log_level: str = "info"
    max_body_bytes: int = 10 * 1024 * 1024
    forwarded_allow_ips: tuple[str, ...] = ()
    demo_max_sandboxes: int = 200
    demo_sandbox_ttl_minutes: int = 120
    max_backup_bytes: int = 2 * 1024**3
    cloud_data_root: Path = Path("/devl/menagerie-data")
    cloud_app_slug: str = "peregrine"
    directus_jwt_secret: Secret | None = field(default=None, repr=False)
    cf_server_secret: Secret | None = field(default=None, repr=False)
    cf_server_secret_previous: Secret | None = field(default=None, repr=False)
    session_cookie_name: str = "directus_session_token"
    login_url: str = "/login"
    directus_url: str | None = None
    cloud_db_cache_size: int = 1024
    page_cache_mb: int = 192
    cloud_db_idle_seconds: int = 300
    platform_db_url: Secret | None = field(default=None, repr=False)
    platform_pool_min_size: int = 1
    platform_pool_max_size: int = 5
    platform_connect_timeout: int = 3
    platform_statement_timeout_ms: int = 2000
    telemetry_default_consent: bool = False
    telemetry_buffer_size: int = 10000
    telemetry_flush_interval_ms: int = 2000
    telemetry_consent_ttl_seconds: int = 15
    tier_cache_seconds: int = 60
    metrics_enabled: bool = False
    log_format: Literal["text", "json"] = "text"
    task_workers: int = 2
    embedded_worker: bool = True
    node_name: str | None = None
    llm_backends_file: Path | None = None
    llm_api_keys: Mapping[str, Secret] = field(default_factory=dict, repr=False)
    searxng_url: str | None = None

    @property
    def cloud(self) -> bool:
        return self.mode == "cloud"

    @property
    def demo(self) -> bool:
        return self.mode == "demo"

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Parse settings strictly; a bad value raises ``SettingsError`` naming the variable."""
        env = _Env(os.environ if environ is None else environ)
        cloud = env.boolean("CLOUD_MODE")
        demo = env.boolean("DEMO_MODE")
        if cloud and demo:
            raise SettingsError(
                "CLOUD_MODE and DEMO_MODE are both true; choose one (the demo is a separate "
                "instance)."
            )
        mode: Mode = "cloud" if cloud else "demo" if demo else "local"

        data_dir = Path(env.text("PEREGRINE_DATA_DIR") or "./data")
        staging = env.text("STAGING_DB")
        staging_db = Path(staging) if staging else data_dir / "staging.db"

        host = env.text("PEREGRINE_HOST") or "127.0.0.1"
        allow_remote = env.boolean("PEREGRINE_ALLOW_REMOTE")
        if mode == "local" and not allow_remote and not _is_loopback(host):
            raise SettingsError(
                f"PEREGRINE_HOST={host!r} is not a loopback address. Local mode has no login, "
                "so it listens on 127.0.0.1 only; set PEREGRINE_ALLOW_REMOTE=true if you put "
                "your own authentication in front."
            )
        port = env.integer("PEREGRINE_PORT", DEFAULT_PORTS[mode], low=1, high=65535)

        hosts_raw = env.text("PEREGRINE_ALLOWED_HOSTS")
        allowed_hosts = (
            tuple(h.strip().lower() for h in hosts_raw.split(",") if h.strip())
            if hosts_raw
            else ("127.0.0.1", "localhost", "[::1]")
        )
        if mode == "local" and not hosts_raw and host not in {"127.0.0.1", "localhost", "::1"}:
            allowed_hosts = (*allowed_hosts, host.lower())

        root_path = env.text("PEREGRINE_ROOT_PATH").rstrip("/")
        if root_path and not root_path.startswith("/"):
            raise SettingsError(
                f"PEREGRINE_ROOT_PATH must start with '/', got {root_path!r} (e.g. /peregrine)."
            )

        log_level = (env.text("PEREGRINE_LOG_LEVEL") or "info").lower()
        if log_level not in {"debug", "info", "warning", "error"}:
            raise SettingsError(
                f"PEREGRINE_LOG_LEVEL must be debug, info, warning or error, got {log_level!r}."
            )
        max_body = env.integer(
            "PEREGRINE_MAX_BODY_BYTES", 10 * 1024 * 1024, low=1024, high=2 * 1024**3
        )
        max_backup = env.integer(
            "PEREGRINE_MAX_BACKUP_BYTES", 2 * 1024**3, low=1024 * 1024, high=64 * 1024**3
        )

        forwarded_raw = env.text("PEREGRINE_FORWARDED_ALLOW_IPS")
        forwarded_allow_ips = (
            _parse_proxy_addresses(forwarded_raw)
            if forwarded_raw
            else ("127.0.0.1",)
            if mode != "local"
            else ()
        )
        demo_max = env.integer("DEMO_MAX_SANDBOXES", 200, low=1, high=100_000)
        demo_ttl = env.integer("DEMO_SANDBOX_TTL_MINUTES", 120, low=1, high=7 * 24 * 60)

        slug = env.text("CLOUD_APP_SLUG") or "peregrine"
        if not slug.isascii() or not slug.replace("-", "").isalnum() or not slug[0].isalpha():
            raise SettingsError(
                f"CLOUD_APP_SLUG must be letters, digits and dashes starting with a letter, "
                f"got {slug!r}."
            )
        cookie = env.text("SESSION_COOKIE_NAME") or "directus_session_token"
        directus_url = env.text("DIRECTUS_URL") or None
        if directus_url and not directus_url.startswith(("http://", "https://")):
            raise SettingsError(f"DIRECTUS_URL must be an http(s) URL, got {directus_url!r}.")

        pool_min = env.integer("PLATFORM_POOL_MIN_SIZE", 1, low=0, high=100)
        pool_max = env.integer("PLATFORM_POOL_MAX_SIZE", 5, low=1, high=100)
        if pool_max < max(pool_min, 1):
            raise SettingsError(
                f"PLATFORM_POOL_MAX_SIZE ({pool_max}) must be at least "
                f"PLATFORM_POOL_MIN_SIZE ({pool_min})."
            )
        metrics_raw = env.text("METRICS_ENABLED")
        metrics_enabled = env.boolean("METRICS_ENABLED") if metrics_raw else mode == "cloud"
        log_format = env.text("PEREGRINE_LOG_FORMAT") or ("json" if mode == "cloud" else "text")
        log_format = log_format.lower()
        if log_format not in {"text", "json"}:
            raise SettingsError(f"PEREGRINE_LOG_FORMAT must be text or json, got {log_format!r}.")
        llm_file = env.text("LLM_BACKENDS_FILE")
        searxng_url = env.text("SEARXNG_URL") or None
        if searxng_url and not searxng_url.startswith(("http://", "https://")):
            raise SettingsError(f"SEARXNG_URL must be an http(s) URL, got {searxng_url!r}.")

        settings = cls(
            mode=mode,
            data_dir=data_dir,
            staging_db=staging_db,
            host=host,
            port=port,
            allow_remote=allow_remote,
            allowed_hosts=allowed_hosts,
            root_path=root_path,
            log_level=log_level,
            max_body_bytes=max_body,
            forwarded_allow_ips=forwarded_allow_ips,
            demo_max_sandboxes=demo_max,
            demo_sandbox_ttl_minutes=demo_ttl,
            max_backup_bytes=max_backup,
            cloud_data_root=Path(env.text("CLOUD_DATA_ROOT") or "/devl/menagerie-data"),
            cloud_app_slug=slug,
            directus_jwt_secret=env.secret("DIRECTUS_JWT_SECRET"),
            cf_server_secret=env.secret("CF_SERVER_SECRET"),
            cf_server_secret_previous=env.secret("CF_SERVER_SECRET_PREVIOUS"),
            session_cookie_name=cookie,
            login_url=env.text("LOGIN_URL") or "/login",
            directus_url=directus_url.rstrip("/") if directus_url else None,
            cloud_db_cache_size=env.integer("CLOUD_DB_CACHE_SIZE", 1024, low=1, high=100_000),
            page_cache_mb=env.integer("PEREGRINE_PAGE_CACHE_MB", 192, low=0, high=65_536),
            cloud_db_idle_seconds=env.integer("CLOUD_DB_IDLE_SECONDS", 300, low=1, high=86_400),
            platform_db_url=env.secret("PLATFORM_DB_URL"),
            platform_pool_min_size=pool_min,
            platform_pool_max_size=pool_max,
            platform_connect_timeout=env.integer("PLATFORM_CONNECT_TIMEOUT", 3, low=2, high=60),
            platform_statement_timeout_ms=env.integer(
                "PLATFORM_STATEMENT_TIMEOUT_MS", 2000, low=100, high=600_000
            ),
            telemetry_default_consent=env.boolean("TELEMETRY_DEFAULT_CONSENT"),
            telemetry_buffer_size=env.integer("TELEMETRY_BUFFER_SIZE", 10000, low=10, high=10**6),
            telemetry_flush_interval_ms=env.integer(
                "TELEMETRY_FLUSH_INTERVAL_MS", 2000, low=10, high=60_000
            ),
            telemetry_consent_ttl_seconds=env.integer(
                "TELEMETRY_CONSENT_TTL_SECONDS", 15, low=0, high=30
            ),
            tier_cache_seconds=env.integer("TIER_CACHE_SECONDS", 60, low=0, high=3600),
            metrics_enabled=metrics_enabled,
            log_format="json" if log_format == "json" else "text",
            task_workers=env.integer("PEREGRINE_TASK_WORKERS", 2, low=1, high=16),
            embedded_worker=env.boolean_default("PEREGRINE_EMBEDDED_WORKER", True),
            node_name=_node_name(env.text("PEREGRINE_NODE_NAME")),
            llm_backends_file=Path(llm_file) if llm_file else None,
            llm_api_keys=env.api_keys("LLM_API_KEY_VARIABLES", "OPENAI_API_KEY,ANTHROPIC_API_KEY"),
            searxng_url=searxng_url.rstrip("/") if searxng_url else None,
        )
        if mode == "cloud":
            _check_cloud_secrets(settings)
        return settings


def _node_name(raw: str) -> str | None:
    # Sent in a response header: a strict shape keeps header injection out.
    if not raw:
        return None
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]{0,62}", raw):
        raise SettingsError(
            f"PEREGRINE_NODE_NAME must be 1-63 letters, digits, '.', '_' or '-', got {raw!r}."
        )
    return raw


def _check_cloud_secrets(settings: Settings) -> None:
    for name in ("DIRECTUS_JWT_SECRET", "CF_SERVER_SECRET"):
        value: Secret | None = getattr(settings, name.lower())
        _check_strong_secret(name, value, required=True)
    _check_strong_secret(
        "CF_SERVER_SECRET_PREVIOUS", settings.cf_server_secret_previous, required=False
    )


def _check_strong_secret(name: str, value: Secret | None, *, required: bool) -> None:
    if value is None:
        if required:
            raise SettingsError(
                f"{name} is required in cloud mode (set {name} or {name}_FILE). "
                "Generate one with: python -c 'import secrets; print(secrets.token_hex(32))'"
            )
        return
    lowered = value.reveal().lower()
    if any(marker in lowered for marker in _PLACEHOLDER_MARKERS):
        raise SettingsError(f"{name} looks like a placeholder; set a real random secret.")
    if len(value) < MIN_SECRET_BYTES:
        raise SettingsError(
            f"{name} is {len(value)} bytes; cloud mode needs at least {MIN_SECRET_BYTES}."
        )


def _parse_proxy_addresses(raw: str) -> tuple[str, ...]:
    entries = tuple(part.strip() for part in raw.split(",") if part.strip())
    for entry in entries:
        if entry == "*":
            raise SettingsError(
                "PEREGRINE_FORWARDED_ALLOW_IPS=* would trust forwarded headers from anyone; "
                "name the proxy's address or network (e.g. 172.30.0.1 or 172.30.0.0/16)."
            )
        try:
            ipaddress.ip_network(entry, strict=False)
        except ValueError:
            raise SettingsError(
                f"PEREGRINE_FORWARDED_ALLOW_IPS: {entry!r} is not an IP address or network."
            ) from None
    return entries


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


class _Env:
    """Typed reads of the environment that raise messages naming the variable."""

    def __init__(self, environ: Mapping[str, str]) -> None:
        self._environ = environ

    def text(self, name: str) -> str:
        assert name in SPEC_BY_NAME, f"{name} is not declared in SPECS"
        return self._environ.get(name, "").strip()

    def boolean(self, name: str) -> bool:
        raw = self.text(name).lower()
        if raw in _TRUE:
            return True
        if raw in _FALSE:
            return False
        raise SettingsError(
            f"{name} must be one of true/false/1/0/yes/no, got {self.text(name)!r}."
        )

    def boolean_default(self, name: str, default: bool) -> bool:
        return self.boolean(name) if self.text(name) else default

    def integer(self, name: str, default: int, *, low: int, high: int) -> int:
        raw = self.text(name)
        if not raw:
            return default
        try:
            value = int(raw)
        except ValueError:
            raise SettingsError(f"{name} must be a whole number, got {raw!r}.") from None
        if not low <= value <= high:
            raise SettingsError(f"{name} must be between {low} and {high}, got {value}.")
        return value

    def api_keys(self, name: str, default: str) -> dict[str, Secret]:
        """The values of the variables listed in ``name`` (an allow-list, so that a backend
        configuration can never name, say, CF_SERVER_SECRET and send it to a model server)."""
        raw = self.text(name) or default
        keys: dict[str, Secret] = {}
        for variable in (v.strip() for v in raw.split(",")):
            if not variable:
                continue
            if not re.fullmatch(r"[A-Z][A-Z0-9_]{0,63}", variable) or variable in SPEC_BY_NAME:
                raise SettingsError(
                    f"{name}: {variable!r} is not allowed (upper-case letters, digits and _, "
                    "and not one of Peregrine's own settings)."
                )
            value = self.secret(variable)
            if value is not None:
                keys[variable] = value
        return keys

    def secret(self, name: str) -> Secret | None:
        """Read ``NAME`` or the file named by ``NAME_FILE`` (not both)."""
        direct = self._environ.get(name, "")
        file_name = self._environ.get(f"{name}_FILE", "").strip()
        if direct and file_name:
            raise SettingsError(f"Set either {name} or {name}_FILE, not both.")
        if file_name:
            try:
                value = Path(file_name).read_text(encoding="utf-8").strip()
            except OSError as exc:
                raise SettingsError(
                    f"{name}_FILE points to {file_name!r}, which cannot be read ({exc.strerror})."
                ) from None
            except UnicodeDecodeError:
                raise SettingsError(f"{name}_FILE must contain UTF-8 text.") from None
            return Secret(value) if value else None
        direct = direct.strip()
        return Secret(direct) if direct else None
