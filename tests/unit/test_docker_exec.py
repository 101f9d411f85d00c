"""Docker's multiplexed exec output, read from the reader that holds it (lab/docker_exec.py)."""

from __future__ import annotations

import io
import struct

import pytest

from maillab.lab.docker_exec import KEEP, _read_frames


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


@pytest.mark.parametrize("sizes", [[3 * KEEP], [KEEP - 1, 2, KEEP, 5], [1000] * (3 * KEEP // 1000)])
def test_of_endless_output_the_head_and_the_tail_are_kept_and_the_cut_is_said(sizes):
    data = bytes(range(256)) * (sum(sizes) // 256 + 1)
    frames, position = b"", 0
    for size in sizes:
        frames += frame(1, data[position:position + size])
        position += size
    stdout, stderr = _read_frames(reader(frames + frame(2, b"err")))
    cut = position - 2 * KEEP
    assert stdout == data[:KEEP] + f"\n[... {cut} bytes cut ...]\n".encode() + data[position - KEEP:position]
    assert stderr == b"err"


def test_output_of_exactly_both_ends_is_not_cut():
    assert _read_frames(reader(frame(1, b"x" * 2 * KEEP)))[0] == b"x" * 2 * KEEP


def test_the_labs_own_reads_keep_all_of_it():
    assert _read_frames(reader(frame(1, b"x" * 3 * KEEP)), keep=None)[0] == b"x" * 3 * KEEP
