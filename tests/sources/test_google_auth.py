"""Credentials for each auth mode, and a ConfigError with the fix for every bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from google.oauth2 import credentials as user_credentials
from google.oauth2 import service_account

from sheetsync.config import GoogleConfig, Secret, load_config
from sheetsync.errors import ConfigError
from sheetsync.sheet.google.auth import SCOPES, load_credentials

SA_EMAIL = "sheetsync@acme-proj.iam.gserviceaccount.com"


@pytest.fixture(scope="module")
def private_key_pem() -> str:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()


def sa_info(pem: str) -> dict[str, str]:
    return {
        "type": "service_account",
        "project_id": "acme-proj",
        "private_key_id": "abc123",
        "private_key": pem,
        "client_email": SA_EMAIL,
        "client_id": "1234",
        "token_uri": "https://oauth2.googleapis.com/token",
    }


def write_json(path: Path, data: object) -> Path:
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def test_token_mode_uses_the_bearer_from_the_environment(tmp_path: Path) -> None:
    cfg_file = tmp_path / "s.toml"
    cfg_file.write_text(
        '[google]\nauth = "token"\n[[sheet]]\nname = "a"\nspreadsheet = "abc123"\n',
        encoding="utf-8",
    )
    cfg = load_config(cfg_file, env={"SHEETSYNC_GOOGLE_TOKEN": "ya29.secret-token"})
    auth = load_credentials(cfg.google)
    assert isinstance(auth.credentials, user_credentials.Credentials)
    assert auth.credentials.token == "ya29.secret-token"
    assert "ya29" not in repr(auth) and "ya29" not in repr(cfg.google)


def test_token_mode_without_token_names_the_variable() -> None:
    with pytest.raises(ConfigError) as err:
        load_credentials(GoogleConfig(auth="token"))
    assert "SHEETSYNC_GOOGLE_TOKEN" in str(err.value)
    assert "gcloud auth print-access-token" in str(err.value)


def test_service_account_key_file_is_parsed(tmp_path: Path, private_key_pem: str) -> None:
    key_file = write_json(tmp_path / "sa.json", sa_info(private_key_pem))
    auth = load_credentials(GoogleConfig(auth="service_account", credentials_file=key_file))
    assert isinstance(auth.credentials, service_account.Credentials)
    assert auth.credentials.service_account_email == SA_EMAIL
    assert auth.credentials.scopes == SCOPES
    assert auth.account == SA_EMAIL  # used in "share the sheet with …"
    assert "PRIVATE KEY" not in repr(auth)


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (None, "does not exist"),
        ("not json {", "is not JSON"),
        ({"type": "authorized_user"}, 'use auth = "adc"'),
        ({"installed": {}}, "not a service account key"),
        ({"type": "service_account", "client_email": SA_EMAIL}, "missing private_key, token_uri"),
        (
            {
                "type": "service_account",
                "client_email": SA_EMAIL,
                "private_key": "-----BEGIN PRIVATE KEY-----\nbroken\n-----END PRIVATE KEY-----\n",
                "token_uri": "https://oauth2.googleapis.com/token",
            },
            "cannot be read",
        ),
    ],
)
def test_bad_service_account_files_give_config_errors(
    tmp_path: Path, content: object, expected: str
) -> None:
    path = tmp_path / "sa.json"
    if isinstance(content, str):
        path.write_text(content, encoding="utf-8")
    elif content is not None:
        write_json(path, content)
    with pytest.raises(ConfigError) as err:
        load_credentials(GoogleConfig(auth="service_account", credentials_file=path))
    assert expected in str(err.value)
    assert err.value.key == "google.credentials_file"
    assert "broken" not in str(err.value)  # key material is never echoed


def test_service_account_without_a_file_says_where_to_set_it() -> None:
    with pytest.raises(ConfigError) as err:
        load_credentials(GoogleConfig(auth="service_account"))
    assert "GOOGLE_APPLICATION_CREDENTIALS" in str(err.value)


def test_service_account_default_comes_from_google_application_credentials(
    tmp_path: Path, private_key_pem: str
) -> None:
    key_file = write_json(tmp_path / "sa.json", sa_info(private_key_pem))
    cfg_file = tmp_path / "s.toml"
    cfg_file.write_text('[[sheet]]\nname = "a"\nspreadsheet = "abc123"\n', encoding="utf-8")
    cfg = load_config(cfg_file, env={"GOOGLE_APPLICATION_CREDENTIALS": str(key_file)})
    assert load_credentials(cfg.google).account == SA_EMAIL


def test_adc_reads_an_authorized_user_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    adc = write_json(
        tmp_path / "adc.json",
        {
            "type": "authorized_user",
            "client_id": "cid.apps.googleusercontent.com",
            "client_secret": "shh",
            "refresh_token": "1//refresh",
        },
    )
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(adc))
    monkeypatch.setenv("NO_GCE_CHECK", "True")  # never probe the metadata server
    auth = load_credentials(GoogleConfig(auth="adc"))
    assert isinstance(auth.credentials, user_credentials.Credentials)
    assert auth.credentials.refresh_token == "1//refresh"
    assert auth.mode == "adc"


def test_adc_with_a_broken_file_gives_the_gcloud_fix(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(tmp_path / "missing.json"))
    monkeypatch.setenv("NO_GCE_CHECK", "True")
    with pytest.raises(ConfigError) as err:
        load_credentials(GoogleConfig(auth="adc"))
    assert "gcloud auth application-default login" in str(err.value)


def test_oauth_uses_the_cached_token(tmp_path: Path) -> None:
    token = write_json(
        tmp_path / "google-token.json",
        {
            "token": "ya29.cached",
            "refresh_token": "1//r",
            "client_id": "cid",
            "client_secret": "cs",
            "token_uri": "https://oauth2.googleapis.com/token",
            "scopes": SCOPES,
        },
    )
    auth = load_credentials(GoogleConfig(auth="oauth"), token_path=token)
    assert auth.credentials.token == "ya29.cached" and auth.credentials.refresh_token == "1//r"


def test_oauth_not_signed_in_never_opens_a_browser_in_a_daemon(tmp_path: Path) -> None:
    secrets = write_json(
        tmp_path / "client.json",
        {"installed": {"client_id": "cid", "client_secret": "cs", "redirect_uris": []}},
    )
    cfg = GoogleConfig(auth="oauth", credentials_file=secrets)
    with pytest.raises(ConfigError) as err:
        load_credentials(cfg, token_path=tmp_path / "none.json", interactive=False)
    assert "sheetsync check" in str(err.value) and "sign in" in str(err.value)


@pytest.mark.parametrize(
    ("token_json", "secrets", "expected"),
    [
        ("{broken", None, "unreadable"),
        (None, None, "Desktop app"),
        (None, {"type": "service_account"}, "not an OAuth client file"),
    ],
)
def test_oauth_bad_inputs(
    tmp_path: Path, token_json: str | None, secrets: object, expected: str
) -> None:
    token_path = tmp_path / "google-token.json"
    if token_json is not None:
        token_path.write_text(token_json, encoding="utf-8")
    secrets_path = write_json(tmp_path / "client.json", secrets) if secrets else None
    cfg = GoogleConfig(auth="oauth", credentials_file=secrets_path)
    with pytest.raises(ConfigError) as err:
        load_credentials(cfg, token_path=token_path)
    assert expected in str(err.value)


def test_secret_token_never_in_config_repr() -> None:
    cfg = GoogleConfig(auth="token", token=Secret("ya29.zzz"))
    assert "ya29.zzz" not in repr(cfg) and "ya29.zzz" not in str(load_credentials(cfg))
