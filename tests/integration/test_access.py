"""Access control end to end: `berth admin` users and policies, the ECR API's
AccessDeniedException, /v2/ login (401 + WWW-Authenticate, tokens from
GetAuthorizationToken, revoked with their access key), 403 DENIED on a denied action,
explicit Deny, and public repositories (anonymous pull, no anonymous push), with the real
aws CLI, boto3, skopeo and podman."""

import datetime
import json
import os
import shutil
import subprocess
import tempfile
import unittest
from unittest import mock

import botocore.auth
import botocore.awsrequest
import botocore.credentials
import botocore.exceptions
import requests

import ocilayout as oci
from principals import PrincipalsMixin
from harness import Client, ServerTestCase, basic_auth, describe, error_codes, login_token, root_keys, run

SKOPEO = shutil.which("skopeo")
PODMAN = shutil.which("podman")
AWS = shutil.which("aws")

PULL_ONLY = {"Version": "2012-10-17", "Statement": [{
    "Effect": "Allow", "Resource": "*",
    "Action": ["ecr:GetAuthorizationToken", "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer",
               "ecr:BatchCheckLayerAvailability", "ecr:DescribeRepositories", "ecr:ListImages"]}]}
TOKEN_ONLY = {"Version": "2012-10-17", "Statement": [{
    "Effect": "Allow", "Action": "ecr:GetAuthorizationToken", "Resource": "*"}]}


def everything_but(repo):
    return {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "ecr:*", "Resource": "*"},
        {"Sid": "NotThatOne", "Effect": "Deny", "Action": "ecr:*",
         "Resource": f"arn:aws:ecr:*:*:repository/{repo}"}]}


PUBLIC_PULL = {"Version": "2012-10-17", "Statement": [{
    "Sid": "PublicPull", "Effect": "Allow", "Principal": "*",
    "Action": ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer", "ecr:BatchCheckLayerAvailability"]}]}


class TestAccess(PrincipalsMixin, ServerTestCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.work = tempfile.mkdtemp(prefix="berth-access-")
        cls.addClassCleanup(shutil.rmtree, cls.work, True)
        cls.image = oci.build_image(3000, (("gzip", 32 * 1024),))
        cls.layout_dir = os.path.join(cls.work, "layout")
        oci.Layout(cls.layout_dir).add(cls.image, "v1")

    def push_image(self, repo):
        Client(self.server.base_url).push_manifest_tree(repo, self.image, "v1")

    # -- tests -----------------------------------------------------------------------

    def test_401_without_credentials(self):
        for path in ("/v2/", "/v2/_catalog", "/v2/any/repo/manifests/v1", "/v2/any/repo/tags/list"):
            with self.subTest(path=path):
                r = requests.get(self.server.base_url + path, headers={"Authorization": None})
                self.assertEqual(r.status_code, 401, describe(r))
                self.assertEqual(r.headers.get("WWW-Authenticate"), 'Basic realm="berth"')
                self.assertEqual(error_codes(r), ["UNAUTHORIZED"])
        for bad in ("Basic " + "Zm9vOmJhcg==", basic_auth("not-a-token"), "Bearer abc"):
            r = requests.get(self.server.base_url + "/v2/", headers={"Authorization": bad})
            self.assertEqual(r.status_code, 401, describe(r))
        self.assertEqual(Client(self.server.base_url).v2().status_code, 200)

    def test_pull_only_user_can_pull_but_not_push(self):
        repo = self.repo("access")
        self.push_image(repo)
        user = self.create_user("puller", PULL_ONLY)
        c = self.client_as(user)
        self.assertEqual(c.v2().status_code, 200)
        r = c.get_manifest(repo, "v1", accept=self.image.media_type)
        self.assertEqual(r.status_code, 200, describe(r))
        self.assertEqual(r.content, self.image.body)
        r = c.put_manifest(repo, "v2", self.image.body, self.image.media_type)
        self.assertEqual(r.status_code, 403, describe(r))
        self.assertEqual(error_codes(r), ["DENIED"])
        msg = r.json()["errors"][0]["message"]
        self.assertIn(f"{user['Arn']} is not authorized to perform: ecr:PutImage on resource: "
                      f"arn:aws:ecr:us-east-1:", msg)
        self.assertIn(f":repository/{repo}", msg)
        r = c.start_upload(repo)
        self.assertEqual(r.status_code, 403, describe(r))
        if SKOPEO:
            creds = f"AWS:{login_token(self.server.base_url, user['AccessKeyId'], user['SecretAccessKey'])}"
            out = os.path.join(self.work, "pulled-" + repo.replace("/", "_"))
            run([SKOPEO, "--insecure-policy", "copy", "--src-tls-verify=false", "--src-creds", creds,
                 f"docker://{self.server.address}/{repo}:v1", f"oci:{out}:v1"])
            r = run([SKOPEO, "--insecure-policy", "copy", "--dest-tls-verify=false", "--dest-creds", creds,
                     "--retry-times", "0", f"oci:{self.layout_dir}:v1", f"docker://{self.server.address}/{repo}:v9"],
                    check=False)
            self.assertNotEqual(r.returncode, 0)
            self.assertIn(b"denied", r.stderr.lower())

    def test_user_without_policy_gets_access_denied_from_the_ecr_api(self):
        user = self.create_user("nopolicy")
        with self.assertRaises(botocore.exceptions.ClientError) as e:
            self.ecr(user).describe_repositories()
        self.assertEqual(e.exception.response["Error"]["Code"], "AccessDeniedException")
        self.assertIn(f"User: {user['Arn']} is not authorized to perform: ecr:DescribeRepositories",
                      e.exception.response["Error"]["Message"])
        with self.assertRaises(botocore.exceptions.ClientError) as e:
            self.ecr(user).get_authorization_token()
        self.assertEqual(e.exception.response["Error"]["Code"], "AccessDeniedException")
        if AWS:
            env = dict(os.environ, AWS_ACCESS_KEY_ID=user["AccessKeyId"],
                       AWS_SECRET_ACCESS_KEY=user["SecretAccessKey"], AWS_CONFIG_FILE=os.devnull,
                       AWS_SHARED_CREDENTIALS_FILE=os.devnull, AWS_PAGER="")
            r = subprocess.run([AWS, "ecr", "describe-repositories", "--endpoint-url", self.server.base_url,
                                "--region", "us-east-1"], env=env, capture_output=True, text=True, timeout=120)
            self.assertNotEqual(r.returncode, 0)
            self.assertIn("AccessDeniedException", r.stderr)

    def test_explicit_deny_wins(self):
        allowed, denied = self.repo("access"), self.repo("access")
        self.push_image(allowed)
        self.push_image(denied)
        user = self.create_user("denied-one", everything_but(denied))
        c = self.client_as(user)
        self.assertEqual(c.get_manifest(allowed, "v1").status_code, 200)
        r = c.get_manifest(denied, "v1")
        self.assertEqual(r.status_code, 403, describe(r))
        self.assertIn("explicit deny", r.json()["errors"][0]["message"])
        ecr = self.ecr(user)
        ecr.describe_repositories(repositoryNames=[allowed])
        with self.assertRaises(botocore.exceptions.ClientError) as e:
            ecr.list_images(repositoryName=denied)
        self.assertEqual(e.exception.response["Error"]["Code"], "AccessDeniedException")

    def test_token_stops_working_when_its_access_key_is_deleted(self):
        user = self.create_user("revoked", PULL_ONLY)
        c = self.client_as(user)
        self.assertEqual(c.v2().status_code, 200)
        self.admin("delete-access-key", user["AccessKeyId"])
        r = c.v2()
        self.assertEqual(r.status_code, 401, describe(r))
        self.assertEqual(r.headers.get("WWW-Authenticate"), 'Basic realm="berth"')
        # A new key works again; listing shows only it.
        key = json.loads(self.admin("create-access-key", "--user", "revoked").stdout)
        self.assertEqual(self.client_as(dict(user, **key)).v2().status_code, 200)
        keys = json.loads(self.admin("list-access-keys", "--user", "revoked").stdout)["AccessKeyMetadata"]
        self.assertEqual([k["AccessKeyId"] for k in keys], [key["AccessKeyId"]])

    def test_admin_verbs(self):
        self.create_user("lister", TOKEN_ONLY)
        users = json.loads(self.admin("list-users").stdout)["Users"]
        self.assertIn("lister", [u["UserName"] for u in users])
        self.assertNotIn("SecretAccessKey", json.dumps(users))
        dup = self.admin("create-user", "lister", check=False)
        self.assertNotEqual(dup.returncode, 0)
        self.assertIn("already exists", dup.stderr)
        bad = self.admin("put-user-policy", "--user", "lister", "--policy-name", "p", "--policy-file",
                         self.policy_file({"Version": "2012-10-17", "Statement": [{"Effect": "allow"}]}), check=False)
        self.assertNotEqual(bad.returncode, 0)
        self.assertIn("Effect", bad.stderr)
        self.admin("put-user-policy", "--user", "lister", "--policy-name", "pull", "--policy-file",
                   self.policy_file(PULL_ONLY))
        role = json.loads(self.admin("create-role", "builder").stdout)
        self.assertRegex(role["Arn"], r"^arn:aws:iam::[0-9]{12}:role/builder$")
        account = json.loads(self.admin("create-account", "--account-id", "210987654321").stdout)
        self.assertEqual(account["Arn"], "arn:aws:iam::210987654321:root")
        self.admin("delete-user", "lister")
        self.assertNotIn("lister", [u["UserName"] for u in json.loads(self.admin("list-users").stdout)["Users"]])
        missing = self.admin("delete-user", "lister", check=False)
        self.assertNotEqual(missing.returncode, 0)

    def test_public_repository_allows_anonymous_pull_but_not_push(self):
        repo = self.repo("public")
        self.push_image(repo)
        anon = self.anonymous()
        self.assertEqual(anon.get_manifest(repo, "v1").status_code, 401)
        self.admin("set-repository-policy", repo, "--policy-file", self.policy_file(PUBLIC_PULL))
        r = anon.get_manifest(repo, "v1", accept=self.image.media_type)
        self.assertEqual(r.status_code, 200, describe(r))
        for b in self.image.all_blobs():
            self.assertEqual(anon.get_blob(repo, b.digest).content, b.data)
        r = anon.put_manifest(repo, "v2", self.image.body, self.image.media_type)
        self.assertEqual(r.status_code, 401, describe(r))
        self.assertEqual(anon.start_upload(repo).status_code, 401)
        self.assertEqual(anon.tags(repo).status_code, 401)  # ListImages is not in the policy
        if SKOPEO:
            out = os.path.join(self.work, "anon-" + repo.replace("/", "_"))
            env = {k: v for k, v in os.environ.items() if k != "REGISTRY_AUTH_FILE"}
            env["REGISTRY_AUTH_FILE"] = os.path.join(self.work, "empty-auth.json")
            run([SKOPEO, "--insecure-policy", "copy", "--src-tls-verify=false", "--src-no-creds",
                 f"docker://{self.server.address}/{repo}:v1", f"oci:{out}:v1"], env=env)

    # -- roles, accounts, catalog -----------------------------------------------------

    def test_deploy_role_pulls_and_cannot_push(self):
        repo = self.repo("deploy")
        self.push_image(repo)
        role = json.loads(self.admin("create-role", "deploy", "--policy-file", self.policy_file(PULL_ONLY)).stdout)
        self.assertRegex(role["Arn"], r"^arn:aws:iam::[0-9]{12}:role/deploy$")
        key = json.loads(self.admin("create-access-key", "--role", "deploy").stdout)
        self.assertEqual((key["RoleName"], key["Arn"]), ("deploy", role["Arn"]))
        c = self.client_as(key)
        self.assertEqual(c.get_manifest(repo, "v1").status_code, 200)
        r = c.start_upload(repo)
        self.assertEqual(r.status_code, 403, describe(r))
        self.assertIn(f"{role['Arn']} is not authorized to perform: ecr:InitiateLayerUpload", r.json()["errors"][0]["message"])
        bad = self.admin("create-access-key", "--role", "nobody", check=False)
        self.assertNotEqual(bad.returncode, 0)

    def test_cross_account_pull_needs_the_repository_policy(self):
        repo = self.repo("xacct")
        self.push_image(repo)
        second = json.loads(self.admin("create-account", "--account-id", "222222222222").stdout)
        third = json.loads(self.admin("create-account", "--account-id", "333333333333").stdout)
        friend = json.loads(self.admin("create-user", "friend", "--account-id", "222222222222",
                                       "--policy-file", self.policy_file(PULL_ONLY)).stdout)
        stranger = json.loads(self.admin("create-user", "stranger", "--account-id", "333333333333",
                                         "--policy-file", self.policy_file(PULL_ONLY)).stdout)
        self.assertIn(":222222222222:", friend["Arn"])
        # Before the owner agrees, the other account's own Allow is not enough.
        self.assertEqual(self.client_as(friend).get_manifest(repo, "v1").status_code, 403)
        policy = {"Version": "2012-10-17", "Statement": [{
            "Sid": "SecondAccountPulls", "Effect": "Allow",
            "Principal": {"AWS": "arn:aws:iam::222222222222:root"},
            "Action": ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer", "ecr:BatchCheckLayerAvailability"]}]}
        self.admin("set-repository-policy", repo, "--policy-file", self.policy_file(policy))
        for who, want in ((friend, 200), (stranger, 403), (second, 200), (third, 403)):
            with self.subTest(who=who["Arn"]):
                c = self.client_as(who)
                r = c.get_manifest(repo, "v1", accept=self.image.media_type)
                self.assertEqual(r.status_code, want, describe(r))
                if want == 200:
                    self.assertEqual(r.content, self.image.body)
                    for b in self.image.all_blobs():
                        self.assertEqual(c.get_blob(repo, b.digest).content, b.data)
                    self.assertEqual(c.put_manifest(repo, "x", self.image.body, self.image.media_type).status_code,
                                     403)
        if SKOPEO:
            creds = f"AWS:{login_token(self.server.base_url, friend['AccessKeyId'], friend['SecretAccessKey'])}"
            out = os.path.join(self.work, "xacct-" + repo.replace("/", "_"))
            run([SKOPEO, "--insecure-policy", "copy", "--src-tls-verify=false", "--src-creds", creds,
                 f"docker://{self.server.address}/{repo}:v1", f"oci:{out}:v1"])
        # A user of the second account without an identity Allow gets nothing from the grant.
        bare = json.loads(self.admin("create-user", "bare", "--account-id", "222222222222",
                                     "--policy-file", self.policy_file(TOKEN_ONLY)).stdout)
        self.assertEqual(self.client_as(bare).get_manifest(repo, "v1").status_code, 403)

    def test_catalog_lists_what_the_caller_may_see(self):
        visible = [self.repo("cat-team"), self.repo("cat-team")]
        hidden = self.repo("cat-other")
        account = self.ecr(dict(zip(("AccessKeyId", "SecretAccessKey"),
                                    root_keys(self.server.data_dir)))).describe_registry()["registryId"]
        user = self.create_user("cataloger", {"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Action": ["ecr:GetAuthorizationToken"], "Resource": "*"},
            {"Effect": "Allow", "Action": ["ecr:BatchGetImage"],
             "Resource": f"arn:aws:ecr:us-east-1:{account}:repository/cat-team*"}]})
        c = self.client_as(user)
        names, last = [], None
        while True:  # one per page, following Link
            r = c.catalog(n=1, **({"last": last} if last else {}))
            self.assertEqual(r.status_code, 200, describe(r))
            names += r.json()["repositories"]
            if "Link" not in r.headers:
                break
            last = r.json()["repositories"][-1] if r.json()["repositories"] else None
            self.assertIsNotNone(last)
        self.assertEqual(sorted(names), sorted(visible))
        self.assertNotIn(hidden, names)
        everything = Client(self.server.base_url).catalog(n=10000).json()["repositories"]  # root sees all
        self.assertIn(hidden, everything)

    # -- GetDownloadUrlForLayer ------------------------------------------------------

    def test_download_url_for_layer(self):
        repo = self.repo("dl")
        self.push_image(repo)
        config_digest = self.image.json["config"]["digest"]
        layer = [b for b in self.image.all_blobs() if b.digest == self.image.json["layers"][0]["digest"]][0]
        user = self.create_user("downloader", PULL_ONLY)
        out = self.ecr(user).get_download_url_for_layer(repositoryName=repo, layerDigest=layer.digest)
        self.assertEqual(out["layerDigest"], layer.digest)
        url = out["downloadUrl"]
        self.assertTrue(url.startswith(f"{self.server.base_url}/v2/{repo}/blobs/{layer.digest}?X-Amz-"), url)
        # Any HTTP client follows it, without a login.
        r = requests.get(url, headers={"Authorization": None})
        self.assertEqual(r.status_code, 200, describe(r))
        self.assertEqual(r.content, layer.data)
        if shutil.which("curl"):
            self.assertEqual(run(["curl", "-sf", url]).stdout, layer.data)
        # Bound to its path and its signature.
        other = url.replace(layer.digest, config_digest, 1)
        self.assertEqual(requests.get(other, headers={"Authorization": None}).status_code, 401)
        tampered = url[:-1] + ("0" if url[-1] != "0" else "1")
        self.assertEqual(requests.get(tampered, headers={"Authorization": None}).status_code, 401)
        # An expired URL (signed two hours ago for one minute) is refused.
        past = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(hours=2)
        request = botocore.awsrequest.AWSRequest(method="GET", url=url.split("?", 1)[0])
        with mock.patch("botocore.auth.get_current_datetime", return_value=past):
            botocore.auth.SigV4QueryAuth(botocore.credentials.Credentials(user["AccessKeyId"], user["SecretAccessKey"]),
                                         "ecr", "us-east-1", expires=60).add_auth(request)
        r = requests.get(request.url, headers={"Authorization": None})
        self.assertEqual(r.status_code, 401, describe(r))
        self.assertIn("expired", r.json()["errors"][0]["message"].lower())
        # Errors by ECR's names.
        with self.assertRaises(botocore.exceptions.ClientError) as e:
            self.ecr(user).get_download_url_for_layer(repositoryName=repo, layerDigest="sha256:" + "1" * 64)
        self.assertEqual(e.exception.response["Error"]["Code"], "LayersNotFoundException")
        with self.assertRaises(botocore.exceptions.ClientError) as e:
            self.ecr(user).get_download_url_for_layer(repositoryName=repo, layerDigest="nope")
        self.assertEqual(e.exception.response["Error"]["Code"], "InvalidParameterException")
        # The URL dies with the key that signed it.
        self.admin("delete-access-key", user["AccessKeyId"])
        self.assertEqual(requests.get(url, headers={"Authorization": None}).status_code, 401)

    def test_download_url_needs_the_permission(self):
        repo = self.repo("dl")
        self.push_image(repo)
        user = self.create_user("no-download", {"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Action": "ecr:*", "Resource": "*"},
            {"Effect": "Deny", "Action": "ecr:GetDownloadUrlForLayer", "Resource": "*"}]})
        with self.assertRaises(botocore.exceptions.ClientError) as e:
            self.ecr(user).get_download_url_for_layer(repositoryName=repo,
                                                      layerDigest=self.image.json["config"]["digest"])
        self.assertEqual(e.exception.response["Error"]["Code"], "AccessDeniedException")

    # -- registry policy and tag conditions -------------------------------------------

    def test_registry_policy(self):
        root = self.ecr(dict(zip(("AccessKeyId", "SecretAccessKey"), root_keys(self.server.data_dir))))
        with self.assertRaises(root.exceptions.RegistryPolicyNotFoundException):
            root.get_registry_policy()
        repo = self.repo("regpol")
        self.push_image(repo)
        account = root.describe_registry()["registryId"]
        policy = {"Version": "2012-10-17", "Statement": [{
            "Sid": "EveryonePulls", "Effect": "Allow", "Principal": "*",
            "Action": ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"],
            "Resource": f"arn:aws:ecr:us-east-1:{account}:repository/regpol*"}]}
        out = root.put_registry_policy(policyText=json.dumps(policy))
        self.assertEqual(out["registryId"], account)
        self.assertEqual(json.loads(root.get_registry_policy()["policyText"]), policy)
        anon = self.anonymous()
        self.assertEqual(anon.get_manifest(repo, "v1").status_code, 200)
        self.assertEqual(anon.start_upload(repo).status_code, 401)
        with self.assertRaises(root.exceptions.InvalidParameterException):
            root.put_registry_policy(policyText="{not json")
        self.assertEqual(json.loads(root.get_registry_policy()["policyText"]), policy)  # kept
        self.assertEqual(json.loads(root.delete_registry_policy()["policyText"]), policy)
        self.assertEqual(anon.get_manifest(repo, "v1").status_code, 401)
        with self.assertRaises(root.exceptions.RegistryPolicyNotFoundException):
            root.delete_registry_policy()

    def test_resource_and_request_tag_conditions(self):
        root = self.ecr(dict(zip(("AccessKeyId", "SecretAccessKey"), root_keys(self.server.data_dir))))
        mine, theirs = self.repo("tagged", create=False), self.repo("tagged", create=False)
        root.create_repository(repositoryName=mine, tags=[{"Key": "team", "Value": "blue"}])
        root.create_repository(repositoryName=theirs, tags=[{"Key": "team", "Value": "red"}])
        user = self.create_user("blue-dev", {"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Action": ["ecr:DescribeRepositories", "ecr:ListImages"], "Resource": "*",
             "Condition": {"StringEquals": {"aws:ResourceTag/team": "blue"}}},
            {"Effect": "Allow", "Action": "ecr:CreateRepository", "Resource": "*",
             "Condition": {"StringEquals": {"aws:RequestTag/team": "blue"},
                           "ForAllValues:StringEquals": {"aws:TagKeys": ["team"]}}}]})
        ecr = self.ecr(user)
        ecr.list_images(repositoryName=mine)
        with self.assertRaises(botocore.exceptions.ClientError) as e:
            ecr.list_images(repositoryName=theirs)
        self.assertEqual(e.exception.response["Error"]["Code"], "AccessDeniedException")
        ecr.create_repository(repositoryName=self.repo("tagged", create=False), tags=[{"Key": "team", "Value": "blue"}])
        for tags in ([], [{"Key": "team", "Value": "red"}],
                     [{"Key": "team", "Value": "blue"}, {"Key": "cost", "Value": "x"}]):
            with self.subTest(tags=tags):
                with self.assertRaises(botocore.exceptions.ClientError) as e:
                    ecr.create_repository(repositoryName=self.repo("tagged", create=False), tags=tags)
                self.assertEqual(e.exception.response["Error"]["Code"], "AccessDeniedException")
        # Retagging takes effect at once.
        arn = root.describe_repositories(repositoryNames=[theirs])["repositories"][0]["repositoryArn"]
        root.tag_resource(resourceArn=arn, tags=[{"Key": "team", "Value": "blue"}])
        ecr.list_images(repositoryName=theirs)


    @unittest.skipUnless(PODMAN and AWS, "podman or the aws CLI is not installed")
    def test_aws_get_login_password_then_podman_login_and_pull(self):
        from test_podman import ContainerTool, podman_problem
        problem = podman_problem()
        if problem:
            self.skipTest(problem)
        repo = self.repo("podlogin")
        self.push_image(repo)
        user = self.create_user("podman-user", PULL_ONLY)
        env = dict(os.environ, AWS_ACCESS_KEY_ID=user["AccessKeyId"], AWS_SECRET_ACCESS_KEY=user["SecretAccessKey"],
                   AWS_CONFIG_FILE=os.devnull, AWS_SHARED_CREDENTIALS_FILE=os.devnull, AWS_PAGER="")
        password = subprocess.run([AWS, "ecr", "get-login-password", "--endpoint-url", self.server.base_url,
                                   "--region", "us-east-1"], env=env, capture_output=True, text=True,
                                  timeout=120, check=True).stdout.strip()
        root = tempfile.mkdtemp(prefix="bpod-", dir="/tmp")
        self.addCleanup(shutil.rmtree, root, True)
        podman = ContainerTool(PODMAN, root)
        authfile = os.path.join(root, "auth.json")
        podman.env.pop("REGISTRY_AUTH_FILE", None)  # only what `podman login` writes
        ref = f"{self.server.address}/{repo}:v1"
        r = podman("pull", "--tls-verify=false", "--authfile", authfile, ref, check=False)
        self.assertNotEqual(r.returncode, 0, "pulled without logging in")
        run(podman.args() + ["login", "--tls-verify=false", "--authfile", authfile, "--username", "AWS",
                             "--password-stdin", self.server.address], env=podman.env, input=password.encode())
        podman("pull", "--tls-verify=false", "--authfile", authfile, ref)
        info = json.loads(podman("image", "inspect", ref).stdout)[0]
        self.assertEqual(info["Digest"], self.image.digest)


if __name__ == "__main__":
    unittest.main()
