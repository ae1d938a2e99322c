#!/usr/bin/env python3
"""A registry token service for the bearer-token tests (the Docker token authentication spec).

Usage: registry-token-server.py DIR USER PASSWORD
Writes DIR/cert.pem (the certificate the registry trusts), serves GET /token on a free port of
127.0.0.1, prints the port on its first output line, and grants every requested scope to
USER:PASSWORD (HTTP basic). Other credentials get 401. Tokens are ES256 JWTs with an x5c header.
"""
import base64, datetime, http.server, json, os, sys, time, urllib.parse
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from cryptography.x509.oid import NameOID

directory, user, password = sys.argv[1:4]
key = ec.generate_private_key(ec.SECP256R1())
name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "defpi-test-token")])
now = datetime.datetime.now(datetime.timezone.utc)
cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256()))
with open(os.path.join(directory, "cert.pem"), "wb") as f:
    f.write(cert.public_bytes(serialization.Encoding.PEM))
x5c = base64.b64encode(cert.public_bytes(serialization.Encoding.DER)).decode()

def b64(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

def token(service, scopes):
    access = []
    for scope in scopes:
        kind, _, rest = scope.partition(":")
        repository, _, actions = rest.rpartition(":")
        access.append({"type": kind, "name": repository, "actions": actions.split(",")})
    header = {"typ": "JWT", "alg": "ES256", "x5c": [x5c]}
    issued = int(time.time())
    claims = {"iss": "defpi-test-issuer", "sub": user, "aud": service, "iat": issued, "nbf": issued - 10,
              "exp": issued + 300, "jti": b64(os.urandom(12)), "access": access}
    signing_input = b64(json.dumps(header).encode()) + "." + b64(json.dumps(claims).encode())
    r, s = decode_dss_signature(key.sign(signing_input.encode(), ec.ECDSA(hashes.SHA256())))
    return signing_input + "." + b64(r.to_bytes(32, "big") + s.to_bytes(32, "big"))

class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        expected = "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()
        if self.headers.get("Authorization") != expected:
            self.send_response(401); self.end_headers(); return
        query = urllib.parse.parse_qs(urllib.parse.urlparse(self.path).query)
        body = json.dumps({"token": token(query.get("service", [""])[0], query.get("scope", []))}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass

server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
print(server.server_address[1], flush=True)
server.serve_forever()
