"""Where jnet's utility messages go: stdout (interactive, the default) or Python logging."""

from __future__ import annotations

import logging
import sys

_state = {"interactive": True}


def enable_interactive_logging():
    """Write progress bars and messages to stdout (the default)."""
    _state["interactive"] = True


def disable_interactive_logging():
    """Send messages to the `jnet` Python logger (at INFO) instead of stdout."""
    _state["interactive"] = False


def is_interactive_logging_enabled():
    """Whether messages go to stdout (True) or to the `jnet` logger (False)."""
    return _state["interactive"]


def print_msg(message, line_break=True, file=None):
    """Print `message` (interactive) or log it."""
    if _state["interactive"]:
        out = file if file is not None else sys.stdout
        out.write(message + ("\n" if line_break else ""))
        out.flush()
    else:
        logging.getLogger("jnet").info(message)
