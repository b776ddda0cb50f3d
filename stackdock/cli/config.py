"""Where the CLI finds the server and the token.

Precedence, highest first: ``--url`` (URL only), the environment
(``STACKDOCK_URL``, ``STACKDOCK_TOKEN``), then the config file written by
``stackdock login``: ``$XDG_CONFIG_HOME/stackdock/config.toml`` (default
``~/.config/stackdock/config.toml``; ``STACKDOCK_CONFIG`` names another file).
The file is created with mode 0600 in a 0700 directory.
"""

from __future__ import annotations

import json
import os
import tempfile
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from stackdock.cli.errors import usage

URL_ENV = "STACKDOCK_URL"
TOKEN_ENV = "STACKDOCK_TOKEN"  # noqa: S105 - the variable's name, not a secret
CONFIG_ENV = "STACKDOCK_CONFIG"
LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})


@dataclass
class Config:
    """The server URL and the token. The token is never part of the repr."""

    url: str = ""
    token: str = field(default="", repr=False)
    source: str = field(default="", compare=False)  # where the token came from

    @property
    def has_token(self) -> bool:
        return bool(self.token)


def config_path() -> Path:
    explicit = os.environ.get(CONFIG_ENV, "").strip()
    if explicit:
        return Path(explicit).expanduser()
    base = os.environ.get("XDG_CONFIG_HOME", "").strip() or str(Path.home() / ".config")
    return Path(base) / "stackdock" / "config.toml"


def read_file(path: Path | None = None) -> dict[str, str]:
    """The config file's ``url`` and ``token`` (empty when there is no file)."""
    path = path or config_path()
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return {}
    except OSError as exc:
        raise usage(f"Cannot read {path}: {exc.strerror}.") from None
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError):
        raise usage(f"{path} is not a valid TOML file; run `stackdock login` again.") from None
    return {k: str(data[k]) for k in ("url", "token") if isinstance(data.get(k), str)}


def _toml_string(value: str) -> str:
    # The file holds two plain strings: for text without control characters (login
    # refuses those), JSON's string escapes are valid TOML basic-string escapes, so no
    # TOML writer is needed (none is among the dependencies).
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in value):
        raise usage("Control characters are not allowed in the URL or the token.")
    return json.dumps(value, ensure_ascii=False)


def write_file(url: str, token: str, path: Path | None = None) -> Path:
    """Store ``url`` and ``token``: mode 0600, written atomically (temp file + rename)."""
    path = path or config_path()
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    text = f"# written by `stackdock login`\nurl = {_toml_string(url)}\n"
    if token:
        text += f"token = {_toml_string(token)}\n"
    fd, tmp = tempfile.mkstemp(prefix=".config-", suffix=".toml", dir=path.parent)
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    os.chmod(path, 0o600)
    return path


def normalize_url(url: str) -> str:
    """``https://host[:port][/prefix]`` without a trailing slash; a bad URL is exit 2."""
    url = url.strip().rstrip("/")
    if url.endswith("/api/v1"):
        url = url[: -len("/api/v1")]
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise usage(
            f"{url or 'the URL'!r} is not a server URL; expected http(s)://host[:port].",
            fields={"url": ["expected http(s)://host[:port]"]},
        )
    if parts.username or parts.password:
        raise usage(
            "Put the token in the token prompt, not in the URL.", fields={"url": ["no user info"]}
        )
    return url


def is_plain_http_to_remote(url: str) -> bool:
    """True when the token would travel unencrypted to a host other than this machine."""
    parts = urlsplit(url)
    return parts.scheme == "http" and (parts.hostname or "") not in LOOPBACK_HOSTS


def load(url_option: str | None = None) -> Config:
    """The effective configuration (``--url`` > environment > config file); the file is
    read only when the environment does not give both."""
    url = (url_option or "").strip() or os.environ.get(URL_ENV, "").strip()
    token = os.environ.get(TOKEN_ENV, "").strip()
    source = TOKEN_ENV if token else ""
    if not url or not token:
        stored = read_file()
        url = url or stored.get("url", "")
        if not token and stored.get("token"):
            token, source = stored["token"], str(config_path())
    return Config(url=normalize_url(url) if url else "", token=token, source=source)
