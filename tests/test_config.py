from pathlib import Path

import pytest

from sheetsync.config import Secret, load_config, parse_config
from sheetsync.errors import ConfigError

EXAMPLE = Path(__file__).parent.parent / "config" / "sheetsync.example.toml"


def test_example_config_loads_and_key_comes_from_env(tmp_path: Path) -> None:
    cfg = load_config(EXAMPLE, env={"WARMYSENDER_API_KEY": "wsk_secret"})
    assert cfg.warmysender.api_key == Secret("wsk_secret")
    assert "wsk_secret" not in repr(cfg)
    (sheet,) = cfg.sheets
    assert sheet.name == "acme-outbound"
    assert sheet.spreadsheet == "1AbCdEfGhIjKlMnOpQrStUvWxYz0123456789"
    assert [c.header for c in sheet.tab("prospects").inputs][-1] == "Industry"
    assert cfg.state_path == (EXAMPLE.parent / ".sheetsync/state.db").resolve()


def test_missing_key_names_the_variable() -> None:
    cfg = load_config(EXAMPLE, env={})
    with pytest.raises(ConfigError, match="export WARMYSENDER_API_KEY"):
        cfg.warmysender.require_key()


def _parse(text: str) -> None:
    import tomllib

    parse_config(tomllib.loads(text), path=Path("/x/sheetsync.toml"), env={})


SHEET = '[[sheet]]\nname = "a"\nsource = "xlsx"\nspreadsheet = "a.xlsx"\n'


@pytest.mark.parametrize(
    ("text", "key", "fix"),
    [
        ("", None, "no \\[\\[sheet\\]\\] configured"),
        ("[warmysender]\nbase_url = 3\n" + SHEET, "warmysender.base_url", "must be a string"),
        ("[google]\nauth = 'magic'\n" + SHEET, "google.auth", "must be one of"),
        (SHEET + "poll_seconds = 0\n", "sheet\\[a\\].poll_seconds", "at least 1"),
        (SHEET + "colour = 1\n", "sheet\\[a\\].colour", "unknown key"),
        (SHEET + "[sheet.columns.prospects]\nemial = 'E'\n", "emial", "unknown column"),
        (SHEET + "max_unenroll_fraction = 2\n", "max_unenroll_fraction", "between 0 and 1"),
        (SHEET + SHEET, "sheet.name", "unique name"),
        (
            '[[sheet]]\nname = "g"\nspreadsheet = "https://example.com/x"\n',
            "spreadsheet",
            "not a Google Sheets URL",
        ),
        (SHEET + "stop_on_reply = 'yes'\n", "stop_on_reply", "must be true or false"),
        ("[webhooks]\n" + SHEET, "webhooks.public_url", "missing; set the https URL"),
        (
            '[webhooks]\npublic_url = "http://sync.example.com/w"\n' + SHEET,
            "webhooks.public_url",
            "WarmySender only calls https URLs",
        ),
        (
            '[webhooks]\npublic_url = "sync.example.com"\n' + SHEET,
            "webhooks.public_url",
            "must be an https:// URL",
        ),
        (
            '[webhooks]\npublic_url = "https://[::1/w"\n' + SHEET,
            "webhooks.public_url",
            "must be an https:// URL",
        ),
        (
            '[webhooks]\nlisten = "8788"\npublic_url = "https://s.example"\n' + SHEET,
            "webhooks.listen",
            'must be "host:port"',
        ),
        ('[webhooks]\nsecret = "x"\n' + SHEET, "webhooks.secret", "unknown key"),
        # tab titles a workbook cannot hold (openpyxl raised mid-`init`), or that two tabs share
        (SHEET + "[sheet.tabs]\nprospects = 'Leads: Q1/Q2'\n", "tabs.prospects", "it has / :"),
        (SHEET + "[sheet.tabs]\nsteps = ' '\n", "tabs.steps", "not empty"),
        (SHEET + "[sheet.tabs]\nsteps = 'prospects'\n", "tabs.steps", "already the prospects"),
    ],
)
def test_bad_values_name_key_and_fix(text: str, key: str | None, fix: str) -> None:
    with pytest.raises(ConfigError, match=fix) as info:
        _parse(text)
    assert "/x/sheetsync.toml" in str(info.value)
    if key:
        assert info.match(key)


def test_a_google_tab_may_have_what_excel_refuses_in_its_title() -> None:
    import tomllib

    text = '[[sheet]]\nname = "g"\nspreadsheet = "1AbC"\n[sheet.tabs]\nprospects = "Leads: Q1/Q2"\n'
    cfg = parse_config(tomllib.loads(text), path=Path("/x/sheetsync.toml"), env={})
    assert cfg.sheets[0].tab("prospects").title == "Leads: Q1/Q2"


def test_google_url_reduced_to_id() -> None:
    import tomllib

    cfg = parse_config(
        tomllib.loads(
            '[[sheet]]\nname = "g"\n'
            'spreadsheet = "https://docs.google.com/spreadsheets/d/1abc_DEF-9/edit#gid=0"\n'
        ),
        path=Path("/x/c.toml"),
        env={},
    )
    assert cfg.sheets[0].spreadsheet == "1abc_DEF-9"


def test_missing_file_says_how_to_create(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="sheetsync init"):
        load_config(tmp_path / "nope.toml", env={})


def test_webhooks_config_and_stop_on_reply() -> None:
    import tomllib

    text = (
        '[webhooks]\nlisten = "0.0.0.0:9000"\npublic_url = "https://sync.example.com/w"\n'
        + SHEET
        + "stop_on_reply = true\n"
    )
    cfg = parse_config(tomllib.loads(text), path=Path("/x/sheetsync.toml"), env={})
    assert cfg.webhooks is not None
    assert (cfg.webhooks.host, cfg.webhooks.port) == ("0.0.0.0", 9000)
    assert cfg.webhooks.public_url == "https://sync.example.com/w"
    assert cfg.sheets[0].stop_on_reply is True
    local = '[webhooks]\nlisten = "[::1]:0"\npublic_url = "http://127.0.0.1:8788/"\n' + SHEET
    cfg = parse_config(tomllib.loads(local), path=Path("/x/sheetsync.toml"), env={})
    assert cfg.webhooks is not None and (cfg.webhooks.host, cfg.webhooks.port) == ("::1", 0)
    plain = parse_config(tomllib.loads(SHEET), path=Path("/x/sheetsync.toml"), env={})
    assert plain.webhooks is None and plain.sheets[0].stop_on_reply is False
