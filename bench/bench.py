#!/usr/bin/env python3
"""berth side-by-side benchmark driver (python3 stdlib only).

bench/run.sh starts the servers and then calls `bench.py measure`; the other
subcommands are useful on their own:

  bench.py measure  --work DIR --out DIR   run every section, write latest.md/.json
  bench.py report   RESULTS.json           print the Markdown table again
  bench.py gen-oci  DIR [--layers N --layer-kib K --seed S --tag T]
  bench.py parse-wrk FILE | parse-hload FILE | parse-ab FILE CSV

Servers are described by environment variables set by run.sh:
  BENCH_<NAME>_STATUS  ok | n/a        BENCH_<NAME>_REASON  why n/a
  BENCH_<NAME>_URL     http://H:P      BENCH_<NAME>_PID     server pid
for NAME in BERTH, DISTRIBUTION, NGINX, plus BENCH_NGINX_STATIC (nginx root for
the small static files). BERTH_AUTH=user:password adds HTTP Basic auth to every
request sent to berth (never to the peers).
"""
import argparse
import base64
import copy
import datetime
import gzip
import hashlib
import http.client
import io
import json
import os
import platform
import random
import re
import shutil
import statistics
import subprocess
import sys
import tarfile
import time
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
SERVERS = ("berth", "distribution", "nginx")
REGISTRIES = ("berth", "distribution")
MB = 1_000_000
MIB = 1 << 20
OCTET = "application/octet-stream"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER_GZ = "application/vnd.oci.image.layer.v1.tar+gzip"
MANIFEST_ACCEPT = ", ".join([
    OCI_MANIFEST,
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.v2+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
])

T0 = time.monotonic()


def log(msg):
    print(f"[bench {time.monotonic() - T0:7.1f}s] {msg}", file=sys.stderr, flush=True)


class BenchError(Exception):
    pass


# --------------------------------------------------------------------------- params

def env_num(name, default, cast=int):
    v = os.environ.get(name, "").strip()
    if not v:
        return default
    try:
        return cast(v)
    except ValueError:
        raise SystemExit(f"bench: {name}={v!r} is not a number")


class Params:
    def __init__(self):
        q = os.environ.get("BENCH_QUICK", "") not in ("", "0")
        self.quick = q
        self.blob_mib = env_num("BENCH_BLOB_MB", 32 if q else 256)
        self.chunk_mib = env_num("BENCH_CHUNK_MB", 8 if q else 16)
        self.push_reps = env_num("BENCH_PUSH_REPS", 1 if q else 5)
        self.pull_reps = env_num("BENCH_PULL_REPS", 2 if q else 5)
        self.pull_par_reps = env_num("BENCH_PULL_PAR_REPS", 1 if q else 3)
        self.streams = env_num("BENCH_PULL_STREAMS", 8)
        self.wrk_duration = env_num("BENCH_WRK_DURATION", 2 if q else 4)   # seconds per round
        self.wrk_rounds = env_num("BENCH_WRK_ROUNDS", 1 if q else 3)
        self.wrk_warmup = env_num("BENCH_WRK_WARMUP", 0 if q else 1)
        self.wrk_conn = env_num("BENCH_WRK_CONN", 64)
        self.wrk_threads = env_num("BENCH_WRK_THREADS", 2)
        self.layers = env_num("BENCH_LAYERS", 20)
        self.layer_kib = env_num("BENCH_LAYER_KB", 64 if q else 1024)
        self.skopeo_reps = env_num("BENCH_SKOPEO_REPS", 1 if q else 3)
        self.tags = env_num("BENCH_TAGS", 20)
        self.sections = (os.environ.get("BENCH_SECTIONS", "").split()
                         or ["push", "pull", "small", "auth", "skopeo"])
        for s in self.sections:
            if s not in ("push", "pull", "small", "auth", "skopeo"):
                raise SystemExit(f"bench: unknown section {s!r} in BENCH_SECTIONS "
                                 "(push pull small auth skopeo)")

    def as_dict(self):
        return dict(self.__dict__)


# --------------------------------------------------------------------------- servers

class Server:
    def __init__(self, name):
        p = "BENCH_" + name.upper() + "_"
        self.name = name
        self.status = os.environ.get(p + "STATUS", "n/a")
        self.reason = os.environ.get(p + "REASON", "not started")
        self.url = os.environ.get(p + "URL", "").rstrip("/")
        self.pid = int(os.environ.get(p + "PID", "0") or 0)
        self.auth = None
        if name == "berth" and os.environ.get("BERTH_AUTH"):
            self.auth = os.environ["BERTH_AUTH"]
        self.failed = None          # set when the server dies mid-run

    @property
    def ok(self):
        return self.status == "ok" and self.failed is None

    @property
    def hostport(self):
        return urllib.parse.urlsplit(self.url).netloc

    def auth_header(self):
        if not self.auth:
            return None
        return "Basic " + base64.b64encode(self.auth.encode()).decode()

    def curl_auth(self):
        h = self.auth_header()
        return ["-H", "Authorization: " + h] if h else []

    def alive(self):
        if not self.pid:
            return True
        try:
            os.kill(self.pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        # a zombie is not alive
        try:
            with open(f"/proc/{self.pid}/stat") as f:
                return f.read().rsplit(")", 1)[1].split()[0] != "Z"
        except OSError:
            return False

    def client(self, timeout=120):
        return Client(self.url, self.auth_header(), timeout)


class Client:
    """A keep-alive HTTP/1.1 client; request bodies from files go out with sendfile(2)."""

    def __init__(self, base, auth_header=None, timeout=120):
        u = urllib.parse.urlsplit(base)
        self.base = base
        self.host, self.port = u.hostname, u.port or 80
        self.auth = auth_header
        self.timeout = timeout
        self.conn = None

    def close(self):
        if self.conn is not None:
            self.conn.close()
            self.conn = None

    def target(self, url_or_path):
        u = urllib.parse.urlsplit(urllib.parse.urljoin(self.base + "/", url_or_path))
        return u.path + ("?" + u.query if u.query else "")

    def request(self, method, url, headers=None, body=b"", file=None, offset=0, length=0):
        path = self.target(url)
        if self.conn is None:
            self.conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
        conn = self.conn
        try:
            conn.putrequest(method, path, skip_accept_encoding=True)
            for k, v in (headers or {}).items():
                conn.putheader(k, v)
            if self.auth:
                conn.putheader("Authorization", self.auth)
            if file is not None:
                conn.putheader("Content-Length", str(length))
                conn.endheaders()
                try:
                    sent = conn.sock.sendfile(file, offset, length) if length else 0
                    if sent != length:
                        raise BenchError(f"{method} {path}: sent {sent} of {length} bytes")
                except OSError as e:  # the server may have answered early and closed
                    try:
                        resp = conn.getresponse()
                        data = resp.read()
                    except Exception:
                        raise BenchError(f"{method} {path}: connection lost while sending "
                                         f"the body: {e}") from None
                    self.close()
                    return resp.status, resp.headers, data
            else:
                if body or method in ("POST", "PUT", "PATCH"):
                    conn.putheader("Content-Length", str(len(body)))
                conn.endheaders(body if body else None)
            resp = conn.getresponse()
            data = resp.read()
            if resp.will_close:
                self.close()
            return resp.status, resp.headers, data
        except (OSError, http.client.HTTPException) as e:
            self.close()
            raise BenchError(f"{method} {path}: {type(e).__name__}: {e}") from None


def expect(status, want, what, body=b""):
    if status != want:
        raise BenchError(f"{what}: HTTP {status} (wanted {want}): "
                         f"{body[:300].decode('utf-8', 'replace').strip()}")


def with_query(url, **q):
    return url + ("&" if "?" in url else "?") + urllib.parse.urlencode(q, safe=":")


# --------------------------------------------------------------------------- content

def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while True:
            b = f.read(8 * MIB)
            if not b:
                break
            h.update(b)
    return "sha256:" + h.hexdigest()


def random_file(path, nbytes):
    with open(path, "wb") as f:
        left = nbytes
        while left:
            n = min(left, 8 * MIB)
            f.write(os.urandom(n))
            left -= n
    return sha256_file(path)


def canon(obj):
    return json.dumps(obj, sort_keys=True, separators=(",", ":")).encode()


def digest_of(data):
    return "sha256:" + hashlib.sha256(data).hexdigest()


def make_layer(rng, name, nbytes):
    """A deterministic tar.gz layer with one file of incompressible bytes.
    Returns (gzip blob, diff_id)."""
    data = rng.randbytes(nbytes)
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tf:
        d = tarfile.TarInfo(name)
        d.type, d.mode, d.mtime = tarfile.DIRTYPE, 0o755, 0
        tf.addfile(d)
        fi = tarfile.TarInfo(name + "/data.bin")
        fi.size, fi.mode, fi.mtime = len(data), 0o644, 0
        tf.addfile(fi, io.BytesIO(data))
    raw = raw.getvalue()
    gz = io.BytesIO()
    with gzip.GzipFile(filename="", fileobj=gz, mode="wb", mtime=0, compresslevel=1) as g:
        g.write(raw)
    return gz.getvalue(), digest_of(raw)


def make_image(rng, layers, layer_bytes, label):
    """Returns (config bytes, [(layer blob)], manifest bytes)."""
    blobs, diff_ids = [], []
    for i in range(layers):
        blob, diff_id = make_layer(rng, f"{label}-layer{i:02d}", layer_bytes)
        blobs.append(blob)
        diff_ids.append(diff_id)
    config = canon({
        "architecture": "amd64", "os": "linux", "created": "1970-01-01T00:00:00Z",
        "config": {"Cmd": ["/bin/true"], "Labels": {"bench": label}},
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
        "history": [{"created": "1970-01-01T00:00:00Z", "created_by": f"bench layer {i}"}
                    for i in range(layers)],
    })
    manifest = canon({
        "schemaVersion": 2, "mediaType": OCI_MANIFEST,
        "config": {"mediaType": OCI_CONFIG, "digest": digest_of(config), "size": len(config)},
        "layers": [{"mediaType": OCI_LAYER_GZ, "digest": digest_of(b), "size": len(b)}
                   for b in blobs],
    })
    return config, blobs, manifest


def gen_oci(dest, layers, layer_kib, seed, tag):
    """Writes an OCI image layout; returns the manifest digest."""
    rng = random.Random(seed)
    config, blobs, manifest = make_image(rng, layers, layer_kib * 1024, f"img{seed}")
    bdir = os.path.join(dest, "blobs", "sha256")
    os.makedirs(bdir, exist_ok=True)
    for b in [config, manifest, *blobs]:
        with open(os.path.join(bdir, digest_of(b).split(":", 1)[1]), "wb") as f:
            f.write(b)
    with open(os.path.join(dest, "oci-layout"), "wb") as f:
        f.write(canon({"imageLayoutVersion": "1.0.0"}))
    with open(os.path.join(dest, "index.json"), "wb") as f:
        f.write(canon({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
                       "manifests": [{"mediaType": OCI_MANIFEST, "digest": digest_of(manifest),
                                      "size": len(manifest),
                                      "annotations": {"org.opencontainers.image.ref.name": tag}}]}))
    return digest_of(manifest)


# --------------------------------------------------------------------------- registry ops

def push_blob(cl, repo, path, digest, size, mode, chunk):
    """Times one blob upload (POST .. PUT ?digest=). Returns seconds."""
    t0 = time.perf_counter()
    st, h, b = cl.request("POST", f"/v2/{repo}/blobs/uploads/")
    expect(st, 202, f"POST /v2/{repo}/blobs/uploads/", b)
    loc = h.get("Location")
    if not loc:
        raise BenchError("POST upload: no Location header")
    with open(path, "rb") as f:
        if mode == "mono":
            st, h, b = cl.request("PUT", with_query(loc, digest=digest),
                                  {"Content-Type": OCTET}, file=f, offset=0, length=size)
            expect(st, 201, "PUT upload (monolithic)", b)
        else:
            off = 0
            while off < size:
                n = min(chunk, size - off)
                st, h, b = cl.request("PATCH", loc, {"Content-Type": OCTET,
                                                     "Content-Range": f"{off}-{off + n - 1}"},
                                      file=f, offset=off, length=n)
                expect(st, 202, f"PATCH upload chunk at {off}", b)
                loc = h.get("Location") or loc
                off += n
            st, h, b = cl.request("PUT", with_query(loc, digest=digest), {"Content-Type": OCTET})
            expect(st, 201, "PUT upload (close chunked)", b)
    secs = time.perf_counter() - t0
    st, h, b = cl.request("HEAD", f"/v2/{repo}/blobs/{digest}")
    expect(st, 200, f"HEAD blob after push", b)
    if int(h.get("Content-Length", "-1")) != size:
        raise BenchError(f"HEAD blob after push: Content-Length {h.get('Content-Length')} != {size}")
    return secs


def put_blob_bytes(cl, repo, data):
    d = digest_of(data)
    st, h, b = cl.request("HEAD", f"/v2/{repo}/blobs/{d}")
    if st == 200:
        return d
    st, h, b = cl.request("POST", f"/v2/{repo}/blobs/uploads/")
    expect(st, 202, f"POST /v2/{repo}/blobs/uploads/", b)
    st, h, b = cl.request("PUT", with_query(h["Location"], digest=d),
                          {"Content-Type": OCTET}, body=data)
    expect(st, 201, "PUT blob", b)
    return d


def ensure_blob(srv, repo, path, digest, size):
    cl = srv.client()
    try:
        st, h, b = cl.request("HEAD", f"/v2/{repo}/blobs/{digest}")
        if st != 200:
            push_blob(cl, repo, path, digest, size, "mono", 0)
    finally:
        cl.close()


# --------------------------------------------------------------------------- external tools

def run(cmd, timeout, env=None, check=True):
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env)
    except subprocess.TimeoutExpired:
        raise BenchError(f"{os.path.basename(cmd[0])} timed out after {timeout}s: {' '.join(cmd)}")
    if check and p.returncode != 0:
        raise BenchError(f"{os.path.basename(cmd[0])} exited {p.returncode}: "
                         f"{(p.stderr or p.stdout).strip()[-600:]}")
    return p


def tool_version(cmd):
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=10)
        out = (p.stdout + p.stderr).strip().splitlines()
        return out[0].strip() if out else "?"
    except Exception:
        return "?"


UNITS_US = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 60e3, "h": 3600e3}


def parse_wrk(text):
    """-> dict(rps, p99_ms, requests, non2xx, socket_errors)"""
    r = {}
    m = re.search(r"Requests/sec:\s*([\d.]+)", text)
    if not m:
        raise BenchError("wrk output has no Requests/sec line:\n" + text[-800:])
    r["rps"] = float(m.group(1))
    m = re.search(r"^\s*99(?:\.0+)?%\s+([\d.]+)(us|ms|s|m|h)\s*$", text, re.M)
    r["p99_ms"] = float(m.group(1)) * UNITS_US[m.group(2)] if m else None
    m = re.search(r"(\d+) requests in ([\d.]+)(\w+)", text)
    r["requests"] = int(m.group(1)) if m else None
    m = re.search(r"Non-2xx or 3xx responses:\s*(\d+)", text)
    r["non2xx"] = int(m.group(1)) if m else 0
    m = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text)
    r["socket_errors"] = dict(zip(("connect", "read", "write", "timeout"),
                                  map(int, m.groups()))) if m else {}
    return r


def parse_hload(text):
    kv = {}
    for line in text.splitlines():
        parts = line.split()
        if len(parts) == 2:
            kv[parts[0]] = float(parts[1])
    if "rps" not in kv:
        raise BenchError("hload output has no rps line:\n" + text[-800:])
    errs = {k[7:]: int(v) for k, v in kv.items() if k.startswith("errors_")}
    return {"rps": kv["rps"], "p99_ms": kv.get("p99_ms"), "requests": int(kv.get("requests", 0)),
            "non2xx": int(kv.get("non2xx", 0)), "socket_errors": errs}


def parse_ab(text, csv_text):
    r = {}
    m = re.search(r"Requests per second:\s*([\d.]+)", text)
    if not m:
        raise BenchError("ab output has no 'Requests per second' line:\n" + text[-800:])
    r["rps"] = float(m.group(1))
    r["p99_ms"] = None
    for line in csv_text.splitlines():
        parts = line.split(",")
        if len(parts) == 2 and parts[0].strip() == "99":
            r["p99_ms"] = float(parts[1])
    m = re.search(r"Complete requests:\s*(\d+)", text)
    r["requests"] = int(m.group(1)) if m else None
    m = re.search(r"Non-2xx responses:\s*(\d+)", text)
    r["non2xx"] = int(m.group(1)) if m else 0
    m = re.search(r"Failed requests:\s*(\d+)", text)
    r["failed"] = int(m.group(1)) if m else 0
    m = re.search(r"Keep-Alive requests:\s*(\d+)", text)
    r["keepalive"] = int(m.group(1)) if m else None
    return r


# --------------------------------------------------------------------------- results

class Results:
    def __init__(self, params, servers):
        self.rows = []
        self.notes = []
        self.params = params
        self.servers = servers

    def row(self, key, label, unit, fmt, targets=(), target_text="", better="higher"):
        r = {"key": key, "label": label, "unit": unit, "fmt": fmt, "better": better,
             "targets": [list(t) for t in targets], "target_text": target_text,
             "values": {s: None for s in SERVERS}, "errors": {}, "samples": {},
             "applies": list(SERVERS)}
        self.rows.append(r)
        return r

    def note(self, msg):
        log("NOTE: " + msg)
        self.notes.append(msg)


def median(xs):
    return statistics.median(xs) if xs else None


def record_error(res, row, srv, e):
    msg = str(e).strip().replace("\n", " ")
    row["errors"][srv.name] = msg[:400]
    res.note(f"{row['label']} / {srv.name}: {msg[:400]}")
    if not srv.alive():
        srv.failed = f"process {srv.pid} exited during '{row['label']}'"
        res.note(f"{srv.name}: {srv.failed}")


# --------------------------------------------------------------------------- sections

def section_push(res, P, work, servers, blobs):
    size = P.blob_mib * MIB
    rows = {
        "mono": res.row("push_mono", f"blob push, monolithic ({P.blob_mib} MiB), MB/s", "MB/s",
                        "int", [("distribution", ">=", 4)], "≥ 4x distribution"),
        "chunked": res.row("push_chunked",
                           f"blob push, {P.chunk_mib} MiB chunks ({P.blob_mib} MiB), MB/s",
                           "MB/s", "int", [("distribution", ">=", 4)], "≥ 4x distribution"),
    }
    for r in rows.values():
        r["applies"] = list(REGISTRIES)
    regs = [servers[n] for n in REGISTRIES if servers[n].ok]
    for rep in range(P.push_reps):
        order = regs if rep % 2 == 0 else list(reversed(regs))
        for mode in ("mono", "chunked"):
            path, digest = blobs[f"{mode}-{rep}"]
            for srv in order:
                if not srv.ok or srv.name in rows[mode]["errors"]:
                    continue
                os.sync()  # start from clean page cache so earlier writes do not bill this push
                cl = srv.client(timeout=300)
                try:
                    secs = push_blob(cl, "bench/blob", path, digest, size, mode, P.chunk_mib * MIB)
                    mbps = size / secs / MB
                    rows[mode]["samples"].setdefault(srv.name, []).append(round(mbps, 1))
                    log(f"push {mode:7s} rep {rep + 1}/{P.push_reps} {srv.name:12s} "
                        f"{mbps:8.1f} MB/s ({secs:.2f} s)")
                except BenchError as e:
                    record_error(res, rows[mode], srv, e)
                finally:
                    cl.close()
    for r in rows.values():
        for name, xs in r["samples"].items():
            r["values"][name] = median(xs)


def curl_get(srv, url, timeout):
    return ["curl", "-sS", "--max-time", str(timeout), "-o", "/dev/null",
            "-w", "%{http_code} %{size_download} %{time_total}", *srv.curl_auth(), url]


def section_pull(res, P, servers, blobs):
    size = P.blob_mib * MIB
    path, digest = blobs["mono-0"]
    r1 = res.row("pull_1", f"blob pull, 1 stream ({P.blob_mib} MiB), MB/s", "MB/s", "int",
                 [("nginx", ">=", 0.9)], "≥ 0.9x nginx")
    r8 = res.row("pull_n", f"blob pull, {P.streams} streams (aggregate), MB/s", "MB/s", "int",
                 [], "— (report only)")
    url_path = f"/v2/bench/blob/blobs/{digest}"
    active = []
    # the blob must be in both registries (nginx serves distribution's copy of it)
    for name in REGISTRIES:
        srv = servers[name]
        if not srv.ok:
            continue
        try:
            ensure_blob(srv, "bench/blob", path, digest, size)
        except BenchError as e:
            record_error(res, r1, srv, e)
            record_error(res, r8, srv, e)
    for srv in servers.values():
        if not srv.ok or srv.name in r1["errors"]:
            continue
        # warm-up and correctness check
        try:
            p = run(curl_get(srv, srv.url + url_path, 120), 150)
            code, got, _ = p.stdout.split()
            if code != "200" or int(got) != size:
                raise BenchError(f"GET {url_path}: HTTP {code}, {got} bytes (wanted 200, {size})")
            active.append(srv)
        except BenchError as e:
            record_error(res, r1, srv, e)
            record_error(res, r8, srv, e)
    for rep in range(P.pull_reps):
        for srv in (active if rep % 2 == 0 else list(reversed(active))):
            if srv.name in r1["errors"]:
                continue
            try:
                p = run(curl_get(srv, srv.url + url_path, 120), 150)
                code, got, secs = p.stdout.split()
                if code != "200" or int(got) != size:
                    raise BenchError(f"GET blob: HTTP {code}, {got} bytes")
                mbps = size / float(secs) / MB
                r1["samples"].setdefault(srv.name, []).append(round(mbps, 1))
                log(f"pull 1 stream rep {rep + 1}/{P.pull_reps} {srv.name:12s} {mbps:8.1f} MB/s")
            except BenchError as e:
                record_error(res, r1, srv, e)
    for rep in range(P.pull_par_reps):
        for srv in (active if rep % 2 == 0 else list(reversed(active))):
            if srv.name in r8["errors"]:
                continue
            t0 = time.perf_counter()
            procs = [subprocess.Popen(curl_get(srv, srv.url + url_path, 300),
                                      stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                     for _ in range(P.streams)]
            outs = []
            for pr in procs:
                try:
                    o, e = pr.communicate(timeout=330)
                except subprocess.TimeoutExpired:
                    pr.kill()
                    o, e = pr.communicate()
                outs.append((pr.returncode, o, e))
            secs = time.perf_counter() - t0
            try:
                for rc, o, e in outs:
                    parts = o.split()
                    if rc != 0 or len(parts) != 3 or parts[0] != "200" or int(parts[1]) != size:
                        raise BenchError(f"parallel GET blob: curl rc={rc} out={o!r} {e.strip()[-300:]}")
                mbps = P.streams * size / secs / MB
                r8["samples"].setdefault(srv.name, []).append(round(mbps, 1))
                log(f"pull {P.streams} streams rep {rep + 1}/{P.pull_par_reps} {srv.name:12s} "
                    f"{mbps:8.1f} MB/s")
            except BenchError as e:
                record_error(res, r8, srv, e)
    for r in (r1, r8):
        for name, xs in r["samples"].items():
            r["values"][name] = median(xs)


def seed_small(srv, P, config, layer, manifest):
    cl = srv.client()
    try:
        put_blob_bytes(cl, "bench/small", config)
        put_blob_bytes(cl, "bench/small", layer)
        tags = ["latest"] + [f"t{i:03d}" for i in range(1, P.tags)]
        for t in tags:
            st, h, b = cl.request("PUT", f"/v2/bench/small/manifests/{t}",
                                  {"Content-Type": OCI_MANIFEST}, body=manifest)
            expect(st, 201, f"PUT manifest bench/small:{t}", b)
        return tags
    finally:
        cl.close()


def write_static(static_dir, manifest, tags):
    base = os.path.join(static_dir, "v2", "bench", "small")
    os.makedirs(os.path.join(base, "manifests"), exist_ok=True)
    os.makedirs(os.path.join(base, "tags"), exist_ok=True)
    with open(os.path.join(base, "manifests", "latest"), "wb") as f:
        f.write(manifest)
    with open(os.path.join(base, "tags", "list"), "wb") as f:
        f.write(json.dumps({"name": "bench/small", "tags": sorted(tags)}).encode())


def load_wrk(srv, P, url, script, duration):
    cmd = ["wrk", "-t", str(P.wrk_threads), "-c", str(P.wrk_conn), "-d", f"{duration}s",
           "--latency", "--timeout", "5s", "-s", os.path.join(HERE, "wrk", script)]
    h = srv.auth_header()
    if h:
        cmd += ["-H", "Authorization: " + h]
    cmd.append(url)
    p = run(cmd, duration + 60)
    r = parse_wrk(p.stdout)
    r["tool"] = "wrk"
    return r


def load_ab_head(srv, P, url, duration, work):
    csv = os.path.join(work, f"ab-{srv.name}.csv")
    n = max(100_000, duration * 150_000)  # ab preallocates per-request stats
    cmd = ["ab", "-q", "-k", "-i", "-c", str(P.wrk_conn), "-t", str(duration), "-n", str(n),
           "-s", "5", "-e", csv]
    h = srv.auth_header()
    if h:
        cmd += ["-H", "Authorization: " + h]
    cmd.append(url)
    p = run(cmd, duration + 60)
    with open(csv) as f:
        r = parse_ab(p.stdout, f.read())
    r["tool"] = "ab"
    return r


def load_hload(srv, P, url, method, duration):
    cmd = [os.environ["BENCH_HLOAD"], "-c", str(P.wrk_conn), "-t", str(P.wrk_threads),
           "-d", str(duration), "-m", method, "-T", "5"]
    h = srv.auth_header()
    if h:
        cmd += ["-H", "Authorization: " + h]
    cmd.append(url)
    p = run(cmd, duration + 60, check=False)
    r = parse_hload(p.stdout)
    if p.returncode != 0 and not r.get("requests"):
        raise BenchError(f"hload exited {p.returncode}: {(p.stderr or p.stdout).strip()[-600:]}")
    r["tool"] = "hload"
    return r


def head_tool():
    return "hload" if os.environ.get("BENCH_HLOAD") else "ab"


def section_small(res, P, work, servers):
    rng = random.Random(4242)
    config, blobs, manifest = make_image(rng, 1, 4096, "small")
    layer = blobs[0]
    ldigest = digest_of(layer)
    tags = None
    for name in REGISTRIES:
        srv = servers[name]
        if srv.ok:
            try:
                tags = seed_small(srv, P, config, layer, manifest)
            except BenchError as e:
                srv.seed_error = e
    if servers["nginx"].ok:
        write_static(os.environ.get("BENCH_NGINX_STATIC", ""), manifest,
                     tags or ["latest"] + [f"t{i:03d}" for i in range(1, P.tags)])

    def check_manifest(st, h, b):
        expect(st, 200, "GET manifest", b)
        if b != manifest:
            raise BenchError("GET manifest: body differs from the pushed manifest")

    def check_head(st, h, b):
        expect(st, 200, "HEAD blob", b)
        if int(h.get("Content-Length", "-1")) != len(layer):
            raise BenchError(f"HEAD blob: Content-Length {h.get('Content-Length')} != {len(layer)}")

    def check_tags(st, h, b):
        expect(st, 200, "GET tags/list", b)
        got = json.loads(b).get("tags") or []
        if "latest" not in got:
            raise BenchError(f"GET tags/list: 'latest' missing in {got[:5]}")

    endpoints = [
        ("manifest", "manifest GET by tag", "GET", "/v2/bench/small/manifests/latest",
         {"Accept": MANIFEST_ACCEPT}, check_manifest, "manifest.lua"),
        ("head", "blob HEAD", "HEAD", f"/v2/bench/small/blobs/{ldigest}", {}, check_head, None),
        ("tags", "tags/list", "GET", "/v2/bench/small/tags/list",
         {"Accept": "application/json"}, check_tags, "get.lua"),
    ]
    for key, label, method, path, hdrs, check, script in endpoints:
        tool = "wrk" if script else ("hload, HTTP/1.1" if head_tool() == "hload" else "ab -k -i, HTTP/1.0")
        rr = res.row(f"{key}_rps", f"{label}, req/s ({tool}, c={P.wrk_conn})", "req/s", "int",
                     [("distribution", ">=", 10), ("nginx", ">=", 0.6)],
                     "≥ 10x distribution, ≥ 0.6x nginx")
        rp = res.row(f"{key}_p99", f"{label}, p99 latency, ms", "ms", "f2",
                     [("distribution", "<=", 0.1)], "≤ 0.1x distribution", better="lower")
        ready = []  # (srv, load function)
        for srv in (servers[n] for n in SERVERS):
            if not srv.ok:
                continue
            if getattr(srv, "seed_error", None):
                record_error(res, rr, srv, srv.seed_error)
                rp["errors"][srv.name] = "seed failed"
                continue
            cl = srv.client(timeout=10)
            try:
                check(*cl.request(method, path, hdrs))
            except (BenchError, ValueError) as e:
                record_error(res, rr, srv, e)
                rp["errors"][srv.name] = "pre-check failed"
                continue
            finally:
                cl.close()
            url = srv.url + path
            if script:
                load = (lambda s, u, sc: lambda d: load_wrk(s, P, u, sc, d))(srv, url, script)
            elif head_tool() == "hload":
                load = (lambda s, u: lambda d: load_hload(s, P, u, "HEAD", d))(srv, url)
            else:
                load = (lambda s, u: lambda d: load_ab_head(s, P, u, d, work))(srv, url)
            ready.append((srv, load))
        # Rounds interleave the servers (order rotates), so that a burst of other load on
        # the shared machine hits one round of one server, not a whole measurement.
        runs = {}
        for rnd in range(P.wrk_rounds):
            k = rnd % max(1, len(ready))
            for srv, load in ready[k:] + ready[:k]:
                if srv.name in rr["errors"]:
                    continue
                try:
                    if rnd == 0 and P.wrk_warmup:
                        load(P.wrk_warmup)
                    r = load(P.wrk_duration)
                    log(f"{key:8s} round {rnd + 1}/{P.wrk_rounds} {srv.name:12s} {r['rps']:10.0f} req/s"
                        f"  p99 {r['p99_ms']} ms  ({r['requests']} requests, {r['non2xx']} non-2xx)")
                    if r["non2xx"]:
                        raise BenchError(f"{r['non2xx']} of {r['requests']} responses were not 2xx/3xx")
                    if r.get("failed"):
                        res.note(f"{label} / {srv.name}: ab counted {r['failed']} failed requests "
                                 f"(length/connect/receive errors)")
                    if r.get("keepalive") is not None and r["requests"] and \
                            r["keepalive"] < 0.9 * r["requests"]:
                        res.note(f"{label} / {srv.name}: only {r['keepalive']} of {r['requests']} "
                                 f"requests reused a connection (HTTP/1.0 keep-alive from ab)")
                    se = r.get("socket_errors") or {}
                    if sum(se.values()):
                        res.note(f"{label} / {srv.name} round {rnd + 1}: {r['tool']} socket errors {se}")
                    runs.setdefault(srv.name, []).append(r)
                except BenchError as e:
                    record_error(res, rr, srv, e)
                    rp["errors"][srv.name] = "see req/s"
        for name, rs in runs.items():
            if name in rr["errors"]:
                continue
            rr["samples"][name] = [round(r["rps"]) for r in rs]
            p99s = [r["p99_ms"] for r in rs if r["p99_ms"] is not None]
            rp["samples"][name] = p99s
            rr["values"][name] = median([r["rps"] for r in rs])
            rp["values"][name] = median(p99s)
            rr.setdefault("raw", {})[name] = rs


PUBLIC_PULL = {"Version": "2012-10-17", "Statement": [{
    "Sid": "BenchPublicPull", "Effect": "Allow", "Principal": "*",
    "Action": ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer", "ecr:BatchCheckLayerAvailability"]}]}


def section_auth(res, P, work, servers):
    """What authentication and authorization cost: the same berth, the same requests, once
    logged in (Basic AWS:token: token HMAC, access key lookup, identity and repository
    policies evaluated) and once anonymous on a public repository (only the repository
    policy evaluated). Target from issue 3: auth costs under 10% of the request rate."""
    srv = servers["berth"]
    if not srv.ok or not srv.auth:
        res.note("auth: skipped (berth is not running with authentication; set BERTH_AUTH_CMD, as make bench does)")
        return
    rng = random.Random(4242)
    config, blobs, manifest = make_image(rng, 1, 4096, "small")
    layer = blobs[0]
    seed_small(srv, P, config, layer, manifest)
    policy = os.path.join(work, "public-pull.json")
    with open(policy, "w") as f:
        json.dump(PUBLIC_PULL, f)
    run([os.environ["BENCH_BERTH_BIN"], "admin", "set-repository-policy", "bench/small", "--policy-file", policy,
         "--data-dir", os.environ["BENCH_BERTH_DATA"]], 60)
    anon = copy.copy(srv)
    anon.auth = None
    anon.name = "berth-anonymous"
    endpoints = [("manifest GET by tag", "GET", "/v2/bench/small/manifests/latest", {"Accept": MANIFEST_ACCEPT},
                  "manifest.lua"),
                 ("blob HEAD", "HEAD", f"/v2/bench/small/blobs/{digest_of(layer)}", {}, None)]
    out = []
    for label, method, path, hdrs, script in endpoints:
        url = srv.url + path
        rps = {}
        for who in (srv, anon):
            cl = who.client(timeout=10)
            try:
                st, h, b = cl.request(method, path, hdrs)
                expect(st, 200, f"{label} as {who.name}", b)
            finally:
                cl.close()
        for rnd in range(P.wrk_rounds):
            for who in ((srv, anon) if rnd % 2 == 0 else (anon, srv)):
                if script:
                    r = load_wrk(who, P, url, script, P.wrk_duration)
                else:
                    r = load_hload(who, P, url, "HEAD", P.wrk_duration) if head_tool() == "hload" else \
                        load_ab_head(who, P, url, P.wrk_duration, work)
                if r["non2xx"]:
                    raise BenchError(f"auth {label} as {who.name}: {r['non2xx']} non-2xx responses")
                log(f"auth     round {rnd + 1}/{P.wrk_rounds} {who.name:16s} {label:20s} {r['rps']:10.0f} req/s")
                rps.setdefault(who.name, []).append(r["rps"])
        a, n = median(rps["berth"]), median(rps["berth-anonymous"])
        out.append({"label": label, "authenticated": a, "anonymous": n, "ratio": a / n if n else None,
                    "samples": rps})
    res.auth = out


def render_auth(rows):
    out = ["What authentication costs (same berth, same requests; issue 3 target: authenticated "
           "≥ 0.90x anonymous):\n",
           "| request | logged in (Basic AWS:token), req/s | anonymous on a public repository, req/s | ratio | result |",
           "|---|---:|---:|---:|---|"]
    for r in rows:
        ok = r["ratio"] is not None and r["ratio"] >= 0.9
        out.append(f"| {r['label']} | {r['authenticated']:,.0f} | {r['anonymous']:,.0f} | "
                   f"{r['ratio']:.2f}x | {'pass' if ok else '**MISS**'} |")
    out.append("")
    return out


def skopeo_env(work):
    env = dict(os.environ)
    auth = os.path.join(work, "skopeo-auth.json")
    if not os.path.exists(auth):
        with open(auth, "w") as f:
            f.write('{"auths":{}}')
    env["REGISTRY_AUTH_FILE"] = auth
    return env


def section_skopeo(res, P, work, servers):
    rp = res.row("skopeo_push", f"skopeo push, {P.layers} layers x {P.layer_kib} KiB, s", "s",
                 "f2", [("distribution", "<=", 1.25)], "≤ 1.25x distribution (≥ 0.8x speed)",
                 better="lower")
    rl = res.row("skopeo_pull", f"skopeo pull, {P.layers} layers x {P.layer_kib} KiB, s", "s",
                 "f2", [("distribution", "<=", 1.25)], "≤ 1.25x distribution (≥ 0.8x speed)",
                 better="lower")
    for r in (rp, rl):
        r["applies"] = list(REGISTRIES)
    env = skopeo_env(work)
    srcs = []
    for rep in range(P.skopeo_reps):
        d = os.path.join(work, "oci", f"src-{rep}")
        srcs.append((d, gen_oci(d, P.layers, P.layer_kib, seed=1000 + rep, tag="v1")))
    regs = [servers[n] for n in REGISTRIES if servers[n].ok]
    timeout = 120 if P.quick else 300
    for rep, (src, mdigest) in enumerate(srcs):
        for srv in (regs if rep % 2 == 0 else list(reversed(regs))):
            if not srv.ok or srv.name in rp["errors"]:
                continue
            ref = f"docker://{srv.hostport}/bench/img:r{rep}"
            creds = ["--dest-creds", srv.auth] if srv.auth else []
            try:
                t0 = time.perf_counter()
                run(["skopeo", "--insecure-policy", "copy", "-q", "--dest-tls-verify=false",
                     *creds, f"oci:{src}:v1", ref], timeout, env=env)
                secs = time.perf_counter() - t0
                rp["samples"].setdefault(srv.name, []).append(round(secs, 3))
                log(f"skopeo push rep {rep + 1}/{P.skopeo_reps} {srv.name:12s} {secs:6.2f} s")
            except BenchError as e:
                record_error(res, rp, srv, e)
                rl["errors"][srv.name] = "push failed"
                continue
            dst = os.path.join(work, "oci", f"pull-{srv.name}-{rep}")
            creds = ["--src-creds", srv.auth] if srv.auth else []
            try:
                t0 = time.perf_counter()
                run(["skopeo", "--insecure-policy", "copy", "-q", "--src-tls-verify=false",
                     *creds, ref, f"oci:{dst}:r{rep}"], timeout, env=env)
                secs = time.perf_counter() - t0
                with open(os.path.join(dst, "index.json")) as f:
                    got = [m["digest"] for m in json.load(f)["manifests"]]
                if mdigest not in got:
                    raise BenchError(f"pulled manifest {got} != pushed {mdigest}")
                rl["samples"].setdefault(srv.name, []).append(round(secs, 3))
                log(f"skopeo pull rep {rep + 1}/{P.skopeo_reps} {srv.name:12s} {secs:6.2f} s")
            except (BenchError, OSError, ValueError, KeyError) as e:
                record_error(res, rl, srv, e)
            shutil.rmtree(dst, ignore_errors=True)
    for r in (rp, rl):
        for name, xs in r["samples"].items():
            r["values"][name] = median(xs)


def children(pid):
    out = []
    try:
        for tid in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{tid}/children") as f:
                out += [int(x) for x in f.read().split()]
    except OSError:
        pass
    return out


def proc_stats(pid):
    """(VmHWM bytes, cpu seconds) for pid and its children (nginx workers)."""
    hwm, cpu = 0, 0.0
    tick = os.sysconf("SC_CLK_TCK")
    for p in [pid] + children(pid):
        try:
            with open(f"/proc/{p}/status") as f:
                for line in f:
                    if line.startswith("VmHWM:"):
                        hwm += int(line.split()[1]) * 1024
            with open(f"/proc/{p}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
                cpu += (int(fields[11]) + int(fields[12])) / tick
        except (OSError, IndexError, ValueError):
            pass
    return hwm, cpu


def section_rss(res, servers):
    r = res.row("rss", "peak RSS (VmHWM) at the end, MiB", "MiB", "f1",
                [("distribution", "<=", 0.5)], "≤ 0.5x distribution", better="lower")
    c = res.row("cpu", "server CPU time over the whole run, s", "s", "f1", [], "— (report only)",
                better="lower")
    for srv in servers.values():
        if srv.status != "ok" or not srv.pid:
            continue
        if not srv.alive():
            r["errors"][srv.name] = "process gone"
            continue
        hwm, cpu = proc_stats(srv.pid)
        r["values"][srv.name] = hwm / MIB
        c["values"][srv.name] = cpu
    res.note("nginx RSS and CPU are master + workers summed.")


# --------------------------------------------------------------------------- report

def fmt_val(v, fmt):
    if v is None:
        return None
    if fmt == "int":
        return f"{v:,.0f}"
    if fmt == "f1":
        return f"{v:,.1f}"
    return f"{v:,.2f}"


def judge(row):
    """-> (ratios {peer: x}, verdict)"""
    vals = row["values"]
    ratios = {}
    for peer in ("distribution", "nginx"):
        b, p = vals.get("berth"), vals.get(peer)
        if b is not None and p:
            ratios[peer] = b / p
    if not row["targets"]:
        return ratios, "—"
    verdict = "pass"
    for peer, op, factor in row["targets"]:
        x = ratios.get(peer)
        if x is None:
            return ratios, "n/a"
        ok = x >= factor if op == ">=" else x <= factor
        if not ok:
            verdict = "**MISS**"
    return ratios, verdict


def render(data):
    rows, meta, srv = data["rows"], data["meta"], data["servers"]
    out = []
    title = "berth benchmark" + (" — QUICK smoke run (numbers not meaningful)" if meta["quick"] else "")
    out.append(f"# {title}\n")
    out.append(f"- date: {meta['date']}; command: `{meta['command']}`")
    out.append(f"- host: {meta['cpu']}, {meta['nproc']} cores, kernel {meta['kernel']}, "
               f"load average at start {meta['loadavg']}")
    out.append(f"- berth: {srv['berth']['desc']}")
    out.append(f"- distribution: {srv['distribution']['desc']}")
    out.append(f"- nginx: {srv['nginx']['desc']}")
    out.append(f"- clients: {meta['tools']}")
    p = meta["params"]
    out.append(f"- settings: blob {p['blob_mib']} MiB (push median of {p['push_reps']}, "
               f"pull median of {p['pull_reps']} / {p['pull_par_reps']}), chunks {p['chunk_mib']} MiB, "
               f"small requests {p.get('wrk_rounds', 1)} rounds x {p['wrk_duration']} s per server at c={p['wrk_conn']}, "
               f"servers interleaved, median of rounds "
               f"(wrk -t{p['wrk_threads']}; blob HEAD with {meta.get('head_tool', 'ab')}), "
               f"skopeo {p['layers']} layers x {p['layer_kib']} KiB (median of {p['skopeo_reps']}); "
               f"MB = 10^6 bytes; all servers on 127.0.0.1, measured one at a time")
    out.append("")
    out.append("| metric | berth | distribution | nginx | berth/distribution | berth/nginx | target | result |")
    out.append("|---|---:|---:|---:|---:|---:|---|---|")
    for r in rows:
        cells = []
        for s in SERVERS:
            if s not in r["applies"]:
                cells.append("—")
            elif srv[s]["status"] != "ok":
                cells.append("n/a")
            elif r["values"].get(s) is not None:
                cells.append(fmt_val(r["values"][s], r["fmt"]))
            elif s in r["errors"]:
                cells.append("error")
            else:
                cells.append("n/a")
        ratios, verdict = judge(r)
        rc = [f"{ratios[p]:.2f}x" if p in ratios else "—" for p in ("distribution", "nginx")]
        out.append(f"| {r['label']} | " + " | ".join(cells + rc) +
                   f" | {r['target_text']} | {verdict} |")
    out.append("")
    if data.get("auth"):
        out += render_auth(data["auth"])
    samples = [(r, s, xs) for r in rows for s, xs in r["samples"].items()
               if isinstance(xs, list) and len(xs) > 1]
    if samples:
        out.append("Samples (each repetition):\n")
        for r, s, xs in samples:
            out.append(f"- {r['label']} / {s}: {', '.join(fmt_val(x, r['fmt']) for x in xs)}")
        out.append("")
    if data["notes"]:
        out.append("Notes:\n")
        out += [f"- {n}" for n in data["notes"]]
        out.append("")
    return "\n".join(out)


# --------------------------------------------------------------------------- main

def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "?"


def describe(srv):
    if srv.status != "ok":
        return f"n/a ({srv.reason})"
    return f"{os.environ.get('BENCH_' + srv.name.upper() + '_DESC', '')} at {srv.url}, pid {srv.pid}".strip()


def cmd_measure(args):
    P = Params()
    work = os.path.abspath(args.work)
    os.makedirs(work, exist_ok=True)
    servers = {n: Server(n) for n in SERVERS}
    for s in servers.values():
        log(f"{s.name}: {s.status} {s.url or s.reason}")
    if not any(servers[n].ok for n in REGISTRIES):
        raise SystemExit("bench: neither berth nor distribution is running")
    res = Results(P, servers)
    with open("/proc/loadavg") as f:
        loadavg = " ".join(f.read().split()[:3])
    meta = {
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "command": os.environ.get("BENCH_COMMAND", "bench/run.sh"),
        "quick": P.quick, "params": P.as_dict(), "cpu": cpu_model(), "nproc": os.cpu_count(),
        "kernel": platform.release(), "loadavg": loadavg,
        "head_tool": ("bench/hload.c (HTTP/1.1 keep-alive, same -c/-t)" if head_tool() == "hload"
                      else "ab -k -i (HTTP/1.0 keep-alive)"),
        "tools": "; ".join([tool_version(["curl", "--version"]).split(" (")[0],
                            tool_version(["wrk", "--version"]).split(" Copyright")[0],
                            "bench/hload.c" if head_tool() == "hload" else
                            tool_version(["ab", "-V"]).split(",")[0].replace("This is ", ""),
                            tool_version(["skopeo", "--version"])]),
    }
    if os.environ.get("BENCH_BUSY"):
        res.note(f"other CPU-heavy work was running at start: {os.environ['BENCH_BUSY']}")

    blobs = {}
    need = set()
    if "push" in P.sections:
        need |= {f"{m}-{r}" for m in ("mono", "chunked") for r in range(P.push_reps)}
    if "pull" in P.sections:
        need.add("mono-0")
    if need:
        os.makedirs(os.path.join(work, "blobs"), exist_ok=True)
        log(f"generating {len(need)} random blob(s) of {P.blob_mib} MiB")
        for k in sorted(need):
            p = os.path.join(work, "blobs", k + ".bin")
            blobs[k] = (p, random_file(p, P.blob_mib * MIB))

    if "push" in P.sections:
        section_push(res, P, work, servers, blobs)
    if "pull" in P.sections:
        section_pull(res, P, servers, blobs)
    if "small" in P.sections:
        section_small(res, P, work, servers)
    if "auth" in P.sections:
        try:
            section_auth(res, P, work, servers)
        except BenchError as e:
            res.note(f"auth: {e}")
    if "skopeo" in P.sections:
        section_skopeo(res, P, work, servers)
    section_rss(res, servers)

    data = {"meta": meta, "rows": res.rows, "notes": res.notes, "auth": getattr(res, "auth", []),
            "servers": {n: {"status": s.status, "reason": s.reason, "url": s.url,
                            "desc": describe(s), "failed": s.failed}
                        for n, s in servers.items()}}
    for n, s in servers.items():
        if s.failed:  # values measured before the crash remain in the table
            data["notes"].append(f"**{n} FAILED during the run: {s.failed}**")
    text = render(data)
    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, "latest.json"), "w") as f:
        json.dump(data, f, indent=1)
    with open(os.path.join(args.out, "latest.md"), "w") as f:
        f.write(text + "\n")
    print(text)
    log(f"wrote {os.path.join(args.out, 'latest.md')} and latest.json")
    return 0


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    m = sub.add_parser("measure")
    m.add_argument("--work", required=True)
    m.add_argument("--out", required=True)
    r = sub.add_parser("report")
    r.add_argument("json")
    g = sub.add_parser("gen-oci")
    g.add_argument("dir")
    g.add_argument("--layers", type=int, default=20)
    g.add_argument("--layer-kib", type=int, default=1024)
    g.add_argument("--seed", type=int, default=1)
    g.add_argument("--tag", default="v1")
    pw = sub.add_parser("parse-wrk")
    pw.add_argument("file")
    ph = sub.add_parser("parse-hload")
    ph.add_argument("file")
    pa = sub.add_parser("parse-ab")
    pa.add_argument("file")
    pa.add_argument("csv")
    a = ap.parse_args()
    try:
        if a.cmd == "measure":
            return cmd_measure(a)
        if a.cmd == "report":
            with open(a.json) as f:
                print(render(json.load(f)))
        elif a.cmd == "gen-oci":
            print(gen_oci(a.dir, a.layers, a.layer_kib, a.seed, a.tag))
        elif a.cmd == "parse-wrk":
            with open(a.file) as f:
                print(json.dumps(parse_wrk(f.read())))
        elif a.cmd == "parse-hload":
            with open(a.file) as f:
                print(json.dumps(parse_hload(f.read())))
        elif a.cmd == "parse-ab":
            with open(a.file) as f, open(a.csv) as c:
                print(json.dumps(parse_ab(f.read(), c.read())))
    except BenchError as e:
        print(f"bench: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
