"""Docker's multiplexed exec output, read from the reader that holds it (lab/docker_exec.py)."""

from __future__ import annotations

import io
import struct

import pytest

from maillab.lab.docker_exec import _read_frames


def frame(stream: int, payload: bytes) -> bytes:
    return struct.pack(">BxxxL", stream, len(payload)) + payload


def reader(data: bytes) -> io.BufferedReader:
    return io.BufferedReader(io.BytesIO(data), buffer_size=16)  # frames cross its buffer's edges


def test_stdout_and_stderr_come_apart_in_order():
    data = frame(1, b"one ") + frame(2, b"warn\n") + frame(1, b"two\n") + frame(1, b"") + frame(1, b"x" * 100_000)
    assert _read_frames(reader(data)) == (b"one two\n" + b"x" * 100_000, b"warn\n")


def test_no_output_is_empty_bytes():
    assert _read_frames(reader(b"")) == (b"", b"")


@pytest.mark.parametrize("cut", [3, 8 + 2])  # inside the header, inside the payload
def test_a_stream_cut_inside_a_frame_is_a_lost_connection(cut):
    with pytest.raises(ConnectionError):
        _read_frames(reader(frame(1, b"hello")[:cut]))
