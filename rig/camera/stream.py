"""A live MJPEG stream over HTTP on loopback (``multipart/x-mixed-replace``): what an IP camera serves,
here the simulated camera's frames rendered as time passes, so the camera driver reads a stream URL."""

from __future__ import annotations

import http.server
import socketserver
import threading
import time
from collections.abc import Callable

import numpy as np

BOUNDARY = b"frame"


class _Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 - the http.server hook's name
        server: MjpegStream = self.server.stream  # type: ignore[attr-defined]
        if self.path.split("?")[0] != server.path:
            self.send_error(404, f"the stream is at {server.path}")
            return
        import cv2

        self.send_response(200)
        self.send_header("Content-Type", f"multipart/x-mixed-replace; boundary={BOUNDARY.decode()}")
        self.send_header("Cache-Control", "no-cache")
        self.end_headers()
        period = 1.0 / server.fps
        due = time.monotonic()
        try:
            while not server.stopping.is_set():
                frame = server.render(time.monotonic())
                ok, jpg = cv2.imencode(".jpg", frame, [cv2.IMWRITE_JPEG_QUALITY, server.quality])
                if not ok:
                    break
                data = jpg.tobytes()
                self.wfile.write(b"--" + BOUNDARY + b"\r\nContent-Type: image/jpeg\r\nContent-Length: "
                                 + str(len(data)).encode() + b"\r\n\r\n" + data + b"\r\n")
                self.wfile.flush()
                due = max(due + period, time.monotonic() - period)  # behind: skip frames, never a burst
                time.sleep(max(0.0, due - time.monotonic()))
        except (BrokenPipeError, ConnectionResetError):
            pass

    def log_message(self, *args: object) -> None:
        pass


class _Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True


class MjpegStream:
    """Serves ``render(host_time) -> BGR frame`` at ``fps`` on a free loopback port; a context manager."""

    def __init__(self, render: Callable[[float], np.ndarray], fps: float = 30.0, quality: int = 60,
                 host: str = "127.0.0.1", path: str = "/led.mjpg") -> None:
        self.render = render
        self.fps = fps
        self.quality = quality
        self.path = path
        self.stopping = threading.Event()
        self._server = _Server((host, 0), _Handler)
        self._server.stream = self  # type: ignore[attr-defined]
        self.host, self.port = self._server.server_address[:2]
        self._thread = threading.Thread(target=self._server.serve_forever, name="mjpeg stream", daemon=True)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}{self.path}"

    def start(self) -> MjpegStream:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.stopping.set()
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> MjpegStream:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
