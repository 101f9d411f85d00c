"""Snapshots on disk (docs/rehearsal.md, "Where snapshots live"): a snapshot's users are written
as the snapshot reads them and loaded one at a time when asked, so that a rehearsal holds a user
or two of its four snapshots in memory, whatever their size; and the snapshot files (the
reports', the seed cache's and a kept lab's baseline), written and read a user at a time."""

from __future__ import annotations

import json
import os
import tempfile
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path

from .state import HostState, UserState

KEPT = 2  # users a store keeps loaded: a reader often asks for a user again at once (Gmail's view, then compare)
USERS_START = b',"users":{\n'


class UsersOnDisk(Mapping[str, UserState]):
    """A snapshot's users, read-only once written: one line of JSON each in an unnamed temporary
    file (in $TMPDIR; the system removes it when the store is dropped or the process ends,
    however it ends), found by its offset; the last KEPT users asked for stay loaded."""

    def __init__(self) -> None:
        self._file = tempfile.TemporaryFile()  # noqa: SIM115  held as long as the store
        self._where: dict[str, tuple[int, int]] = {}  # address -> offset, length
        self._end = 0
        self._loaded: OrderedDict[str, UserState] = OrderedDict()
        self._lock = threading.Lock()  # a snapshot's sessions write users from their threads

    def put(self, user: UserState) -> None:
        self.put_json(user.address, user.model_dump_json().encode())

    def put_json(self, address: str, data: bytes) -> None:
        """The user `address` as UserState's JSON (a later put of the same user replaces it)."""
        with self._lock:
            os.pwrite(self._file.fileno(), data, self._end)
            self._where[address] = (self._end, len(data))
            self._end += len(data)
            self._loaded.pop(address, None)

    def json(self, address: str) -> bytes:
        offset, length = self._where[address]
        return os.pread(self._file.fileno(), length, offset)

    def ordered(self, addresses: list[str]) -> UsersOnDisk:
        """The store, its users in the order of `addresses` (the snapshot's sessions finish in any order)."""
        with self._lock:
            self._where = {address: self._where[address] for address in addresses if address in self._where}
        return self

    def __getitem__(self, address: str) -> UserState:
        with self._lock:
            if address in self._loaded:
                self._loaded.move_to_end(address)
                return self._loaded[address]
        user = UserState.model_validate_json(self.json(address))
        with self._lock:
            self._loaded[address] = user
            while len(self._loaded) > KEPT:
                self._loaded.popitem(last=False)
        return user

    def __contains__(self, address: object) -> bool:  # without loading the user
        return address in self._where

    def __iter__(self) -> Iterator[str]:
        return iter(list(self._where))

    def __len__(self) -> int:
        return len(self._where)


class UsersSeenAs(Mapping[str, UserState]):
    """`users`, each as `change` makes it when asked: compare's transforms of a snapshot hold no
    more users than the snapshot itself."""

    def __init__(self, users: Mapping[str, UserState], change: Callable[[UserState], UserState]) -> None:
        self._users, self._change = users, change

    def __getitem__(self, address: str) -> UserState:
        return self._change(self._users[address])

    def __contains__(self, address: object) -> bool:
        return address in self._users

    def __iter__(self) -> Iterator[str]:
        return iter(self._users)

    def __len__(self) -> int:
        return len(self._users)


def write_snapshot(state: HostState, path: Path) -> None:
    """The snapshot as JSON, its users one a line: read_snapshot reads it back a user at a time."""
    with path.open("wb") as out:
        out.write(state.model_dump_json(exclude={"users"}).encode()[:-1] + USERS_START)
        for n, address in enumerate(state.users):
            # a store's users are copied as they are stored, not loaded and written again
            user = state.users.json(address) if isinstance(state.users, UsersOnDisk) \
                else state.users[address].model_dump_json().encode()
            out.write(b",\n" * bool(n) + json.dumps(address).encode() + b":" + user)
        out.write(b"\n" * bool(state.users) + b"}}\n")


def read_snapshot(path: Path) -> HostState:
    """A snapshot write_snapshot wrote, its users into a store of their own (the file may go)."""
    users = UsersOnDisk()
    decoder = json.JSONDecoder()
    with path.open("rb") as lines:
        head = next(lines)
        if not head.endswith(USERS_START):  # written whole, as a kept lab's by an older maillab
            return HostState.model_validate_json(head + lines.read())
        for line in lines:
            if line.startswith(b"}}"):
                break
            text = line.decode()
            address, end = decoder.raw_decode(text)  # the key only: the user is stored as it is
            users.put_json(address, text[end + 1:].rstrip(",\n").encode())
    return HostState.model_validate_json(head.removesuffix(USERS_START) + b',"users":{}}').model_copy(
        update={"users": users})
