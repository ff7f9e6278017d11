"""``python -m trio_otp observe ADDRESS``: watch a running application (see
:mod:`trio_otp.observer`)."""

from __future__ import annotations

import sys


def main(argv: list[str]) -> int:
    if not argv or argv[0] != "observe":
        print(
            "usage: python -m trio_otp observe ADDRESS [--json] [--node PATH] [--interval S]", file=sys.stderr
        )
        return 2
    from .observer._cli import main as observe  # noqa: PLC0415

    return observe(argv[1:])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
