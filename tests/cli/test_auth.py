"""login / logout / whoami and where the CLI finds the server and the token."""

from __future__ import annotations

import stat
import tomllib

from stackdock.cli import config as config_module
from tests.cli.conftest import TOKEN, URL, error

ME = {
    "user": {"id": 1, "username": "owner@acme.test", "email": "owner@acme.test"},
    "org": {"id": 1, "slug": "acme", "name": "Acme"},
    "role": "owner",
    "permissions": {"resources": "full", "provisioning": "full"},
    "token": {"id": 3, "name": "laptop", "prefix": "0a1b2c3d", "expires_at": None},
    "organizations": ["acme"],
}


def test_login_checks_the_token_and_stores_it_with_mode_0600(cli, api, monkeypatch):
    monkeypatch.delenv("STACKDOCK_TOKEN")
    api.on("GET", "/whoami", json=ME)
    result = cli("login", "--url", "http://127.0.0.1:9999/", input=TOKEN + "\n")
    assert result.exit_code == 0, result.output
    assert "Logged in to http://127.0.0.1:9999 as owner@acme.test in acme" in result.stdout
    sent = api.sent("GET", "/whoami")[0]
    assert sent.headers["Authorization"] == f"Bearer {TOKEN}"
    assert sent.url.host == "127.0.0.1"
    path = config_module.config_path()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert tomllib.loads(path.read_text()) == {"url": "http://127.0.0.1:9999", "token": TOKEN}


def test_login_with_a_rejected_token_saves_nothing_and_exits_3(cli, api, monkeypatch):
    monkeypatch.delenv("STACKDOCK_TOKEN")
    api.on("GET", "/whoami", response=error(401, "authentication_failed", "Invalid token."))
    result = cli("login", "--url", URL, input="wrong-token\n")
    assert result.exit_code == 3
    assert "rejected this token" in result.stderr
    assert not config_module.config_path().exists()


def test_login_rewrites_an_unreadable_config_file(cli, api, monkeypatch):
    path = config_module.config_path()
    path.parent.mkdir(parents=True)
    path.write_text("this is = = not toml")
    monkeypatch.delenv("STACKDOCK_TOKEN")
    api.on("GET", "/whoami", json=ME)
    assert cli("login", input=TOKEN + "\n").exit_code == 0  # the URL from STACKDOCK_URL
    assert config_module.read_file() == {"url": URL, "token": TOKEN}


def test_login_without_a_token_is_a_usage_error(cli, api):
    result = cli("login", "--url", URL, input="\n")
    assert result.exit_code == 2
    assert "No token given" in result.stderr


def test_stored_config_is_used_when_the_environment_is_empty(cli, api, monkeypatch):
    monkeypatch.delenv("STACKDOCK_TOKEN")
    monkeypatch.delenv("STACKDOCK_URL")
    config_module.write_file("http://stored.test", "stored-token")
    api.on("GET", "/whoami", json=ME)
    assert cli("whoami").exit_code == 0
    sent = api.sent("GET", "/whoami")[0]
    assert sent.url.host == "stored.test"
    assert sent.headers["Authorization"] == "Bearer stored-token"


def test_environment_overrides_the_config_file_and_url_option_overrides_both(cli, api):
    config_module.write_file("http://stored.test", "stored-token")
    api.on("GET", "/whoami", json=ME)
    assert cli("whoami").exit_code == 0
    first = api.sent("GET", "/whoami")[0]
    assert (first.url.host, first.headers["Authorization"]) == ("stackdock.test", f"Bearer {TOKEN}")
    assert cli("--url", "http://other.test", "whoami").exit_code == 0
    assert api.sent("GET", "/whoami")[1].url.host == "other.test"


def test_without_a_token_commands_exit_3_and_say_how_to_log_in(cli, api, monkeypatch):
    monkeypatch.delenv("STACKDOCK_TOKEN")
    result = cli("ops")
    assert result.exit_code == 3
    assert "stackdock login" in result.stderr
    assert api.requests == []


def test_without_a_url_commands_exit_2(cli, api, monkeypatch):
    monkeypatch.delenv("STACKDOCK_URL")
    result = cli("ops")
    assert result.exit_code == 2
    assert "STACKDOCK_URL" in result.stderr


def test_a_bad_url_is_a_usage_error(cli, api):
    result = cli("--url", "ftp://nope", "ops")
    assert result.exit_code == 2
    assert "not a server URL" in result.stderr


def test_whoami_shows_user_org_role_and_json_parses(cli, api):
    api.on("GET", "/whoami", json=ME)
    text = cli("whoami")
    assert text.exit_code == 0
    assert "owner@acme.test" in text.stdout and "Acme (acme)" in text.stdout
    assert "laptop (prefix 0a1b2c3d)" in text.stdout
    assert "token from    STACKDOCK_TOKEN" in text.stdout
    import json

    assert json.loads(cli("whoami", "--json").stdout) == ME


def test_logout_removes_the_token_and_keeps_the_url(cli, api):
    config_module.write_file("http://stored.test", "stored-token")
    assert cli("logout").exit_code == 0
    assert config_module.read_file() == {"url": "http://stored.test"}


def test_config_file_round_trips_quotes_backslashes_and_unicode(tmp_path):
    path = tmp_path / "c.toml"
    token = 'tok"en\\with-ünïcode'
    config_module.write_file("https://h.test", token, path)
    assert config_module.read_file(path) == {"url": "https://h.test", "token": token}


def test_config_repr_never_shows_the_token():
    cfg = config_module.Config(url=URL, token=TOKEN)
    assert TOKEN not in repr(cfg)


def test_plain_http_to_a_remote_host_warns_but_loopback_does_not():
    assert config_module.is_plain_http_to_remote("http://stackdock.example.com")
    assert not config_module.is_plain_http_to_remote("http://127.0.0.1:8000")
    assert not config_module.is_plain_http_to_remote("https://stackdock.example.com")
