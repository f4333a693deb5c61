"""Principals for tests: `berth admin` users with policies, and clients signed in as
them (boto3 for the ECR API, a /v2/ client logged in with their token). Mixed into a
ServerTestCase whose class sets `work` to a temp dir."""

import json
import os
import subprocess
import tempfile

import boto3
import botocore.config

from harness import BERTH_BIN, Client, basic_auth, login_token


class PrincipalsMixin:

    def admin(self, *args, check=True):
        r = subprocess.run([BERTH_BIN, "admin", *args, "--data-dir", self.server.data_dir],
                           capture_output=True, text=True, timeout=120)
        if check:
            self.assertEqual(r.returncode, 0, f"berth admin {args}: {r.stderr}")
        return r

    def policy_file(self, policy):
        fd, path = tempfile.mkstemp(dir=self.work, suffix=".json")
        with os.fdopen(fd, "w") as f:
            json.dump(policy, f)
        return path

    def create_user(self, name, policy=None):
        args = ["create-user", name]
        if policy is not None:
            args += ["--policy-file", self.policy_file(policy)]
        out = json.loads(self.admin(*args).stdout)
        self.assertEqual(set(out), {"UserName", "Arn", "AccessKeyId", "SecretAccessKey"})
        self.assertEqual(out["UserName"], name)
        self.assertRegex(out["Arn"], rf"^arn:aws:iam::[0-9]{{12}}:user/{name}$")
        return out

    def ecr(self, user):
        return boto3.client("ecr", endpoint_url=self.server.base_url, region_name="us-east-1",
                            aws_access_key_id=user["AccessKeyId"], aws_secret_access_key=user["SecretAccessKey"],
                            config=botocore.config.Config(retries={"max_attempts": 1}))

    def client_as(self, user):
        c = Client(self.server.base_url)
        c.s.headers["Authorization"] = basic_auth(login_token(self.server.base_url, user["AccessKeyId"],
                                                              user["SecretAccessKey"]))
        return c

    def anonymous(self):
        c = Client(self.server.base_url)
        c.s.headers["Authorization"] = None  # the harness logs in unless told not to
        return c

