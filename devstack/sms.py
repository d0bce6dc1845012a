"""A local Twilio-compatible SMS API (the Messages resource) for tests and
the local run: twilio's own client talks to it through a base-URL rewrite.

``POST /2010-04-01/Accounts/<sid>/Messages.json`` (form: To, From, Body,
HTTP basic auth with the account SID) answers 201 with a message resource
and keeps it in ``messages``. ``rules`` makes chosen numbers fail:
{"+34600000001": (400, 21211, "Invalid 'To' Phone Number")} or a 500/429.
"""

from __future__ import annotations

import base64
import json
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs

from devstack.procs import free_port


class SmsServer:
    def __init__(
        self,
        port: int | None = None,
        account_sid: str = "AC00000000000000000000000000000000",
        auth_token: str = "local-token",
    ):
        self.port = port or free_port()
        self.account_sid = account_sid
        self.auth_token = auth_token
        self.messages: list[dict] = []
        self.rules: dict = {}
        self.lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _answer(self, status: int, body: dict):
                raw = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

            def do_POST(self):
                expected = (
                    "Basic " + base64.b64encode(f"{server.account_sid}:{server.auth_token}".encode()).decode()
                )
                if self.headers.get("Authorization") != expected:
                    return self._answer(401, {"code": 20003, "message": "Authenticate", "status": 401})
                if self.path != f"/2010-04-01/Accounts/{server.account_sid}/Messages.json":
                    return self._answer(404, {"code": 20404, "message": "not found", "status": 404})
                length = int(self.headers.get("Content-Length") or 0)
                form = {k: v[0] for k, v in parse_qs(self.rfile.read(length).decode()).items()}
                rule = server.rules.get(form.get("To"))
                if rule:
                    status, code, message = rule
                    return self._answer(status, {"code": code, "message": message, "status": status})
                sid = "SM" + uuid.uuid4().hex
                resource = {
                    "sid": sid,
                    "account_sid": server.account_sid,
                    "to": form.get("To"),
                    "from": form.get("From"),
                    "body": form.get("Body"),
                    "status": "queued",
                    "num_segments": "1",
                    "direction": "outbound-api",
                    "api_version": "2010-04-01",
                    "uri": f"/2010-04-01/Accounts/{server.account_sid}/Messages/{sid}.json",
                }
                with server.lock:
                    server.messages.append(resource)
                return self._answer(201, resource)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> SmsServer:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


def main(argv=None) -> int:
    import argparse
    import signal

    parser = argparse.ArgumentParser(description="A local Twilio-compatible SMS API.")
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args(argv)
    server = SmsServer(args.port or None).start()
    print(f"sms api listening on {server.base_url}", flush=True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    stop.wait()
    server.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
