"""`docker exec` with all of its output, on a remote engine too.

The docker SDK reads an exec's output from the raw socket under http.client's buffered
reader, so whatever that reader took in with the response's headers is lost: on an engine
over TCP or ssh the first frames often come in the same read, and a command's output went
missing (exit 0, no stdout) in about one exec in fifty here (docker/docker-py#3332). Reading
the frames from the buffered reader itself keeps them.

The socket's read timeout is the client's (60 s by default): a migration that prints nothing for
longer would end in TimeoutError. The SDK turns it off for its own exec streams, and so does
this; how long an exec may take is the caller's timeout (LabContainer.run).
"""

from __future__ import annotations

import struct

STDOUT, STDERR = 1, 2
FRAME_HEADER = struct.Struct(">BxxxL")  # stream, 3 bytes of padding, payload length


def exec_output(container, argv: list[str], *, environment: dict[str, str] | None = None,
                workdir: str | None = None) -> tuple[int, bytes, bytes]:
    """Run `argv` in the docker SDK's `container` (no tty, no stdin) until it ends: its exit
    code, stdout and stderr."""
    api = container.client.api
    exec_id = api.exec_create(container.id, argv, environment=environment, workdir=workdir)["Id"]
    raw = api.exec_start(exec_id, socket=True)
    api._disable_socket_timeout(raw)  # noqa: SLF001  (as the SDK's own exec_start does for a stream)
    response = raw._response  # noqa: SLF001  (the SDK keeps the response on the socket it returns)
    try:
        stdout, stderr = _read_frames(response.raw._fp.fp)  # noqa: SLF001  (http.client's buffered reader)
    finally:
        response.close()
    return api.exec_inspect(exec_id)["ExitCode"], stdout, stderr


def _read_frames(reader) -> tuple[bytes, bytes]:
    """Docker's multiplexed stream until its end: each frame an 8-byte header, then its payload.
    A stream cut inside a frame is the connection to the engine lost (errors.engine_gone)."""
    out: dict[int, list[bytes]] = {STDOUT: [], STDERR: []}
    while header := reader.read(FRAME_HEADER.size):
        if len(header) < FRAME_HEADER.size:
            raise ConnectionError(f"the exec's output ended inside a frame header ({len(header)} of 8 bytes)")
        stream, size = FRAME_HEADER.unpack(header)
        payload = reader.read(size)
        if len(payload) < size:
            raise ConnectionError(f"the exec's output ended inside a frame ({len(payload)} of {size} bytes)")
        out.setdefault(stream, []).append(payload)
    return b"".join(out[STDOUT]), b"".join(out[STDERR])
