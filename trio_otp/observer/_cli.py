"""``python -m trio_otp observe ADDRESS [--json] [--node PATH] [--interval SECONDS]``."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence

from ._client import ObserverRequestFailed, fetch_snapshot, fetch_status


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m trio_otp observe",
        description=(
            "Watch a running trio_otp application: the live tree in a terminal view "
            "(needs trio_otp[observer]), or its snapshot as JSON."
        ),
    )
    parser.add_argument("address", help="the observer's socket path, or tcp:HOST:PORT")
    parser.add_argument("--json", action="store_true", help="print one snapshot as JSON and exit")
    parser.add_argument(
        "--node",
        metavar="PATH",
        help="with --json: print this node's status instead (child ids below the root, joined by '/')",
    )
    parser.add_argument("--interval", type=float, default=1.0, help="seconds between refreshes (default 1)")
    options = parser.parse_args(argv)
    if options.node is not None and not options.json:
        parser.error("--node goes with --json")
    if not options.interval > 0:
        parser.error(f"--interval must be above 0, got {options.interval}")
    try:
        if options.json:
            if options.node is None:
                answer = fetch_snapshot(options.address)
            else:
                answer = fetch_status(options.address, [part for part in options.node.split("/") if part])
            print(json.dumps(answer, indent=2))
            return 0
        from . import run_terminal_view  # noqa: PLC0415

        run_terminal_view(options.address, interval=options.interval)
    except ValueError as bad:
        parser.error(str(bad))
    except ObserverRequestFailed as refused:
        print(f"trio_otp observe: the observer refused: {refused}", file=sys.stderr)
        return 1
    except ModuleNotFoundError as missing:
        print(f"trio_otp observe: {missing}", file=sys.stderr)
        return 2
    except OSError as error:
        print(f"trio_otp observe: cannot reach the observer at {options.address}: {error}", file=sys.stderr)
        return 1
    return 0
