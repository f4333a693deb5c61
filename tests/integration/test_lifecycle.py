"""ECR lifecycle policies end to end: put/get/delete and the preview driven by the real
aws CLI and boto3 over images pushed with skopeo (multi-arch indexes, their children and
a signature that refers to one), `berth lifecycle run` while the server runs, the
server's own scheduler, pull-time update exclusions, bad policies, and expiry racing
pushes and garbage collection."""

import json
import os
import shutil
import tempfile
import threading
import time
import unittest

import boto3
import botocore.config
import botocore.exceptions

import ocilayout as oci
from harness import FreshServerTestCase, ServerTestCase, run
from principals import PrincipalsMixin
from test_ecr_api import aws, client
from test_gc import HOUR_MS, SKOPEO, RegistryCli, image_with

DAY_MS = 24 * HOUR_MS


def rule(priority, selection, description=None):
    r = {"rulePriority": priority, "selection": selection, "action": {"type": "expire"}}
    if description:
        r["description"] = description
    return r


def policy_text(*rules):
    return json.dumps({"rules": list(rules)})


# Keep the newest "v" release; expire untagged standalone images beyond the newest one.
KEEP_ONE_RELEASE = policy_text(
    rule(1, {"tagStatus": "tagged", "tagPrefixList": ["v"], "countType": "imageCountMoreThan", "countNumber": 1},
         "keep the newest release"),
    rule(2, {"tagStatus": "untagged", "countType": "imageCountMoreThan", "countNumber": 1},
         "keep one untagged image"))


def unvalidated_client(server):
    """boto3 without client-side parameter validation, so the server's own checks (the
    30 KiB limit, short texts) are what answers."""
    c = client(server)
    return boto3.client("ecr", endpoint_url=server.base_url, region_name="us-east-1",
                        aws_access_key_id=c._request_signer._credentials.access_key,
                        aws_secret_access_key=c._request_signer._credentials.secret_key,
                        config=botocore.config.Config(retries={"max_attempts": 1}, parameter_validation=False))


@unittest.skipUnless(SKOPEO, "skopeo is not installed")
class LifecycleWithAwsCliTest(RegistryCli, FreshServerTestCase):
    server_args = ("--gc-interval", "0", "--lifecycle-interval", "0")

    def ecr(self, *args):
        r = aws(self.server, *args)
        self.assertEqual(r.returncode, 0, f"aws ecr {args[0]}: {r.stderr}")
        return json.loads(r.stdout) if r.stdout.strip() else {}

    def lifecycle_run(self, *args, clock_offset_ms=None):
        r = self.berth("lifecycle", "run", "--data-dir", self.server.data_dir, "--json", *args,
                       clock_offset_ms=clock_offset_ms)
        return json.loads(r.stdout)

    def inspect_raw(self, repo, digest, check=True):
        return self.skopeo("inspect", "--raw", "--tls-verify=false", f"docker://{self.server.address}/{repo}@{digest}",
                           check=check)

    def image_ids(self, repo):
        ids = self.ecr("list-images", "--repository-name", repo)["imageIds"]
        return {i["imageDigest"] for i in ids}

    def test_preview_then_run_expires_whole_indexes_and_their_signatures(self):
        repo = "life/app"
        self.ecr("create-repository", "--repository-name", repo)
        v1 = oci.build_multiarch(11)
        v2 = oci.build_multiarch(21)
        # v3 reuses v2's arm64 image: that child must survive v2's expiry.
        v3 = oci.build_index([oci.build_image(31, arch="amd64"), v2.children[1]])
        for tag, m in (("v1", v1), ("v2", v2), ("v3", v3)):
            self.push(repo, m, tag)
            time.sleep(0.01)  # distinct push times order the count rule
        # Two untagged stand-alone images, pushed by digest, the older first.
        lone_old = image_with(41, [oci.make_layer(41, 0, 4096)])
        lone_new = image_with(42, [oci.make_layer(42, 0, 4096)])
        self.client.push_manifest_tree(repo, lone_old)
        time.sleep(0.01)
        self.client.push_manifest_tree(repo, lone_new)
        signature = oci.build_artifact(51, subject=v1.descriptor(), artifact_type="application/vnd.dev.cosign.v1")
        self.client.push_manifest_tree(repo, signature)

        r = aws(self.server, "get-lifecycle-policy", "--repository-name", repo)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("LifecyclePolicyNotFoundException", r.stderr)
        r = aws(self.server, "get-lifecycle-policy-preview", "--repository-name", repo)
        self.assertIn("LifecyclePolicyPreviewNotFoundException", r.stderr)

        out = self.ecr("put-lifecycle-policy", "--repository-name", repo, "--lifecycle-policy-text", KEEP_ONE_RELEASE)
        self.assertEqual(out["lifecyclePolicyText"], KEEP_ONE_RELEASE)
        got = self.ecr("get-lifecycle-policy", "--repository-name", repo)
        self.assertEqual(json.loads(got["lifecyclePolicyText"]), json.loads(KEEP_ONE_RELEASE))
        self.assertNotIn("lastEvaluatedAt", got)

        started = self.ecr("start-lifecycle-policy-preview", "--repository-name", repo)
        self.assertEqual(started["lifecyclePolicyText"], KEEP_ONE_RELEASE)
        preview = self.ecr("get-lifecycle-policy-preview", "--repository-name", repo)
        self.assertEqual(preview["status"], "COMPLETE")
        expiring = {p["imageDigest"]: p for p in preview["previewResults"]}
        gone = {v1.digest, v2.digest, signature.digest, lone_old.digest}
        gone |= {c.digest for c in v1.children} | {v2.children[0].digest}
        self.assertEqual(set(expiring), gone)
        self.assertEqual(preview["summary"]["expiringImageTotalCount"], len(gone))
        self.assertEqual(expiring[v1.digest]["appliedRulePriority"], 1)
        self.assertEqual(expiring[v1.digest]["imageTags"], ["v1"])
        self.assertEqual(expiring[v1.digest]["action"], {"type": "EXPIRE"})
        self.assertEqual(expiring[v1.children[0].digest]["appliedRulePriority"], 1)  # follows its index
        self.assertEqual(expiring[signature.digest]["appliedRulePriority"], 1)  # follows its subject
        self.assertEqual(expiring[lone_old.digest]["appliedRulePriority"], 2)
        # The CLI pages the preview itself; one small page at a time still finds them all.
        paged = self.ecr("get-lifecycle-policy-preview", "--repository-name", repo, "--page-size", "2")
        self.assertEqual({p["imageDigest"] for p in paged["previewResults"]}, gone)
        only_tagged = self.ecr("get-lifecycle-policy-preview", "--repository-name", repo, "--filter",
                               "tagStatus=TAGGED")
        self.assertEqual({p["imageDigest"] for p in only_tagged["previewResults"]}, {v1.digest, v2.digest})
        self.assertEqual(len(self.image_ids(repo)), 11)  # nothing deleted by a preview

        report = self.lifecycle_run("--repository", repo)
        [rep] = report["repositories"]
        self.assertEqual(rep["expired"], len(gone))
        self.assertEqual(self.image_ids(repo) & gone, set())
        survivors = {v3.digest, lone_new.digest} | {c.digest for c in v3.children}
        self.assertEqual(self.image_ids(repo), survivors)
        for d in survivors:
            self.inspect_raw(repo, d)
        for d in gone:
            self.assertNotEqual(self.inspect_raw(repo, d, check=False).returncode, 0)
        got = self.ecr("get-lifecycle-policy", "--repository-name", repo)
        self.assertIn("lastEvaluatedAt", got)

        # Every expiry is in the audit trail and announced as an event.
        audit = self.read_jsonl("audit")
        expired_lines = [a for a in audit if a.get("action") == "lifecycle:ExpireImage"]
        self.assertEqual({a["detail"]["imageDigest"] for a in expired_lines}, gone)
        self.assertTrue(all(a["source"] == "lifecycle" and a["resource"].endswith(":repository/" + repo)
                            for a in expired_lines))
        events = [e for e in self.read_jsonl("events") if e.get("type") == "image.expire"]
        self.assertEqual({e["detail"]["imageDigest"] for e in events}, gone)

        # What the expired images alone used is freed by the next gc; survivors pull whole.
        self.gc("--grace", "1h", clock_offset_ms=2 * HOUR_MS)
        self.assertPulls(repo, v3)
        self.assertFalse(self.on_disk(v1.children[0].blobs[0].digest))
        self.assertTrue(self.on_disk(v2.children[1].blobs[0].digest))

        deleted = self.ecr("delete-lifecycle-policy", "--repository-name", repo)
        self.assertEqual(deleted["lifecyclePolicyText"], KEEP_ONE_RELEASE)
        r = aws(self.server, "delete-lifecycle-policy", "--repository-name", repo)
        self.assertIn("LifecyclePolicyNotFoundException", r.stderr)

    def read_jsonl(self, kind):
        out = []
        d = os.path.join(self.server.data_dir, kind)
        for name in sorted(os.listdir(d)):
            with open(os.path.join(d, name)) as f:
                out += [json.loads(line) for line in f if line.strip()]
        return out

    def test_since_image_pushed_rules_and_the_dry_run(self):
        repo = "life/days"
        self.ecr("create-repository", "--repository-name", repo)
        old = image_with(61, [oci.make_layer(61, 0, 4096)])
        self.push(repo, old, "build-1")
        text = policy_text(rule(1, {"tagStatus": "tagged", "tagPatternList": ["build-*"],
                                    "countType": "sinceImagePushed", "countUnit": "days", "countNumber": 7}))
        self.ecr("put-lifecycle-policy", "--repository-name", repo, "--lifecycle-policy-text", text)
        # Today nothing is a week old; eight days from now the build is.
        self.assertEqual(self.lifecycle_run("--repository", repo)["repositories"][0]["expired"], 0)
        dry = self.lifecycle_run("--repository", repo, "--dry-run", clock_offset_ms=8 * DAY_MS)
        [rep] = dry["repositories"]
        self.assertEqual(rep["wouldExpire"], 1)
        self.assertEqual(rep["decisions"][0]["rulePriority"], 1)
        self.assertEqual(self.image_ids(repo), {old.digest})  # a dry run deletes nothing
        human = self.berth("lifecycle", "run", "--data-dir", self.server.data_dir, "--dry-run",
                           clock_offset_ms=8 * DAY_MS).stdout.decode()
        self.assertIn("EXPIRE", human)
        self.assertIn("build-1", human)
        self.lifecycle_run(clock_offset_ms=8 * DAY_MS)  # every repository with a policy
        self.assertEqual(self.image_ids(repo), set())

    def test_bad_policies_are_refused_with_the_reason_and_the_old_policy_stays(self):
        repo = "life/bad"
        self.ecr("create-repository", "--repository-name", repo)
        self.ecr("put-lifecycle-policy", "--repository-name", repo, "--lifecycle-policy-text", KEEP_ONE_RELEASE)
        ecr = unvalidated_client(self.server)
        pad = " " * 100  # the model's 100-character minimum; these fail for their content
        tagged = {"tagStatus": "tagged", "tagPrefixList": ["v"], "countType": "imageCountMoreThan", "countNumber": 1}
        cases = {
            "malformed JSON": ('{"rules": [' + pad, "JSON"),
            "unknown field": (json.dumps({"rules": [rule(1, tagged)], "colour": "blue"}) + pad, "colour"),
            "count out of range": (policy_text(rule(1, {**tagged, "countNumber": 0})) + pad, "countNumber"),
            "duplicate priorities": (policy_text(rule(1, tagged), rule(1, {**tagged, "tagPrefixList": ["w"]})) + pad,
                                     "rulePriority"),
            "tagged without a list": (policy_text(rule(1, {"tagStatus": "tagged", "countType": "imageCountMoreThan",
                                                           "countNumber": 1})) + pad, "tagPrefixList"),
            "over 30 KiB": (policy_text(rule(1, tagged, "x" * (31 * 1024))), "30"),
        }
        for name, (text, reason) in cases.items():
            with self.subTest(name):
                with self.assertRaises(botocore.exceptions.ClientError) as ctx:
                    ecr.put_lifecycle_policy(repositoryName=repo, lifecyclePolicyText=text)
                err = ctx.exception.response["Error"]
                self.assertEqual(err["Code"], "InvalidParameterException")
                self.assertIn(reason, err["Message"])
                self.assertEqual(err["Message"].count("failed to satisfy constraint"), 1, err["Message"])
                self.assertEqual(ecr.get_lifecycle_policy(repositoryName=repo)["lifecyclePolicyText"],
                                 KEEP_ONE_RELEASE)
                with self.assertRaises(botocore.exceptions.ClientError) as ctx:
                    ecr.start_lifecycle_policy_preview(repositoryName=repo, lifecyclePolicyText=text)
                self.assertEqual(ctx.exception.response["Error"]["Code"], "InvalidParameterException")
        with self.assertRaises(botocore.exceptions.ClientError) as ctx:
            ecr.put_lifecycle_policy(repositoryName="life/absent", lifecyclePolicyText=KEEP_ONE_RELEASE)
        self.assertEqual(ctx.exception.response["Error"]["Code"], "RepositoryNotFoundException")


@unittest.skipUnless(SKOPEO, "skopeo is not installed")
class ScheduledLifecycleTest(RegistryCli, FreshServerTestCase):
    # The server applies policies itself every second here (daily by default).
    server_args = ("--gc-interval", "0", "--lifecycle-interval", "1s")

    def test_the_server_applies_policies_on_its_interval(self):
        repo = "life/scheduled"
        c = client(self.server)
        c.create_repository(repositoryName=repo)
        images = [image_with(70 + i, [oci.make_layer(70 + i, 0, 2048)]) for i in range(3)]
        for i, m in enumerate(images):
            self.push(repo, m, f"v{i}")
            time.sleep(0.01)
        c.put_lifecycle_policy(repositoryName=repo, lifecyclePolicyText=policy_text(
            rule(1, {"tagStatus": "any", "countType": "imageCountMoreThan", "countNumber": 1})))
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            left = {i["imageDigest"] for i in c.list_images(repositoryName=repo)["imageIds"]}
            if len(left) == 1:
                break
            time.sleep(0.2)
        self.assertEqual(left, {images[-1].digest})
        self.assertIn("lastEvaluatedAt", c.get_lifecycle_policy(repositoryName=repo))
        metrics = self.client.request("GET", "/metrics").text
        self.assertIn("berth_lifecycle_expired_images_total 2", metrics)


class PullTimeExclusionTest(PrincipalsMixin, FreshServerTestCase):
    server_args = ("--gc-interval", "0", "--lifecycle-interval", "0")

    def setUp(self):
        super().setUp()
        self.work = tempfile.mkdtemp(prefix="berth-life-")
        self.addCleanup(shutil.rmtree, self.work, True)

    def test_pulls_by_excluded_principals_do_not_count(self):
        pull_all = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "ecr:*", "Resource": "*"}]}
        scanner = self.create_user("scanner", pull_all)
        person = self.create_user("person", pull_all)
        root = client(self.server)
        root.create_repository(repositoryName="life/pulls")
        a = oci.build_image(81)
        b = oci.build_image(82)
        self.client.push_manifest_tree("life/pulls", a, "a")
        self.client.push_manifest_tree("life/pulls", b, "b")

        out = root.register_pull_time_update_exclusion(principalArn=scanner["Arn"])
        self.assertEqual(out["principalArn"], scanner["Arn"])
        self.assertIn("createdAt", out)
        with self.assertRaises(botocore.exceptions.ClientError) as ctx:
            root.register_pull_time_update_exclusion(principalArn=scanner["Arn"])
        self.assertEqual(ctx.exception.response["Error"]["Code"], "ExclusionAlreadyExistsException")
        with self.assertRaises(botocore.exceptions.ClientError) as ctx:
            root.register_pull_time_update_exclusion(principalArn="arn:aws:s3:::bucket")
        self.assertEqual(ctx.exception.response["Error"]["Code"], "InvalidParameterException")
        self.assertEqual(root.list_pull_time_update_exclusions()["pullTimeUpdateExclusions"], [scanner["Arn"]])

        # The scanner pulls a and b; the person pulls only b.
        for digest in (a.digest, b.digest):
            self.assertEqual(self.client_as(scanner).get_manifest("life/pulls", digest).status_code, 200)
        self.assertEqual(self.client_as(person).get_manifest("life/pulls", b.digest).status_code, 200)
        self.restart()  # a graceful stop writes pending pull times
        root = client(self.server)
        details = {d["imageDigest"]: d for d in root.describe_images(repositoryName="life/pulls")["imageDetails"]}
        self.assertNotIn("lastRecordedPullTime", details[a.digest])
        self.assertIn("lastRecordedPullTime", details[b.digest])

        self.assertEqual(root.deregister_pull_time_update_exclusion(principalArn=scanner["Arn"])["principalArn"],
                         scanner["Arn"])
        self.assertEqual(root.list_pull_time_update_exclusions()["pullTimeUpdateExclusions"], [])
        with self.assertRaises(botocore.exceptions.ClientError) as ctx:
            root.deregister_pull_time_update_exclusion(principalArn=scanner["Arn"])
        self.assertEqual(ctx.exception.response["Error"]["Code"], "ExclusionNotFoundException")
        self.assertEqual(self.client_as(scanner).get_manifest("life/pulls", a.digest).status_code, 200)
        self.restart()
        details = {d["imageDigest"]: d for d in client(self.server).describe_images(
            repositoryName="life/pulls")["imageDetails"]}
        self.assertIn("lastRecordedPullTime", details[a.digest])

    def test_exclusions_page(self):
        root = client(self.server)
        arns = [f"arn:aws:iam::123456789012:role/ci-{i:02d}" for i in range(5)]
        for arn in arns:
            root.register_pull_time_update_exclusion(principalArn=arn)
        seen, token = [], None
        while True:
            kw = {"maxResults": 2}
            if token:
                kw["nextToken"] = token
            page = root.list_pull_time_update_exclusions(**kw)
            seen += page["pullTimeUpdateExclusions"]
            token = page.get("nextToken")
            if not token:
                break
        self.assertEqual(seen, arns)


@unittest.skipUnless(SKOPEO, "skopeo is not installed")
class LifecycleRaceTest(RegistryCli, FreshServerTestCase):
    server_args = ("--gc-interval", "0", "--lifecycle-interval", "0")

    def test_expiry_and_gc_racing_pushes_that_share_layers_lose_no_blob(self):
        repo = "life/race"
        self.server.repo_create(repo)
        n = 6
        shared = [oci.make_layer(300 + i, 0, 8 * 1024) for i in range(n)]
        old = [image_with(300 + i, [shared[i], oci.make_layer(300 + i, 1, 4 * 1024)]) for i in range(n)]
        new = [image_with(400 + i, [shared[i], oci.make_layer(400 + i, 1, 4 * 1024)]) for i in range(n)]
        # Old images are pushed three hours in the past, so their links are past gc's grace
        # as soon as lifecycle expires them, while the new pushes' links are within it.
        self.push_in_the_past(repo, old, "old", 3 * HOUR_MS)
        aws(self.server, "put-lifecycle-policy", "--repository-name", repo, "--lifecycle-policy-text", policy_text(
            rule(1, {"tagStatus": "tagged", "tagPrefixList": ["old-"], "countType": "sinceImagePushed",
                     "countUnit": "days", "countNumber": 1})))

        done = threading.Event()
        errors, runs = [], []

        def pusher():
            self.push_racing_gc(repo, new, "new", errors)

        def expire_and_collect():
            try:
                while not done.is_set() or len(runs) < 2:
                    # Two days on, every old image is past the one-day rule.
                    r = self.berth("lifecycle", "run", "--data-dir", self.server.data_dir, "--json",
                                   clock_offset_ms=2 * DAY_MS)
                    runs.append(json.loads(r.stdout))
                    self.gc("--grace", "1h")
            except Exception as e:  # noqa: BLE001
                errors.append(f"lifecycle/gc: {e!r}")

        workers = [threading.Thread(target=pusher), threading.Thread(target=expire_and_collect)]
        for t in workers[1:]:
            t.start()
        workers[0].start()
        workers[0].join()
        done.set()
        workers[1].join()
        self.assertEqual(errors, [])
        self.gc("--grace", "1h")
        for m in new:
            self.assertPulls(repo, m)
        tags = self.client.tags(repo).json()["tags"]
        self.assertEqual(sorted(tags), sorted(f"new-{i}" for i in range(n)))
        referenced = {b.digest.split(":", 1)[1] for m in new for b in m.all_blobs()}
        self.assertEqual(set(self.server.blob_files()), referenced)
        self.assertEqual(self.server.verify_blob_store(), [])


if __name__ == "__main__":
    unittest.main()
