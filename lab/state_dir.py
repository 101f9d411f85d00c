"""Where maillab keeps, on this machine, what outlives one runner: kept labs' records
(runner/entry/kept.py) and labs on standby (lab/standby.py). $MAILLAB_STATE_DIR, else
$XDG_STATE_HOME/maillab, else ~/.local/state/maillab (the XDG Base Directory spec's state)."""

from __future__ import annotations

import os
from pathlib import Path


def state_dir() -> Path:
    if given := os.environ.get("MAILLAB_STATE_DIR"):
        return Path(given)
    base = os.environ.get("XDG_STATE_HOME") or Path.home() / ".local" / "state"
    return Path(base) / "maillab"
