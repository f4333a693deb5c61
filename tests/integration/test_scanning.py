"""Image scanning through the real aws CLI and boto3: scan on push (repository flag and
registry rules), StartImageScan and its daily quota, DescribeImageScanFindings and the
summaries in DescribeImages, registry scanning configuration, and bad layers that end a
scan FAILED while the registry keeps serving.

Most tests run with no vulnerability data imported, so they check statuses and shapes;
test_findings_after_vulndb_import imports real advisories and checks the findings."""

import json
import os
import shutil
import tempfile
import time
import types
import unittest

import ocilayout as oci
from harness import BERTH_BIN, ServerTestCase, run
from test_ecr_api import aws, client
from test_gc import SKOPEO, image_with

SCAN_DEADLINE_S = 120
VULNDATA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "shared", "vulndata")


def layer(entries):
    return oci.Layer(oci.make_tar(entries), "gzip")


def lodash_layer(version="4.17.15"):
    return layer([("app", None), ("app/node_modules", None), ("app/node_modules/lodash", None),
                  ("app/node_modules/lodash/package.json",
                   json.dumps({"name": "lodash", "version": version}).encode())])


def not_a_tar_layer():
    # Bytes that are neither gzip, zstd nor tar, under a gzip media type.
    data = b"this is not a tar archive\n" * 200
    return types.SimpleNamespace(diff_id=oci.sha256(data), blob=oci.Blob(data, oci.MT_OCI_LAYER_GZIP))


class ScanningCase(ServerTestCase):
    """Helpers; each subclass gets its own server."""

    def setUp(self):
        self.ecr = client(self.server)

    # -- helpers ------------------------------------------------------------------------

    def push_raw(self, repo, manifest, tag):
        for b in manifest.all_blobs():
            self.client.push_blob(repo, b.data)
        for m in manifest.all_manifests():
            ref = tag if m is manifest else m.digest
            r = self.client.put_manifest(repo, ref, m.body, m.media_type)
            self.assertEqual(r.status_code, 201, r.text)

    def push_skopeo(self, repo, manifest, tag):
        d = tempfile.mkdtemp(prefix="berth-scan-")
        self.addCleanup(shutil.rmtree, d, True)
        layout = oci.Layout(d).add(manifest, tag)
        run([SKOPEO, "--insecure-policy", "copy", "--all", "--dest-tls-verify=false", "--retry-times", "0",
             layout.ref(tag), f"docker://{self.server.address}/{repo}:{tag}"])

    def findings(self, repo, digest, **kw):
        """DescribeImageScanFindings; checks on the body as sent (boto3 drops nulls) that
        imageScanFindings is left out, not null, until the scan completed."""
        bodies = []

        def keep(http_response, **_):
            bodies.append(http_response.content)
        self.ecr.meta.events.register("after-call.ecr.DescribeImageScanFindings", keep)
        try:
            out = self.ecr.describe_image_scan_findings(repositoryName=repo, imageId={"imageDigest": digest}, **kw)
        finally:
            self.ecr.meta.events.unregister("after-call.ecr.DescribeImageScanFindings", keep)
        raw = json.loads(bodies[-1])
        if raw["imageScanStatus"]["status"] not in ("COMPLETE", "ACTIVE"):
            self.assertNotIn("imageScanFindings", raw, raw)
        return out

    def wait_scan(self, repo, digest):
        """Polls until the scan has an outcome (a scan runs in the background)."""
        deadline = time.monotonic() + SCAN_DEADLINE_S
        while True:
            try:
                out = self.findings(repo, digest)
                # PENDING: an ENHANCED registry's word for a scan under way.
                if out["imageScanStatus"]["status"] not in ("IN_PROGRESS", "PENDING"):
                    return out
            except self.ecr.exceptions.ScanNotFoundException:
                pass  # the push's scan is not queued yet
            if time.monotonic() > deadline:
                self.fail(f"scan of {repo}@{digest} did not finish in {SCAN_DEADLINE_S}s")
            time.sleep(0.1)



class TestScanning(ScanningCase):
    def test_scan_on_push_with_repository_flag(self):
        repo = self.repo(create=False)
        r = aws(self.server, "create-repository", "--repository-name", repo,
                "--image-scanning-configuration", "scanOnPush=true")
        self.assertEqual(r.returncode, 0, r.stderr)
        img = image_with(501, [lodash_layer()])
        self.push_skopeo(repo, img, "v1")
        out = self.wait_scan(repo, img.digest)
        self.assertEqual(out["imageScanStatus"]["status"], "COMPLETE", out["imageScanStatus"])
        self.assertIn("imageScanCompletedAt", out["imageScanFindings"])
        self.assertIsInstance(out["imageScanFindings"]["findingSeverityCounts"], dict)
        self.assertIsInstance(out["imageScanFindings"]["findings"], list)
        self.assertEqual(out["imageId"], {"imageDigest": img.digest})
        # As ECR, the scan on push counts toward the one scan per image per day.
        with self.assertRaises(self.ecr.exceptions.LimitExceededException):
            self.ecr.start_image_scan(repositoryName=repo, imageId={"imageTag": "v1"})

        # The aws CLI reads the same shape, by tag too.
        r = aws(self.server, "describe-image-scan-findings", "--repository-name", repo, "--image-id", "imageTag=v1")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(json.loads(r.stdout)["imageScanStatus"]["status"], "COMPLETE")

        details = self.ecr.describe_images(repositoryName=repo)["imageDetails"]
        self.assertEqual(len(details), 1)
        self.assertEqual(details[0]["imageScanStatus"]["status"], "COMPLETE")
        self.assertIn("findingSeverityCounts", details[0]["imageScanFindingsSummary"])
        by_id = self.ecr.describe_images(repositoryName=repo, imageIds=[{"imageTag": "v1"}])["imageDetails"]
        self.assertEqual(by_id[0]["imageScanStatus"]["status"], "COMPLETE")

    def test_manual_scan_quota_and_errors(self):
        repo = self.repo()
        img = image_with(502, [lodash_layer("4.17.21")])
        self.push_raw(repo, img, "v1")
        with self.assertRaises(self.ecr.exceptions.ScanNotFoundException):
            self.findings(repo, img.digest)
        self.assertNotIn("imageScanStatus", self.ecr.describe_images(repositoryName=repo)["imageDetails"][0])

        started = self.ecr.start_image_scan(repositoryName=repo, imageId={"imageTag": "v1"})
        self.assertEqual(started["imageScanStatus"]["status"], "IN_PROGRESS")
        self.assertEqual(started["imageId"], {"imageDigest": img.digest, "imageTag": "v1"})
        self.assertEqual(self.wait_scan(repo, img.digest)["imageScanStatus"]["status"], "COMPLETE")

        r = aws(self.server, "start-image-scan", "--repository-name", repo, "--image-id", f"imageDigest={img.digest}")
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("LimitExceededException", r.stderr)

        with self.assertRaises(self.ecr.exceptions.ImageNotFoundException):
            self.ecr.start_image_scan(repositoryName=repo, imageId={"imageDigest": oci.sha256(b"nothing")})
        with self.assertRaises(self.ecr.exceptions.ImageNotFoundException):
            self.findings(repo, oci.sha256(b"nothing"))
        with self.assertRaises(self.ecr.exceptions.RepositoryNotFoundException):
            self.ecr.start_image_scan(repositoryName=repo + "-missing", imageId={"imageTag": "v1"})
        with self.assertRaises(self.ecr.exceptions.InvalidParameterException):
            self.findings(repo, img.digest, nextToken="not-a-token-berth-issued")

    def test_bad_layer_ends_failed_and_registry_keeps_serving(self):
        repo = self.repo()
        bad = image_with(503, [lodash_layer(), not_a_tar_layer()])
        self.push_raw(repo, bad, "bad")
        self.ecr.start_image_scan(repositoryName=repo, imageId={"imageDigest": bad.digest})
        out = self.wait_scan(repo, bad.digest)
        self.assertEqual(out["imageScanStatus"]["status"], "FAILED")
        self.assertIn("layer sha256:", out["imageScanStatus"]["description"])
        self.assertNotIn("imageScanFindings", out)
        # A scan that failed does not use up the image's daily StartImageScan.
        self.ecr.start_image_scan(repositoryName=repo, imageId={"imageDigest": bad.digest})
        self.assertEqual(self.wait_scan(repo, bad.digest)["imageScanStatus"]["status"], "FAILED")
        # Still serving: a pull and another scan work.
        self.assertEqual(self.client.get_manifest(repo, "bad").status_code, 200)
        good = image_with(504, [lodash_layer()])
        self.push_raw(repo, good, "good")
        self.ecr.start_image_scan(repositoryName=repo, imageId={"imageTag": "good"})
        self.assertEqual(self.wait_scan(repo, good.digest)["imageScanStatus"]["status"], "COMPLETE")

    def test_index_is_unsupported_and_its_images_are_scanned(self):
        repo = self.repo(create=False)
        self.ecr.create_repository(repositoryName=repo, imageScanningConfiguration={"scanOnPush": True})
        amd = image_with(505, [lodash_layer()])
        arm = image_with(506, [lodash_layer("4.17.21")])
        index = oci.build_index([amd, arm])
        self.push_skopeo(repo, index, "multi")
        self.assertEqual(self.wait_scan(repo, index.digest)["imageScanStatus"]["status"], "UNSUPPORTED_IMAGE")
        for child in (amd, arm):
            self.assertEqual(self.wait_scan(repo, child.digest)["imageScanStatus"]["status"], "COMPLETE")
        with self.assertRaises(self.ecr.exceptions.UnsupportedImageTypeException):
            self.ecr.start_image_scan(repositoryName=repo, imageId={"imageTag": "multi"})

    def test_scan_cli_while_serving(self):
        repo = self.repo()
        img = image_with(510, [lodash_layer()])
        self.push_raw(repo, img, "v1")
        out = json.loads(run([BERTH_BIN, "scan", "image", "--repository", repo, "--image", "v1", "--json",
                              "--data-dir", self.server.data_dir]).stdout)
        self.assertEqual(out["status"], "COMPLETE")
        self.assertEqual(out["imageDigest"], img.digest)
        # The server sees the stored scan.
        self.assertEqual(self.findings(repo, img.digest)["imageScanStatus"]["status"], "COMPLETE")
        r = run([BERTH_BIN, "scan", "image", "--repository", repo, "--image", "nope", "--data-dir",
                 self.server.data_dir], check=False)
        self.assertEqual(r.returncode, 1)
        report = json.loads(run([BERTH_BIN, "scan", "rescan", "--json", "--data-dir", self.server.data_dir]).stdout)
        self.assertEqual(report["layersRead"], 0)

    def test_findings_after_vulndb_import(self):
        """Real findings, from advisories imported while the server runs."""
        d = tempfile.mkdtemp(prefix="berth-vulndb-")
        self.addCleanup(shutil.rmtree, d, True)
        shutil.copy(os.path.join(VULNDATA, "osv", "npm", "GHSA-p6mc-m468-83gw.json"), d)
        run([BERTH_BIN, "vulndb", "import", d, "--data-dir", self.server.data_dir])
        repo = self.repo()
        old = image_with(508, [lodash_layer("4.17.15")])
        fixed = image_with(509, [lodash_layer("4.17.21")])
        self.push_raw(repo, old, "old")
        self.push_raw(repo, fixed, "fixed")
        for img in (old, fixed):
            self.ecr.start_image_scan(repositoryName=repo, imageId={"imageDigest": img.digest})
        out = self.wait_scan(repo, old.digest)["imageScanFindings"]
        names = [f["name"] for f in out["findings"]]
        self.assertIn("GHSA-p6mc-m468-83gw", names)
        f = out["findings"][names.index("GHSA-p6mc-m468-83gw")]
        self.assertEqual(f["severity"], "HIGH")
        attrs = {a["key"]: a["value"] for a in f["attributes"]}
        self.assertEqual(attrs, {"package_name": "lodash", "package_version": "4.17.15"})
        self.assertGreaterEqual(out["findingSeverityCounts"]["HIGH"], 1)
        out = self.wait_scan(repo, fixed.digest)["imageScanFindings"]
        self.assertNotIn("GHSA-p6mc-m468-83gw", [f["name"] for f in out["findings"]])


class TestRegistryScanningConfiguration(ScanningCase):
    """Its own server: once the registry scanning configuration is put, it decides for
    every repository (there is no way back to the repositories' own scanOnPush)."""

    def test_registry_configuration_decides_and_enhanced_findings(self):
        default = self.ecr.get_registry_scanning_configuration()
        self.assertRegex(default["registryId"], r"^\d{12}$")
        self.assertEqual(default["scanningConfiguration"], {"scanType": "BASIC", "rules": []})

        # Before any registry configuration, the repository's flag decides.
        flagged = self.repo("cfgflag", create=False)
        self.ecr.create_repository(repositoryName=flagged, imageScanningConfiguration={"scanOnPush": True})
        first = image_with(511, [lodash_layer()])
        self.push_raw(flagged, first, "v1")
        self.assertEqual(self.wait_scan(flagged, first.digest)["imageScanStatus"]["status"], "COMPLETE")

        # Real data, so that findings have packages to describe.
        d = tempfile.mkdtemp(prefix="berth-vulndb-")
        self.addCleanup(shutil.rmtree, d, True)
        shutil.copy(os.path.join(VULNDATA, "osv", "npm", "GHSA-p6mc-m468-83gw.json"), d)
        before_import = time.time()
        run([BERTH_BIN, "vulndb", "import", d, "--data-dir", self.server.data_dir])
        after_import = time.time()

        cont = self.repo("cfgcont")
        push = self.repo("cfgpush")
        plain = self.repo("cfgplain")
        rules = [{"scanFrequency": "CONTINUOUS_SCAN", "repositoryFilters": [{"filter": "cfgcont/*", "filterType": "WILDCARD"}]},
                 {"scanFrequency": "SCAN_ON_PUSH", "repositoryFilters": [{"filter": "cfgpush/*", "filterType": "WILDCARD"}]}]

        # Continuous scanning needs ENHANCED, as on ECR.
        r = aws(self.server, "put-registry-scanning-configuration", "--scan-type", "BASIC", "--rules", json.dumps(rules))
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("InvalidParameterException", r.stderr)
        # ENHANCED takes no MANUAL rule, as on ECR.
        manual = [rules[1], {"scanFrequency": "MANUAL", "repositoryFilters": [{"filter": "dev/*", "filterType": "WILDCARD"}]}]
        r = aws(self.server, "put-registry-scanning-configuration", "--scan-type", "ENHANCED", "--rules", json.dumps(manual))
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("InvalidParameterException", r.stderr)
        self.assertIn("rules[1].scanFrequency", r.stderr)
        self.assertIn("CONTINUOUS_SCAN", r.stderr)
        self.assertIn("ENHANCED", r.stderr)
        self.assertEqual(self.ecr.get_registry_scanning_configuration()["scanningConfiguration"]["rules"], [])

        put = self.ecr.put_registry_scanning_configuration(scanType="ENHANCED", rules=rules)
        self.assertEqual(put["registryScanningConfiguration"], {"scanType": "ENHANCED", "rules": rules})
        got = self.ecr.get_registry_scanning_configuration()["scanningConfiguration"]
        self.assertEqual(got, {"scanType": "ENHANCED", "rules": rules})

        out = self.ecr.batch_get_repository_scanning_configuration(
            repositoryNames=[cont, push, plain, flagged, "cfg-missing"])
        by_name = {c["repositoryName"]: c for c in out["scanningConfigurations"]}
        self.assertEqual(by_name[cont]["scanFrequency"], "CONTINUOUS_SCAN")
        self.assertTrue(by_name[cont]["scanOnPush"])
        self.assertEqual(by_name[cont]["appliedScanFilters"], rules[0]["repositoryFilters"])
        self.assertTrue(by_name[cont]["repositoryArn"].endswith(":repository/" + cont))
        self.assertEqual(by_name[push]["scanFrequency"], "SCAN_ON_PUSH")
        self.assertEqual(by_name[plain]["scanFrequency"], "MANUAL")
        self.assertFalse(by_name[plain]["scanOnPush"])
        # The registry's rules now decide: the repository's own scanOnPush no longer counts.
        self.assertEqual(by_name[flagged]["scanFrequency"], "MANUAL")
        self.assertFalse(by_name[flagged]["scanOnPush"])
        self.assertEqual(out["failures"], [{
            "repositoryName": "cfg-missing", "failureCode": "REPOSITORY_NOT_FOUND",
            "failureReason": "The repository with name 'cfg-missing' does not exist in the registry with id '"
                             + default["registryId"] + "'"}])
        second = image_with(512, [lodash_layer()])
        self.push_raw(flagged, second, "v2")
        with self.assertRaises(self.ecr.exceptions.ScanNotFoundException):  # a scan would be queued by now
            self.findings(flagged, second.digest)
        # Still the repository's setting to read and write, as ECR keeps it.
        r = aws(self.server, "put-image-scanning-configuration", "--repository-name", plain,
                "--image-scanning-configuration", "scanOnPush=true")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(json.loads(r.stdout)["imageScanningConfiguration"], {"scanOnPush": True})
        repo = self.ecr.describe_repositories(repositoryNames=[plain])["repositories"][0]
        self.assertTrue(repo["imageScanningConfiguration"]["scanOnPush"])
        out = self.ecr.batch_get_repository_scanning_configuration(repositoryNames=[plain])
        self.assertEqual(out["scanningConfigurations"][0]["scanFrequency"], "MANUAL")
        with self.assertRaises(self.ecr.exceptions.RepositoryNotFoundException):
            self.ecr.put_image_scanning_configuration(repositoryName="cfg-missing",
                                                      imageScanningConfiguration={"scanOnPush": True})

        # A rule's scan on push, shown as Amazon Inspector shows it.
        lodash = lodash_layer()
        img = image_with(507, [layer([("etc", None)]), lodash])
        self.push_raw(push, img, "v1")
        out = self.wait_scan(push, img.digest)
        self.assertEqual(out["imageScanStatus"]["status"], "ACTIVE")
        found = out["imageScanFindings"]
        self.assertNotIn("findings", found)
        updated = found["vulnerabilitySourceUpdatedAt"].timestamp()  # when the import ended
        self.assertTrue(before_import - 1 <= updated <= after_import + 1, (before_import, updated, after_import))
        ids = [f["packageVulnerabilityDetails"]["vulnerabilityId"] for f in found["enhancedFindings"]]
        self.assertIn("GHSA-p6mc-m468-83gw", ids)
        details = found["enhancedFindings"][ids.index("GHSA-p6mc-m468-83gw")]["packageVulnerabilityDetails"]
        pkg = details["vulnerablePackages"][0]
        self.assertEqual(pkg["name"], "lodash")
        self.assertEqual(pkg["version"], "4.17.15")
        self.assertEqual(pkg["packageManager"], "NODEPKG")
        self.assertEqual(pkg["filePath"], "app/node_modules/lodash/package.json")
        self.assertEqual(pkg["sourceLayerHash"], lodash.blob.digest)
        summary = self.ecr.describe_images(repositoryName=push)["imageDetails"][0]
        self.assertEqual(summary["imageScanStatus"]["status"], "ACTIVE")
        self.assertEqual(summary["imageScanFindingsSummary"]["vulnerabilitySourceUpdatedAt"],
                         found["vulnerabilitySourceUpdatedAt"])
        # The CLI reads them too.
        r = aws(self.server, "describe-image-scan-findings", "--repository-name", push, "--image-id", "imageTag=v1")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(json.loads(r.stdout)["imageScanStatus"]["status"], "ACTIVE")

        # Filters are validated as the ECR model says.
        with self.assertRaises(self.ecr.exceptions.InvalidParameterException):
            self.ecr.put_registry_scanning_configuration(
                scanType="BASIC", rules=[{"scanFrequency": "SCAN_ON_PUSH",
                                          "repositoryFilters": [{"filter": "Bad//Name", "filterType": "WILDCARD"}]}])
        self.assertEqual(self.ecr.get_registry_scanning_configuration()["scanningConfiguration"]["rules"], rules)

        # Back to BASIC: ECR's own statuses and findings again, with the data's date.
        self.ecr.put_registry_scanning_configuration(scanType="BASIC", rules=rules[1:])
        out = self.findings(push, img.digest)
        self.assertEqual(out["imageScanStatus"]["status"], "COMPLETE")
        self.assertIn("findings", out["imageScanFindings"])
        self.assertIn("vulnerabilitySourceUpdatedAt", out["imageScanFindings"])
        # A scan from before any import has no data to date.
        self.assertNotIn("vulnerabilitySourceUpdatedAt", self.findings(flagged, first.digest)["imageScanFindings"])


if __name__ == "__main__":
    unittest.main()
