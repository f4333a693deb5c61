"""Test harness for berth's integration tests.

- Server: starts `berth serve` in a temporary data dir on 127.0.0.1:0, waits for the
  ready file and /healthz, stops it with SIGTERM (or kill -9), restarts it on the same
  data dir, runs `berth repo create`, and checks the log for sanitizer reports.
- Client: a tiny OCI distribution client over `requests` (each call returns the raw
  response; the helpers that do a whole push assert each step).
- RawConn: an HTTP/1.1 connection over a plain socket, for requests no well-behaved
  client sends (unnormalized paths, truncated bodies, slow headers, dropped connections).

/v2/ needs a login: on each start the harness gets a token with the root key from
DATA/credentials (GetAuthorizationToken through boto3) and then sends
`Authorization: Basic base64(AWS:TOKEN)` on every /v2/ request made through `requests`
(Client, and bare requests.get(...) in tests) and RawConn to that server; skopeo, podman
and buildah read it from REGISTRY_AUTH_FILE, which the harness points at its own
auth.json. A request that passes `headers={"Authorization": None}` goes out anonymous.

Only the Python standard library, `requests` and (for the login) boto3 are used.

Set BERTH_KEEP_TMP=1 to keep the temporary data dirs and server logs after a run.
"""

import hashlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.parse

import requests

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BERTH_BIN = os.environ.get("BERTH_BIN") or os.path.join(REPO_ROOT, "build", "asan", "berth")
KEEP_TMP = os.environ.get("BERTH_KEEP_TMP") == "1"
# Development aid: BERTH_REFERENCE=distribution runs the tests against CNCF distribution
# (Debian `docker-registry`) instead of berth, to check the tests themselves. Berth-only
# behaviour (NAME_UNKNOWN without create-on-push, referrers, ...) fails there by design.
REFERENCE = os.environ.get("BERTH_REFERENCE", "")

START_TIMEOUT = 120      # seconds for the ready file to appear (ASan builds start slower)
STOP_TIMEOUT = 120       # seconds for a graceful shutdown (LeakSanitizer runs at exit)

SANITIZER_MARKERS = (b"ERROR: AddressSanitizer", b"ERROR: LeakSanitizer", b"runtime error:",
                     b"WARNING: ThreadSanitizer", b"ERROR: UndefinedBehaviorSanitizer")

MT_OCTET = "application/octet-stream"

# ---------------------------------------------------------------------------------------
# /v2/ login

# "host:port" -> the Authorization header value of the server listening there.
AUTH = {}
# One containers-auth.json for every server of this process, inherited by skopeo, podman
# and buildah through the environment.
_AUTH_DIR = tempfile.mkdtemp(prefix="berth-it-auth-")
AUTH_FILE = os.path.join(_AUTH_DIR, "auth.json")
os.environ["REGISTRY_AUTH_FILE"] = AUTH_FILE


def root_keys(data_dir):
    """The root key: from the environment when berth took it from there, else DATA/credentials."""
    if os.environ.get("BERTH_ROOT_ACCESS_KEY_ID"):
        return os.environ["BERTH_ROOT_ACCESS_KEY_ID"], os.environ["BERTH_ROOT_SECRET_ACCESS_KEY"]
    with open(os.path.join(data_dir, "credentials")) as f:
        text = f.read()
    fields = dict(line.split(" = ", 1) for line in text.splitlines() if " = " in line)
    return fields["aws_access_key_id"], fields["aws_secret_access_key"]


def login_token(base_url, key_id, secret):
    """The /v2/ password (GetAuthorizationToken's token without its "AWS:" prefix)."""
    import base64
    import boto3
    import botocore.config
    ecr = boto3.client("ecr", endpoint_url=base_url, region_name="us-east-1", aws_access_key_id=key_id,
                       aws_secret_access_key=secret, config=botocore.config.Config(retries={"max_attempts": 1}))
    data = ecr.get_authorization_token()["authorizationData"][0]["authorizationToken"]
    user, _, password = base64.b64decode(data).decode().partition(":")
    assert user == "AWS", user
    return password


def basic_auth(password):
    import base64
    return "Basic " + base64.b64encode(f"AWS:{password}".encode()).decode()


def register_login(address, password):
    AUTH[address] = basic_auth(password)
    auths = {a: {"auth": h.split(" ", 1)[1]} for a, h in AUTH.items()}
    tmp = AUTH_FILE + ".tmp"
    with open(tmp, "w") as f:
        json.dump({"auths": auths}, f)
    os.replace(tmp, AUTH_FILE)


def auth_headers(server):
    return {"Authorization": AUTH[server.address]} if server.address in AUTH else {}


_session_request = requests.Session.request


def _request_with_login(self, method, url, *args, **kw):
    parts = urllib.parse.urlsplit(url)
    login = AUTH.get(parts.netloc)
    if login and (parts.path == "/v2" or parts.path.startswith("/v2/")):
        headers = dict(kw.get("headers") or {})
        if (not any(k.lower() == "authorization" for k in headers) and kw.get("auth") is None
                and "Authorization" not in self.headers):
            headers["Authorization"] = login
            kw["headers"] = headers
    return _session_request(self, method, url, *args, **kw)


requests.Session.request = _request_with_login


def serve_supports(option):
    """True when `berth serve --help` lists `option` (for optional tuning flags)."""
    try:
        out = subprocess.run([BERTH_BIN, "serve", "--help"], stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, timeout=30).stdout
    except (OSError, subprocess.TimeoutExpired):
        return False
    return option.encode() in out


def require_server_binary():
    """Fails (never skips) when BERTH_BIN is not a runnable berth server: a broken build
    must not pass as "nothing to test"."""
    if REFERENCE:
        return
    try:
        out = subprocess.run([BERTH_BIN, "serve", "--help"], stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, timeout=30).stdout
    except (OSError, subprocess.TimeoutExpired) as e:
        raise AssertionError(f"cannot run {BERTH_BIN}: {e}")
    if b"--ready-file" not in out:
        raise AssertionError(f"{BERTH_BIN} serve --help lacks --ready-file: not a berth server")


class ServerError(Exception):
    pass


class Server:
    """One `berth serve` process on a data dir that outlives restarts."""

    def __init__(self, create_on_push=False, extra_args=(), data_dir=None):
        self.tmp = tempfile.mkdtemp(prefix="berth-it-")
        self.data_dir = data_dir or os.path.join(self.tmp, "data")
        os.makedirs(self.data_dir, exist_ok=True)
        self.create_on_push = create_on_push
        self.extra_args = list(extra_args)
        self.proc = None
        self.term_sent = False
        self.host = None
        self.port = None
        self.starts = 0
        self.log_path = None
        self.sanitizer_reports = []
        self.exit_codes = []
        self.token = None  # the /v2/ password, got on the first start

    # -- lifecycle -------------------------------------------------------------------

    @property
    def address(self):
        return f"{self.host}:{self.port}"

    @property
    def base_url(self):
        return f"http://{self.host}:{self.port}"

    def start(self):
        if self.proc is not None and self.proc.poll() is None:
            raise ServerError("server already running")
        self.starts += 1
        self.term_sent = False
        if REFERENCE:
            return self._start_reference()
        ready = os.path.join(self.tmp, f"ready-{self.starts}")
        self.log_path = os.path.join(self.tmp, f"server-{self.starts}.log")
        args = [BERTH_BIN, "serve", "--data-dir", self.data_dir, "--listen", "127.0.0.1:0",
                "--ready-file", ready]
        if os.environ.get("BERTH_LOG_LEVEL"):
            args += ["--log-level", os.environ["BERTH_LOG_LEVEL"]]
        if self.create_on_push:
            args.append("--create-on-push")
        args += self.extra_args
        env = dict(os.environ)
        env.setdefault("ASAN_OPTIONS", "detect_leaks=1:abort_on_error=0")
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=log,
                                         stderr=subprocess.STDOUT, env=env, start_new_session=True)
        deadline = time.monotonic() + START_TIMEOUT
        # Readiness check: the ready file appears (written atomically by rename).
        while not os.path.exists(ready):
            if self.proc.poll() is not None:
                raise ServerError(f"berth serve exited with {self.proc.returncode} before it was "
                                  f"ready; args {args}\n{self.log_tail()}")
            if time.monotonic() > deadline:
                self.kill9()
                raise ServerError(f"berth serve not ready after {START_TIMEOUT}s\n{self.log_tail()}")
            time.sleep(0.02)
        with open(ready) as f:
            text = f.read()
        m = re.fullmatch(r"\s*([0-9.]+|\[[0-9a-fA-F:]+\]):([0-9]+)\s*", text)
        if not m:
            raise ServerError(f"ready file has {text!r}, expected HOST:PORT\\n")
        self.host, self.port = m.group(1), int(m.group(2))
        r = requests.get(self.base_url + "/healthz", timeout=30)
        if r.status_code != 200:
            raise ServerError(f"/healthz answered {r.status_code} after the ready file appeared")
        # Tokens outlive restarts (they are bound to the root key, not to the process).
        if self.token is None:
            self.token = login_token(self.base_url, *root_keys(self.data_dir))
        register_login(self.address, self.token)
        return self

    def _start_reference(self):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        cfg = os.path.join(self.tmp, "registry.yml")
        with open(cfg, "w") as f:
            f.write(f"version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n"
                    f"    rootdirectory: {self.data_dir}\n  delete:\n    enabled: true\n"
                    f"http:\n  addr: 127.0.0.1:{port}\n")
        self.log_path = os.path.join(self.tmp, f"server-{self.starts}.log")
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(["docker-registry", "serve", cfg], stdout=log,
                                         stderr=subprocess.STDOUT, start_new_session=True)
        self.host, self.port = "127.0.0.1", port
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            try:
                if requests.get(self.base_url + "/v2/", timeout=5).status_code == 200:
                    return self
            except requests.ConnectionError:
                pass
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise ServerError("reference registry did not start\n" + self.log_tail())
            time.sleep(0.02)

    def _collect_log(self):
        if self.log_path and os.path.exists(self.log_path):
            with open(self.log_path, "rb") as f:
                data = f.read()
            for marker in SANITIZER_MARKERS:
                i = data.find(marker)
                if i >= 0:
                    self.sanitizer_reports.append(data[max(0, i - 200):i + 4000].decode(errors="replace"))
                    break

    def stop(self):
        """SIGTERM and wait for a graceful exit; returns the exit code (None if it was not
        running). Falls back to kill -9 (and records it) when the server hangs."""
        if self.proc is None:
            return None
        if self.proc.poll() is None and not self.term_sent:
            self.proc.send_signal(signal.SIGTERM)
        return self.wait_exit()

    def terminate(self):
        """Send SIGTERM once (stop() and wait_exit() then only wait: a second SIGTERM may
        legitimately mean "stop now")."""
        self.term_sent = True
        self.proc.send_signal(signal.SIGTERM)

    def wait_exit(self, timeout=STOP_TIMEOUT):
        """Wait for a server that was already told to stop (no further signal: a second
        SIGTERM may legitimately mean "stop now"). Returns the exit code."""
        if self.proc is None:
            return None
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            self.exit_codes.append("hung on SIGTERM")
            self._collect_log()
            self.proc = None
            return "hung"
        rc = self.proc.returncode
        self.exit_codes.append(rc)
        self._collect_log()
        self.proc = None
        return rc

    def kill9(self):
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        self._collect_log()
        self.proc = None

    def restart(self, kill=False):
        if kill:
            self.kill9()
        else:
            rc = self.stop()
            if rc not in (0, None) and not REFERENCE:
                raise ServerError(f"berth serve exited with {rc} on SIGTERM\n{self.log_tail()}")
        return self.start()

    def close(self):
        """Stop the server (if running) and remove the temp dir. Returns a list of
        problems seen over the server's life (sanitizer reports, bad exit codes)."""
        try:
            self.stop()
        finally:
            if not KEEP_TMP:
                shutil.rmtree(self.tmp, ignore_errors=True)
            else:
                sys.stderr.write(f"\n[harness] kept {self.tmp}\n")
        problems = list(self.sanitizer_reports)
        for rc in self.exit_codes:
            if rc not in (0, None) and not REFERENCE:
                problems.append(f"berth serve exited with {rc} after SIGTERM")
        return problems

    def log_tail(self, n=60):
        if not self.log_path or not os.path.exists(self.log_path):
            return "(no log)"
        with open(self.log_path, "rb") as f:
            lines = f.read().decode(errors="replace").splitlines()
        return "--- server log tail ---\n" + "\n".join(lines[-n:])

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    # -- CLI -------------------------------------------------------------------------

    def repo_create(self, name, check=True):
        if REFERENCE:
            return subprocess.CompletedProcess([], 0, b"", b"")
        r = subprocess.run([BERTH_BIN, "repo", "create", name, "--data-dir", self.data_dir],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=120)
        if check and r.returncode != 0:
            raise ServerError(f"berth repo create {name} failed ({r.returncode}): "
                              f"{r.stdout.decode(errors='replace')} {r.stderr.decode(errors='replace')}")
        return r

    # -- data dir --------------------------------------------------------------------

    def blob_path(self, digest):
        alg, hexpart = digest.split(":", 1)
        return os.path.join(self.data_dir, "blobs", alg, hexpart[:2], hexpart)

    def blob_files(self):
        """{name: [paths]} for every file under DIR/blobs."""
        out = {}
        root = os.path.join(self.data_dir, "blobs")
        for dirpath, _, files in os.walk(root):
            for name in files:
                out.setdefault(name, []).append(os.path.join(dirpath, name))
        return out

    def verify_blob_store(self):
        """Every file stored under DIR/blobs/<alg>/<xx>/<hex> hashes to its name. Returns
        a list of problems (empty when consistent)."""
        problems = []
        root = os.path.join(self.data_dir, "blobs")
        for alg, length in (("sha256", 64), ("sha512", 128)):
            base = os.path.join(root, alg)
            if not os.path.isdir(base):
                continue
            for prefix in os.listdir(base):
                pdir = os.path.join(base, prefix)
                if not os.path.isdir(pdir):
                    continue
                for name in os.listdir(pdir):
                    if not re.fullmatch(f"[0-9a-f]{{{length}}}", name):
                        continue  # temp files are not content-addressed
                    h = hashlib.new(alg)
                    with open(os.path.join(pdir, name), "rb") as f:
                        for chunk in iter(lambda: f.read(1 << 20), b""):
                            h.update(chunk)
                    if h.hexdigest() != name or not name.startswith(prefix):
                        problems.append(f"{alg}/{prefix}/{name} holds content {h.hexdigest()}")
        return problems


# ---------------------------------------------------------------------------------------
# Test case base classes


class ServerTestCase(unittest.TestCase):
    """One server per test class (unique repository names per test keep tests apart).
    Subclasses set `create_on_push`. Sanitizer reports or an unclean exit fail the class."""

    create_on_push = False
    server_args = ()

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        require_server_binary()
        cls.server = Server(create_on_push=cls.create_on_push, extra_args=cls.server_args)
        cls.addClassCleanup(cls._close_server, cls.server)
        cls.server.start()
        cls.client = Client(cls.server.base_url)

    @classmethod
    def _close_server(cls, server):
        problems = server.close()
        if problems:
            raise AssertionError("server problems:\n" + "\n\n".join(problems))

    _counter = 0

    def repo(self, prefix="r", create=True):
        """A fresh repository name for this test, created with `berth repo create`."""
        ServerTestCase._counter += 1
        stem = re.sub(r"[^a-z0-9]+", "-", self._testMethodName.lower()).strip("-")[:60]
        name = f"{prefix}/{stem}-{ServerTestCase._counter}"
        if create:
            self.server.repo_create(name)
        return name


class FreshServerTestCase(unittest.TestCase):
    """A new server (and data dir) for every test, for tests that restart or kill it."""

    create_on_push = False
    server_args = ()

    def setUp(self):
        super().setUp()
        require_server_binary()
        self.server = Server(create_on_push=self.create_on_push, extra_args=self.server_args)
        self.addCleanup(self._close_server)
        self.server.start()
        self.client = Client(self.server.base_url)

    def _close_server(self):
        problems = self.server.close()
        if problems:
            raise AssertionError("server problems:\n" + "\n\n".join(problems))

    def restart(self, kill=False):
        self.server.restart(kill=kill)
        self.client = Client(self.server.base_url)


# ---------------------------------------------------------------------------------------
# OCI client over requests


def sha256_digest(data):
    return "sha256:" + hashlib.sha256(data).hexdigest()


def sha512_digest(data):
    return "sha512:" + hashlib.sha512(data).hexdigest()


def with_query(url, **params):
    """`url` with `params` added to its query (keeping what the registry put there)."""
    parts = urllib.parse.urlsplit(url)
    q = urllib.parse.parse_qsl(parts.query, keep_blank_values=True)
    q += [(k, v) for k, v in params.items() if v is not None]
    return urllib.parse.urlunsplit(parts._replace(query=urllib.parse.urlencode(q)))


def error_codes(resp):
    """The `code`s of an OCI error body ([] when the body is not one)."""
    try:
        body = resp.json() if hasattr(resp, "json") else json.loads(resp.body)
    except Exception:
        return []
    if not isinstance(body, dict) or not isinstance(body.get("errors"), list):
        return []
    return [e.get("code") for e in body["errors"] if isinstance(e, dict)]


def describe(resp):
    """A short text of a response, for assertion messages."""
    if isinstance(resp, RawResponse):
        return f"{resp.status} {resp.headers} {resp.body[:500]!r}"
    req = resp.request
    return (f"{req.method} {req.url} -> {resp.status_code} {dict(resp.headers)} "
            f"{resp.content[:500]!r}")


class Client:
    """A minimal OCI distribution client. Methods return `requests.Response`."""

    def __init__(self, base_url):
        self.base = base_url.rstrip("/")
        self.s = requests.Session()

    def url(self, path):
        """Absolute URL for a path or a (relative or absolute) Location."""
        return urllib.parse.urljoin(self.base + "/", path)

    def location_on_this_server(self, location):
        """A Location obtained from an earlier server process, re-pointed at this one
        (the port changes on restart; path and query are kept)."""
        parts = urllib.parse.urlsplit(location)
        path = parts.path + (("?" + parts.query) if parts.query else "")
        return self.url(path)

    def request(self, method, path, **kw):
        kw.setdefault("allow_redirects", False)
        kw.setdefault("timeout", 300)
        return self.s.request(method, self.url(path), **kw)

    # -- base ------------------------------------------------------------------------

    def v2(self):
        return self.request("GET", "/v2/")

    # -- blobs -----------------------------------------------------------------------

    def head_blob(self, repo, digest):
        return self.request("HEAD", f"/v2/{repo}/blobs/{digest}")

    def get_blob(self, repo, digest, headers=None, stream=False):
        return self.request("GET", f"/v2/{repo}/blobs/{digest}", headers=headers or {}, stream=stream)

    def delete_blob(self, repo, digest):
        return self.request("DELETE", f"/v2/{repo}/blobs/{digest}")

    def start_upload(self, repo, data=None, headers=None, **params):
        h = {"Content-Length": "0"} if data is None else {"Content-Type": MT_OCTET}
        h.update(headers or {})
        path = f"/v2/{repo}/blobs/uploads/"
        if params:
            path += "?" + urllib.parse.urlencode(params)
        return self.request("POST", path, data=data if data is not None else b"", headers=h)

    def patch(self, location, data, content_range=None, headers=None):
        h = {"Content-Type": MT_OCTET}
        if content_range is not None:
            h["Content-Range"] = content_range
        h.update(headers or {})
        return self.request("PATCH", location, data=data, headers=h)

    def put_upload(self, location, digest, data=b"", headers=None):
        h = {"Content-Type": MT_OCTET}
        h.update(headers or {})
        return self.request("PUT", with_query(self.url(location), digest=digest), data=data, headers=h)

    def upload_status(self, location):
        return self.request("GET", location)

    def cancel_upload(self, location):
        return self.request("DELETE", location)

    def push_blob(self, repo, data, digest=None):
        """Monolithic POST + PUT. Returns the digest; raises AssertionError on failure."""
        digest = digest or sha256_digest(data)
        r = self.start_upload(repo)
        if r.status_code != 202:
            raise AssertionError("POST upload: " + describe(r))
        r = self.put_upload(r.headers["Location"], digest, data)
        if r.status_code != 201:
            raise AssertionError("PUT upload: " + describe(r))
        return digest

    def push_blob_chunked(self, repo, data, chunk_size):
        digest = sha256_digest(data)
        r = self.start_upload(repo)
        if r.status_code != 202:
            raise AssertionError("POST upload: " + describe(r))
        loc = r.headers["Location"]
        for off in range(0, len(data), chunk_size):
            part = data[off:off + chunk_size]
            r = self.patch(loc, part, f"{off}-{off + len(part) - 1}")
            if r.status_code != 202:
                raise AssertionError("PATCH: " + describe(r))
            loc = r.headers["Location"]
        r = self.put_upload(loc, digest)
        if r.status_code != 201:
            raise AssertionError("PUT upload: " + describe(r))
        return digest

    # -- manifests -------------------------------------------------------------------

    def put_manifest(self, repo, reference, body, media_type, headers=None):
        h = {"Content-Type": media_type}
        h.update(headers or {})
        return self.request("PUT", f"/v2/{repo}/manifests/{reference}", data=body, headers=h)

    def get_manifest(self, repo, reference, accept=None, method="GET"):
        headers = {}
        if accept is not None:
            headers["Accept"] = accept if isinstance(accept, str) else ", ".join(accept)
        return self.request(method, f"/v2/{repo}/manifests/{reference}", headers=headers)

    def head_manifest(self, repo, reference, accept=None):
        return self.get_manifest(repo, reference, accept, method="HEAD")

    def delete_manifest(self, repo, reference):
        return self.request("DELETE", f"/v2/{repo}/manifests/{reference}")

    def push_manifest_tree(self, repo, manifest, reference=None):
        """Push every blob and child manifest of an ocilayout.Manifest, then the manifest
        itself by `reference` (its digest when None). Returns the final response."""
        for blob in manifest.all_blobs():
            if self.head_blob(repo, blob.digest).status_code != 200:
                self.push_blob(repo, blob.data, blob.digest)
        for m in manifest.all_manifests()[:-1]:
            r = self.put_manifest(repo, m.digest, m.body, m.media_type)
            if r.status_code != 201:
                raise AssertionError("PUT child manifest: " + describe(r))
        r = self.put_manifest(repo, reference or manifest.digest, manifest.body, manifest.media_type)
        if r.status_code != 201:
            raise AssertionError("PUT manifest: " + describe(r))
        return r

    # -- discovery -------------------------------------------------------------------

    def tags(self, repo, **params):
        path = f"/v2/{repo}/tags/list"
        if params:
            path += "?" + urllib.parse.urlencode(params)
        return self.request("GET", path)

    def catalog(self, **params):
        path = "/v2/_catalog"
        if params:
            path += "?" + urllib.parse.urlencode(params)
        return self.request("GET", path)

    def referrers(self, repo, digest, artifact_type=None):
        path = f"/v2/{repo}/referrers/{digest}"
        if artifact_type is not None:
            path += "?" + urllib.parse.urlencode({"artifactType": artifact_type})
        return self.request("GET", path)


def next_link(resp):
    """The target of a `Link: <...>; rel="next"` header, or None."""
    link = resp.headers.get("Link")
    if not link:
        return None
    m = re.search(r'<([^>]*)>\s*;\s*rel="?next"?', link)
    return m.group(1) if m else None


def parse_range(value):
    """'0-1023' -> (0, 1023). Raises ValueError otherwise."""
    m = re.fullmatch(r"(?:bytes=)?(\d+)-(\d+)", (value or "").strip())
    if not m:
        raise ValueError(f"bad Range header {value!r}")
    return int(m.group(1)), int(m.group(2))


# ---------------------------------------------------------------------------------------
# Raw HTTP over sockets


class RawResponse:
    def __init__(self, status, reason, headers, body, raw_head):
        self.status = status
        self.status_code = status
        self.reason = reason
        self.headers_list = headers
        self.headers = {}
        for k, v in headers:
            self.headers.setdefault(k.lower(), v)
        self.body = body
        self.content = body
        self.raw_head = raw_head

    def header(self, name):
        return self.headers.get(name.lower())

    def json(self):
        return json.loads(self.body)

    def __repr__(self):
        return f"<RawResponse {self.status} {self.headers} {self.body[:300]!r}>"


class ConnectionClosed(Exception):
    pass


class RawConn:
    """One HTTP/1.1 connection over a plain socket."""

    def __init__(self, host, port, timeout=60):
        self.host, self.port = host, port
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.buf = b""

    def send(self, data):
        self.sock.sendall(data)

    def auth_line(self):
        """The login header line, for requests written out by hand ("" if none)."""
        auth = AUTH.get(f"{self.host}:{self.port}")
        return f"Authorization: {auth}\r\n" if auth else ""

    def send_request_head(self, method, target, headers=(), login=True):
        lines = [f"{method} {target} HTTP/1.1", f"Host: {self.host}:{self.port}"]
        items = list(headers.items() if isinstance(headers, dict) else headers)
        auth = AUTH.get(f"{self.host}:{self.port}")
        if login and auth and not any(k.lower() == "authorization" for k, _ in items):
            lines.append(f"Authorization: {auth}")
        for k, v in items:
            lines.append(f"{k}: {v}")
        self.send(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))

    def request(self, method, target, headers=None, body=b""):
        h = list((headers or {}).items()) if isinstance(headers or {}, dict) else list(headers)
        if (body or method in ("POST", "PUT", "PATCH")) and not any(
                k.lower() in ("content-length", "transfer-encoding") for k, _ in h):
            h.append(("Content-Length", str(len(body))))
        self.send_request_head(method, target, h)
        if body:
            self.send(body)
        return self.read_response(head_only=(method == "HEAD"))

    def _recv(self):
        data = self.sock.recv(65536)
        if not data:
            raise ConnectionClosed("connection closed by server")
        self.buf += data

    def read_response(self, head_only=False):
        while b"\r\n\r\n" not in self.buf:
            self._recv()
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        lines = head.decode("latin-1").split("\r\n")
        m = re.match(r"HTTP/1\.[01] (\d{3}) ?(.*)", lines[0])
        if not m:
            raise ValueError(f"bad status line {lines[0]!r}")
        status = int(m.group(1))
        headers = []
        for line in lines[1:]:
            k, _, v = line.partition(":")
            headers.append((k.strip(), v.strip()))
        hd = {k.lower(): v for k, v in headers}
        body = b""
        if head_only or status in (204, 304) or 100 <= status < 200:
            pass
        elif "chunked" in hd.get("transfer-encoding", "").lower():
            while True:
                while b"\r\n" not in self.buf:
                    self._recv()
                size_line, self.buf = self.buf.split(b"\r\n", 1)
                size = int(size_line.split(b";")[0], 16)
                while len(self.buf) < size + 2:
                    self._recv()
                body += self.buf[:size]
                self.buf = self.buf[size + 2:]
                if size == 0:
                    break
        elif "content-length" in hd:
            n = int(hd["content-length"])
            while len(self.buf) < n:
                self._recv()
            body, self.buf = self.buf[:n], self.buf[n:]
        else:
            try:
                while True:
                    self._recv()
            except ConnectionClosed:
                pass
            body, self.buf = self.buf, b""
        return RawResponse(status, m.group(2), headers, body, head)

    def wait_closed(self, timeout=60):
        """Read (and drop) until the server closes the connection. Returns the bytes
        the server sent meanwhile. Raises socket.timeout if it stays open."""
        self.sock.settimeout(timeout)
        got = self.buf
        self.buf = b""
        while True:
            try:
                data = self.sock.recv(65536)
            except ConnectionResetError:
                return got
            if not data:
                return got
            got += data

    def half_close(self):
        try:
            self.sock.shutdown(socket.SHUT_WR)
        except OSError:  # the server already closed (or reset) the connection
            pass

    def reset(self):
        """Close with RST (SO_LINGER 0): an abrupt disconnect."""
        import struct
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.sock.close()

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def raw(server, method, target, headers=None, body=b"", timeout=60):
    """One request on a fresh connection; `target` is sent exactly as given."""
    with RawConn(server.host, server.port, timeout=timeout) as c:
        return c.request(method, target, headers=headers, body=body)


# ---------------------------------------------------------------------------------------
# External tools


def run(args, timeout=600, check=True, env=None, input=None):
    """Run a command; on failure raise AssertionError with its output."""
    r = subprocess.run(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=timeout,
                       env=env, input=input)
    if check and r.returncode != 0:
        raise AssertionError(f"command failed ({r.returncode}): {' '.join(args)}\n"
                             f"stdout: {r.stdout.decode(errors='replace')[-3000:]}\n"
                             f"stderr: {r.stderr.decode(errors='replace')[-3000:]}")
    return r
