"""A lab's id: what Lab makes (`ml` + 8 hex digits) and `maillab compose-env` (`compose-` + 8
hex). A lab id names a folder of the runner's state and a label filter, so any other value
(another tool's label, `../../..`) is never used. Loads without Docker."""

from __future__ import annotations

import re
import secrets

LAB_ID_PREFIXES = ("ml", "compose-")
LAB_ID = re.compile(rf"({'|'.join(LAB_ID_PREFIXES)})[0-9a-f]{{8}}")


def new_lab_id(prefix: str = "ml") -> str:
    return f"{prefix}{secrets.token_hex(4)}"


def is_lab_id(value: str) -> bool:
    return LAB_ID.fullmatch(value) is not None
