"""Online garbage collection and storage accounting (docs/gc.md): `berth gc` and
`berth storage` against a data dir while `berth serve` runs on it; images pushed and
pulled with skopeo, deleted through /v2/ and `aws ecr batch-delete-image`; blob files
checked on disk under DATA/blobs."""

import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import unittest
import uuid

import boto3
import botocore.config
import botocore.exceptions

import ocilayout as oci
from harness import BERTH_BIN, FreshServerTestCase, run
from principals import PrincipalsMixin
from test_ecr_api import aws

SKOPEO = shutil.which("skopeo")
HOUR_MS = 3_600_000


def image_with(seed, layers):
    """An OCI image over the given oci.Layer objects (layers may be shared between
    images: same bytes, same digests)."""
    config = {"architecture": "amd64", "os": "linux", "config": {"Env": [f"BERTH_SEED={seed}"]},
              "rootfs": {"type": "layers", "diff_ids": [l.diff_id for l in layers]}}
    config_blob = oci.Blob(oci.canonical_json(config), oci.MT_OCI_CONFIG)
    body = {"schemaVersion": 2, "mediaType": oci.MT_OCI_MANIFEST, "config": config_blob.descriptor(),
            "layers": [l.blob.descriptor() for l in layers]}
    return oci.Manifest(json.dumps(body).encode(), oci.MT_OCI_MANIFEST, [config_blob] + [l.blob for l in layers])


class RegistryCli:
    """For tests on a FreshServerTestCase: berth's own CLI against the server's data dir,
    skopeo pushes of oci.Manifest objects, complete pulls and blob files on disk."""

    def berth(self, *args, check=True, clock_offset_ms=None):
        env = dict(os.environ)
        env.setdefault("ASAN_OPTIONS", "detect_leaks=1:abort_on_error=0")
        if clock_offset_ms is not None:
            env["BERTH_TEST_CLOCK_OFFSET_MS"] = str(clock_offset_ms)
        return run([BERTH_BIN, *args], check=check, env=env)

    def gc(self, *args, clock_offset_ms=None):
        r = self.berth("gc", "--data-dir", self.server.data_dir, "--json", *args, clock_offset_ms=clock_offset_ms)
        return json.loads(r.stdout)

    def skopeo(self, *args, check=True):
        return run([SKOPEO, "--insecure-policy", *args], check=check)

    def push(self, repo, manifest, tag, check=True):
        d = tempfile.mkdtemp(prefix="berth-gc-")
        self.addCleanup(shutil.rmtree, d, True)
        layout = oci.Layout(d).add(manifest, tag)
        # --all: an index is pushed with every image it lists, not just this machine's.
        return self.skopeo("copy", "--all", "--dest-tls-verify=false", "--retry-times", "0", layout.ref(tag),
                           f"docker://{self.server.address}/{repo}:{tag}", check=check)

    def push_in_the_past(self, repo, images, tag_prefix, offset_ms):
        """Pushes `images` (tagged PREFIX-i) with the server's clock `offset_ms` behind, so
        that their blob links are old; the server runs on the right time again after."""
        os.environ["BERTH_TEST_CLOCK_OFFSET_MS"] = str(-offset_ms)
        try:
            self.restart()
            for i, m in enumerate(images):
                self.push(repo, m, f"{tag_prefix}-{i}")
        finally:
            del os.environ["BERTH_TEST_CLOCK_OFFSET_MS"]
        self.restart()

    def push_racing_gc(self, repo, images, tag_prefix, errors, retried=None):
        """Pushes `images` (tagged PREFIX-i) while something collects. The one refusal gc's
        protocol allows is a manifest naming a blob whose link gc dropped meanwhile: it is
        refused whole and the client pushes again (uploading the blob this time). Anything
        else goes into `errors`; the index of each refused push into `retried`."""
        try:
            for i, m in enumerate(images):
                for _ in range(5):
                    r = self.push(repo, m, f"{tag_prefix}-{i}", check=False)
                    if r.returncode == 0:
                        break
                    err = r.stderr.decode(errors="replace")
                    if "blob unknown" not in err.lower():
                        errors.append(f"push {tag_prefix}-{i}: {err[-2000:]}")
                        return
                    if retried is not None:
                        retried.append(i)
                else:
                    errors.append(f"push {tag_prefix}-{i} kept failing")
        except Exception as e:  # noqa: BLE001 - reported by the test's own thread
            errors.append(f"pusher: {e!r}")

    def assertPulls(self, repo, manifest):
        """skopeo copies the image back with every byte as pushed."""
        d = tempfile.mkdtemp(prefix="berth-gc-pull-")
        self.addCleanup(shutil.rmtree, d, True)
        # --all: an index comes back whole, not as this machine's platform image.
        self.skopeo("copy", "--all", "--src-tls-verify=false", "--retry-times", "0",
                    f"docker://{self.server.address}/{repo}@{manifest.digest}", f"oci:{d}:pulled")
        desc = oci.layout_manifest_for_tag(d, "pulled")
        self.assertEqual(desc["digest"], manifest.digest)
        _, blobs = oci.read_layout(d)
        for b in manifest.all_blobs():
            self.assertEqual(blobs.get(b.digest), b.data, f"{b.digest} differs after the pull")

    def on_disk(self, digest):
        return os.path.exists(self.server.blob_path(digest))


class GcTest(RegistryCli, FreshServerTestCase):
    # The server's own collector stays out of the way: these tests run `berth gc`.
    server_args = ("--gc-interval", "0")

    # -- (a) dry run, then a real run frees exactly the unreferenced blobs ---------------

    def test_dry_run_reports_and_gc_frees_exactly_the_unreferenced_blobs(self):
        repo = "gc/images"
        self.server.repo_create(repo)
        shared = oci.make_layer(1, 0, 16 * 1024)
        keep = image_with(1, [shared, oci.make_layer(1, 1, 8 * 1024)])
        drop_v2 = image_with(2, [shared, oci.make_layer(2, 1, 8 * 1024)])
        drop_ecr = image_with(3, [oci.make_layer(3, 0, 8 * 1024)])
        for tag, m in (("keep", keep), ("drop-v2", drop_v2), ("drop-ecr", drop_ecr)):
            self.push(repo, m, tag)

        r = self.client.request("DELETE", f"/v2/{repo}/manifests/{drop_v2.digest}")
        self.assertEqual(r.status_code, 202, r.text)
        out = aws(self.server, "batch-delete-image", "--repository-name", repo, "--image-ids",
                  f"imageDigest={drop_ecr.digest}")
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertEqual(json.loads(out.stdout)["failures"], [])

        kept = {b.digest for b in keep.all_blobs()}
        garbage = {b.digest for m in (drop_v2, drop_ecr) for b in m.all_blobs()} - kept
        garbage_bytes = sum(b.size for m in (drop_v2, drop_ecr) for b in m.all_blobs() if b.digest in garbage)
        self.assertEqual(len(garbage), 4)  # two configs, two unshared layers

        # Within the grace period (default 1h) nothing is collected: a push may still
        # be on its way to the manifest that references those blobs.
        early = self.gc()
        self.assertEqual((early["blobsDeleted"], early["linksDropped"]), (0, 0))

        before = set(self.server.blob_files())
        preview = self.gc("--dry-run", "--grace", "0")
        self.assertTrue(preview["dryRun"])
        self.assertEqual(preview["blobsDeleted"], len(garbage))
        self.assertEqual(preview["blobBytesFreed"], garbage_bytes)
        self.assertEqual(set(self.server.blob_files()), before, "the dry run deleted something")

        done = self.gc("--grace", "0")
        self.assertFalse(done["dryRun"])
        self.assertEqual(done["blobsDeleted"], len(garbage))
        self.assertEqual(done["blobBytesFreed"], garbage_bytes)
        self.assertEqual(done["unrecordedBlobsDeleted"], 0)
        for d in garbage:
            self.assertFalse(self.on_disk(d), f"{d} still on disk")
        for d in kept:
            self.assertTrue(self.on_disk(d), f"{d} was collected but {repo}:keep references it")
        self.assertEqual(set(self.server.blob_files()), {d.split(":", 1)[1] for d in kept})
        self.assertEqual(self.server.verify_blob_store(), [])
        self.assertPulls(repo, keep)

        # Each deletion batch is in the audit trail.
        audited = set()
        audit_dir = os.path.join(self.server.data_dir, "audit")
        for name in os.listdir(audit_dir):
            with open(os.path.join(audit_dir, name)) as f:
                for line in f:
                    rec = json.loads(line)
                    if rec.get("source") == "gc" and rec.get("action") == "gc:DeleteBlobs":
                        audited.update(rec["detail"]["digests"])
        self.assertEqual(audited, garbage)

        again = self.gc("--grace", "0")
        self.assertEqual(again["bytesFreed"], 0)

        # Storage accounting: the repository holds each of keep's blobs once.
        usage = json.loads(self.berth("storage", "--data-dir", self.server.data_dir, "--json").stdout)
        row = next(r for r in usage["repositories"] if r["repositoryName"] == repo)
        self.assertEqual(row["imageCount"], 1)
        self.assertEqual(row["blobBytes"], sum(b.size for b in keep.all_blobs()))
        self.assertEqual(usage["blobBytes"], sum(b.size for b in keep.all_blobs()))
        text = self.berth("storage", "--data-dir", self.server.data_dir).stdout.decode()
        self.assertIn(repo, text)

    def test_a_layer_shared_with_another_repository_stays_there(self):
        self.server.repo_create("gc/one")
        self.server.repo_create("gc/two")
        common = oci.make_layer(7, 0, 8 * 1024)
        one = image_with(7, [common])
        two = image_with(8, [common])
        self.push("gc/one", one, "v1")
        self.push("gc/two", two, "v1")
        r = self.client.request("DELETE", f"/v2/gc/one/manifests/{one.digest}")
        self.assertEqual(r.status_code, 202, r.text)
        self.gc("--grace", "0")
        self.assertTrue(self.on_disk(common.blob.digest))
        self.assertFalse(self.on_disk(one.blobs[0].digest))  # one's config
        self.assertPulls("gc/two", two)
        # gc/one no longer lends the layer to readers.
        r = self.client.request("HEAD", f"/v2/gc/one/blobs/{common.blob.digest}")
        self.assertEqual(r.status_code, 404)

    # -- (b) pushes sharing layers with images being deleted, while gc runs in a loop ----

    def test_concurrent_pushes_deletes_and_gc_lose_no_blob(self):
        repo = "gc/race"
        self.server.repo_create(repo)
        n = 6
        shared = [oci.make_layer(100 + i, 0, 8 * 1024) for i in range(n)]
        old = [image_with(100 + i, [shared[i], oci.make_layer(100 + i, 1, 4 * 1024)]) for i in range(n)]
        new = [image_with(200 + i, [shared[i], oci.make_layer(200 + i, 1, 4 * 1024)]) for i in range(n)]

        # The old images are pushed by a server whose clock is three hours behind, so
        # their links are past the grace period (1h) as soon as the images are deleted,
        # while the new pushes' own links are within it.
        self.push_in_the_past(repo, old, "old", 3 * HOUR_MS)

        done = threading.Event()
        errors = []
        clean_failures = []
        gc_runs = []

        def pusher():
            self.push_racing_gc(repo, new, "new", errors, clean_failures)

        def deleter():
            try:
                for m in old:
                    r = self.client.request("DELETE", f"/v2/{repo}/manifests/{m.digest}")
                    if r.status_code != 202:
                        errors.append(f"delete {m.digest}: {r.status_code} {r.text}")
            except Exception as e:  # noqa: BLE001
                errors.append(f"deleter: {e!r}")

        workers = [threading.Thread(target=pusher), threading.Thread(target=deleter)]
        for t in workers:
            t.start()

        def collector():
            try:
                while not done.is_set() or len(gc_runs) < 2:
                    gc_runs.append(self.gc("--grace", "1h"))
            except Exception as e:  # noqa: BLE001
                errors.append(f"gc: {e!r}")

        gc_thread = threading.Thread(target=collector)
        gc_thread.start()
        for t in workers:
            t.join()
        done.set()
        gc_thread.join()
        self.assertEqual(errors, [])
        self.assertGreaterEqual(len(gc_runs), 2)

        # Once everything is settled, one more run collects whatever the loop could not
        # yet (an old image deleted after the last run).
        self.gc("--grace", "1h")
        for m in new:
            self.assertPulls(repo, m)
        for i, m in enumerate(old):
            self.assertFalse(self.on_disk(m.blobs[0].digest), f"old-{i} config still on disk")
            self.assertFalse(self.on_disk(m.blobs[2].digest), f"old-{i} own layer still on disk")
            self.assertTrue(self.on_disk(shared[i].blob.digest))
        on_disk = set(self.server.blob_files())
        referenced = {b.digest.split(":", 1)[1] for m in new for b in m.all_blobs()}
        self.assertEqual(on_disk, referenced)
        self.assertEqual(self.server.verify_blob_store(), [])
        total = sum(r["blobsDeleted"] for r in gc_runs)
        self.assertGreater(total, 0, "the loop collected nothing while the pushes ran")
        sys.stderr.write(f"\n[gc race] {len(gc_runs)} gc runs collected {total} blobs during the pushes; "
                         f"{len(clean_failures)} pushes refused with MANIFEST_BLOB_UNKNOWN and pushed again\n")

    # -- (c) abandoned uploads -----------------------------------------------------------

    def test_abandoned_uploads_and_staged_dirs_without_a_session(self):
        repo = "gc/uploads"
        self.server.repo_create(repo)
        r = self.client.request("POST", f"/v2/{repo}/blobs/uploads/")
        self.assertEqual(r.status_code, 202, r.text)
        upload_id = r.headers["Docker-Upload-UUID"]
        # A crash between staging an upload and recording it left this behind.
        orphan = os.path.join(self.server.data_dir, "uploads", str(uuid.uuid4()))
        os.makedirs(orphan)
        with open(os.path.join(orphan, "data"), "wb") as f:
            f.write(b"x" * 1000)

        report = self.gc("--upload-ttl", "1h")
        self.assertEqual(report["stagedUploadsWithoutSession"], 1)
        self.assertEqual(report["uploadBytesFreed"], 1000)
        self.assertEqual(report["uploadsExpired"], 0)
        self.assertFalse(os.path.exists(orphan))
        r = self.client.request("GET", f"/v2/{repo}/blobs/uploads/{upload_id}")
        self.assertEqual(r.status_code, 204, "an upload younger than the TTL was cancelled")

        # Two hours later (the collector's clock moved), the idle upload is past the TTL.
        preview = self.gc("--upload-ttl", "1h", "--dry-run", clock_offset_ms=2 * HOUR_MS)
        self.assertEqual(preview["uploadsExpired"], 1)
        report = self.gc("--upload-ttl", "1h", clock_offset_ms=2 * HOUR_MS)
        self.assertEqual(report["uploadsExpired"], 1)
        r = self.client.request("GET", f"/v2/{repo}/blobs/uploads/{upload_id}")
        self.assertEqual(r.status_code, 404)
        self.assertEqual(os.listdir(os.path.join(self.server.data_dir, "uploads")), [])

    # -- bad input -------------------------------------------------------------------------

    def test_invalid_flags_are_rejected_with_a_reason(self):
        for flag, value in (("--grace", "1x"), ("--grace", "-1h"), ("--upload-ttl", "soon"), ("--grace", "")):
            r = self.berth("gc", "--data-dir", self.server.data_dir, flag, value, check=False)
            self.assertEqual(r.returncode, 2, (flag, value))
            self.assertIn(flag, r.stderr.decode())
            self.assertIn("duration", r.stderr.decode())
        for flag in ("--gc-interval", "--gc-grace"):
            r = subprocess.run([BERTH_BIN, "serve", "--data-dir", self.server.data_dir, "--listen", "127.0.0.1:0",
                                flag, "daily"], capture_output=True, timeout=60)
            self.assertEqual(r.returncode, 2, flag)
            self.assertIn(flag, r.stderr.decode())
        # Nothing was collected by the refused runs: the store still works.
        self.assertEqual(self.client.request("GET", "/v2/").status_code, 200)


class SessionKeyGcTest(RegistryCli, PrincipalsMixin, FreshServerTestCase):
    """`berth gc` deletes the access keys of role sessions past their expiry, and only those.
    The server keeps the real time; gc runs with its clock moved ahead, so a key it deleted
    would still be live for the server: that it no longer authenticates shows the row is gone."""
    server_args = ("--gc-interval", "0")

    def setUp(self):
        super().setUp()
        self.work = tempfile.mkdtemp(prefix="berth-gc-sts-")
        self.addCleanup(shutil.rmtree, self.work, True)

    def sts(self, key, secret, token=None):
        return boto3.client("sts", endpoint_url=self.server.base_url, region_name="us-east-1",
                            aws_access_key_id=key, aws_secret_access_key=secret, aws_session_token=token,
                            config=botocore.config.Config(retries={"max_attempts": 1}))

    def authenticates(self, creds):
        try:
            self.sts(creds["AccessKeyId"], creds["SecretAccessKey"], creds["SessionToken"]).get_caller_identity()
            return True
        except botocore.exceptions.ClientError as e:
            self.assertEqual(e.response["Error"]["Code"], "InvalidClientTokenId")
            return False

    def test_gc_deletes_expired_session_keys_and_keeps_live_ones(self):
        may_assume = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
                                                              "Resource": "*"}]}
        role_arn = json.loads(self.admin("create-role", "deploy").stdout)["Arn"]
        user = self.create_user("ci", may_assume)
        assume = self.sts(user["AccessKeyId"], user["SecretAccessKey"]).assume_role
        short = assume(RoleArn=role_arn, RoleSessionName="short", DurationSeconds=900)["Credentials"]
        long = assume(RoleArn=role_arn, RoleSessionName="long", DurationSeconds=3600)["Credentials"]

        self.assertEqual(self.gc()["expiredSessionKeysDeleted"], 0)
        half_hour = HOUR_MS // 2  # past the short session's end, within the long one's
        self.assertEqual(self.gc("--dry-run", clock_offset_ms=half_hour)["expiredSessionKeysDeleted"], 1)
        self.assertTrue(self.authenticates(short), "a dry run deleted a session key")
        self.assertEqual(self.gc(clock_offset_ms=half_hour)["expiredSessionKeysDeleted"], 1)
        self.assertFalse(self.authenticates(short))
        self.assertTrue(self.authenticates(long), "gc deleted a live session's key")
        self.assertTrue(self.authenticates({**user, "SessionToken": None}), "gc deleted a user's key")

        text = self.berth("gc", "--data-dir", self.server.data_dir, clock_offset_ms=2 * HOUR_MS).stdout.decode()
        self.assertIn("deleted 1 access keys of role sessions that have expired", text)
        self.assertFalse(self.authenticates(long))
        self.assertEqual(self.gc(clock_offset_ms=2 * HOUR_MS)["expiredSessionKeysDeleted"], 0)


if __name__ == "__main__":
    unittest.main()
