"""The audit trail: every call that changes state and every refused call, on both APIs
and from `berth admin`, is one JSON line in DATA/audit/YYYY-MM-DD.jsonl with time,
principal, source IP, action, resource, result and error code; reads are not recorded,
and secrets never are."""

import glob
import json
import os
import shutil
import tempfile
import unittest

import botocore.exceptions
import requests

import ocilayout as oci
from harness import Client, ServerTestCase, basic_auth, describe, root_keys
from principals import PrincipalsMixin

PULL_ONLY = {"Version": "2012-10-17", "Statement": [{
    "Effect": "Allow", "Resource": "*",
    "Action": ["ecr:GetAuthorizationToken", "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer",
               "ecr:BatchCheckLayerAvailability", "ecr:DescribeRepositories", "ecr:ListImages"]}]}


class TestAudit(PrincipalsMixin, ServerTestCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.work = tempfile.mkdtemp(prefix="berth-audit-")
        cls.addClassCleanup(shutil.rmtree, cls.work, True)
        cls.image = oci.build_image(3000, (("gzip", 16 * 1024),))

    def records(self):
        out = []
        for path in sorted(glob.glob(os.path.join(self.server.data_dir, "audit", "*.jsonl"))):
            with open(path) as f:
                out += [json.loads(line) for line in f]
        return out

    def find(self, **want):
        return [r for r in self.records() if all(r.get(k) == v for k, v in want.items())]

    def test_v2_push_is_recorded_and_reads_are_not(self):
        repo = self.repo("audit")
        before = len(self.records())
        Client(self.server.base_url).push_manifest_tree(repo, self.image, "v1")
        self.assertEqual(Client(self.server.base_url).get_manifest(repo, "v1").status_code, 200)
        new = self.records()[before:]
        actions = [r["action"] for r in new]
        self.assertIn("ecr:PutImage", actions)
        self.assertIn("ecr:InitiateLayerUpload", actions)
        self.assertIn("ecr:CompleteLayerUpload", actions)
        self.assertNotIn("ecr:BatchGetImage", actions)  # a pull is a read
        put = [r for r in new if r["action"] == "ecr:PutImage"][-1]
        self.assertEqual(put["source"], "registry")
        self.assertEqual(put["result"], "success")
        self.assertEqual(put["sourceIp"], "127.0.0.1")
        self.assertRegex(put["resource"], rf"^arn:aws:ecr:us-east-1:[0-9]{{12}}:repository/{repo}$")
        self.assertRegex(put["principal"], r"^arn:aws:iam::[0-9]{12}:root$")
        self.assertEqual(put["detail"]["reference"], "v1")
        self.assertEqual(put["detail"]["digest"], self.image.digest)
        self.assertRegex(put["time"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
        self.assertEqual(put["accessKeyId"], root_keys(self.server.data_dir)[0])

    def test_denied_calls_are_recorded_with_their_error(self):
        repo = self.repo("audit")
        user = self.create_user("audit-puller", PULL_ONLY)
        r = self.client_as(user).put_manifest(repo, "v2", self.image.body, self.image.media_type)
        self.assertEqual(r.status_code, 403, describe(r))
        denied = self.find(action="ecr:PutImage", principal=user["Arn"])
        self.assertEqual(len(denied), 1, denied)
        self.assertEqual(denied[0]["result"], "denied")
        self.assertEqual(denied[0]["errorCode"], "DENIED")
        self.assertIn("not authorized", denied[0]["errorMessage"])

        with self.assertRaises(botocore.exceptions.ClientError):
            self.ecr(user).create_repository(repositoryName="audit/not-allowed")
        api = self.find(action="ecr:CreateRepository", principal=user["Arn"])
        self.assertEqual([(a["source"], a["result"], a["errorCode"]) for a in api],
                         [("ecr", "denied", "AccessDeniedException")])
        self.assertTrue(api[0]["resource"].endswith(":repository/audit/not-allowed"))

        # A forged signature: refused before anyone is known; the claimed key is kept.
        forged = dict(user, SecretAccessKey="not-the-secret")
        with self.assertRaises(botocore.exceptions.ClientError):
            self.ecr(forged).delete_repository(repositoryName=repo)
        bad = self.find(action="ecr:DeleteRepository", accessKeyId=user["AccessKeyId"])
        self.assertEqual([(b["principal"], b["errorCode"]) for b in bad], [(None, "InvalidSignatureException")])

        # A bad /v2/ login and an anonymous push.
        requests.get(self.server.base_url + "/v2/", headers={"Authorization": basic_auth("nope")})
        self.assertTrue(self.find(action="ecr:GetAuthorizationToken", result="denied", errorCode="UNAUTHORIZED"))
        r = self.anonymous().start_upload(repo)
        self.assertEqual(r.status_code, 401)
        self.assertTrue(self.find(action="ecr:InitiateLayerUpload", principal=None, result="denied"))

    def test_api_state_changes_and_admin_verbs_are_recorded_without_secrets(self):
        name = self.repo("audit", create=False)
        ecr = self.ecr(dict(zip(("AccessKeyId", "SecretAccessKey"), root_keys(self.server.data_dir))))
        ecr.create_repository(repositoryName=name)
        ecr.describe_repositories(repositoryNames=[name])
        ecr.get_authorization_token()
        with self.assertRaises(botocore.exceptions.ClientError):
            ecr.create_repository(repositoryName=name)
        created = self.find(action="ecr:CreateRepository", resource=ecr.describe_repositories(
            repositoryNames=[name])["repositories"][0]["repositoryArn"])
        self.assertEqual([c["result"] for c in created], ["success", "failed"])
        self.assertEqual(created[1]["errorCode"], "RepositoryAlreadyExistsException")
        self.assertFalse(self.find(action="ecr:DescribeRepositories", result="success"))
        self.assertTrue(self.find(action="ecr:GetAuthorizationToken", source="ecr", result="success"))

        user = self.create_user("audit-admin")
        made = self.find(action="admin:create-user", resource="audit-admin")
        self.assertEqual([(m["source"], m["result"]) for m in made], [("admin", "success")])
        everything = ""
        for path in glob.glob(os.path.join(self.server.data_dir, "audit", "*")):
            with open(path) as f:
                everything += f.read()
        self.assertNotIn(user["SecretAccessKey"], everything)
        self.assertNotIn(root_keys(self.server.data_dir)[1], everything)


if __name__ == "__main__":
    unittest.main()
