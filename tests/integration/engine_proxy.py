"""A Docker engine reached over TCP: the local engine's unix socket behind a proxy on a
loopback address, for tests of DOCKER_HOST=tcp://... (an engine that goes away, an engine
whose ports are published elsewhere than 127.0.0.1)."""

from __future__ import annotations

import socket
import threading


class EngineProxy:
    """The Docker engine's socket, reached over TCP on `address` (a loopback address: the
    engine takes any request from whoever connects) through this proxy, byte for byte, until
    `close` stops listening and cuts every connection: the engine goes away."""

    def __init__(self, address: str = "127.0.0.1", engine: str = "/var/run/docker.sock") -> None:
        self.engine = engine
        self.listener = socket.create_server((address, 0))
        self.address, self.port = self.listener.getsockname()[:2]
        self.docker_host = f"tcp://{self.address}:{self.port}"  # for DOCKER_HOST
        self.connections: list[socket.socket] = []
        self.lock = threading.Lock()
        self.closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return  # closed
            engine = socket.socket(socket.AF_UNIX)
            engine.connect(self.engine)
            with self.lock:
                self.connections += [client, engine]
                if self.closed:
                    break
            for source, target in ((client, engine), (engine, client)):
                threading.Thread(target=self._pump, args=(source, target), daemon=True).start()
        self._cut()

    @staticmethod
    def _pump(source: socket.socket, target: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                target.sendall(data)
            target.shutdown(socket.SHUT_WR)
        except OSError:
            pass

    def _cut(self) -> None:
        with self.lock:
            connections = list(self.connections)
        for connection in connections:
            try:
                connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            connection.close()

    def close(self) -> None:
        with self.lock:
            self.closed = True
        try:
            self.listener.shutdown(socket.SHUT_RDWR)  # wakes the accept
        except OSError:
            pass
        self.listener.close()
        self._cut()
