"""A proxy in front of the test bed's registry that tells what the registry really received.

registry-proxy.py PORT UPSTREAM [CUT]: listens on 127.0.0.1:PORT and forwards every request to
UPSTREAM (http://host:port), rewriting Location headers back to itself. Prints "METHOD PATH" for
each request it forwards, flushed at once. With CUT, every request whose path contains CUT is
cut off instead, printed "CUT METHOD PATH": the connection closes without an answer, as a
registry whose storage for one repository has gone, while the rest still answers.
"""
import http.client, http.server, sys, urllib.parse

port, upstream = int(sys.argv[1]), urllib.parse.urlsplit(sys.argv[2])
cut = sys.argv[3] if len(sys.argv) > 3 else None


class Proxy(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def forward(self):
        if cut is not None and cut in self.path:
            print(f"CUT {self.command} {self.path}", flush=True)
            self.close_connection = True
            self.connection.close()
            return
        print(f"{self.command} {self.path}", flush=True)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else None
        headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "connection")}
        connection = http.client.HTTPConnection(upstream.hostname, upstream.port, timeout=30)
        connection.request(self.command, self.path, body=body, headers=headers)
        answer = connection.getresponse()
        data = answer.read()
        self.send_response(answer.status)
        origin = f"{upstream.scheme}://{upstream.netloc}"
        for name, value in answer.getheaders():
            if name.lower() in ("content-length", "transfer-encoding", "connection"):
                continue
            if name.lower() == "location":
                value = value.replace(origin, f"http://127.0.0.1:{port}")
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    do_GET = do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = forward

    def log_message(self, *arguments):
        pass


http.server.ThreadingHTTPServer(("127.0.0.1", port), Proxy).serve_forever()
