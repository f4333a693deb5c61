"""`berth vulndb import` and `berth vulndb status` against the data dir of a running
`berth serve`: progress and skipped files on stderr, the summary on stdout, idempotent
re-imports, and the exit code when nothing could be read."""

import json
import os
import shutil
import tempfile
import unittest
import zipfile

import requests

from harness import BERTH_BIN, FreshServerTestCase, run


def osv(id_, name, fixed, modified="2024-01-01T00:00:00Z"):
    return json.dumps({"id": id_, "modified": modified, "summary": f"{id_} summary",
                       "affected": [{"package": {"ecosystem": "npm", "name": name},
                                     "ranges": [{"type": "SEMVER",
                                                 "events": [{"introduced": "0"}, {"fixed": fixed}]}]}]})


DSA_LIST = ("[03 Oct 2023] DSA-5514-1 glibc - security update\n"
            "\t{CVE-2023-4911}\n"
            "\t[bookworm] - glibc 2.36-9+deb12u3\n")
CVE_LIST = "CVE-2023-4911 (buffer overflow in ld.so)\n\t- glibc <unfixed>\n"


class VulndbCliTest(FreshServerTestCase):
    def setUp(self):
        super().setUp()
        self.src = tempfile.mkdtemp(prefix="berth-vulndb-")
        self.addCleanup(shutil.rmtree, self.src, True)

    def write(self, rel, text):
        path = os.path.join(self.src, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as f:
            f.write(text)
        return path

    def berth(self, *args, check=True):
        env = dict(os.environ)
        env.setdefault("ASAN_OPTIONS", "detect_leaks=1:abort_on_error=0")
        return run([BERTH_BIN, "vulndb", *args, "--data-dir", self.server.data_dir], check=check, env=env)

    def test_import_while_serving_is_idempotent_and_reports_bad_files(self):
        self.write("osv/GHSA-aaaa.json", osv("GHSA-aaaa", "lodash", "4.17.20"))
        self.write("osv/GHSA-bbbb.json", osv("GHSA-bbbb", "minimist", "1.2.6"))
        self.write("osv/GHSA-broken.json", '{"id": "GHSA-broken", "affected": [')
        self.write("debian/DSA-list", DSA_LIST)
        self.write("debian/CVE-list", CVE_LIST)
        self.write("README.md", "# advisories\n")

        r = self.berth("import", self.src, "--json")
        report = json.loads(r.stdout)
        self.assertEqual(report["filesRead"], 4)
        self.assertEqual([s["file"] for s in report["skipped"]], ["osv/GHSA-broken.json"])
        self.assertEqual([s["file"] for s in report["ignored"]], ["README.md"])
        self.assertEqual(report["added"], 3)  # two OSV records, CVE-2023-4911 (its DSA folded in)
        self.assertFalse(report["pruned"])
        stderr = r.stderr.decode()
        self.assertIn("skipped osv/GHSA-broken.json: invalid JSON", stderr)
        self.assertIn("3 added", stderr)
        self.assertEqual(requests.get(self.server.base_url + "/healthz", timeout=10).status_code, 200)

        again = json.loads(self.berth("import", self.src, "--json").stdout)
        self.assertEqual((again["added"], again["changed"], again["removed"]), (0, 0, 0))
        self.assertEqual(again["unchanged"], 3)
        self.assertEqual(again["version"], report["version"])

        # Without the broken file the import is complete, so what is gone is removed.
        os.remove(os.path.join(self.src, "osv/GHSA-broken.json"))
        os.remove(os.path.join(self.src, "osv/GHSA-bbbb.json"))
        text = self.berth("import", self.src).stdout.decode()
        self.assertIn("0 added, 0 changed, 2 unchanged, 1 removed", text)

        status = json.loads(self.berth("status", "--json").stdout)
        self.assertNotEqual(status["version"], report["version"])
        self.assertEqual(status["advisories"], 2)
        counts = {(c["source"].split(":", 1)[0], c["ecosystem"]): c["advisories"] for c in status["counts"]}
        self.assertEqual(counts, {("osv", "npm"): 1, ("debian", "Debian"): 1})
        self.assertEqual(status["lastImport"]["removed"], 1)
        self.assertEqual(status["lastImport"]["path"], os.path.realpath(self.src))
        self.assertIn("data version:", self.berth("status").stdout.decode())

        audit = []
        d = os.path.join(self.server.data_dir, "audit")
        for name in sorted(os.listdir(d)):
            with open(os.path.join(d, name)) as f:
                audit += [json.loads(line) for line in f if line.strip()]
        imports = [a for a in audit if a.get("action") == "vulndb:Import"]
        self.assertEqual(len(imports), 3)
        self.assertEqual(imports[-1]["detail"]["removed"], 1)

    def test_zip_import(self):
        zpath = os.path.join(self.src, "all.zip")
        with zipfile.ZipFile(zpath, "w", zipfile.ZIP_DEFLATED) as z:
            z.writestr("GHSA-aaaa.json", osv("GHSA-aaaa", "lodash", "4.17.20"))
            z.writestr("GHSA-cccc.json", osv("GHSA-cccc", "semver", "7.5.2"))
        report = json.loads(self.berth("import", zpath, "--json").stdout)
        self.assertEqual((report["filesRead"], report["added"]), (2, 2))
        self.assertEqual(os.listdir(self.src), ["all.zip"])  # nothing extracted

    def test_nothing_readable_exits_1(self):
        self.write("notes.txt", "nothing to see\n")
        r = self.berth("import", self.src, check=False)
        self.assertEqual(r.returncode, 1)
        self.assertIn(b"no advisory file could be read", r.stderr)
        r = self.berth("import", os.path.join(self.src, "absent"), check=False)
        self.assertEqual(r.returncode, 1)
        self.assertIn(b"does not exist", r.stderr)
        status = json.loads(self.berth("status", "--json").stdout)
        self.assertEqual((status["version"], status["advisories"], status["lastImport"]), ("", 0, None))


if __name__ == "__main__":
    unittest.main()
