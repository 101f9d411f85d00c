"""The scenario schema: the one truth about what a rehearsal sets up, runs and expects.

A scenario is a YAML file. `load_scenario` validates it and, when it is wrong, raises a
`ScenarioError` whose message names the file, the line and the field.
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError, field_validator, model_validator
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import MarkedYAMLError

from runner.migrate import METHODS, StepSpec

SUITES = ("bullseye", "bookworm", "trixie")
SYSTEM_FLAGS = ("\\Seen", "\\Answered", "\\Flagged", "\\Deleted", "\\Draft")
# Each property a migration can keep or lose; `expect.preserved` names the ones that must hold.
PROPERTIES = (
    "folders", "messages", "content", "flags", "keywords", "dates", "guids", "uids",
    "uidvalidity", "subscriptions", "sieve", "pop3_uidls", "db_rows", "delivery",
)
Property = Literal[
    "folders", "messages", "content", "flags", "keywords", "dates", "guids", "uids",
    "uidvalidity", "subscriptions", "sieve", "pop3_uidls", "db_rows", "delivery",
]
STEP_TAGS = tuple(METHODS)
KEYWORD = re.compile(r"^[!#-'*+\-.0-9:<-Z^-z|~]+$")  # an IMAP atom (RFC 3501 flag-keyword)


class Model(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class HostSpec(Model):
    suite: Literal["bullseye", "bookworm", "trixie"]
    mail_format: Literal["maildir", "mdbox"] = "maildir"
    user_store: Literal["sql", "passwd-file"] = "sql"
    # courier: clients see `INBOX.` before every folder and `.` between levels
    namespace: Literal["dovecot", "courier"] = "dovecot"
    # how new mail is written: Dovecot 2.3's zlib plugin, 2.4's mail_compress
    compression: Literal["none", "gz", "zstd"] = "none"
    # Dovecot's default when unset; written in the host's Dovecot syntax (2.3: %08Xu%08Xv,
    # 2.4: %{uid | hex(8)}%{uidvalidity | hex(8)})
    pop3_uidl_format: str | None = Field(None, pattern=r"^[^\n\\]+$")


class Attachment(Model):
    filename: str
    size: int = Field(gt=0, le=50_000_000)
    content_type: str = "application/octet-stream"


def _check_keywords(keywords: list[str] | dict[str, float]) -> Any:
    for keyword in keywords:
        if keyword.startswith("\\") or not KEYWORD.match(keyword):
            raise ValueError(f"'{keyword}' is not a valid IMAP keyword")
    return keywords


class MessageSpec(Model):
    """One message written out in the scenario."""

    subject: str
    sender: str = Field("someone@example.net", alias="from")
    date: dt.datetime
    flags: list[Literal["\\Seen", "\\Answered", "\\Flagged", "\\Deleted", "\\Draft"]] = []
    keywords: list[str] = []
    body: str = "Hello.\n"
    attachments: list[Attachment] = []
    message_id: str | None = None

    _keywords = field_validator("keywords")(_check_keywords)


class FolderSpec(Model):
    """A folder, its generated messages (`count`) and any written-out ones (`messages`)."""

    name: str
    subscribed: bool = True
    count: int = Field(0, ge=0, le=1_000_000)
    flags: dict[Literal["\\Seen", "\\Answered", "\\Flagged", "\\Deleted", "\\Draft"], float] = {"\\Seen": 0.6}
    keywords: dict[str, float] = {}
    sizes: tuple[int, int] = (400, 12_000)
    attachments: float = Field(0.05, ge=0, le=1)
    dates: tuple[dt.date, dt.date] = (dt.date(2022, 1, 1), dt.date(2024, 12, 31))
    messages: list[MessageSpec] = []

    _keywords = field_validator("keywords")(_check_keywords)

    @field_validator("name")
    @classmethod
    def _name(cls, name: str) -> str:
        parts = name.split("/")
        if any(not part or part.startswith(".") or "." in part or "\\" in part for part in parts):
            raise ValueError(
                f"'{name}' is not a folder name the lab can keep: use '/' between levels, "
                "no empty levels, no '.' or '\\'"
            )
        if parts[0].upper() == "INBOX" and parts[0] != "INBOX":
            raise ValueError("write INBOX in capitals")
        return name

    @field_validator("flags", "keywords")
    @classmethod
    def _probability(cls, table: dict[str, float]) -> dict[str, float]:
        for name, probability in table.items():
            if not 0 <= probability <= 1:
                raise ValueError(f"the share of messages with {name} must be between 0 and 1")
        return table

    @model_validator(mode="after")
    def _ranges(self) -> FolderSpec:
        if not 0 < self.sizes[0] <= self.sizes[1]:
            raise ValueError("sizes must be [smallest, largest] in bytes, smallest > 0")
        if self.dates[0] > self.dates[1]:
            raise ValueError("dates must be [earliest, latest]")
        return self


class SieveSpec(Model):
    scripts: dict[str, str]
    active: str | None = None

    @model_validator(mode="after")
    def _active_exists(self) -> SieveSpec:
        if self.active is not None and self.active not in self.scripts:
            raise ValueError(f"active script '{self.active}' is not among the scripts")
        return self


class UserSpec(Model):
    address: str = Field(pattern=r"^[a-z0-9._+-]+@[a-z0-9.-]+\.[a-z]+$")
    quota: int = Field(0, ge=0)
    aliases: list[str] = []
    folders: list[FolderSpec] = []
    sieve: SieveSpec | None = None

    @property
    def domain(self) -> str:
        return self.address.split("@", 1)[1]

    @model_validator(mode="after")
    def _unique_folders(self) -> UserSpec:
        names = [folder.name for folder in self.folders]
        if len(set(names)) != len(names):
            raise ValueError("a folder is listed twice")
        return self

    def all_folder_names(self) -> list[str]:
        """The user's folders with every parent level, as IMAP shows them."""
        names = {"INBOX"}
        for folder in self.folders:
            parts = folder.name.split("/")
            names.update("/".join(parts[: i + 1]) for i in range(len(parts)))
        return sorted(names)


class RoundcubeSpec(Model):
    """Roundcube data on old: a users row per scenario user, identities and address books."""

    mail_host: str = "old"  # what Roundcube's users.mail_host holds on old
    contacts: int = Field(5, ge=0, le=10_000)  # per user
    language: str = "de_DE"


class DbChange(Model):
    """A column the migration is meant to change, e.g. Roundcube's users.mail_host."""

    table: str = Field(pattern=r"^[a-z_]+\.[a-z_]+$")  # database.table
    column: str
    value: str | None


class Expectations(Model):
    """What must hold after the migration; anything left out is a declared, tolerated loss."""

    preserved: list[Literal["all"] | Property] = ["all"]
    smoke_delivery: bool = True
    db_changes: list[DbChange] = []

    def must_preserve(self, prop: str) -> bool:
        return "all" in self.preserved or prop in self.preserved


class Scenario(Model):
    name: str
    description: str
    seed: int = 1
    hosts: dict[Literal["old", "new"], HostSpec]
    users: list[UserSpec] = Field(min_length=1)
    roundcube: RoundcubeSpec | None = None
    steps: list[StepSpec] = Field(min_length=1)
    idempotence: bool = True
    expect: Expectations = Expectations()
    # where the scenario file is: steps find the user's scripts relative to it
    _base_dir: Path = PrivateAttr(default_factory=Path.cwd)

    @property
    def base_dir(self) -> Path:
        return self._base_dir

    @model_validator(mode="after")
    def _consistent(self) -> Scenario:
        if set(self.hosts) != {"old", "new"}:
            raise ValueError("hosts must name both 'old' and 'new'")
        addresses = [user.address for user in self.users]
        if len(set(addresses)) != len(addresses):
            raise ValueError("a user is listed twice")
        return self

    @property
    def message_count(self) -> int:
        return sum(f.count + len(f.messages) for u in self.users for f in u.folders)


class ScenarioError(Exception):
    """A scenario file is wrong; the message is one line naming file, line and field."""


def load_scenario(path: Path) -> Scenario:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise ScenarioError(f"{path}: cannot read the scenario: {error.strerror}") from None
    except UnicodeDecodeError:
        raise ScenarioError(f"{path}: the scenario is not UTF-8 text") from None
    try:
        document = YAML(typ="rt").load(text)
    except MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        line = f":{mark.line + 1}" if mark else ""
        raise ScenarioError(f"{path}{line}: not valid YAML: {error.problem or error.context}") from None
    if not isinstance(document, CommentedMap):
        raise ScenarioError(f"{path}:1: a scenario is a mapping with name, hosts, users, steps")
    try:
        scenario = Scenario.model_validate(_plain(document))
    except ValidationError as error:
        first = error.errors()[0]
        where = _line_of(document, first["loc"])
        field = _field_path(first["loc"]) or "(top level)"
        raise ScenarioError(f"{path}:{where}: {field}: {_message(first)}") from None
    scenario._base_dir = path.resolve().parent
    for index, step in enumerate(scenario.steps):
        if problem := step.problem_with(scenario):
            raise ScenarioError(f"{path}:{_line_of(document, ('steps', index))}: steps[{index}]: {problem}")
    return scenario


def _plain(node: Any) -> Any:
    if isinstance(node, CommentedMap):
        return {str(key): _plain(value) for key, value in node.items()}
    if isinstance(node, CommentedSeq):
        return [_plain(value) for value in node]
    return node


def _line_of(document: Any, loc: tuple[Any, ...]) -> int:
    """The line of the deepest YAML node that `loc` reaches (1-based)."""
    node, line = document, 1
    for key in loc:
        if isinstance(node, CommentedMap) and key in node:
            line = node.lc.key(key)[0] + 1
            node = node[key]
        elif isinstance(node, CommentedSeq) and isinstance(key, int) and key < len(node):
            line = node.lc.item(key)[0] + 1
            node = node[key]
        elif isinstance(node, CommentedMap | CommentedSeq):
            continue  # not in the file: a union member's tag, or a field that is missing
        else:
            break
    return line


def _field_path(loc: tuple[Any, ...]) -> str:
    path = ""
    for key in loc:
        if isinstance(key, int):
            path += f"[{key}]"
        elif key in STEP_TAGS:
            continue
        else:
            path += f".{key}" if path else str(key)
    return path


def _message(error: dict[str, Any]) -> str:
    message = error["msg"]
    if error["type"] == "extra_forbidden":
        return "unknown field"
    if error["type"] == "union_tag_invalid":
        return f"unknown method '{error['input'].get('method')}' (known: {', '.join(STEP_TAGS)})"
    return message.removeprefix("Value error, ")

