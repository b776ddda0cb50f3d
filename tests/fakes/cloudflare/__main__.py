"""Run the Cloudflare emulator as a process (integration tests with a Celery worker).

    python -m tests.fakes.cloudflare --port 8787 --token T --account A

Prints one line, ``CLOUDFLARE_EMULATOR_URL=http://127.0.0.1:8787/client/v4``,
once it accepts connections; stops cleanly on SIGTERM or Ctrl-C.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading

from .server import CloudflareEmulator
from .state import ALL_PERMISSIONS


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m tests.fakes.cloudflare", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1", help="loopback address to bind")
    parser.add_argument("--port", type=int, default=8787, help="0 picks a free port")
    parser.add_argument("--token", action="append", default=[], help="an accepted API token")
    parser.add_argument("--account", help="the 32-hex account id the tokens belong to")
    parser.add_argument(
        "--permission",
        action="append",
        choices=sorted(ALL_PERMISSIONS),
        help="restrict the tokens to these permission groups (repeatable; default all)",
    )
    parser.add_argument(
        "--workers-subdomain", help="the account's workers.dev subdomain (default acct-<id[:8]>)"
    )
    parser.add_argument("--access-log", action="store_true", help="log each request to stderr")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.token and not args.account:
        print("--token needs --account", file=sys.stderr)
        return 2
    emulator = CloudflareEmulator(args.host, args.port, access_log=args.access_log)
    for token in args.token:
        emulator.add_token(token, args.account, args.permission)
    if args.account and args.workers_subdomain:
        emulator.set_workers_subdomain(args.account, args.workers_subdomain)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    emulator.start()
    print(f"CLOUDFLARE_EMULATOR_URL={emulator.base_url}", flush=True)
    try:
        stop.wait()
    finally:
        emulator.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
