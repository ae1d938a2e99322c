"""A daemon that answers only /_ping, for the Docker client's version negotiation tests.

docker-ping.py PORT [API_VERSION]: listens on 127.0.0.1:PORT; GET /_ping answers "OK" with an
Api-Version header of API_VERSION (none without it); anything else answers 404 with Docker's
JSON error. Prints "METHOD PATH" for every request, flushed at once.
"""
import http.server, json, sys

port = int(sys.argv[1])
version = sys.argv[2] if len(sys.argv) > 2 else None


class Daemon(http.server.BaseHTTPRequestHandler):
    def answer(self):
        print(f"{self.command} {self.path}", flush=True)
        if self.path == "/_ping":
            body = b"OK"
            self.send_response(200)
            if version:
                self.send_header("Api-Version", version)
            self.send_header("Content-Type", "text/plain")
        else:
            body = json.dumps({"message": "page not found"}).encode()
            self.send_response(404)
            self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    do_GET = do_HEAD = do_POST = answer

    def log_message(self, *arguments):
        pass


http.server.HTTPServer(("127.0.0.1", port), Daemon).serve_forever()
