"""`docker exec` with all of its output, on a remote engine too.

The docker SDK reads an exec's output from the raw socket under http.client's buffered
reader, so whatever that reader took in with the response's headers is lost: on an engine
over TCP or ssh the first frames often come in the same read, and a command's output went
missing (exit 0, no stdout) in about one exec in fifty here (docker/docker-py#3332). Reading
the frames from the buffered reader itself keeps them.

The socket's read timeout is the client's (60 s by default): a migration that prints nothing for
longer would end in TimeoutError. The SDK turns it off for its own exec streams, and so does
this; how long an exec may take is the caller's timeout (LabContainer.run).

A command may print without end until its timeout (days for a migration): of each stream
only the first and the last KEEP bytes are kept, and what lies between is said in one line.
The lab's own reads, whose output it parses, ask for all of it (`keep=None`): cut, they
would be read wrong without a word.
"""

from __future__ import annotations

import struct

STDOUT, STDERR = 1, 2
FRAME_HEADER = struct.Struct(">BxxxL")  # stream, 3 bytes of padding, payload length
KEEP = 2**20  # bytes kept of each end of an exec's stdout and of its stderr
CHUNK = 2**16  # a frame's payload is read in pieces this big (a frame may announce 4 GiB)


class _Ends:
    """The head and tail of one stream, and how many bytes between them were cut."""

    def __init__(self, keep: int | None) -> None:
        self.keep = keep
        self.head, self.tail, self.cut = bytearray(), bytearray(), 0

    def add(self, data: bytes) -> None:
        if self.keep is None:
            self.head += data
            return
        room = self.keep - len(self.head)
        self.head += data[:room]
        self.tail += data[room:]
        if len(self.tail) > self.keep:
            self.cut += len(self.tail) - self.keep
            del self.tail[: len(self.tail) - self.keep]

    def value(self) -> bytes:
        middle = f"\n[... {self.cut} bytes cut ...]\n".encode() if self.cut else b""
        return bytes(self.head) + middle + bytes(self.tail)


def exec_output(container, argv: list[str], *, environment: dict[str, str] | None = None,
                workdir: str | None = None, keep: int | None = KEEP) -> tuple[int, bytes, bytes]:
    """Run `argv` in the docker SDK's `container` (no tty, no stdin) until it ends: its exit
    code, stdout and stderr (each its first and last `keep` bytes; None: all of it)."""
    api = container.client.api
    exec_id = api.exec_create(container.id, argv, environment=environment, workdir=workdir)["Id"]
    raw = api.exec_start(exec_id, socket=True)
    api._disable_socket_timeout(raw)  # noqa: SLF001  (as the SDK's own exec_start does for a stream)
    response = raw._response  # noqa: SLF001  (the SDK keeps the response on the socket it returns)
    try:
        stdout, stderr = _read_frames(response.raw._fp.fp, keep)  # noqa: SLF001  (http.client's buffered reader)
    finally:
        response.close()
    return api.exec_inspect(exec_id)["ExitCode"], stdout, stderr


def _read_frames(reader, keep: int | None = KEEP) -> tuple[bytes, bytes]:
    """Docker's multiplexed stream until its end: each frame an 8-byte header, then its payload.
    A stream cut inside a frame is the connection to the engine lost (errors.engine_gone)."""
    out = {STDOUT: _Ends(keep), STDERR: _Ends(keep)}
    while header := reader.read(FRAME_HEADER.size):
        if len(header) < FRAME_HEADER.size:
            raise ConnectionError(f"the exec's output ended inside a frame header ({len(header)} of 8 bytes)")
        stream, size = FRAME_HEADER.unpack(header)
        left = size
        while left:
            payload = reader.read(min(left, CHUNK))
            if not payload:
                raise ConnectionError(f"the exec's output ended inside a frame ({size - left} of {size} bytes)")
            out.setdefault(stream, _Ends(keep)).add(payload)
            left -= len(payload)
    return out[STDOUT].value(), out[STDERR].value()
