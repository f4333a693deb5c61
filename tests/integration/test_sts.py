"""Roles: `aws sts assume-role` against berth hands out temporary credentials that act as
the role on both APIs (ECR calls signed with the session token, /v2/ logins from
GetAuthorizationToken), limited by the role's policies and its trust policy, across
accounts too; GetCallerIdentity says who is calling."""

import json
import os
import shutil
import subprocess
import tempfile
import unittest

import boto3
import botocore.config
import botocore.exceptions

import ocilayout as oci
from harness import Client, ServerTestCase, basic_auth, describe, root_keys
from principals import PrincipalsMixin

AWS = shutil.which("aws")

PULL_ONLY = {"Version": "2012-10-17", "Statement": [{
    "Effect": "Allow", "Resource": "*",
    "Action": ["ecr:GetAuthorizationToken", "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer",
               "ecr:BatchCheckLayerAvailability", "ecr:DescribeRepositories", "ecr:ListImages"]}]}
MAY_ASSUME = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
                                                      "Resource": "*"}]}


class TestSts(PrincipalsMixin, ServerTestCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.work = tempfile.mkdtemp(prefix="berth-sts-")
        cls.addClassCleanup(shutil.rmtree, cls.work, True)
        cls.image = oci.build_image(3100, (("gzip", 8 * 1024),))

    def sts(self, key, secret, token=None):
        return boto3.client("sts", endpoint_url=self.server.base_url, region_name="us-east-1",
                            aws_access_key_id=key, aws_secret_access_key=secret, aws_session_token=token,
                            config=botocore.config.Config(retries={"max_attempts": 1}))

    def session_ecr(self, creds):
        return boto3.client("ecr", endpoint_url=self.server.base_url, region_name="us-east-1",
                            aws_access_key_id=creds["AccessKeyId"], aws_secret_access_key=creds["SecretAccessKey"],
                            aws_session_token=creds["SessionToken"],
                            config=botocore.config.Config(retries={"max_attempts": 1}))

    def role(self, name, policy, trust=None, account=None):
        args = ["create-role", name, "--policy-file", self.policy_file(policy)]
        if trust is not None:
            args += ["--assume-role-policy-file", self.policy_file(trust)]
        if account:
            args += ["--account-id", account]
        return json.loads(self.admin(*args).stdout)["Arn"]

    def test_assume_role_with_the_aws_cli_then_pull_but_not_push(self):
        repo = self.repo("sts")
        Client(self.server.base_url).push_manifest_tree(repo, self.image, "v1")
        role_arn = self.role("deployer", PULL_ONLY)
        user = self.create_user("ci-bot", MAY_ASSUME)
        env = dict(os.environ, AWS_ACCESS_KEY_ID=user["AccessKeyId"], AWS_SECRET_ACCESS_KEY=user["SecretAccessKey"],
                   AWS_CONFIG_FILE=os.devnull, AWS_SHARED_CREDENTIALS_FILE=os.devnull, AWS_PAGER="")
        env.pop("AWS_SESSION_TOKEN", None)
        if AWS:
            out = subprocess.run([AWS, "sts", "assume-role", "--role-arn", role_arn, "--role-session-name", "deploy-1",
                                  "--endpoint-url", self.server.base_url, "--region", "us-east-1", "--output", "json"],
                                 env=env, capture_output=True, text=True, timeout=120)
            self.assertEqual(out.returncode, 0, out.stderr)
            answer = json.loads(out.stdout)
        else:
            answer = self.sts(user["AccessKeyId"], user["SecretAccessKey"]).assume_role(
                RoleArn=role_arn, RoleSessionName="deploy-1")
        creds = answer["Credentials"]
        self.assertTrue(creds["AccessKeyId"].startswith("ASIA"))
        self.assertTrue(answer["AssumedRoleUser"]["Arn"].endswith(":assumed-role/deployer/deploy-1"))
        me = self.sts(creds["AccessKeyId"], creds["SecretAccessKey"], creds["SessionToken"]).get_caller_identity()
        self.assertEqual(me["Arn"], answer["AssumedRoleUser"]["Arn"])

        ecr = self.session_ecr(creds)
        ecr.describe_repositories(repositoryNames=[repo])
        with self.assertRaises(botocore.exceptions.ClientError) as e:
            ecr.create_repository(repositoryName=repo + "-new")
        self.assertEqual(e.exception.response["Error"]["Code"], "AccessDeniedException")
        self.assertIn(":assumed-role/deployer/deploy-1 is not authorized", e.exception.response["Error"]["Message"])
        # The session token is part of the credentials: without it the key is refused.
        no_token = dict(creds, SessionToken=None)
        with self.assertRaises(botocore.exceptions.ClientError) as e:
            self.session_ecr(no_token).describe_repositories()
        self.assertEqual(e.exception.response["Error"]["Code"], "UnrecognizedClientException")

        # /v2/ login as the session: pulls, cannot push.
        data = ecr.get_authorization_token()["authorizationData"][0]
        import base64
        password = base64.b64decode(data["authorizationToken"]).decode().split(":", 1)[1]
        c = Client(self.server.base_url)
        c.s.headers["Authorization"] = basic_auth(password)
        self.assertEqual(c.get_manifest(repo, "v1").status_code, 200)
        r = c.start_upload(repo)
        self.assertEqual(r.status_code, 403, describe(r))

    def test_deleted_role_cannot_be_assumed_and_its_sessions_lose_its_policies(self):
        repo = self.repo("sts-deleted")
        role_arn = self.role("short-lived", PULL_ONLY)
        user = self.create_user("ci-deleter", MAY_ASSUME)
        creds = self.sts(user["AccessKeyId"], user["SecretAccessKey"]).assume_role(
            RoleArn=role_arn, RoleSessionName="before")["Credentials"]
        self.session_ecr(creds).describe_repositories(repositoryNames=[repo])
        out = json.loads(self.admin("delete-role", "short-lived").stdout)
        self.assertEqual(out, {"RoleName": "short-lived", "Deleted": True})
        with self.assertRaises(botocore.exceptions.ClientError) as e:
            self.session_ecr(creds).describe_repositories(repositoryNames=[repo])
        self.assertEqual(e.exception.response["Error"]["Code"], "AccessDeniedException")
        with self.assertRaises(botocore.exceptions.ClientError) as e:
            self.sts(user["AccessKeyId"], user["SecretAccessKey"]).assume_role(
                RoleArn=role_arn, RoleSessionName="after")
        self.assertIn(e.exception.response["Error"]["Code"], ("AccessDenied", "NoSuchEntity"))
        missing = self.admin("delete-role", "short-lived", check=False)
        self.assertEqual(missing.returncode, 1)
        self.assertIn("short-lived", missing.stderr)
        # Its trust policy went with it: a new role of the same name without one trusts
        # the account again (the default), not only the old role's principal.
        self.role("narrow", PULL_ONLY, trust={"Version": "2012-10-17", "Statement": [{
            "Effect": "Allow", "Action": "sts:AssumeRole",
            "Principal": {"AWS": "arn:aws:iam::" + self.account() + ":user/someone-else"}}]})
        self.admin("delete-role", "narrow")
        narrow = self.role("narrow", PULL_ONLY)
        self.sts(user["AccessKeyId"], user["SecretAccessKey"]).assume_role(RoleArn=narrow, RoleSessionName="again")

    def test_trust_policy_decides_who_may_assume(self):
        role_arn = self.role("ops-only", PULL_ONLY, trust={"Version": "2012-10-17", "Statement": [{
            "Effect": "Allow", "Action": "sts:AssumeRole",
            "Principal": {"AWS": "arn:aws:iam::" + self.account() + ":user/ops"}}]})
        ops = self.create_user("ops", MAY_ASSUME)
        dev = self.create_user("dev", MAY_ASSUME)
        self.sts(ops["AccessKeyId"], ops["SecretAccessKey"]).assume_role(RoleArn=role_arn, RoleSessionName="s1")
        with self.assertRaises(botocore.exceptions.ClientError) as e:
            self.sts(dev["AccessKeyId"], dev["SecretAccessKey"]).assume_role(RoleArn=role_arn, RoleSessionName="s1")
        self.assertEqual(e.exception.response["Error"]["Code"], "AccessDenied")
        # Trusting the account (the default) delegates to identity policies: a principal
        # whose own policies do not allow sts:AssumeRole is refused.
        default_trust = self.role("account-trusted", PULL_ONLY)
        self.sts(dev["AccessKeyId"], dev["SecretAccessKey"]).assume_role(RoleArn=default_trust, RoleSessionName="s2")
        plain = self.create_user("plain", PULL_ONLY)
        with self.assertRaises(botocore.exceptions.ClientError) as e:
            self.sts(plain["AccessKeyId"], plain["SecretAccessKey"]).assume_role(RoleArn=default_trust,
                                                                                 RoleSessionName="s2")
        self.assertEqual(e.exception.response["Error"]["Code"], "AccessDenied")

    def test_cross_account_role(self):
        self.admin("create-account", "--account-id", "444444444444")
        role_arn = self.role("partner-pull", PULL_ONLY, trust={"Version": "2012-10-17", "Statement": [{
            "Effect": "Allow", "Action": "sts:AssumeRole", "Principal": {"AWS": "arn:aws:iam::444444444444:root"}}]})
        partner = json.loads(self.admin("create-user", "partner", "--account-id", "444444444444",
                                        "--policy-file", self.policy_file(MAY_ASSUME)).stdout)
        creds = self.sts(partner["AccessKeyId"], partner["SecretAccessKey"]).assume_role(
            RoleArn=role_arn, RoleSessionName="xx")["Credentials"]
        self.session_ecr(creds).describe_repositories()
        other = json.loads(self.admin("create-account", "--account-id", "555555555555").stdout)
        with self.assertRaises(botocore.exceptions.ClientError) as e:
            self.sts(other["AccessKeyId"], other["SecretAccessKey"]).assume_role(RoleArn=role_arn, RoleSessionName="xx")
        self.assertEqual(e.exception.response["Error"]["Code"], "AccessDenied")

    def test_ids_follow_iams_formats(self):
        """UserId and AssumedRoleId are IAM's aws:userid values: the account for the root,
        the user's AIDA id, the role's AROA id with the session name."""
        root = self.sts(*root_keys(self.server.data_dir)).get_caller_identity()
        self.assertEqual(root["UserId"], root["Account"])

        user = self.create_user("id-user", MAY_ASSUME)
        me = self.sts(user["AccessKeyId"], user["SecretAccessKey"]).get_caller_identity()
        self.assertRegex(me["UserId"], r"^AIDA[A-Z2-7]{17}$")
        self.assertEqual(me["Arn"], user["Arn"])
        second = json.loads(self.admin("create-access-key", "--user", "id-user").stdout)
        self.assertEqual(self.sts(second["AccessKeyId"], second["SecretAccessKey"]).get_caller_identity()["UserId"],
                         me["UserId"])  # the user's id, not the key's
        other = self.create_user("id-other", MAY_ASSUME)
        self.assertNotEqual(self.sts(other["AccessKeyId"], other["SecretAccessKey"]).get_caller_identity()["UserId"],
                            me["UserId"])

        role_arn = self.role("id-role", PULL_ONLY)
        assume = self.sts(user["AccessKeyId"], user["SecretAccessKey"]).assume_role
        one = assume(RoleArn=role_arn, RoleSessionName="one")
        two = assume(RoleArn=role_arn, RoleSessionName="two")
        role_id, _, session = one["AssumedRoleUser"]["AssumedRoleId"].partition(":")
        self.assertRegex(role_id, r"^AROA[A-Z2-7]{17}$")
        self.assertEqual(session, "one")
        self.assertEqual(two["AssumedRoleUser"]["AssumedRoleId"], role_id + ":two")
        creds = one["Credentials"]
        who = self.sts(creds["AccessKeyId"], creds["SecretAccessKey"], creds["SessionToken"]).get_caller_identity()
        self.assertEqual(who["UserId"], role_id + ":one")
        self.assertEqual(who["Arn"], one["AssumedRoleUser"]["Arn"])
        own = json.loads(self.admin("create-access-key", "--role", "id-role").stdout)
        self.assertEqual(self.sts(own["AccessKeyId"], own["SecretAccessKey"]).get_caller_identity()["UserId"], role_id)

        # A role deleted and created again under its name is another role, with another id;
        # a session of the old one keeps the old one's.
        self.admin("delete-role", "id-role")
        self.role("id-role", PULL_ONLY)
        again = assume(RoleArn=role_arn, RoleSessionName="one")["AssumedRoleUser"]["AssumedRoleId"]
        self.assertRegex(again, r"^AROA[A-Z2-7]{17}:one$")
        self.assertNotEqual(again, role_id + ":one")
        who = self.sts(creds["AccessKeyId"], creds["SecretAccessKey"], creds["SessionToken"]).get_caller_identity()
        self.assertEqual(who["UserId"], role_id + ":one")

    def test_bad_requests(self):
        root = self.sts(*root_keys(self.server.data_dir))
        role_arn = self.role("target", PULL_ONLY)
        # (botocore checks lengths and DurationSeconds >= 900 itself; these pass it)
        cases = [({"RoleArn": "arn:aws:iam::12345:role/not-twelve-digits", "RoleSessionName": "s1"},
                  "ValidationError"),
                 ({"RoleArn": role_arn, "RoleSessionName": "a b"}, "ValidationError"),
                 ({"RoleArn": role_arn, "RoleSessionName": "s1", "DurationSeconds": 43200}, "ValidationError"),
                 ({"RoleArn": role_arn.replace("target", "absent"), "RoleSessionName": "s1"}, "AccessDenied")]
        for params, code in cases:
            with self.subTest(params=params):
                with self.assertRaises(botocore.exceptions.ClientError) as e:
                    root.assume_role(**params)
                self.assertEqual(e.exception.response["Error"]["Code"], code)
        with self.assertRaises(botocore.exceptions.ClientError) as e:
            self.sts(root_keys(self.server.data_dir)[0], "wrong-secret").get_caller_identity()
        self.assertEqual(e.exception.response["Error"]["Code"], "SignatureDoesNotMatch")
        with self.assertRaises(botocore.exceptions.ClientError) as e:
            root.get_session_token()
        self.assertEqual(e.exception.response["Error"]["Code"], "InvalidAction")

    def account(self):
        return self.sts(*root_keys(self.server.data_dir)).get_caller_identity()["Account"]


if __name__ == "__main__":
    unittest.main()
