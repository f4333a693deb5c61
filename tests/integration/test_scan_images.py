"""Issue 5, "How it is checked": real images pushed with skopeo, scanned on push, and the
findings the real `aws ecr describe-image-scan-findings` returns compared as sets with the
findings the imported data implies, computed here independently of berth:

- a Debian bookworm rootfs made with debootstrap (dpkg status vs the tracker's DSA/CVE lists,
  versions ordered by `dpkg --compare-versions`);
- an Alpine 3.20 image with an apk database (secdb fix versions per origin package);
- node_modules/lodash 4.17.15 fetched with `npm pack` (OSV npm records);
- an Ubuntu 22.04 dpkg status file against records in Ubuntu's OSV format (Ubuntu Pro and
  other releases' records must not apply);
- an AlmaLinux 9 rpmdb.sqlite (binary rpms by their source rpm or their own name) against records in
  AlmaLinux's OSV format, with records for AlmaLinux 8 and Rocky Linux that must not apply;
- whiteouts: packages deleted by a `.wh.` file and by an opaque directory are not reported;
- bad input (tar bombs, symlink loops, a malformed status file): the scan has an outcome
  with a reason and the registry keeps serving.

The debootstrap rootfs is cached under $TMPDIR/berth-debootstrap-cache keyed by date; the
test is skipped (with the reason) only when it cannot be built because the mirror is
unreachable."""

import datetime
import glob
import gzip
import hashlib
import io
import json
import os
import re
import shutil
import subprocess
import tarfile
import tempfile
import time
import types
import unittest

import ocilayout as oci
from harness import BERTH_BIN, ServerTestCase, run
from test_ecr_api import aws, client
from test_gc import SKOPEO, image_with

SCAN_DEADLINE_S = 120
VULNDATA = os.path.realpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "shared",
                                         "vulndata"))
DEBIAN_DATA = os.path.join(VULNDATA, "debian", "bookworm")
ALPINE_DATA = os.path.join(VULNDATA, "alpine", "secdb", "v3.20")
NPM_DATA = os.path.join(VULNDATA, "osv", "npm")
CACHE_DIR = os.path.join(tempfile.gettempdir(), "berth-debootstrap-cache")


# ---------------------------------------------------------------------------------------
# Expected findings, from the data alone


def dpkg_lt(a, b):
    return subprocess.run(["dpkg", "--compare-versions", a, "lt", b]).returncode == 0


def parse_dpkg_status(text):
    """Installed packages: (name, version, source name, source version)."""
    out = []
    for stanza in re.split(r"\n\s*\n", text):
        fields = {}
        for line in stanza.splitlines():
            m = re.match(r"^([A-Za-z0-9-]+):\s*(.*)$", line)
            if m:
                fields[m.group(1)] = m.group(2).strip()
        if not fields.get("Package") or not fields.get("Version"):
            continue
        if "Status" in fields and not fields["Status"].endswith(" installed"):
            continue
        src, src_ver = fields["Package"], fields["Version"]
        if "Source" in fields:
            m = re.match(r"^(\S+)(?:\s*\((.*)\))?$", fields["Source"])
            src = m.group(1)
            src_ver = m.group(2) or fields["Version"]
        out.append((fields["Package"], fields["Version"], src, src_ver))
    return out


def parse_tracker_list(text):
    """Debian security-tracker list entries: id, aliases, unstable states, per-release states."""
    entries = []
    for line in text.splitlines():
        if not line.strip():
            continue
        if not line[0].isspace():
            head = re.sub(r"^\[[^\]]*\]\s*", "", line)
            entries.append({"id": head.split()[0], "aliases": [], "unstable": {}, "release": {}})
            continue
        body = line.strip()
        if body.startswith("{"):
            entries[-1]["aliases"] += body.strip("{}").split()
        elif m := re.match(r"^(?:\[(\w+)\]\s+)?- (\S+)\s+(\S+)", body):
            rel, pkg, state = m.groups()
            if rel:
                entries[-1]["release"][(rel, pkg)] = state
            else:
                entries[-1]["unstable"][pkg] = state
    return entries


def debian_advisories(release="bookworm"):
    """(advisory id, source package) -> state for the release, the tracker's way: the
    release's own line, else the fix of a DSA naming the CVE, else the unstable line."""
    with open(os.path.join(DEBIAN_DATA, "CVE-list")) as f:
        cves = parse_tracker_list(f.read())
    with open(os.path.join(DEBIAN_DATA, "DSA-list")) as f:
        dsas = parse_tracker_list(f.read())
    known = {c["id"] for c in cves}
    dsa_fix, out = {}, {}
    for d in dsas:
        for (rel, pkg), state in d["release"].items():
            if rel != release:
                continue
            for cve in d["aliases"]:
                dsa_fix[(cve, pkg)] = state
                if cve not in known:  # the DSA is this CVE's only record
                    out[(cve, pkg)] = state
            if not any(c in known for c in d["aliases"]):
                out[(d["id"], pkg)] = state
    for c in cves:
        for pkg in set(c["unstable"]) | {p for (r, p) in c["release"] if r == release}:
            if (release, pkg) in c["release"]:
                out[(c["id"], pkg)] = c["release"][(release, pkg)]
            elif (c["id"], pkg) in dsa_fix:
                out[(c["id"], pkg)] = dsa_fix[(c["id"], pkg)]
            else:
                out[(c["id"], pkg)] = c["unstable"][pkg]
    return out


def expected_debian(packages):
    adv = debian_advisories()
    found = set()
    for name, version, src, src_ver in packages:
        for (aid, pkg), state in adv.items():
            if pkg != src or state in ("<not-affected>", "<removed>", "<unknown>"):
                continue
            if state.startswith("<") or dpkg_lt(src_ver, state):
                found.add((aid, name, version))
    return found


_APK_SUFFIX = {"alpha": 0, "beta": 1, "pre": 2, "rc": 3, "": 4, "cvs": 5, "svn": 6, "git": 7, "hg": 8, "p": 9}


def apk_key(v):
    m = re.fullmatch(r"(\d+(?:\.\d+)*)([a-z]?)((?:_[a-z]+\d*)*)(?:-r(\d+))?", v)
    assert m, f"apk version outside this test's grammar: {v}"
    suffixes = [(_APK_SUFFIX[s], int(n or 0)) for s, n in re.findall(r"_([a-z]+)(\d*)", m.group(3))]
    return ([int(x) for x in m.group(1).split(".")], m.group(2), suffixes + [(4, 0)], int(m.group(4) or 0))


def parse_apk_installed(text):
    out = []
    for stanza in re.split(r"\n\s*\n", text.strip()):
        f = dict(line.split(":", 1) for line in stanza.splitlines() if len(line) > 1 and line[1] == ":")
        out.append((f["P"], f["V"], f.get("o", f["P"])))
    return out


def expected_alpine(packages):
    with open(os.path.join(ALPINE_DATA, "main.json")) as f:
        secdb = {p["pkg"]["name"]: p["pkg"]["secfixes"] for p in json.load(f)["packages"]}
    found = set()
    for name, version, origin in packages:
        for fixed, ids in secdb.get(origin, {}).items():
            if fixed != "0" and apk_key(version) < apk_key(fixed):
                found |= {(i, name, version) for i in ids}
    return found


def semver_key(v):
    core, _, pre = v.partition("-")
    nums = [int(x) for x in core.split(".")] + [0] * (3 - len(core.split(".")))
    pre_key = [(0, int(p), "") if p.isdigit() else (1, 0, p) for p in pre.split(".")] if pre else []
    return (nums, 0 if pre else 1, pre_key)


def osv_affected(affected, version):
    if version in affected.get("versions", []):
        return True
    for rng in affected.get("ranges", []):
        if rng["type"] not in ("SEMVER", "ECOSYSTEM"):
            continue
        events = sorted(rng["events"], key=lambda e: semver_key(next(iter(e.values()))))
        hit = False
        for e in events:
            if "introduced" in e and semver_key(version) >= semver_key(e["introduced"]):
                hit = True
            elif "fixed" in e and semver_key(version) >= semver_key(e["fixed"]):
                hit = False
            elif "last_affected" in e and semver_key(version) > semver_key(e["last_affected"]):
                hit = False
        if hit:
            return True
    return False


def expected_npm(packages):
    records = []
    for path in sorted(glob.glob(os.path.join(NPM_DATA, "*.json"))):
        with open(path) as f:
            doc = json.load(f)
        records += doc if isinstance(doc, list) else [doc]
    found = set()
    for name, version in packages:
        for r in records:
            if r.get("withdrawn"):
                continue
            for a in r.get("affected", []):
                pkg = a.get("package", {})
                if pkg.get("ecosystem") == "npm" and pkg.get("name") == name and osv_affected(a, version):
                    found.add((r["id"], name, version))
    return found


# ---------------------------------------------------------------------------------------
# Images


def tar_layer(entries, links=()):
    """A gzip layer from (path, bytes|None) entries plus (path, target) symlinks."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for path, content in entries:
            info = tarfile.TarInfo(path)
            info.mtime = 1700000000
            if content is None:
                info.type, info.mode = tarfile.DIRTYPE, 0o755
                tar.addfile(info)
            else:
                info.size, info.mode = len(content), 0o644
                tar.addfile(info, io.BytesIO(content))
        for path, target in links:
            info = tarfile.TarInfo(path)
            info.type, info.linkname, info.mtime = tarfile.SYMTYPE, target, 1700000000
            tar.addfile(info)
    return oci.Layer(buf.getvalue(), "gzip")


def blob_layer(compressed, diff_id):
    return types.SimpleNamespace(diff_id=diff_id, blob=oci.Blob(compressed, oci.MT_OCI_LAYER_GZIP))


def npm_manifest(name, version):
    return json.dumps({"name": name, "version": version}).encode()


OS_DEBIAN12 = b'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nID=debian\nVERSION_ID="12"\n'
OS_ALPINE320 = b'NAME="Alpine Linux"\nID=alpine\nVERSION_ID=3.20.3\n'
OS_UBUNTU2204 = b'PRETTY_NAME="Ubuntu 22.04.4 LTS"\nNAME="Ubuntu"\nVERSION_ID="22.04"\nID=ubuntu\nID_LIKE=debian\n'
OS_ALMA9 = b'NAME="AlmaLinux"\nID="almalinux"\nID_LIKE="rhel centos fedora"\nVERSION_ID="9.2"\n'


def osv_record(rec_id, summary, *affected):
    """An OSV record whose `affected` entries are (ecosystem, package, fixed version), each
    affected from the first version on, as the distributions' records read."""
    return {"id": rec_id, "summary": summary, "affected": [
        {"package": {"ecosystem": eco, "name": name},
         "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": fixed}]}]}
        for eco, name, fixed in affected]}


def rpm_header(name, version, release, epoch=None, source_rpm=None):
    """An rpm header blob as rpmdb.sqlite stores it (rpm's headerExport layout): entry
    count, data length, 16-byte index entries (tag, type, offset, count), then the data."""
    entries = [(1000, 6, name.encode() + b"\0"), (1001, 6, version.encode() + b"\0"),
               (1002, 6, release.encode() + b"\0")]
    if epoch is not None:
        entries.append((1003, 4, epoch.to_bytes(4, "big")))
    if source_rpm:
        entries.append((1044, 6, source_rpm.encode() + b"\0"))
    index, data = b"", b""
    for tag, typ, value in entries:
        if typ == 4:
            data += b"\0" * (-len(data) % 4)  # int32 alignment
        index += b"".join(v.to_bytes(4, "big") for v in (tag, typ, len(data), 1))
        data += value
    return len(entries).to_bytes(4, "big") + len(data).to_bytes(4, "big") + index + data


def rpmdb_sqlite(headers):
    """The bytes of an rpmdb.sqlite (rpm 4.16+'s sqlite backend) holding `headers`."""
    import sqlite3
    d = tempfile.mkdtemp(prefix="berth-rpmdb-")
    try:
        path = os.path.join(d, "rpmdb.sqlite")
        db = sqlite3.connect(path)
        db.execute("CREATE TABLE Packages (hnum INTEGER PRIMARY KEY AUTOINCREMENT, blob BLOB NOT NULL)")
        db.executemany("INSERT INTO Packages (blob) VALUES (?)", [(h,) for h in headers])
        db.commit()
        db.close()
        with open(path, "rb") as f:
            return f.read()
    finally:
        shutil.rmtree(d, True)


def debian_rootfs_layer():
    """The gzip tarball of a debootstrap --variant=minbase bookworm rootfs, built once a day."""
    os.makedirs(CACHE_DIR, exist_ok=True)
    tgz = os.path.join(CACHE_DIR, f"bookworm-minbase-{datetime.date.today().isoformat()}.tar.gz")
    if not os.path.exists(tgz):
        if not shutil.which("debootstrap"):
            raise unittest.SkipTest("debootstrap is not installed (scripts/deps.sh --test)")
        if os.geteuid() != 0:
            raise unittest.SkipTest("debootstrap needs root, and no cached rootfs for today is in " + CACHE_DIR)
        mirror = configured_mirror()
        root = tempfile.mkdtemp(prefix="rootfs-", dir=CACHE_DIR)
        try:
            r = subprocess.run(["debootstrap", "--variant=minbase", "bookworm", root, mirror],
                               capture_output=True, text=True, timeout=900)
            if r.returncode != 0:
                probe = subprocess.run(["curl", "-fsS", "-o", "/dev/null", "-m", "20",
                                        mirror.rstrip("/") + "/dists/bookworm/Release"])
                if probe.returncode != 0:
                    raise unittest.SkipTest(f"Debian mirror {mirror} unreachable: debootstrap failed: {r.stdout[-500:]}")
                raise AssertionError(f"debootstrap failed although {mirror} answers:\n{r.stdout[-2000:]}{r.stderr}")
            tmp = tgz + ".part"
            run(["tar", "-C", root, "--numeric-owner", "--sort=name", "-czf", tmp, "."], timeout=900)
            os.rename(tmp, tgz)
        finally:
            shutil.rmtree(root, True)
    h = hashlib.sha256()
    with gzip.open(tgz, "rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    with open(tgz, "rb") as f:
        return tgz, blob_layer(f.read(), "sha256:" + h.hexdigest())


def configured_mirror():
    """The first Debian mirror configured for apt (deb822 .sources or one-line format)."""
    texts = []
    for path in ["/etc/apt/sources.list"] + sorted(glob.glob("/etc/apt/sources.list.d/*")):
        if os.path.isfile(path) and (path.endswith(".list") or path.endswith(".sources")):
            with open(path) as f:
                texts.append(f.read())
    for text in texts:
        for m in re.finditer(r"^(?:URIs:\s*(\S+)|deb\s+(?:\[[^\]]*\]\s+)?(\S+)\s+bookworm\s)", text, re.M):
            uri = m.group(1) or m.group(2)
            if "security" not in uri:
                return uri
    return "http://deb.debian.org/debian"


def read_member(tgz, name):
    with tarfile.open(tgz, "r:gz") as tar:
        for member in tar:
            if member.name.lstrip("./") == name:
                return tar.extractfile(member).read().decode()
    raise AssertionError(f"{name} not in {tgz}")


# ---------------------------------------------------------------------------------------


class TestScanImages(ServerTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        for path in (DEBIAN_DATA, ALPINE_DATA, NPM_DATA):
            run([BERTH_BIN, "vulndb", "import", path,
                 "--data-dir", cls.server.data_dir])

    def setUp(self):
        self.ecr = client(self.server)

    def scan_repo(self):
        repo = self.repo(create=False)
        r = aws(self.server, "create-repository", "--repository-name", repo,
                "--image-scanning-configuration", "scanOnPush=true")
        self.assertEqual(r.returncode, 0, r.stderr)
        return repo

    def push_skopeo(self, repo, manifest, tag):
        d = tempfile.mkdtemp(prefix="berth-scanimg-")
        self.addCleanup(shutil.rmtree, d, True)
        layout = oci.Layout(d).add(manifest, tag)
        run([SKOPEO, "--insecure-policy", "copy", "--dest-tls-verify=false", "--retry-times", "0",
             layout.ref(tag), f"docker://{self.server.address}/{repo}:{tag}"])

    def push_raw(self, repo, manifest, tag):
        for b in manifest.all_blobs():
            self.client.push_blob(repo, b.data)
        r = self.client.put_manifest(repo, tag, manifest.body, manifest.media_type)
        self.assertEqual(r.status_code, 201, r.text)

    def import_osv(self, records):
        """Imports OSV `records` (dicts) into this server's vulnerability data."""
        d = tempfile.mkdtemp(prefix="berth-osv-")
        self.addCleanup(shutil.rmtree, d, True)
        for r in records:
            with open(os.path.join(d, r["id"].replace(":", "-") + ".json"), "w") as f:
                json.dump(r, f)
        run([BERTH_BIN, "vulndb", "import", d, "--data-dir", self.server.data_dir])

    def wait_scan(self, repo, digest):
        deadline = time.monotonic() + SCAN_DEADLINE_S
        while True:
            try:
                out = self.ecr.describe_image_scan_findings(repositoryName=repo, imageId={"imageDigest": digest})
                if out["imageScanStatus"]["status"] != "IN_PROGRESS":
                    return out
            except self.ecr.exceptions.ScanNotFoundException:
                pass  # the push's scan is not queued yet
            if time.monotonic() > deadline:
                self.fail(f"scan of {repo}@{digest} did not finish in {SCAN_DEADLINE_S}s")
            time.sleep(0.1)

    def aws_findings(self, repo, tag):
        """The scan as the real aws CLI sees it (it follows nextToken itself)."""
        r = aws(self.server, "describe-image-scan-findings", "--repository-name", repo, "--image-id", f"imageTag={tag}")
        self.assertEqual(r.returncode, 0, r.stderr)
        out = json.loads(r.stdout)
        self.assertEqual(out["imageScanStatus"]["status"], "COMPLETE", out["imageScanStatus"])
        found = out["imageScanFindings"].get("findings", [])
        got = set()
        for f in found:
            attrs = {a["key"]: a["value"] for a in f["attributes"]}
            got.add((f["name"], attrs["package_name"], attrs["package_version"]))
        self.assertEqual(len(got), len(found), "duplicate findings")
        self.assertEqual(sum(out["imageScanFindings"].get("findingSeverityCounts", {}).values()), len(found))
        return got

    def scan_and_compare(self, repo, image, tag, expected):
        self.push_skopeo(repo, image, tag)
        self.wait_scan(repo, image.digest)
        got = self.aws_findings(repo, tag)
        self.assertEqual(sorted(got - expected), [], "false positives")
        self.assertEqual(sorted(expected - got), [], "missed findings")
        return got

    # -- real images --------------------------------------------------------------------

    def test_debian_bookworm_debootstrap(self):
        tgz, layer = debian_rootfs_layer()
        packages = parse_dpkg_status(read_member(tgz, "var/lib/dpkg/status"))
        self.assertGreater(len(packages), 50)
        self.assertIn('VERSION_ID="12"', read_member(tgz, "etc/os-release"))
        expected = expected_debian(packages)
        self.assertTrue(expected, "the data implies findings for a bookworm minbase rootfs")
        repo = self.scan_repo()
        self.scan_and_compare(repo, image_with(5101, [layer]), "bookworm", expected)

    def test_alpine_apk_database(self):
        # Origins matter: secdb names source packages (openssl, busybox), the database lists
        # binary ones (libcrypto3, ssl_client).
        installed = [("busybox", "1.36.1-r28", "busybox"), ("ssl_client", "1.36.1-r28", "busybox"),
                     ("musl", "1.2.5-r1", "musl"), ("zlib", "1.3.1-r1", "zlib"),
                     ("apk-tools", "2.14.4-r1", "apk-tools"), ("libcrypto3", "3.3.1-r0", "openssl"),
                     ("libssl3", "3.3.1-r0", "openssl"), ("alpine-baselayout", "3.6.5-r0", "alpine-baselayout")]
        db = "\n".join(f"C:Q1{i}=\nP:{n}\nV:{v}\nA:x86_64\no:{o}\n" for i, (n, v, o) in enumerate(installed))
        packages = parse_apk_installed(db)
        expected = expected_alpine(packages)
        affected = {p for (_, p, _) in expected}
        self.assertTrue(affected and affected != {n for n, _, _ in installed}, "want affected and fixed packages")
        layer = tar_layer([("etc", None), ("etc/os-release", OS_ALPINE320), ("lib", None), ("lib/apk", None),
                           ("lib/apk/db", None), ("lib/apk/db/installed", db.encode())])
        self.scan_and_compare(self.scan_repo(), image_with(5102, [layer]), "alpine", expected)

    def test_lodash_from_npm_registry(self):
        d = tempfile.mkdtemp(prefix="berth-npm-")
        self.addCleanup(shutil.rmtree, d, True)
        if not shutil.which("npm"):
            self.skipTest("npm is not installed")
        r = subprocess.run(["npm", "pack", "lodash@4.17.15", "--silent"], cwd=d, capture_output=True, text=True,
                           timeout=120)
        if r.returncode != 0:
            self.skipTest(f"npm registry unreachable: {r.stderr[-300:]}")
        entries = [("app", None), ("app/node_modules", None)]
        with tarfile.open(os.path.join(d, "lodash-4.17.15.tgz")) as tgz:
            for m in tgz:
                if m.isfile():
                    entries.append(("app/node_modules/lodash/" + m.name.split("/", 1)[1], tgz.extractfile(m).read()))
        version = json.loads(dict(entries)["app/node_modules/lodash/package.json"])["version"]
        self.assertEqual(version, "4.17.15")
        expected = expected_npm([("lodash", version)])
        self.assertGreaterEqual(len(expected), 3)
        self.scan_and_compare(self.scan_repo(), image_with(5103, [tar_layer(entries)]), "lodash", expected)

    def test_ubuntu_dpkg_packages_against_ubuntu_osv(self):
        """Ubuntu's OSV records (canonical/ubuntu-security-notices: ecosystem
        "Ubuntu:22.04:LTS", source package names, Debian versions) against a jammy dpkg
        status file. Ubuntu Pro (ESM) fixes and other releases do not apply."""
        def record(rec_id, *affected):
            return osv_record(rec_id, f"{rec_id} vulnerabilities", *affected)
        records = [record("USN-6694-1", ("Ubuntu:22.04:LTS", "expat", "2.4.7-1ubuntu0.3"),
                          ("Ubuntu:Pro:18.04:LTS", "expat", "2.2.5-3ubuntu0.9+esm1")),
                   record("USN-6737-1", ("Ubuntu:22.04:LTS", "glibc", "2.35-0ubuntu3.7")),
                   record("USN-6718-1", ("Ubuntu:22.04:LTS", "openssl", "3.0.2-0ubuntu1.15")),
                   record("USN-5570-1", ("Ubuntu:22.04:LTS", "zlib", "1:1.2.11.dfsg-2ubuntu9.10")),
                   record("USN-7000-1", ("Ubuntu:Pro:22.04:LTS", "tar", "1.34+dfsg-1ubuntu0.1.22.04.2+esm1"),
                          ("Ubuntu:24.04:LTS", "tar", "1.35+dfsg-3ubuntu0.1"))]
        self.import_osv(records)
        status = "".join(f"Package: {p}\nStatus: install ok installed\n" + (f"Source: {src}\n" if src else "") +
                         f"Version: {v}\n\n"
                         for p, src, v in (("libexpat1", "expat", "2.4.7-1ubuntu0.2"),
                                           ("libc6", "glibc", "2.35-0ubuntu3.7"),
                                           ("libc-bin", "glibc", "2.35-0ubuntu3.7"),
                                           ("libssl3", "openssl", "3.0.2-0ubuntu1.14"),
                                           ("zlib1g", "zlib", "1:1.2.11.dfsg-2ubuntu9.2"),
                                           ("tar", None, "1.34+dfsg-1ubuntu0.1.22.04.2")))
        # What the records imply, with dpkg's own ordering (9.2 < 9.10).
        expected = set()
        for name, version, src, src_ver in parse_dpkg_status(status):
            for r in records:
                for a in r["affected"]:
                    fixed = a["ranges"][0]["events"][1]["fixed"]
                    if (a["package"]["ecosystem"] == "Ubuntu:22.04:LTS" and a["package"]["name"] == src
                            and dpkg_lt(src_ver, fixed)):
                        expected.add((r["id"], name, version))
        self.assertEqual({n for _, n, _ in expected}, {"libexpat1", "libssl3", "zlib1g"})
        layer = tar_layer([("etc", None), ("etc/os-release", OS_UBUNTU2204), ("var", None), ("var/lib", None),
                           ("var/lib/dpkg", None), ("var/lib/dpkg/status", status.encode())])
        self.scan_and_compare(self.scan_repo(), image_with(5108, [layer]), "jammy", expected)

    def test_almalinux_rpm_packages_by_source_rpm(self):
        """AlmaLinux's OSV records (ecosystem AlmaLinux:9) name source rpms (the schema's
        rule) or binary rpms (AlmaLinux's own data), with rpm versions; an image's
        rpmdb.sqlite lists binary rpms with their SOURCERPM. Records for another release
        (AlmaLinux:8) or another rebuild (Rocky Linux:9) do not apply."""
        def record(rec_id, ecosystem, name, fixed):
            return osv_record(rec_id, f"{name} security update", (ecosystem, name, fixed))
        records = [record("ALSA-2023:3722", "AlmaLinux:9", "openssl", "1:3.0.7-16.el9_2"),
                   # As AlmaLinux's own data has it: the binary rpm's name, no "krb5" entry.
                   record("ALSA-2022:8637", "AlmaLinux:9", "krb5-libs", "1.19.1-24.el9_1"),
                   record("ALSA-2023:0958", "AlmaLinux:9", "bash", "5.1.8-6.el9_1"),
                   record("ALSA-2023:3839", "AlmaLinux:9", "curl", "7.76.1-23.el9_2.1"),
                   record("ALSA-2023:0101", "AlmaLinux:8", "zlib", "1.2.11-99.el8"),
                   record("RLSA-2023:3722", "Rocky Linux:9", "zlib", "1.2.11-99.el9")]
        self.import_osv(records)
        db = rpmdb_sqlite([
            rpm_header("openssl-libs", "3.0.7", "16.el9", epoch=1, source_rpm="openssl-3.0.7-16.el9.src.rpm"),
            rpm_header("bash", "5.1.8", "6.el9_1", source_rpm="bash-5.1.8-6.el9_1.src.rpm"),
            rpm_header("krb5-libs", "1.19.1", "22.el9", source_rpm="krb5-1.19.1-22.el9.src.rpm"),
            rpm_header("libcurl", "7.76.1", "23.el9", source_rpm="curl-7.76.1-23.el9.src.rpm"),
            rpm_header("zlib", "1.2.11", "40.el9", source_rpm="zlib-1.2.11-40.el9.src.rpm"),
            rpm_header("gpg-pubkey", "fd431d51", "4ae0493b"),  # no source rpm: matched by its own name
        ])
        layer = tar_layer([("etc", None), ("etc/os-release", OS_ALMA9), ("var", None), ("var/lib", None),
                           ("var/lib/rpm", None), ("var/lib/rpm/rpmdb.sqlite", db)])
        # 1:3.0.7-16.el9 < 1:3.0.7-16.el9_2 (the fix's release sorts later); bash is at its
        # fix; zlib's records are for other distributions.
        expected = {("ALSA-2023:3722", "openssl-libs", "1:3.0.7-16.el9"),
                    ("ALSA-2022:8637", "krb5-libs", "1.19.1-22.el9"),
                    ("ALSA-2023:3839", "libcurl", "7.76.1-23.el9")}
        self.scan_and_compare(self.scan_repo(), image_with(5107, [layer]), "alma9", expected)

    def test_debian_cve_known_only_from_a_dsa(self):
        """DSA-5523-1 fixes CVE-2023-38545 and CVE-2023-38546 in curl 7.88.1-10+deb12u4;
        the data set's CVE list has only CVE-2023-38545: the other is found through the DSA."""
        status = b"".join(b"Package: %s\nStatus: install ok installed\nSource: curl\nVersion: 7.88.1-10+deb12u3\n\n" % p
                          for p in (b"curl", b"libcurl4"))
        packages = parse_dpkg_status(status.decode())
        expected = expected_debian(packages)
        self.assertIn(("CVE-2023-38546", "libcurl4", "7.88.1-10+deb12u3"), expected)
        layer = tar_layer([("etc/os-release", OS_DEBIAN12), ("var/lib/dpkg/status", status)])
        self.scan_and_compare(self.scan_repo(), image_with(5106, [layer]), "curl", expected)

    def test_whiteouts_hide_deleted_packages(self):
        lower = tar_layer([
            ("app", None), ("app/node_modules", None),
            ("app/node_modules/lodash", None), ("app/node_modules/lodash/package.json", npm_manifest("lodash", "4.17.15")),
            ("app/node_modules/minimist", None),
            ("app/node_modules/minimist/package.json", npm_manifest("minimist", "1.2.0")),
            ("opt", None), ("opt/node_modules", None), ("opt/node_modules/semver", None),
            ("opt/node_modules/semver/package.json", npm_manifest("semver", "5.7.1")),
            ("etc", None), ("etc/os-release", OS_DEBIAN12),
            ("var", None), ("var/lib", None), ("var/lib/dpkg", None),
            ("var/lib/dpkg/status", b"Package: perl-base\nStatus: install ok installed\nSource: perl\n"
                                    b"Version: 5.36.0-7+deb12u1\n"),
        ])
        upper = tar_layer([
            ("app", None), ("app/node_modules", None), ("app/node_modules/.wh.lodash", b""),
            ("opt", None), ("opt/node_modules", None), ("opt/node_modules/.wh..wh..opq", b""),
            ("opt/node_modules/json5", None), ("opt/node_modules/json5/package.json", npm_manifest("json5", "1.0.1")),
            ("var", None), ("var/lib", None), ("var/lib/dpkg", None), ("var/lib/dpkg/.wh.status", b""),
        ])
        # What a runtime sees: minimist and json5; lodash, semver and perl-base are gone.
        expected = expected_npm([("minimist", "1.2.0"), ("json5", "1.0.1")])
        hidden = (expected_npm([("lodash", "4.17.15"), ("semver", "5.7.1")])
                  | expected_debian([("perl-base", "5.36.0-7+deb12u1", "perl", "5.36.0-7+deb12u1")]))
        self.assertTrue(expected and hidden, "both the visible and the deleted packages must be vulnerable")
        repo = self.scan_repo()
        self.scan_and_compare(repo, image_with(5104, [lower]), "lower", expected_npm([("minimist", "1.2.0")]) | hidden)
        self.scan_and_compare(repo, image_with(5105, [lower, upper]), "upper", expected)

    # -- bad input ----------------------------------------------------------------------

    def assert_failed_and_serving(self, repo, image, tag, reason):
        self.push_raw(repo, image, tag)
        out = self.wait_scan(repo, image.digest)
        self.assertEqual(out["imageScanStatus"]["status"], "FAILED", out["imageScanStatus"])
        self.assertRegex(out["imageScanStatus"]["description"], reason)
        self.assertEqual(self.client.get_manifest(repo, tag).status_code, 200)
        self.assertEqual(self.client.get_blob(repo, image.all_blobs()[-1].digest).status_code, 200)

    def test_tar_bombs_end_failed(self):
        repo = self.scan_repo()
        with self.subTest("huge declared size"):
            # A status file declaring 20 GiB, with the archive ending right after its header.
            info = tarfile.TarInfo("var/lib/dpkg/status")
            info.size = 20 << 30
            head = info.tobuf(format=tarfile.PAX_FORMAT)
            tar = head + b"Package: x\n".ljust(512, b"\0")
            layer = blob_layer(gzip.compress(tar), oci.sha256(tar))
            self.assert_failed_and_serving(repo, image_with(5110, [layer]), "huge", r"layer sha256:.*(truncat|corrupt)")
        with self.subTest("very many files"):
            self.assert_failed_and_serving(repo, image_with(5111, [many_files_layer(500_001)]), "many",
                                           r"more than 500000 entries")
        with self.subTest("very deep path"):
            deep = "/".join(["d"] * 300) + "/node_modules/lodash/package.json"
            layer = tar_layer([(deep, npm_manifest("lodash", "4.17.15"))])
            self.assert_failed_and_serving(repo, image_with(5112, [layer]), "deep", r"deeper than 256")
        with self.subTest("very long path"):
            layer = tar_layer([("x" * 5000, b"")])
            self.assert_failed_and_serving(repo, image_with(5113, [layer]), "long", r"longer than 4096")

    def test_symlink_loops_are_not_followed(self):
        layer = tar_layer(
            [("app", None), ("app/node_modules", None), ("app/node_modules/minimist", None),
             ("app/node_modules/minimist/package.json", npm_manifest("minimist", "1.2.0"))],
            links=[("loop-a", "loop-b"), ("loop-b", "loop-a"), ("self", "self"),
                   ("app/node_modules/lodash", "../node_modules"), ("app/node_modules/x", "lodash/x"),
                   ("var", "var"), ("lib", "lib/apk/db")])
        expected = expected_npm([("minimist", "1.2.0")])
        self.assertTrue(expected)
        repo = self.scan_repo()
        self.scan_and_compare(repo, image_with(5120, [layer]), "loops", expected)
        self.assertEqual(self.client.get_manifest(repo, "loops").status_code, 200)

    def test_malformed_dpkg_status_ends_failed_naming_the_line(self):
        # What dpkg itself accepts is read: a stanza without Version (skipped), multi-line
        # fields; the valid perl-base stanza is matched.
        tolerated = (b"Package: broken-no-version\nStatus: install ok installed\n\n\n"
                     b"Package: perl-base\nStatus: install ok installed\nSource: perl\nVersion: 5.36.0-7+deb12u1\n"
                     b"Description: the one valid stanza\n continued\n .\n\n")
        layer = tar_layer([("etc", None), ("etc/os-release", OS_DEBIAN12), ("var", None), ("var/lib", None),
                           ("var/lib/dpkg", None), ("var/lib/dpkg/status", tolerated)])
        packages = parse_dpkg_status(tolerated.decode())
        self.assertEqual([p[0] for p in packages], ["perl-base"])
        expected = expected_debian(packages)
        self.assertTrue(expected)
        repo = self.scan_repo()
        self.scan_and_compare(repo, image_with(5130, [layer]), "tolerated", expected)
        # A line that is neither a field nor a continuation: the inventory cannot be
        # trusted, the scan ends FAILED naming the file and line, the registry serves on.
        status = tolerated + (b"\x00\xff\xfe garbage line without a colon\n\xc3\x28\n\n"
                              b"Version: 1.0\nStatus: install ok installed\n\nPackage:\nVersion:\n\n:::\n\n")
        layer = tar_layer([("etc", None), ("etc/os-release", OS_DEBIAN12), ("var", None), ("var/lib", None),
                           ("var/lib/dpkg", None), ("var/lib/dpkg/status", status)])
        image = image_with(5131, [layer])
        self.push_skopeo(repo, image, "malformed")
        out = self.wait_scan(repo, image.digest)
        self.assertEqual(out["imageScanStatus"]["status"], "FAILED", out["imageScanStatus"])
        self.assertIn("var/lib/dpkg/status line 13:", out["imageScanStatus"]["description"])
        self.assertEqual(self.client.get_manifest(repo, "malformed").status_code, 200)


def many_files_layer(n):
    """n empty regular files, as raw ustar headers (tarfile is too slow for 500k entries)."""
    def header(name):
        h = bytearray(512)
        h[0:len(name)] = name
        h[100:108] = b"0000644\0"
        h[108:116] = b"0000000\0"
        h[116:124] = b"0000000\0"
        h[124:136] = b"00000000000\0"
        h[136:148] = b"14370573400\0"
        h[148:156] = b"        "
        h[156:157] = b"0"
        h[257:265] = b"ustar\x0000"
        h[148:156] = b"%06o\0 " % sum(h)
        return bytes(h)
    tar = b"".join(header(b"f/%d" % i) for i in range(n)) + b"\0" * 1024
    return blob_layer(gzip.compress(tar, compresslevel=1), oci.sha256(tar))


if __name__ == "__main__":
    unittest.main()
