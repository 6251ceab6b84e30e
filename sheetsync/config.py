"""The config file: TOML, validated once into typed objects. Environment variables are read here
and nowhere else. Every error names the file, the key and the fix.
"""

from __future__ import annotations

import ipaddress
import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal
from urllib.parse import unquote, urlsplit

from sheetsync.errors import ConfigError
from sheetsync.sheet.layout import TAB_ROLES, TabSpec, customise

DEFAULT_CONFIG = Path("config/sheetsync.toml")
GOOGLE_TOKEN_ENV = "SHEETSYNC_GOOGLE_TOKEN"
STATE_URL_ENV = "SHEETSYNC_STATE_URL"
AUTH_MODES = ("service_account", "oauth", "adc", "token")
SOURCES = ("google", "xlsx")
ON_ROW_REMOVED = ("keep", "unenroll")
ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
KEY_PREFIXES = ("wsk_", "ws_")  # WarmySender keys (both prefixes are documented)


class Secret:
    """A secret string: never shown by str(), repr() or f-strings. Use `.reveal()` to send it."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('***')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)


@dataclass(frozen=True)
class WarmySenderConfig:
    base_url: str = "https://warmysender.com/api/v1"
    api_key_env: str = "WARMYSENDER_API_KEY"
    api_key: Secret | None = None  # from the env var named by api_key_env; None when unset
    timeout_s: float = 30.0

    def require_key(self) -> Secret:
        if self.api_key is None:
            raise ConfigError(
                f"the WarmySender API key is not set: export {self.api_key_env}=<your key> "
                f"(Settings > API Keys in WarmySender), or point [warmysender] api_key_env at "
                f"the variable that holds it."
            )
        return self.api_key


@dataclass(frozen=True)
class GoogleConfig:
    auth: Literal["service_account", "oauth", "adc", "token"] = "service_account"
    credentials_file: Path | None = None
    sheets_base_url: str | None = None
    token: Secret | None = None  # SHEETSYNC_GOOGLE_TOKEN, for auth = "token"
    timeout_s: float = 30.0
    # Google's per-user quota, shared by every Google sheet of a daemon (one credential), or
    # of every worker of a PostgreSQL state signed in with it
    reads_per_minute: int = 60
    writes_per_minute: int = 60


@dataclass(frozen=True)
class WorkersConfig:
    """Workers on a PostgreSQL state: each heartbeats every `heartbeat_seconds`; one silent for
    `failover_seconds` is dead, and its sheets move to the others."""

    heartbeat_seconds: float = 5.0
    failover_seconds: float = 20.0


@dataclass(frozen=True)
class SheetConfig:
    name: str
    source: Literal["google", "xlsx"]
    spreadsheet: str  # google: the id (a URL is reduced to its id); xlsx: an absolute path
    poll_seconds: int = 60
    settle_polls: int = 1
    monitor_seconds: int = 300
    custom_fields: tuple[str, ...] = ()
    on_row_removed: Literal["keep", "unenroll"] = "keep"
    max_unenroll_fraction: float = 0.5
    log_rows: int = 500
    tabs: Mapping[str, TabSpec] = field(default_factory=dict)  # role -> spec (renames applied)
    stop_on_reply: bool = False  # a reply.received event ticks the prospect's Stop box

    def tab(self, role: str) -> TabSpec:
        return self.tabs[role]


@dataclass(frozen=True)
class WebhooksConfig:
    """[webhooks]: where `sheetsync run` listens, and the https URL WarmySender is told to call
    (a reverse proxy or tunnel in front of `listen`)."""

    host: str
    port: int  # 0: any free port
    public_url: str


@dataclass(frozen=True)
class Config:
    path: Path
    warmysender: WarmySenderConfig
    google: GoogleConfig
    state_path: Path
    sheets: tuple[SheetConfig, ...]
    webhooks: WebhooksConfig | None = None  # None: outcomes come from the REST API
    # [state] url, else $SHEETSYNC_STATE_URL: the state on PostgreSQL (None: SQLite at state_path)
    state_url: Secret | None = None
    workers: WorkersConfig = field(default_factory=WorkersConfig)

    def sheet(self, name: str) -> SheetConfig:
        for s in self.sheets:
            if s.name == name:
                return s
        names = ", ".join(s.name for s in self.sheets)
        raise ConfigError(
            f"no [[sheet]] named {name!r}; the sheets are: {names}", path=str(self.path)
        )


def config_path(explicit: str | None, env: Mapping[str, str] | None = None) -> Path:
    env = os.environ if env is None else env
    return Path(explicit or env.get("SHEETSYNC_CONFIG") or DEFAULT_CONFIG)


def load_config(path: Path, env: Mapping[str, str] | None = None) -> Config:
    env = os.environ if env is None else env
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(
            "config file not found; create one with `sheetsync init` or copy "
            "config/sheetsync.example.toml, or pass --config PATH",
            path=str(path),
        ) from None
    except OSError as exc:
        raise ConfigError(f"cannot read the config file: {exc.strerror}", path=str(path)) from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"not valid TOML: {exc}", path=str(path)) from None
    return parse_config(data, path=path, env=env)


def parse_config(data: Mapping[str, Any], *, path: Path, env: Mapping[str, str]) -> Config:
    r = _Reader(str(path), path.parent)
    r.only(data, "", {"warmysender", "google", "state", "sheet", "webhooks", "workers"})
    ws = r.table(data, "warmysender")
    r.only(ws, "warmysender", {"base_url", "api_key_env", "timeout_s"})
    key_env = r.string(ws, "warmysender.api_key_env", "WARMYSENDER_API_KEY")
    _check_env_name(key_env, r.path)
    key = env.get(key_env, "").strip()
    warmysender = WarmySenderConfig(
        base_url=r.url(ws, "warmysender.base_url", WarmySenderConfig.base_url),
        api_key_env=key_env,
        api_key=Secret(key) if key else None,
        timeout_s=r.number(ws, "warmysender.timeout_s", 30.0, minimum=1),
    )

    g = r.table(data, "google")
    r.only(g, "google", _GOOGLE_KEYS)
    auth = r.choice(g, "google.auth", AUTH_MODES, "service_account")
    creds = r.string(g, "google.credentials_file", "") or env.get(
        "GOOGLE_APPLICATION_CREDENTIALS", ""
    )
    token = env.get(GOOGLE_TOKEN_ENV, "").strip()
    base_url = r.string(g, "google.sheets_base_url", "")
    google = GoogleConfig(
        auth=auth,  # type: ignore[arg-type]
        credentials_file=r.resolve(creds) if creds else None,
        sheets_base_url=r.url(g, "google.sheets_base_url", "") if base_url else None,
        token=Secret(token) if token else None,
        timeout_s=r.number(g, "google.timeout_s", 30.0, minimum=1),
        reads_per_minute=r.integer(g, "google.reads_per_minute", 60, minimum=1),
        writes_per_minute=r.integer(g, "google.writes_per_minute", 60, minimum=1),
    )

    st = r.table(data, "state")
    r.only(st, "state", {"path", "url"})
    state_path = r.resolve(r.string(st, "state.path", ".sheetsync/state.db"))
    state_url = _state_url(r, r.string(st, "state.url", "") or env.get(STATE_URL_ENV, "").strip())
    workers = _workers(r, r.table(data, "workers"))

    raw_sheets = data.get("sheet", [])
    if not isinstance(raw_sheets, list) or not raw_sheets:
        raise ConfigError(
            "no [[sheet]] configured; add one [[sheet]] table per spreadsheet to sync "
            "(see config/sheetsync.example.toml)",
            path=r.path,
        )
    sheets = tuple(_sheet(r, s, i) for i, s in enumerate(raw_sheets))
    seen: set[str] = set()
    for s in sheets:
        if s.name in seen:
            raise ConfigError(
                f"two [[sheet]] tables are named {s.name!r}; give each a unique name",
                path=r.path,
                key="sheet.name",
            )
        seen.add(s.name)
    webhooks = _webhooks(r, data)
    return Config(path, warmysender, google, state_path, sheets, webhooks, state_url, workers)


def _webhooks(r: _Reader, data: Mapping[str, Any]) -> WebhooksConfig | None:
    if "webhooks" not in data:
        return None
    w = r.table(data, "webhooks")
    r.only(w, "webhooks", {"listen", "public_url"})
    listen = r.string(w, "webhooks.listen", "127.0.0.1:8788")
    host, _, port = listen.rpartition(":")
    host = host.strip("[]")
    if not host or not port.isdigit() or int(port) > 65535:
        raise ConfigError(
            f'must be "host:port", e.g. "127.0.0.1:8788"; got {listen!r}',
            path=r.path,
            key="webhooks.listen",
        )
    url = r.string(w, "webhooks.public_url", "")
    if not url:
        raise ConfigError(
            "missing; set the https URL WarmySender should call, e.g. public_url = "
            '"https://sync.example.com/warmysender" (a reverse proxy or tunnel to listen)',
            path=r.path,
            key="webhooks.public_url",
        )
    fault = webhook_url_fault(url)
    if fault in ("unparsable", "not https"):
        raise ConfigError(
            f"must be an https:// URL, got {url!r}", path=r.path, key="webhooks.public_url"
        )
    if fault == "remote http":
        raise ConfigError(
            f"WarmySender only calls https URLs, got {url!r}; put a reverse proxy or tunnel "
            "with TLS in front of [webhooks] listen and give its https URL",
            path=r.path,
            key="webhooks.public_url",
        )
    return WebhooksConfig(host=host, port=int(port), public_url=url)


def webhook_url_fault(url: str) -> Literal["unparsable", "not https", "remote http"] | None:
    """Why WarmySender cannot call `url` as a webhook, or None: `urlsplit` refuses it, it has
    no host or a scheme other than https (or http), or it is plain http to a host that is not
    this machine. `[webhooks] public_url` and the sandbox's POST /webhooks both check with it."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
    except ValueError:
        return "unparsable"
    if not host or parts.scheme not in ("https", "http"):
        return "not https"
    if parts.scheme == "http" and not is_loopback(host):
        return "remote http"
    return None


# Excel (and openpyxl, which `init` builds new tabs with) refuses these in a tab name
XLSX_TITLE_CHARS = "[]:*?/\\"


def _tab_title(r: _Reader, key: str, title: str, source: str, taken_by: str | None) -> None:
    """A tab title a workbook (or a spreadsheet) can hold, and no other role's."""
    if not title:
        raise ConfigError("must be the tab's name, not empty", path=r.path, key=key)
    if taken_by is not None:
        raise ConfigError(
            f"{title!r} is already the {taken_by} tab; give each tab its own name",
            path=r.path,
            key=key,
        )
    bad = " ".join(sorted({c for c in title if c in XLSX_TITLE_CHARS}))
    if source == "xlsx" and bad:
        raise ConfigError(
            f"{title!r} cannot name a tab of an xlsx workbook (it has {bad}): Excel allows none "
            f"of {' '.join(XLSX_TITLE_CHARS)}",
            path=r.path,
            key=key,
        )


def is_loopback(host: str) -> bool:
    """A host name or address of this machine: where plain http is allowed for webhooks (a
    receiver tried against `sheetsync sandbox`; WarmySender itself calls https only)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _check_env_name(name: str, path: str) -> None:
    """`api_key_env` names a variable; a user may have typed the key itself there, so the value
    is never shown back, and one that looks like a key is refused."""
    looks_like_a_key = name.startswith(KEY_PREFIXES) or (
        len(name) >= 32 and any(c.isdigit() for c in name) and any(c.isalpha() for c in name)
    )
    if looks_like_a_key or not ENV_NAME.fullmatch(name):
        raise ConfigError(
            "must be the NAME of the environment variable that holds the API key (letters, "
            "digits and _, like WARMYSENDER_API_KEY), not the key itself: set "
            'api_key_env = "WARMYSENDER_API_KEY" and export WARMYSENDER_API_KEY=<your key>. '
            "(The value is not shown here: it may be the key. If it was, create a new key in "
            "WarmySender, Settings > API Keys, as this one was written in a file.)",
            path=path,
            key="warmysender.api_key_env",
        )


def _state_url(r: _Reader, url: str) -> Secret | None:
    """A PostgreSQL URL (it may hold a password: kept as a Secret), or None for SQLite."""
    if not url:
        return None
    if not url.startswith(("postgresql://", "postgres://")):
        raise ConfigError(
            f"must be a postgresql:// URL (or set [state] path for SQLite), got "
            f"{url.split('://', 1)[0]!r}://…",
            path=r.path,
            key="state.url",
        )
    return Secret(url)


def url_passwords(url: str) -> list[str]:
    """The passwords a PostgreSQL URL holds, as written in it and decoded: after `user:` and
    in a `password=` query parameter (never raises, whatever the URL)."""
    rest = url.split("://", 1)[-1]
    netloc, query = re.split(r"[/?#]", rest, maxsplit=1)[0], rest.partition("?")[2]
    user, at, _ = netloc.rpartition("@")
    found = [user.partition(":")[2]] if at and ":" in user else []
    for part in query.partition("#")[0].split("&"):
        name, _, value = part.partition("=")
        if name == "password":
            found.append(value)
    return list(dict.fromkeys(p for raw in found for p in (raw, unquote(raw)) if p))


def _workers(r: _Reader, w: Mapping[str, Any]) -> WorkersConfig:
    r.only(w, "workers", {"heartbeat_seconds", "failover_seconds"})
    beat = r.number(w, "workers.heartbeat_seconds", 5.0, minimum=0.1)
    failover = r.number(w, "workers.failover_seconds", 20.0, minimum=1)
    if failover < 3 * beat:
        raise ConfigError(
            f"must be at least 3 x heartbeat_seconds ({3 * beat:g}), so a slow heartbeat is "
            "not taken for a dead worker",
            path=r.path,
            key="workers.failover_seconds",
        )
    return WorkersConfig(heartbeat_seconds=beat, failover_seconds=failover)


_GOOGLE_KEYS = {
    "auth", "credentials_file", "sheets_base_url", "timeout_s", "reads_per_minute",
    "writes_per_minute",
}  # fmt: skip
_SHEET_KEYS = {
    "name", "source", "spreadsheet", "poll_seconds", "settle_polls", "monitor_seconds",
    "custom_fields", "on_row_removed", "max_unenroll_fraction", "log_rows", "tabs", "columns",
    "stop_on_reply",
}  # fmt: skip


def _sheet(r: _Reader, s: Any, i: int) -> SheetConfig:
    where = f"sheet[{i}]"
    if not isinstance(s, dict):
        raise ConfigError("must be a table ([[sheet]])", path=r.path, key=where)
    name = r.string(s, f"{where}.name", "")
    if not name:
        raise ConfigError(
            'missing; give the sheet a name, e.g. name = "acme-outbound"',
            path=r.path,
            key=f"{where}.name",
        )
    where = f"sheet[{name}]"
    r.only(s, where, _SHEET_KEYS)
    source = r.choice(s, f"{where}.source", SOURCES, "google")
    spreadsheet = r.string(s, f"{where}.spreadsheet", "")
    if not spreadsheet:
        raise ConfigError(
            "missing; set it to the Google spreadsheet id or URL, or to the .xlsx path",
            path=r.path,
            key=f"{where}.spreadsheet",
        )
    if source == "google":
        spreadsheet = spreadsheet_id(spreadsheet, r.path, f"{where}.spreadsheet")
    else:
        spreadsheet = str(r.resolve(spreadsheet))

    custom = s.get("custom_fields", [])
    if not isinstance(custom, list) or not all(isinstance(c, str) and c.strip() for c in custom):
        raise ConfigError(
            'must be a list of header names, e.g. ["Industry"]',
            path=r.path,
            key=f"{where}.custom_fields",
        )

    tabs_cfg = r.table(s, "tabs")
    r.only(tabs_cfg, f"{where}.tabs", set(TAB_ROLES))
    cols_cfg = r.table(s, "columns")
    r.only(cols_cfg, f"{where}.columns", set(TAB_ROLES))
    tabs: dict[str, TabSpec] = {}
    titles: dict[str, str] = {}  # casefolded title -> role
    for role, spec in TAB_ROLES.items():
        title = r.string(tabs_cfg, f"{where}.tabs.{role}", spec.title)
        _tab_title(r, f"{where}.tabs.{role}", title, source, titles.get(title.casefold()))
        titles[title.casefold()] = role
        renames = r.table(cols_cfg, role)
        fields = {c.field for c in spec.columns}
        for k, v in renames.items():
            key = f"{where}.columns.{role}.{k}"
            if k not in fields:
                raise ConfigError(
                    f"unknown column; the columns of {role} are: {', '.join(sorted(fields))}",
                    path=r.path,
                    key=key,
                )
            if not isinstance(v, str) or not v.strip():
                raise ConfigError("must be the header text to use", path=r.path, key=key)
        extra = tuple(c.strip() for c in custom) if role == "prospects" else ()
        tabs[role] = customise(spec, title=title, renames=renames, extra_inputs=extra)

    fraction = r.number(s, f"{where}.max_unenroll_fraction", 0.5, minimum=0)
    if fraction > 1:
        raise ConfigError(
            "must be between 0 and 1 (0.5 = half of a campaign's enrolled)",
            path=r.path,
            key=f"{where}.max_unenroll_fraction",
        )
    return SheetConfig(
        name=name,
        source=source,  # type: ignore[arg-type]
        spreadsheet=spreadsheet,
        poll_seconds=r.integer(s, f"{where}.poll_seconds", 60, minimum=1),
        settle_polls=r.integer(s, f"{where}.settle_polls", 1, minimum=0),
        monitor_seconds=r.integer(s, f"{where}.monitor_seconds", 300, minimum=0),
        custom_fields=tuple(c.strip() for c in custom),
        on_row_removed=r.choice(s, f"{where}.on_row_removed", ON_ROW_REMOVED, "keep"),  # type: ignore[arg-type]
        max_unenroll_fraction=fraction,
        log_rows=r.integer(s, f"{where}.log_rows", 500, minimum=0),
        tabs=tabs,
        stop_on_reply=r.boolean(s, f"{where}.stop_on_reply", False),
    )


def spreadsheet_id(value: str, path: str, key: str) -> str:
    """A Google spreadsheet id from an id or a full URL."""
    value = value.strip()
    if "/" in value:
        marker = "/spreadsheets/d/"
        if marker not in value:
            raise ConfigError(
                "not a Google Sheets URL; use the id between /d/ and /edit in the sheet's URL",
                path=path,
                key=key,
            )
        value = value.split(marker, 1)[1].split("/", 1)[0].split("?", 1)[0].split("#", 1)[0]
    if not value or not all(c.isalnum() or c in "-_" for c in value):
        raise ConfigError(
            "not a spreadsheet id; copy the id between /d/ and /edit in the sheet's URL",
            path=path,
            key=key,
        )
    return value


class _Reader:
    """Typed getters that turn a wrong value into a ConfigError naming the key and the fix."""

    def __init__(self, path: str, base: Path) -> None:
        self.path = path
        self.base = base

    def resolve(self, p: str) -> Path:
        """Relative paths are relative to the config file's folder."""
        q = Path(p).expanduser()
        return q if q.is_absolute() else (self.base / q).resolve()

    def only(self, table: Mapping[str, Any], where: str, allowed: set[str]) -> None:
        for k in table:
            if k not in allowed:
                key = f"{where}.{k}" if where else k
                raise ConfigError(
                    f"unknown key; the keys allowed here are: {', '.join(sorted(allowed))}",
                    path=self.path,
                    key=key,
                )

    def table(self, data: Mapping[str, Any], key: str) -> Mapping[str, Any]:
        v = data.get(key, {})
        if not isinstance(v, dict):
            raise ConfigError(f"must be a table ([{key}])", path=self.path, key=key)
        return v

    def string(self, data: Mapping[str, Any], key: str, default: str) -> str:
        v = data.get(key.rsplit(".", 1)[-1], default)
        if not isinstance(v, str):
            raise ConfigError(f"must be a string in quotes, got {v!r}", path=self.path, key=key)
        return v.strip()

    def url(self, data: Mapping[str, Any], key: str, default: str) -> str:
        v = self.string(data, key, default)
        if not v.startswith(("http://", "https://")):
            raise ConfigError(
                f"must be an http:// or https:// URL, got {v!r}", path=self.path, key=key
            )
        return v.rstrip("/")

    def choice(
        self, data: Mapping[str, Any], key: str, options: tuple[str, ...], default: str
    ) -> str:
        v = self.string(data, key, default)
        if v not in options:
            raise ConfigError(
                f"must be one of {', '.join(options)}; got {v!r}", path=self.path, key=key
            )
        return v

    def number(self, data: Mapping[str, Any], key: str, default: float, *, minimum: float) -> float:
        v = data.get(key.rsplit(".", 1)[-1], default)
        if isinstance(v, bool) or not isinstance(v, int | float) or v < minimum:
            raise ConfigError(
                f"must be a number of at least {minimum:g}, got {v!r}", path=self.path, key=key
            )
        return float(v)

    def boolean(self, data: Mapping[str, Any], key: str, default: bool) -> bool:
        v = data.get(key.rsplit(".", 1)[-1], default)
        if not isinstance(v, bool):
            raise ConfigError(f"must be true or false, got {v!r}", path=self.path, key=key)
        return v

    def integer(self, data: Mapping[str, Any], key: str, default: int, *, minimum: int) -> int:
        v = data.get(key.rsplit(".", 1)[-1], default)
        if isinstance(v, bool) or not isinstance(v, int) or v < minimum:
            raise ConfigError(
                f"must be a whole number of at least {minimum}, got {v!r}", path=self.path, key=key
            )
        return v
