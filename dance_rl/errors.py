"""One exception type for user mistakes, and the CLI convention for reporting them.

A ``UserError`` is a problem the user can fix (bad file, bad config value, missing optional asset). Entry points catch it
with :func:`cli_main`, print one line ``error: <message>`` to stderr and exit with code 2. Anything else is a bug and
keeps its traceback.
"""
from __future__ import annotations

import sys
from typing import Callable, Sequence


class UserError(Exception):
    """A mistake in the user's input; the message names the input and the fix."""


def cli_main(main: Callable[[Sequence[str] | None], int | None], argv: Sequence[str] | None = None) -> int:
    """Run ``main(argv)``; turn a UserError into one stderr line and exit code 2."""
    try:
        return int(main(argv) or 0)
    except UserError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
