"""Reading a scenario file (or an exercise's, runner/schema/exercise.py): YAML to the schema, or one
line naming file, line and field.

A scenario file comes from anywhere, so reading it is bounded before anything is parsed:
only a regular file of at most MAX_BYTES, nested at most MAX_DEPTH deep, expanding (YAML
aliases included) to at most MAX_NODES values. Dates stay text until the schema parses them,
so `2024-13-45` is a field error like any other.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.constructor import RoundTripConstructor
from ruamel.yaml.error import MarkedYAMLError
from ruamel.yaml.tokens import (
    BlockEndToken, BlockMappingStartToken, BlockSequenceStartToken, FlowMappingEndToken,
    FlowMappingStartToken, FlowSequenceEndToken, FlowSequenceStartToken,
)

from .faults import FAULTS, Fault
from .scenario import FolderSpec, MailSource, RawMessageSpec, Scenario, UserSpec
from .sources import IrregularFile, check_source, config_files, maildir_tree, source_bytes
from .steps import METHODS, Imapsync, Script, Step, foreign_old_problem, in_place_problem

MAX_BYTES = 4 * 2**20
MAX_DEPTH = 32
MAX_NODES = 200_000
OPENERS = (BlockMappingStartToken, BlockSequenceStartToken, FlowMappingStartToken, FlowSequenceStartToken)
CLOSERS = (BlockEndToken, FlowMappingEndToken, FlowSequenceEndToken)
# The tags of the unions of steps and faults, by the list that holds them: pydantic puts the
# tag into an error's location, after the item's index.
TAGS = {"steps": METHODS, "recovery": METHODS, "faults": FAULTS, "messages": ("written", "raw")}
# The tags of a field's own union (no list between): pydantic puts the tag right after the field.
FIELD_TAGS = {"user_store": ("name", "store")}
ModelT = TypeVar("ModelT", bound=BaseModel)


class ScenarioError(Exception):
    """A scenario (or exercise) file is wrong; the message is one line naming file, line and field."""


class _Constructor(RoundTripConstructor):
    """Round-trip YAML (for line numbers) with timestamps left as text for the schema."""


_Constructor.add_constructor("tag:yaml.org,2002:timestamp", _Constructor.construct_yaml_str)


def load_scenario(path: Path) -> Scenario:
    document = read_document(path, "scenario", "a scenario is a mapping with name, hosts, users, steps")
    scenario = validated(path, document, Scenario)
    scenario._base_dir = path.resolve().parent
    for role, host in scenario.hosts.items():
        if host.config is not None:
            host.config = str(_config_folder(path, document, scenario.base_dir, ("hosts", role, "config"),
                                             host.config))
        if store := host.own_store:  # a preset's schema is absolute already
            loc = ("hosts", role, "user_store", "schema")
            schema = _checked_path(scenario.base_dir, store.schema_file, "file", lambda problem, loc=loc: _fail(
                path, document, loc, problem))
            host.user_store = store.model_copy(update={"schema_file": str(schema)})
    holds = min(host.mail_store_mb for host in scenario.hosts.values()) * 2**20
    need = sum(folder.bytes_estimate for user in scenario.users for folder in user.folders)
    for index, user in enumerate(scenario.users):
        need += _resolve_mail_files(path, document, scenario.base_dir, index, user)
        if need > holds:  # the schema counted the generated mail; the files count here
            raise ScenarioError(f"{path}:{line_of(document, ('users', index))}: users[{index}]: with the mail in "
                                f"its files the users' mail takes {need / 2**20:.0f} MiB; a lab host holds "
                                f"{holds // 2**20} MiB (hosts' mail_store_mb)")
    if (new := scenario.hosts.get("new")) and new.server != "dovecot":
        loc = ("hosts", "new", "server")
        raise ScenarioError(f"{path}:{line_of(document, loc)}: {field_path(loc)}: new is the Dovecot the users move "
                            f"to; {new.server} can only be old")
    foreign = scenario.hosts["old"].server
    for field, specs in (("steps", scenario.steps), ("faults", scenario.faults)):
        for index, spec in enumerate(specs):
            if problem := (scenario.in_place and _in_place_problem(field, spec)) or (
                    foreign != "dovecot" and _foreign_old_problem(field, spec, foreign)) or spec.problem_with(scenario):
                raise ScenarioError(f"{path}:{line_of(document, (field, index))}: {field}[{index}]: {problem}")
            if field == "steps" and getattr(spec, "method", "") == "dist_upgrade" and spec.config is not None:
                spec.config = str(_config_folder(path, document, scenario.base_dir, ("steps", index, "config"),
                                                 spec.config))
    old = scenario.hosts["old"]  # seeded as it is: its layout must hold every name
    for field in sorted({"password_scheme", "password_prefix"} & (new.model_fields_set if new else set())):
        loc = ("hosts", "new", field)
        raise ScenarioError(f"{path}:{line_of(document, loc)}: {field_path(loc)}: hashes are made on old when it is "
                            "seeded; new gets them from the migration (set it on hosts.old)")
    if problem := old.password_problem(old.password_scheme):
        loc = ("hosts", "old", "password_scheme")
        raise ScenarioError(f"{path}:{line_of(document, loc)}: {field_path(loc)}: {problem}")
    for index, user in enumerate(scenario.users):
        if user.password_scheme and old.server != "dovecot":
            loc = ("users", index, "password_scheme")
            raise ScenarioError(f"{path}:{line_of(document, loc)}: {field_path(loc)}: {old.server} on old keeps "
                                "passwords its own way; the scheme is Dovecot's")
        if user.password_scheme and (problem := old.password_problem(user.password_scheme)):
            loc = ("users", index, "password_scheme")
            raise ScenarioError(f"{path}:{line_of(document, loc)}: {field_path(loc)}: hosts.old ({old.suite}): {problem}")
    for user_index, user in enumerate(scenario.users):
        for folder_index, folder in enumerate(user.folders):
            if problem := old.folder_problem(folder.name):
                loc = ("users", user_index, "folders", folder_index, "name")
                raise ScenarioError(f"{path}:{line_of(document, loc)}: {field_path(loc)}: folder '{folder.name}' "
                                    f"cannot be kept on hosts.old ({old.suite}): {problem}")
    return scenario


def files_outside(scenario: Scenario) -> list[Path]:
    """What the scenario reads from outside its own folder (allowed: the admin's own export, a
    script kept elsewhere), each tree or file once: `maillab validate` names them."""
    named = [Path(folder.source.path) for user in scenario.users for folder in user.folders if folder.source]
    named += [Path(message.raw_file) for user in scenario.users for folder in user.folders
              for message in folder.messages if isinstance(message, RawMessageSpec) and message.raw_file]
    steps = [*scenario.steps, *(step for fault in scenario.faults for step in getattr(fault, "recovery", ()))]
    named += [step.source(scenario, step.path if isinstance(step, Script) else step.script)
              for step in steps if isinstance(step, Script | Imapsync)]
    outside = sorted({path for path in named if not path.is_relative_to(scenario.base_dir)})
    return [path for path in outside if not any(path.is_relative_to(other) for other in outside if other != path)]


def read_document(path: Path, what: str, shape: str) -> CommentedMap:
    """The YAML mapping in `path` (a `what` file: scenario, exercise), bounded as the module
    says; `shape` is the error when the file holds no mapping."""
    text = _read(path, what)
    _check_depth(path, text, what)
    yaml = YAML(typ="rt")
    yaml.Constructor = _Constructor
    try:
        document = yaml.load(text)
    except MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        line = f":{mark.line + 1}" if mark else ""
        raise ScenarioError(f"{path}{line}: not valid YAML: {error.problem or error.context}") from None
    except RecursionError:
        raise ScenarioError(f"{path}:1: nested deeper than a {what} can be") from None
    if not isinstance(document, CommentedMap):
        line = document.lc.line + 1 if isinstance(document, CommentedSeq) else 1
        raise ScenarioError(f"{path}:{line}: {shape}")
    return document


def validated(path: Path, document: CommentedMap, model: type[ModelT]) -> ModelT:
    """`document` as `model`, or the first error as one line naming file, line and field."""
    plain = _Plain(path, document).convert(document, ())
    try:
        return model.model_validate(plain)
    except ValidationError as error:
        first = error.errors()[0]
        loc = _file_loc(first["loc"])
        raise ScenarioError(_printable(f"{path}:{line_of(document, loc)}: {field_path(loc)}: {_message(first)}")) \
            from None


def _resolve_mail_files(path: Path, document: CommentedMap, base: Path, index: int, user: UserSpec) -> int:
    """Make the user's mail file paths absolute (relative to the scenario) once they are
    checked to be there and readable, and add the folders of an imported Maildir++ tree.
    Returns the bytes of mail in those files."""
    def fail(loc: tuple, message: str) -> None:
        raise ScenarioError(_printable(f"{path}:{line_of(document, loc)}: {field_path(loc)}: {message}"))

    imported: list[MailSource] = []  # the folders of an imported tree: errors name the import
    if user.import_:
        loc = ("users", index, "import", "maildir")
        root = _checked_path(base, user.import_.maildir, "maildir", lambda problem: fail(loc, problem))
        listed = {folder.name: folder for folder in user.folders}
        try:
            tree = maildir_tree(root)
        except IrregularFile as error:
            fail(loc, str(error))
        except (OSError, UnicodeError, ValueError) as error:
            fail(loc, f"cannot read the Maildir++ tree {root}: {error}")
        for name, directory in tree.items():
            imported.append(MailSource(maildir=str(directory)))
            if name in listed:
                listed[name].source = listed[name].source or imported[-1]
                continue
            try:
                user.folders.append(FolderSpec(name=name, source=imported[-1]))
            except ValidationError as error:
                fail(loc, f"folder directory {directory.name!r}: {_message(error.errors()[0])}")
    files = 0
    for number, folder in enumerate(user.folders):
        if folder.source:
            loc = ("users", index, "import", "maildir") if any(folder.source is source for source in imported) \
                else ("users", index, "folders", number, "source")
            kind = folder.source.kind
            checked = _checked_path(base, folder.source.path, kind, lambda problem: fail(loc, problem))
            try:
                check_source(kind, checked)
            except IrregularFile as error:
                fail(loc, str(error))
            except OSError as error:
                fail(loc, f"{folder.source.path}: {error.strerror}")
            setattr(folder.source, kind, str(checked))
            files += source_bytes(kind, checked)
        for position, message in enumerate(folder.messages):
            if isinstance(message, RawMessageSpec) and message.raw_file is not None:
                loc = ("users", index, "folders", number, "messages", position, "raw_file")
                checked = _checked_path(base, message.raw_file, "file", lambda problem: fail(loc, problem))
                if message.size is not None and message.size < checked.stat().st_size:
                    fail(loc, f"size {message.size} is smaller than the file ({checked.stat().st_size} bytes)")
                message.raw_file = str(checked)
                files += 0 if message.size else checked.stat().st_size  # size: counted by the schema
    return files


def _in_place_problem(field: str, spec: Step | Fault) -> str | None:
    if field == "faults":
        return "faults strike during a migration between two hosts; an upgrade in place has only old"
    return in_place_problem(spec)


def _foreign_old_problem(field: str, spec: Step | Fault, server: str) -> str | None:
    if field == "faults":
        return f"faults strike a lab of Dovecot hosts; old is {server}"
    return foreign_old_problem(spec, server)


def _fail(path: Path, document: CommentedMap, loc: tuple, problem: str) -> None:
    raise ScenarioError(_printable(f"{path}:{line_of(document, loc)}: {field_path(loc)}: {problem}"))


def _config_folder(path: Path, document: CommentedMap, base: Path, loc: tuple, written: str) -> Path:
    """A configuration folder (hosts.<role>.config, a dist_upgrade's config) as an absolute path,
    once its files are checked (sources.config_files)."""

    def fail(problem: str) -> None:
        raise ScenarioError(_printable(f"{path}:{line_of(document, loc)}: {field_path(loc)}: {problem}"))
    folder = _checked_path(base, written, "directory", fail)
    try:
        config_files(folder)
    except (IrregularFile, ValueError) as error:
        fail(str(error))
    except OSError as error:
        fail(f"{written}: {error.strerror}")
    return folder


def _checked_path(base: Path, written: str, kind: str, fail) -> Path:
    """`written` (relative to `base`) as an absolute path, once it is there and readable as
    `kind`: a Maildir folder (cur/ and new/), an mbox or other regular file, or a directory of
    .eml files."""
    path = (base / written).resolve()
    try:
        info = path.stat()
        if kind in ("mbox", "file"):
            if not stat.S_ISREG(info.st_mode):
                fail(f"{written}: not a regular file")
            with path.open("rb"):
                pass
        else:
            if not stat.S_ISDIR(info.st_mode):
                fail(f"{written}: not a directory")
            for sub in ("cur", "new") if kind == "maildir" else ():
                if not (path / sub).is_dir():
                    fail(f"{written}: not a Maildir (no {sub}/ in it)")
                os.scandir(path / sub).close()
            os.scandir(path).close()
    except OSError as error:
        fail(f"{written}: {error.strerror}")
    return path


def _read(path: Path, what: str) -> str:
    try:
        info = path.stat()
        if not stat.S_ISREG(info.st_mode):
            raise ScenarioError(f"{path}: not a regular file")
        if info.st_size > MAX_BYTES:
            raise ScenarioError(f"{path}: {info.st_size} bytes; a {what} file has at most {MAX_BYTES}")
        with path.open("rb") as file:
            data = file.read(MAX_BYTES + 1)
    except OSError as error:
        raise ScenarioError(f"{path}: cannot read the {what}: {error.strerror}") from None
    if len(data) > MAX_BYTES:  # grew since stat
        raise ScenarioError(f"{path}: a {what} file has at most {MAX_BYTES} bytes")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        line = data[: error.start].count(b"\n") + 1
        raise ScenarioError(f"{path}:{line}: the {what} is not UTF-8 text") from None


def _check_depth(path: Path, text: str, what: str) -> None:
    """Refuse deep nesting before the (recursive) composer meets it."""
    depth = 0
    try:
        for token in YAML(typ="rt").scan(text):
            if isinstance(token, OPENERS):
                depth += 1
                if depth > MAX_DEPTH:
                    raise ScenarioError(f"{path}:{token.start_mark.line + 1}: nested deeper than {MAX_DEPTH} "
                                        "levels; a scenario needs far fewer")
            elif isinstance(token, CLOSERS):
                depth -= 1
    except MarkedYAMLError:
        return  # the parser names the error and its line


class _Plain:
    """Round-trip YAML to plain dicts, lists and scalars, counting every value: aliases are
    expanded here, so an alias bomb stops at MAX_NODES instead of filling memory."""

    def __init__(self, path: Path, document: CommentedMap) -> None:
        self.path, self.document, self.nodes = path, document, 0

    def convert(self, node: Any, loc: tuple[Any, ...]) -> Any:
        self.nodes += 1
        if self.nodes > MAX_NODES:  # named by its top-level field: aliases make deeper lines meaningless
            self.fail(loc[:1], f"expands to more than {MAX_NODES} values (YAML aliases included)")
        if isinstance(node, CommentedMap | CommentedSeq) and getattr(node.tag, "value", None):
            self.fail(loc, f"YAML tag {node.tag.value} is not allowed in a scenario")
        if isinstance(node, CommentedMap):
            return {str(key): self.convert(value, (*loc, str(key))) for key, value in node.items()}
        if isinstance(node, CommentedSeq):
            return [self.convert(value, (*loc, index)) for index, value in enumerate(node)]
        if isinstance(node, bytes) and loc[-1:] == ("raw",):  # !!binary: a raw message's bytes
            return bytes(node)
        for plain in (str, bool, int, float):  # ruamel's round-trip scalars subclass these
            if isinstance(node, plain):
                return plain(node)
        if node is None:
            return None
        self.fail(loc, f"a {type(node).__name__} value is not allowed in a scenario (only mappings, lists, "
                       "text, numbers and booleans)")

    def fail(self, loc: tuple[Any, ...], message: str) -> None:
        raise ScenarioError(_printable(f"{self.path}:{line_of(self.document, loc)}: {field_path(loc)}: {message}"))


def line_of(document: Any, loc: tuple[Any, ...]) -> int:
    """The line of the deepest YAML node that `loc` reaches (1-based); the document's first
    line for the top level."""
    node, line = document, document.lc.line + 1
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


def _file_loc(loc: tuple[Any, ...]) -> tuple[Any, ...]:
    """pydantic's error location as a path in the file: without the names pydantic gives a
    union member (a step's method tag) or a validator ('function-after[...]', '[key]')."""
    kept = []
    for index, key in enumerate(loc):
        if isinstance(key, str) and ("[" in key or (index > 1 and key in TAGS.get(loc[index - 2], ()))
                                     or (index > 0 and key in FIELD_TAGS.get(loc[index - 1], ()))):
            continue
        kept.append(key)
    return tuple(kept)


def field_path(loc: tuple[Any, ...]) -> str:
    path = ""
    for key in loc:
        path += f"[{key}]" if isinstance(key, int) else f".{key}" if path else str(key)
    return path or "(top level)"


def _printable(message: str) -> str:
    """One line: control characters a value brought into the message are shown escaped."""
    return "".join(repr(char)[1:-1] if char < " " or char == "\x7f" else char for char in message)


def _message(error: dict[str, Any]) -> str:
    if error["type"] == "extra_forbidden":
        return "unknown field"
    if error["type"] == "union_tag_invalid":
        tag, known = ("method", METHODS) if error["ctx"]["discriminator"] == "'method'" else ("what", FAULTS)
        return f"unknown {tag} '{error['input'].get(tag)}' (known: {', '.join(known)})"
    return error["msg"].removeprefix("Value error, ")
