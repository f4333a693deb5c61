"""The pull gate: `berth admin set-pull-gate` refuses manifest GETs (and BatchGetImage) of
images whose scan has findings at or above a severity, or that were never scanned, with a
DENIED message naming the image, its worst finding and how to override; exempt principals
still pull; clearing the gate restores pulls. Real advisories (lodash 4.17.15,
GHSA-p6mc-m468-83gw, HIGH) are imported from ../shared/vulndata."""

import glob
import json
import os
import shutil
import subprocess
import tempfile
import unittest

from harness import BERTH_BIN, ServerTestCase, run
from principals import PrincipalsMixin
from test_ecr_api import client
from test_gc import SKOPEO, image_with
import test_scanning
from test_scanning import VULNDATA, lodash_layer

ADVISORY = "GHSA-p6mc-m468-83gw"
PULL_ALL = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "ecr:*", "Resource": "*"}]}


class TestPullGate(PrincipalsMixin, ServerTestCase):
    # Pushing and waiting for scans as test_scanning does (not importing its class, which
    # the test runner would collect and run again).
    push_raw = test_scanning.TestScanning.push_raw
    findings = test_scanning.TestScanning.findings
    wait_scan = test_scanning.TestScanning.wait_scan

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.work = tempfile.mkdtemp(prefix="berth-gate-")
        cls.addClassCleanup(shutil.rmtree, cls.work, True)
        d = os.path.join(cls.work, "vulndata")
        os.makedirs(d)
        shutil.copy(os.path.join(VULNDATA, "osv", "npm", ADVISORY + ".json"), d)
        run([BERTH_BIN, "vulndb", "import", d, "--data-dir", cls.server.data_dir])

    def setUp(self):
        self.ecr = client(self.server)

    def gate(self, verb, *args, check=True):
        return self.admin(verb, *args, check=check)

    def scanned(self, repo, img, tag):
        self.push_raw(repo, img, tag)
        self.ecr.start_image_scan(repositoryName=repo, imageId={"imageDigest": img.digest})
        self.assertEqual(self.wait_scan(repo, img.digest)["imageScanStatus"]["status"], "COMPLETE")

    def audit_records(self, **want):
        out = []
        for path in sorted(glob.glob(os.path.join(self.server.data_dir, "audit", "*.jsonl"))):
            with open(path) as f:
                out += [json.loads(line) for line in f]
        return [r for r in out if all(r.get(k) == v for k, v in want.items())]

    def test_vulnerable_refused_fixed_pulls_exempt_pulls_clear_restores(self):
        repo = self.repo()
        old = image_with(601, [lodash_layer("4.17.15")])
        fixed = image_with(602, [lodash_layer("4.17.21")])
        self.scanned(repo, old, "old")
        self.scanned(repo, fixed, "fixed")
        scanner = self.create_user("gate-scanner", PULL_ALL)

        out = json.loads(self.gate("set-pull-gate", "--repository", repo, "--severity", "HIGH",
                                   "--exempt", scanner["Arn"]).stdout)
        self.assertEqual(out["pullGate"], {"severity": "HIGH", "blockUnscanned": False, "exempt": [scanner["Arn"]]})
        got = json.loads(self.gate("get-pull-gate", "--repository", repo).stdout)
        self.assertEqual(got["pullGate"]["severity"], "HIGH")

        # /v2/: 403 DENIED with the image, its worst finding and the way out.
        for ref in ("old", old.digest):
            r = self.client.get_manifest(repo, ref)
            self.assertEqual(r.status_code, 403, r.text)
            err = r.json()["errors"][0]
            self.assertEqual(err["code"], "DENIED")
            self.assertNotIn("detail", err)  # optional in the spec: left out, not null
            self.assertIn(f"{repo}@{old.digest}", err["message"])
            self.assertIn(f"HIGH finding {ADVISORY} in lodash 4.17.15", err["message"])
            self.assertIn("exempt", err["message"])
            self.assertIn(f"set-pull-gate --repository {repo}", err["message"])
        self.assertEqual(self.client.get_manifest(repo, "fixed").status_code, 200)
        # HEAD carries no body to explain a refusal; the GET that follows it is refused.
        self.assertEqual(self.client.get_manifest(repo, "old", method="HEAD").status_code, 200)

        # A real client shows the reason.
        dest = os.path.join(self.work, "pulled-old")
        r = subprocess.run([SKOPEO, "--insecure-policy", "copy", "--src-tls-verify=false", "--retry-times", "0",
                            f"docker://{self.server.address}/{repo}:old", f"oci:{dest}:old"],
                           capture_output=True, text=True, timeout=300)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn(ADVISORY, r.stderr)

        # The refusal is in the audit trail.
        denied = [a for a in self.audit_records(source="registry", result="denied", errorCode="DENIED")
                  if ADVISORY in a.get("errorMessage", "")]
        self.assertTrue(denied)
        self.assertTrue(denied[-1]["resource"].endswith(":repository/" + repo))

        # ECR BatchGetImage: the gated image is a per-image failure, the rest is served.
        got = self.ecr.batch_get_image(repositoryName=repo, imageIds=[{"imageTag": "old"}, {"imageTag": "fixed"}])
        self.assertEqual([i["imageId"]["imageDigest"] for i in got["images"]], [fixed.digest])
        self.assertEqual(len(got["failures"]), 1)
        self.assertEqual(got["failures"][0]["failureCode"], "ImageInaccessible")
        self.assertEqual(got["failures"][0]["imageId"], {"imageTag": "old"})
        self.assertIn(ADVISORY, got["failures"][0]["failureReason"])
        self.assertTrue(self.audit_records(source="ecr", action="ecr:BatchGetImage", result="denied",
                                           errorCode="ImageInaccessible"))

        # The exempt principal pulls, on both APIs.
        as_scanner = self.client_as(scanner)
        self.assertEqual(as_scanner.get_manifest(repo, "old").status_code, 200)
        got = self.ecr_as(scanner).batch_get_image(repositoryName=repo, imageIds=[{"imageTag": "old"}])
        self.assertEqual(len(got["images"]), 1, got["failures"])

        # Clearing the gate restores pulls at once.
        self.gate("clear-pull-gate", "--repository", repo)
        self.assertEqual(self.client.get_manifest(repo, "old").status_code, 200)
        self.assertIsNone(json.loads(self.gate("get-pull-gate", "--repository", repo).stdout)["pullGate"])
        self.assertTrue(self.audit_records(source="admin", action="admin:clear-pull-gate"))

    def test_block_unscanned_and_repository_setting_wins(self):
        repo = self.repo()
        other = self.repo()
        img = image_with(603, [lodash_layer("4.17.21")])
        self.push_raw(repo, img, "v1")
        self.push_raw(other, img, "v1")
        self.gate("set-pull-gate", "--severity", "HIGH", "--block-unscanned")
        try:
            r = self.client.get_manifest(repo, "v1")
            self.assertEqual(r.status_code, 403, r.text)
            self.assertIn(f"{repo}@{img.digest} has never been scanned", r.json()["errors"][0]["message"])
            self.assertIn("the registry's pull gate", r.json()["errors"][0]["message"])
            # The repository's own setting wins over the registry's.
            self.gate("set-pull-gate", "--repository", other, "--severity", "CRITICAL")
            self.assertEqual(self.client.get_manifest(other, "v1").status_code, 200)
            # Once scanned clean, the image passes.
            self.ecr.start_image_scan(repositoryName=repo, imageId={"imageDigest": img.digest})
            self.assertEqual(self.wait_scan(repo, img.digest)["imageScanStatus"]["status"], "COMPLETE")
            self.assertEqual(self.client.get_manifest(repo, "v1").status_code, 200)
        finally:
            self.gate("clear-pull-gate")
        bad = self.gate("set-pull-gate", "--severity", "SEVERE", check=False)
        self.assertEqual(bad.returncode, 1)
        self.assertIn("CRITICAL, HIGH", bad.stderr)
        bad = self.gate("set-pull-gate", "--severity", "HIGH", "--exempt", "scanner", check=False)
        self.assertEqual(bad.returncode, 1)
        self.assertIn("not an IAM ARN", bad.stderr)
        bad = self.gate("set-pull-gate", "--severity", "HIGH", "--exempt", "arn:aws:iam::123456789012:role/scan*",
                        check=False)
        self.assertEqual(bad.returncode, 1)
        self.assertIn("wildcard", bad.stderr)
        # A command-line mistake exits 1 too, with CLI11's message; --help exits 0.
        bad = self.gate("set-pull-gate", check=False)
        self.assertEqual(bad.returncode, 1)
        self.assertIn("--severity is required", bad.stderr)
        helped = subprocess.run([BERTH_BIN, "admin", "set-pull-gate", "--help"], capture_output=True, text=True)
        self.assertEqual(helped.returncode, 0, helped.stderr)
        self.assertIn("ANY", helped.stdout)
        out = json.loads(self.gate("set-pull-gate", "--repository", repo, "--severity", "any").stdout)
        self.assertEqual(out["pullGate"]["severity"], "ANY")
        self.gate("clear-pull-gate", "--repository", repo)

    def ecr_as(self, user):
        return PrincipalsMixin.ecr(self, user)


if __name__ == "__main__":
    unittest.main()
