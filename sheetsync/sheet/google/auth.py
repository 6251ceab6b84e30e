"""Google credentials for the four auth modes of PRODUCT.md.

    service_account  a service account's JSON key file (credentials_file, or the path in
                     GOOGLE_APPLICATION_CREDENTIALS, resolved by config.py)
    oauth            an installed-app OAuth client (credentials_file = its client-secrets JSON);
                     the user's token is cached in ~/.config/sheetsync/google-token.json. The
                     browser sign-in runs only when `interactive` is set (`sheetsync check`/`init`
                     on a terminal); a daemon never opens a browser
    adc              application default credentials (google.auth.default)
    token            a bearer token from SHEETSYNC_GOOGLE_TOKEN (config.py reads it); it cannot be
                     refreshed, so an expired one needs a new `gcloud auth print-access-token`

Every problem is a ConfigError naming the setting or variable and the fix; no message ever
contains a key or a token.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import google.auth
from google.auth.exceptions import DefaultCredentialsError, GoogleAuthError
from google.oauth2 import credentials as user_credentials
from google.oauth2 import service_account

from sheetsync.config import GOOGLE_TOKEN_ENV, GoogleConfig
from sheetsync.errors import ConfigError

SCOPES = ["https://www.googleapis.com/auth/spreadsheets"]
DEFAULT_TOKEN_PATH = Path("~/.config/sheetsync/google-token.json")


@dataclass(frozen=True)
class GoogleAuth:
    credentials: Any  # google.auth.credentials.Credentials
    account: str | None  # the service account's email, for "share the sheet with …" messages
    mode: str

    def __repr__(self) -> str:
        return f"GoogleAuth(mode={self.mode!r}, account={self.account!r})"

    def fix_for_401(self) -> str:
        """What to do when Google refuses these credentials."""
        return {
            "token": f"the token in {GOOGLE_TOKEN_ENV} is invalid or expired; export a fresh one "
            f"(e.g. `gcloud auth print-access-token`)",
            "service_account": "the service account key was refused; create a new key for the "
            "service account and point google.credentials_file at it",
            "oauth": f"the cached Google sign-in was refused; delete {DEFAULT_TOKEN_PATH} and run "
            f"`sheetsync check` on a terminal to sign in again",
            "adc": "the application default credentials were refused; run "
            "`gcloud auth application-default login` again",
        }.get(self.mode, "check the Google credentials")


def load_credentials(
    cfg: GoogleConfig, *, token_path: Path | None = None, interactive: bool = False
) -> GoogleAuth:
    if cfg.auth == "token":
        return _token(cfg)
    if cfg.auth == "service_account":
        return _service_account(cfg)
    if cfg.auth == "adc":
        return _adc()
    if cfg.auth == "oauth":
        return _oauth(cfg, (token_path or DEFAULT_TOKEN_PATH).expanduser(), interactive)
    raise ConfigError(
        f"unknown auth mode {cfg.auth!r}; use service_account, oauth, adc or token",
        key="google.auth",
    )


def _token(cfg: GoogleConfig) -> GoogleAuth:
    if cfg.token is None:
        raise ConfigError(
            f'auth = "token" needs a bearer token: export '
            f"{GOOGLE_TOKEN_ENV}=$(gcloud auth print-access-token), or choose another "
            f"google.auth mode",
            key=GOOGLE_TOKEN_ENV,
        )
    creds = user_credentials.Credentials(token=cfg.token.reveal())  # type: ignore[no-untyped-call]
    return GoogleAuth(creds, None, "token")


def _read_json(path: Path, key: str, what: str) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(
            f"{what} {path} does not exist; download it and point {key} at it",
            key=key,
        ) from None
    except OSError as exc:
        raise ConfigError(f"cannot read {what} {path}: {exc.strerror}", key=key) from None
    try:
        data = json.loads(text)
    except ValueError:
        raise ConfigError(
            f"{path} is not JSON; {key} must point at the {what} as downloaded from Google",
            key=key,
        ) from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path} is not a {what}", key=key)
    return data


def _service_account(cfg: GoogleConfig) -> GoogleAuth:
    key = "google.credentials_file"
    if cfg.credentials_file is None:
        raise ConfigError(
            'auth = "service_account" needs the service account\'s JSON key: set '
            "google.credentials_file or GOOGLE_APPLICATION_CREDENTIALS to its path (Google "
            "Cloud console > IAM > Service accounts > Keys > Add key > JSON)",
            key=key,
        )
    info = _read_json(cfg.credentials_file, key, "service account key file")
    kind = info.get("type")
    if kind != "service_account":
        hint = {
            "authorized_user": 'use auth = "adc" for user credentials',
            None: "download a JSON key for the service account",
        }.get(kind, 'for an OAuth client file use auth = "oauth"')
        raise ConfigError(
            f"{cfg.credentials_file} is not a service account key (type {kind!r}); {hint}",
            key=key,
        )
    missing = [f for f in ("client_email", "private_key", "token_uri") if not info.get(f)]
    if missing:
        raise ConfigError(
            f"{cfg.credentials_file} is missing {', '.join(missing)}; download a fresh JSON key "
            f"for the service account",
            key=key,
        )
    try:
        creds = service_account.Credentials.from_service_account_info(info, scopes=SCOPES)  # type: ignore[no-untyped-call]
    except (ValueError, TypeError, GoogleAuthError):
        raise ConfigError(
            f"{cfg.credentials_file} holds a private key that cannot be read; download a fresh "
            f"JSON key for the service account",
            key=key,
        ) from None
    return GoogleAuth(creds, str(info["client_email"]), "service_account")


def _adc() -> GoogleAuth:
    try:
        creds, _project = google.auth.default(scopes=SCOPES)
    except DefaultCredentialsError as exc:
        raise ConfigError(
            "no usable application default credentials: run `gcloud auth application-default "
            "login --scopes=https://www.googleapis.com/auth/spreadsheets,"
            "https://www.googleapis.com/auth/cloud-platform`, or set "
            f"GOOGLE_APPLICATION_CREDENTIALS to a credentials file ({_first_line(exc)})",
            key="google.auth",
        ) from None
    account = getattr(creds, "service_account_email", None)
    return GoogleAuth(creds, account if isinstance(account, str) else None, "adc")


def _oauth(cfg: GoogleConfig, token_path: Path, interactive: bool) -> GoogleAuth:
    key = "google.credentials_file"
    if token_path.exists():
        try:
            creds = user_credentials.Credentials.from_authorized_user_file(  # type: ignore[no-untyped-call]
                str(token_path), SCOPES
            )
        except (ValueError, KeyError, OSError):
            raise ConfigError(
                f"the cached Google sign-in {token_path} is unreadable; delete it and run "
                f"`sheetsync check` on a terminal to sign in again",
                key="google.auth",
            ) from None
        return GoogleAuth(creds, None, "oauth")
    if cfg.credentials_file is None:
        raise ConfigError(
            'auth = "oauth" needs an OAuth client: create one of type "Desktop app" in the '
            "Google Cloud console (APIs & Services > Credentials), download its JSON and set "
            "google.credentials_file to it",
            key=key,
        )
    secrets = _read_json(cfg.credentials_file, key, "OAuth client file")
    if "installed" not in secrets and "web" not in secrets:
        raise ConfigError(
            f"{cfg.credentials_file} is not an OAuth client file; create an OAuth client of "
            f'type "Desktop app" and download its JSON',
            key=key,
        )
    if not interactive:
        raise ConfigError(
            "not signed in to Google yet; run `sheetsync check` on a terminal once to sign in "
            f"in the browser (the sign-in is then kept in {token_path})",
            key="google.auth",
        )
    return GoogleAuth(sign_in(cfg.credentials_file, token_path), None, "oauth")


def sign_in(client_secrets: Path, token_path: Path) -> Any:  # pragma: no cover - opens a browser
    """Run the installed-app flow in the browser and cache the token (mode 0600)."""
    from google_auth_oauthlib.flow import InstalledAppFlow

    flow = InstalledAppFlow.from_client_secrets_file(str(client_secrets), SCOPES)
    creds = flow.run_local_server(port=0)
    token_path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(token_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(creds.to_json())
    return creds


def _first_line(exc: BaseException) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
