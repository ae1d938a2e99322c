"""Two small HTTP servers for the credential-leak tests of the registry client.

registry PORT OTHER AUTH: a registry on 127.0.0.1 that wants basic auth alice:secret (AUTH=basic)
  or a bearer token from OTHER/token (AUTH=bearer), and pages its catalog to OTHER.
other PORT: another host; prints the Authorization header of every request it gets ("none"),
  serves the catalog's second page and tokens.
"""
import base64, http.server, json, sys

mode, port = sys.argv[1], int(sys.argv[2])


def reply(handler, value, headers=()):
    """Answers 200 with `value` as JSON, after `headers`."""
    body = json.dumps(value).encode()
    handler.send_response(200)
    for name, text in headers:
        handler.send_header(name, text)
    handler.send_header("Content-Type", "application/json")
    handler.send_header("Content-Length", str(len(body)))
    handler.end_headers()
    handler.wfile.write(body)


class Registry(http.server.BaseHTTPRequestHandler):
    other, auth = sys.argv[3] if len(sys.argv) > 3 else "", sys.argv[4] if len(sys.argv) > 4 else "basic"

    def authorized(self):
        given = self.headers.get("Authorization", "")
        if self.auth == "basic":
            return given == "Basic " + base64.b64encode(b"alice:secret").decode()
        return given == "Bearer tok"

    def do_GET(self):
        if not self.authorized():
            challenge = 'Basic realm="registry"' if self.auth == "basic" else \
                f'Bearer realm="{self.other}/token",service="registry"'
            self.send_response(401)
            self.send_header("WWW-Authenticate", challenge)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        if self.path.startswith("/v2/_catalog"):
            reply(self, {"repositories": ["services/a"]},
                  [("Link", f'<{self.other}/v2/_catalog?last=services/a>; rel="next"')])
        else:
            reply(self, {})

    def log_message(self, *args):
        pass


class Other(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        print(self.path.split("?")[0], self.headers.get("Authorization", "none"), flush=True)
        reply(self, {"token": "tok"} if self.path.startswith("/token") else {"repositories": ["services/b"]})

    def log_message(self, *args):
        pass


host = "127.0.0.1" if mode == "registry" else "127.0.0.2"
http.server.HTTPServer((host, port), Registry if mode == "registry" else Other).serve_forever()
