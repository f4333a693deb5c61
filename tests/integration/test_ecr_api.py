"""The ECR JSON API driven by the real aws CLI and boto3: SigV4 with the root key from
DATA/credentials (or the environment), repositories, login tokens, and the error names."""

import base64
import hashlib
import json
import os
import subprocess
import unittest
from unittest import mock

import boto3
import botocore.config
import botocore.exceptions
import botocore.session
import requests

from harness import Server, ServerTestCase


def aws(server, *args, env_extra=None, input_text=None):
    env = dict(os.environ)
    env.update({"AWS_SHARED_CREDENTIALS_FILE": os.path.join(server.data_dir, "credentials"),
                "AWS_CONFIG_FILE": os.devnull, "AWS_PAGER": ""})
    for k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        env.pop(k, None)
    env.update(env_extra or {})
    return subprocess.run(["aws", "ecr", *args, "--endpoint-url", server.base_url, "--region", "us-east-1",
                           "--output", "json"], env=env, input=input_text, capture_output=True, text=True,
                          timeout=120)


def root_keys(server):
    with open(os.path.join(server.data_dir, "credentials")) as f:
        text = f.read()
    fields = dict(line.split(" = ", 1) for line in text.splitlines() if " = " in line)
    return fields["aws_access_key_id"], fields["aws_secret_access_key"]


def client(server, key_id=None, secret=None):
    if key_id is None:
        key_id, secret = root_keys(server)
    return boto3.client("ecr", endpoint_url=server.base_url, region_name="us-east-1", aws_access_key_id=key_id,
                        aws_secret_access_key=secret,
                        config=botocore.config.Config(retries={"max_attempts": 1}))


class TestEcrWithAwsCli(ServerTestCase):
    def test_credentials_file_is_private_and_works_at_once(self):
        path = os.path.join(self.server.data_dir, "credentials")
        self.assertEqual(os.stat(path).st_mode & 0o777, 0o600)
        r = aws(self.server, "describe-repositories")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("repositories", json.loads(r.stdout))
        # The secret never reaches the log.
        _, secret = root_keys(self.server)
        with open(self.server.log_path, errors="replace") as f:
            self.assertNotIn(secret, f.read())

    def test_create_describe_delete(self):
        r = aws(self.server, "create-repository", "--repository-name", "cli/my-app-repo",
                "--image-scanning-configuration", "scanOnPush=true", "--image-tag-mutability", "IMMUTABLE")
        self.assertEqual(r.returncode, 0, r.stderr)
        repo = json.loads(r.stdout)["repository"]
        self.assertEqual(repo["repositoryUri"], f"{self.server.address}/cli/my-app-repo")
        self.assertRegex(repo["repositoryArn"], r"^arn:aws:ecr:us-east-1:\d{12}:repository/cli/my-app-repo$")
        self.assertEqual(repo["imageTagMutability"], "IMMUTABLE")
        self.assertTrue(repo["imageScanningConfiguration"]["scanOnPush"])
        self.assertEqual(repo["encryptionConfiguration"], {"encryptionType": "AES256"})

        r = aws(self.server, "create-repository", "--repository-name", "cli/my-app-repo")
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("RepositoryAlreadyExistsException", r.stderr)

        r = aws(self.server, "describe-repositories", "--repository-names", "cli/my-app-repo")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual([x["repositoryName"] for x in json.loads(r.stdout)["repositories"]], ["cli/my-app-repo"])

        r = aws(self.server, "delete-repository", "--repository-name", "cli/my-app-repo")
        self.assertEqual(r.returncode, 0, r.stderr)
        r = aws(self.server, "describe-repositories", "--repository-names", "cli/my-app-repo")
        self.assertIn("RepositoryNotFoundException", r.stderr)
        r = aws(self.server, "delete-repository", "--repository-name", "cli/my-app-repo")
        self.assertIn("RepositoryNotFoundException", r.stderr)

    def test_login_password_works_with_skopeo(self):
        r = aws(self.server, "get-login-password")
        self.assertEqual(r.returncode, 0, r.stderr)
        authfile = os.path.join(self.server.tmp, "auth.json")
        login = subprocess.run(["skopeo", "login", "--tls-verify=false", "--authfile", authfile, "--username", "AWS",
                                "--password-stdin", self.server.address], input=r.stdout, capture_output=True,
                               text=True, timeout=120)
        self.assertEqual(login.returncode, 0, login.stderr)

    def test_readme_lists_every_operation_of_the_model(self):
        model = botocore.session.get_session().get_service_model("ecr")
        with open(os.path.join(os.path.dirname(__file__), "..", "..", "README.md")) as f:
            rows = {line.split("|")[1].strip() for line in f if line.startswith("| ") and line.count("|") >= 3}
        missing = sorted(set(model.operation_names) - rows)
        self.assertEqual(missing, [], "operations of the botocore ecr model missing from the README table")

    def test_unimplemented_operation_says_so(self):
        # Replication belongs to a later capability: refused by name, never a silent success.
        r = aws(self.server, "put-replication-configuration", "--replication-configuration",
                '{"rules":[{"destinations":[{"region":"us-west-2","registryId":"123456789012"}]}]}')
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("UnsupportedOperationException", r.stderr)
        self.assertIn("does not implement PutReplicationConfiguration", r.stderr)


class TestEcrWithBoto3(ServerTestCase):
    def test_settings_are_validated_and_returned(self):
        ecr = client(self.server)
        repo = ecr.create_repository(
            repositoryName="boto/settings", imageTagMutability="IMMUTABLE_WITH_EXCLUSION",
            imageTagMutabilityExclusionFilters=[{"filterType": "WILDCARD", "filter": "latest*"}],
            encryptionConfiguration={"encryptionType": "KMS", "kmsKey": "alias/berth"},
            tags=[{"Key": "team", "Value": "a"}])["repository"]
        self.assertEqual(repo["imageTagMutabilityExclusionFilters"], [{"filterType": "WILDCARD", "filter": "latest*"}])
        self.assertEqual(repo["encryptionConfiguration"], {"encryptionType": "KMS", "kmsKey": "alias/berth"})
        described = ecr.describe_repositories(repositoryNames=["boto/settings"])["repositories"][0]
        self.assertEqual(described["imageTagMutability"], "IMMUTABLE_WITH_EXCLUSION")
        self.assertEqual(described["createdAt"], repo["createdAt"])

        for bad in ({"repositoryName": "Upper/Case"},
                    {"repositoryName": "../x"},
                    {"repositoryName": "ok-name", "imageTagMutability": "MUTABLE_WITH_EXCLUSION"},
                    {"repositoryName": "ok-name", "encryptionConfiguration": {"encryptionType": "AES256",
                                                                              "kmsKey": "k"}},
                    {"repositoryName": "ok-name", "registryId": "000000000000"}):
            with self.subTest(bad=bad):
                with self.assertRaises(botocore.exceptions.ClientError) as e:
                    ecr.create_repository(**bad)
                self.assertEqual(e.exception.response["Error"]["Code"], "InvalidParameterException")
        with self.assertRaises(ecr.exceptions.RepositoryNotFoundException):
            ecr.describe_repositories(repositoryNames=["ok-name"])  # nothing was created

    def test_pagination(self):
        ecr = client(self.server)
        names = [f"page/r{i:02d}" for i in range(7)]
        for n in names:
            ecr.create_repository(repositoryName=n)
        seen, token = [], None
        while True:
            kw = {"maxResults": 3}
            if token:
                kw["nextToken"] = token
            page = ecr.describe_repositories(**kw)
            self.assertLessEqual(len(page["repositories"]), 3)
            seen += [r["repositoryName"] for r in page["repositories"]]
            token = page.get("nextToken")
            if not token:
                break
        self.assertEqual([n for n in seen if n.startswith("page/")], names)
        paginated = [r["repositoryName"] for p in ecr.get_paginator("describe_repositories").paginate(
            PaginationConfig={"PageSize": 2}) for r in p["repositories"]]
        self.assertEqual([n for n in paginated if n.startswith("page/")], names)

    def test_delete_non_empty_needs_force(self):
        ecr = client(self.server)
        ecr.create_repository(repositoryName="full/app")
        # An image, pushed through /v2/.
        base = self.server.base_url + "/v2/full/app"
        config = b"{}"
        cd = "sha256:" + hashlib.sha256(config).hexdigest()
        requests.post(f"{base}/blobs/uploads/", params={"digest": cd}, data=config).raise_for_status()
        manifest = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                               "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": cd,
                                          "size": len(config)}, "layers": []}).encode()
        requests.put(f"{base}/manifests/v1", data=manifest,
                     headers={"Content-Type": "application/vnd.oci.image.manifest.v1+json"}).raise_for_status()
        with self.assertRaises(ecr.exceptions.RepositoryNotEmptyException):
            ecr.delete_repository(repositoryName="full/app")
        self.assertEqual(ecr.delete_repository(repositoryName="full/app", force=True)["repository"]["repositoryName"],
                         "full/app")
        self.assertEqual(requests.get(f"{base}/manifests/v1").status_code, 404)

    def test_authorization_token_shape(self):
        data = client(self.server).get_authorization_token()["authorizationData"][0]
        user, _, token = base64.b64decode(data["authorizationToken"]).decode().partition(":")
        self.assertEqual(user, "AWS")
        self.assertTrue(token)
        self.assertEqual(data["proxyEndpoint"], self.server.base_url)
        self.assertGreater(data["expiresAt"].timestamp(), 0)

    def test_signature_errors(self):
        key_id, secret = root_keys(self.server)
        cases = [(key_id, secret[:-1] + ("A" if secret[-1] != "A" else "B"), "InvalidSignatureException"),
                 ("AKIAUNKNOWNKEY000000", secret, "UnrecognizedClientException")]
        for k, s, code in cases:
            with self.subTest(code=code):
                with self.assertRaises(botocore.exceptions.ClientError) as e:
                    client(self.server, k, s).describe_repositories()
                self.assertEqual(e.exception.response["Error"]["Code"], code)
        # No signature at all.
        r = requests.post(self.server.base_url + "/", data="{}", headers={
            "X-Amz-Target": "AmazonEC2ContainerRegistry_V20150921.DescribeRepositories",
            "Content-Type": "application/x-amz-json-1.1"})
        self.assertEqual(r.status_code, 403)
        self.assertEqual(r.json()["__type"], "MissingAuthenticationTokenException")
        # An unknown target.
        r = requests.post(self.server.base_url + "/", data="{}", headers={"X-Amz-Target": "Nope.Op"})
        self.assertEqual(r.json()["__type"], "UnknownOperationException")


    def test_malformed_json_is_a_serialization_error(self):
        # What the AWS JSON protocol answers for a body it cannot read as the operation's
        # input structure; nothing is created.
        from botocore.auth import SigV4Auth
        from botocore.awsrequest import AWSRequest
        from botocore.credentials import Credentials
        key_id, secret = root_keys(self.server)

        def create(body):
            req = AWSRequest(method="POST", url=self.server.base_url + "/", data=body.encode(), headers={
                "X-Amz-Target": "AmazonEC2ContainerRegistry_V20150921.CreateRepository",
                "Content-Type": "application/x-amz-json-1.1"})
            SigV4Auth(Credentials(key_id, secret), "ecr", "us-east-1").add_auth(req)
            return requests.post(req.url, data=body.encode(), headers=dict(req.headers.items()))

        for body in ('{"repositoryName": "made-by-broken-json"', "[]", '"text"', "{} trailing"):
            with self.subTest(body=body):
                r = create(body)
                self.assertEqual(r.status_code, 400, r.text)
                self.assertEqual(r.json()["__type"], "SerializationException")
                self.assertIn("JSON", r.json()["message"])
        # A JSON object whose member has the wrong type is the operation's own error.
        r = create('{"repositoryName": 5}')
        self.assertEqual(r.status_code, 400, r.text)
        self.assertEqual(r.json()["__type"], "InvalidParameterException")
        names = [r["repositoryName"] for r in client(self.server).describe_repositories()["repositories"]]
        self.assertNotIn("made-by-broken-json", names)

class TestRootKeyFromEnvironment(unittest.TestCase):
    def test_env_key_and_account(self):
        env = {"BERTH_ROOT_ACCESS_KEY_ID": "AKIAENVROOTKEY000001", "BERTH_ROOT_SECRET_ACCESS_KEY": "env/secret/key"}
        server = Server(extra_args=("--account-id", "123456789012"))
        self.addCleanup(server.close)
        with mock.patch.dict(os.environ, env):
            server.start()
        self.assertFalse(os.path.exists(os.path.join(server.data_dir, "credentials")))
        ecr = client(server, env["BERTH_ROOT_ACCESS_KEY_ID"], env["BERTH_ROOT_SECRET_ACCESS_KEY"])
        repo = ecr.create_repository(repositoryName="env/app")["repository"]
        self.assertEqual(repo["registryId"], "123456789012")
        self.assertEqual(repo["repositoryArn"], "arn:aws:ecr:us-east-1:123456789012:repository/env/app")


if __name__ == "__main__":
    unittest.main()


def push_image(server, repo, tag, layer=b"layer", config=b"{}"):
    """An OCI image through /v2/: returns (manifest bytes, digest)."""
    base = server.base_url + f"/v2/{repo}"
    descs = []
    for blob, mt in ((config, "application/vnd.oci.image.config.v1+json"),
                     (layer, "application/vnd.oci.image.layer.v1.tar")):
        d = "sha256:" + hashlib.sha256(blob).hexdigest()
        requests.post(f"{base}/blobs/uploads/", params={"digest": d}, data=blob).raise_for_status()
        descs.append({"mediaType": mt, "digest": d, "size": len(blob)})
    manifest = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                           "config": descs[0], "layers": descs[1:]}).encode()
    r = requests.put(f"{base}/manifests/{tag}", data=manifest,
                     headers={"Content-Type": "application/vnd.oci.image.manifest.v1+json"})
    r.raise_for_status()
    return manifest, r.headers["Docker-Content-Digest"]


class TestEcrImages(ServerTestCase):
    def test_list_and_describe(self):
        ecr = client(self.server)
        ecr.create_repository(repositoryName="img/list")
        _, d1 = push_image(self.server, "img/list", "v1", layer=b"one")
        push_image(self.server, "img/list", "latest", layer=b"one")  # same image, second tag
        _, d2 = push_image(self.server, "img/list", "v2", layer=b"two-bytes")
        # Untag v2 through /v2/ so it becomes an untagged image.
        requests.delete(self.server.base_url + "/v2/img/list/manifests/v2").raise_for_status()
        ids = ecr.list_images(repositoryName="img/list")["imageIds"]
        self.assertIn({"imageDigest": d1, "imageTag": "v1"}, ids)
        self.assertIn({"imageDigest": d1, "imageTag": "latest"}, ids)
        self.assertIn({"imageDigest": d2}, ids)
        tagged = ecr.list_images(repositoryName="img/list", filter={"tagStatus": "TAGGED"})["imageIds"]
        self.assertTrue(all("imageTag" in i for i in tagged))
        untagged = ecr.list_images(repositoryName="img/list", filter={"tagStatus": "UNTAGGED"})["imageIds"]
        self.assertEqual(untagged, [{"imageDigest": d2}])
        page = ecr.list_images(repositoryName="img/list", maxResults=1)
        self.assertIn("nextToken", page)

        details = ecr.describe_images(repositoryName="img/list", imageIds=[{"imageTag": "v1"}])["imageDetails"]
        self.assertEqual(len(details), 1)
        d = details[0]
        self.assertEqual(d["imageDigest"], d1)
        self.assertEqual(sorted(d["imageTags"]), ["latest", "v1"])
        self.assertEqual(d["imageSizeInBytes"], len(b"{}") + len(b"one"))
        self.assertEqual(d["imageManifestMediaType"], "application/vnd.oci.image.manifest.v1+json")
        self.assertEqual(d["artifactMediaType"], "application/vnd.oci.image.config.v1+json")
        self.assertIn("imagePushedAt", d)
        with self.assertRaises(ecr.exceptions.ImageNotFoundException):
            ecr.describe_images(repositoryName="img/list", imageIds=[{"imageTag": "nope"}])
        with self.assertRaises(ecr.exceptions.RepositoryNotFoundException):
            ecr.list_images(repositoryName="img/none")

    def test_batch_get_and_put_image(self):
        ecr = client(self.server)
        ecr.create_repository(repositoryName="img/get")
        manifest, digest = push_image(self.server, "img/get", "v1")
        got = ecr.batch_get_image(repositoryName="img/get", imageIds=[{"imageTag": "v1"}, {"imageTag": "zzz"},
                                                                     {"imageDigest": "sha256:bad"}])
        self.assertEqual(got["images"][0]["imageManifest"], manifest.decode())
        self.assertEqual(got["images"][0]["imageId"], {"imageDigest": digest, "imageTag": "v1"})
        codes = sorted(f["failureCode"] for f in got["failures"])
        self.assertEqual(codes, ["ImageNotFound", "InvalidImageDigest"])
        refused = ecr.batch_get_image(repositoryName="img/get", imageIds=[{"imageTag": "v1"}],
                                      acceptedMediaTypes=["application/vnd.docker.distribution.manifest.v2+json"])
        self.assertEqual(refused["images"], [])

        # PutImage: a new tag for the same manifest, then the errors.
        put = ecr.put_image(repositoryName="img/get", imageManifest=manifest.decode(), imageTag="v2")
        self.assertEqual(put["image"]["imageId"], {"imageDigest": digest, "imageTag": "v2"})
        with self.assertRaises(ecr.exceptions.ImageAlreadyExistsException):
            ecr.put_image(repositoryName="img/get", imageManifest=manifest.decode(), imageTag="v2")
        with self.assertRaises(ecr.exceptions.ImageDigestDoesNotMatchException):
            ecr.put_image(repositoryName="img/get", imageManifest=manifest.decode(), imageTag="v3",
                          imageDigest="sha256:" + "0" * 64)
        missing = json.loads(manifest)
        missing["layers"][0]["digest"] = "sha256:" + "1" * 64
        with self.assertRaises(ecr.exceptions.LayersNotFoundException):
            ecr.put_image(repositoryName="img/get", imageManifest=json.dumps(missing), imageTag="v4")
        with self.assertRaises(ecr.exceptions.InvalidParameterException):
            ecr.put_image(repositoryName="img/get", imageManifest="not json", imageTag="v5")
        tags = [i.get("imageTag") for i in ecr.list_images(repositoryName="img/get")["imageIds"]]
        self.assertEqual(sorted(t for t in tags if t), ["v1", "v2"])

    def test_batch_delete_and_layer_availability(self):
        ecr = client(self.server)
        ecr.create_repository(repositoryName="img/del")
        manifest, digest = push_image(self.server, "img/del", "v1", layer=b"del-layer")
        ecr.put_image(repositoryName="img/del", imageManifest=manifest.decode(), imageTag="v2")
        layer = json.loads(manifest)["layers"][0]["digest"]
        avail = ecr.batch_check_layer_availability(repositoryName="img/del",
                                                   layerDigests=[layer, "sha256:" + "2" * 64, "bogus"])
        self.assertEqual(avail["layers"], [{"layerDigest": layer, "layerAvailability": "AVAILABLE",
                                            "layerSize": len(b"del-layer")}])
        self.assertEqual(sorted(f["failureCode"] for f in avail["failures"]),
                         ["InvalidLayerDigest", "MissingLayerDigest"])
        # Removing one tag keeps the image; removing the last removes it.
        out = ecr.batch_delete_image(repositoryName="img/del", imageIds=[{"imageTag": "v1"}])
        self.assertEqual(out["imageIds"], [{"imageDigest": digest, "imageTag": "v1"}])
        self.assertEqual(len(ecr.list_images(repositoryName="img/del")["imageIds"]), 1)
        out = ecr.batch_delete_image(repositoryName="img/del", imageIds=[{"imageTag": "v2"}, {"imageTag": "gone"}])
        self.assertEqual(len(out["imageIds"]), 1)
        self.assertEqual(out["failures"][0]["failureCode"], "ImageNotFound")
        self.assertEqual(ecr.list_images(repositoryName="img/del")["imageIds"], [])
        self.assertEqual(requests.get(self.server.base_url + f"/v2/img/del/manifests/{digest}").status_code, 404)


class TestEcrLayerUpload(ServerTestCase):
    def test_initiate_parts_complete_then_pull_over_v2(self):
        ecr = client(self.server)
        ecr.create_repository(repositoryName="layers/app")
        data = os.urandom(300_000)
        digest = "sha256:" + hashlib.sha256(data).hexdigest()
        up = ecr.initiate_layer_upload(repositoryName="layers/app")
        self.assertGreater(up["partSize"], 0)
        first = ecr.upload_layer_part(repositoryName="layers/app", uploadId=up["uploadId"], partFirstByte=0,
                                      partLastByte=99_999, layerPartBlob=data[:100_000])
        self.assertEqual(first["lastByteReceived"], 99_999)
        with self.assertRaises(ecr.exceptions.InvalidLayerPartException):  # out of order
            ecr.upload_layer_part(repositoryName="layers/app", uploadId=up["uploadId"], partFirstByte=200_000,
                                  partLastByte=299_999, layerPartBlob=data[200_000:])
        with self.assertRaises(ecr.exceptions.InvalidLayerPartException):  # range and bytes disagree
            ecr.upload_layer_part(repositoryName="layers/app", uploadId=up["uploadId"], partFirstByte=100_000,
                                  partLastByte=100_009, layerPartBlob=data[100_000:100_005])
        ecr.upload_layer_part(repositoryName="layers/app", uploadId=up["uploadId"], partFirstByte=100_000,
                              partLastByte=299_999, layerPartBlob=data[100_000:])
        with self.assertRaises(ecr.exceptions.InvalidLayerException):
            ecr.complete_layer_upload(repositoryName="layers/app", uploadId=up["uploadId"],
                                      layerDigests=["sha256:" + "3" * 64])
        # A wrong digest discards the upload, as on /v2/.
        with self.assertRaises(ecr.exceptions.UploadNotFoundException):
            ecr.complete_layer_upload(repositoryName="layers/app", uploadId=up["uploadId"], layerDigests=[digest])

        up = ecr.initiate_layer_upload(repositoryName="layers/app")
        ecr.upload_layer_part(repositoryName="layers/app", uploadId=up["uploadId"], partFirstByte=0,
                              partLastByte=len(data) - 1, layerPartBlob=data)
        done = ecr.complete_layer_upload(repositoryName="layers/app", uploadId=up["uploadId"], layerDigests=[digest])
        self.assertEqual(done["layerDigest"], digest)
        r = requests.get(self.server.base_url + f"/v2/layers/app/blobs/{digest}")
        self.assertEqual(r.status_code, 200)
        self.assertEqual(r.content, data)
        avail = ecr.batch_check_layer_availability(repositoryName="layers/app", layerDigests=[digest])
        self.assertEqual(avail["layers"][0]["layerAvailability"], "AVAILABLE")


class TestEcrSettings(ServerTestCase):
    def test_tag_immutability_on_v2_and_put_image(self):
        ecr = client(self.server)
        ecr.create_repository(repositoryName="imm/app")
        manifest, digest = push_image(self.server, "imm/app", "v1", layer=b"first")
        out = ecr.put_image_tag_mutability(repositoryName="imm/app", imageTagMutability="IMMUTABLE_WITH_EXCLUSION",
                                           imageTagMutabilityExclusionFilters=[{"filterType": "WILDCARD",
                                                                                "filter": "latest*"}])
        self.assertEqual(out["imageTagMutability"], "IMMUTABLE_WITH_EXCLUSION")
        # The same digest again is not an error.
        push_image(self.server, "imm/app", "v1", layer=b"first")
        # Moving v1 through /v2/: 400 TAG_INVALID naming tag and repository; nothing changes.
        with self.assertRaises(requests.HTTPError) as e:
            push_image(self.server, "imm/app", "v1", layer=b"second")
        r = e.exception.response
        self.assertEqual(r.status_code, 400)
        err = r.json()["errors"][0]
        self.assertEqual(err["code"], "TAG_INVALID")
        self.assertIn("'v1'", err["message"])
        self.assertIn("imm/app", err["message"])
        self.assertIn("imageTagMutability IMMUTABLE_WITH_EXCLUSION (exclusion filters: latest*)", err["message"])
        got = ecr.batch_get_image(repositoryName="imm/app", imageIds=[{"imageTag": "v1"}])["images"][0]
        self.assertEqual(got["imageId"]["imageDigest"], digest)
        # Through PutImage: ImageTagAlreadyExistsException.
        other, _ = push_image(self.server, "imm/app", "latest", layer=b"third")  # excluded: mutable
        with self.assertRaises(ecr.exceptions.ImageTagAlreadyExistsException):
            ecr.put_image(repositoryName="imm/app", imageManifest=other.decode(), imageTag="v1")
        push_image(self.server, "imm/app", "latest", layer=b"fourth")  # latest still moves
        ecr.put_image_tag_mutability(repositoryName="imm/app", imageTagMutability="MUTABLE")
        push_image(self.server, "imm/app", "v1", layer=b"second")
        with self.assertRaises(ecr.exceptions.InvalidParameterException):
            ecr.put_image_tag_mutability(repositoryName="imm/app", imageTagMutability="SOMETIMES")
        for bad_filter in ("a/b", "a b!"):  # outside ECR's [0-9a-zA-Z._*-]
            with self.assertRaises(ecr.exceptions.InvalidParameterException):
                ecr.put_image_tag_mutability(repositoryName="imm/app", imageTagMutability="IMMUTABLE_WITH_EXCLUSION",
                                             imageTagMutabilityExclusionFilters=[{"filterType": "WILDCARD",
                                                                                  "filter": bad_filter}])
        with self.assertRaises(ecr.exceptions.RepositoryNotFoundException):
            ecr.put_image_tag_mutability(repositoryName="imm/none", imageTagMutability="MUTABLE")

    def test_resource_tags(self):
        ecr = client(self.server)
        arn = ecr.create_repository(repositoryName="tags/app", tags=[{"Key": "team", "Value": "a"}])[
            "repository"]["repositoryArn"]
        self.assertEqual(ecr.list_tags_for_resource(resourceArn=arn)["tags"], [{"Key": "team", "Value": "a"}])
        ecr.tag_resource(resourceArn=arn, tags=[{"Key": "team", "Value": "b"}, {"Key": "env", "Value": "prod"}])
        tags = {t["Key"]: t["Value"] for t in ecr.list_tags_for_resource(resourceArn=arn)["tags"]}
        self.assertEqual(tags, {"team": "b", "env": "prod"})
        ecr.untag_resource(resourceArn=arn, tagKeys=["team"])
        self.assertEqual(ecr.list_tags_for_resource(resourceArn=arn)["tags"], [{"Key": "env", "Value": "prod"}])
        with self.assertRaises(ecr.exceptions.InvalidParameterException):
            ecr.list_tags_for_resource(resourceArn="arn:aws:ecr:us-east-1:000000000000:repository/tags/app")
        with self.assertRaises(ecr.exceptions.RepositoryNotFoundException):
            ecr.list_tags_for_resource(resourceArn=arn.replace("tags/app", "tags/none"))

    def test_registry_and_account_settings(self):
        ecr = client(self.server)
        reg = ecr.describe_registry()
        self.assertRegex(reg["registryId"], r"^\d{12}$")
        self.assertEqual(reg["replicationConfiguration"], {"rules": []})
        self.assertEqual(ecr.get_account_setting(name="BASIC_SCAN_TYPE_VERSION")["value"], "AWS_NATIVE")
        ecr.put_account_setting(name="BASIC_SCAN_TYPE_VERSION", value="CLAIR")
        self.assertEqual(ecr.get_account_setting(name="BASIC_SCAN_TYPE_VERSION")["value"], "CLAIR")
        with self.assertRaises(ecr.exceptions.InvalidParameterException):
            ecr.put_account_setting(name="BASIC_SCAN_TYPE_VERSION", value="OTHER")
        with self.assertRaises(ecr.exceptions.InvalidParameterException):
            ecr.get_account_setting(name="NOPE")


class TestEcrRepositoryPolicy(ServerTestCase):
    def test_set_get_delete_and_public_pull(self):
        ecr = client(self.server)
        ecr.create_repository(repositoryName="pol/app")
        push_image(self.server, "pol/app", "v1")
        with self.assertRaises(ecr.exceptions.RepositoryPolicyNotFoundException):
            ecr.get_repository_policy(repositoryName="pol/app")
        policy = json.dumps({"Version": "2012-10-17", "Statement": [{
            "Sid": "PublicPull", "Effect": "Allow", "Principal": "*",
            "Action": ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"]}]})
        out = ecr.set_repository_policy(repositoryName="pol/app", policyText=policy)
        self.assertEqual(json.loads(out["policyText"]), json.loads(policy))
        self.assertEqual(json.loads(ecr.get_repository_policy(repositoryName="pol/app")["policyText"]),
                         json.loads(policy))
        anonymous = {"Authorization": None}
        self.assertEqual(requests.get(self.server.base_url + "/v2/pol/app/manifests/v1", headers=anonymous).status_code,
                         200)
        self.assertEqual(requests.post(self.server.base_url + "/v2/pol/app/blobs/uploads/",
                                       headers=anonymous).status_code, 401)
        for bad in ("not json", json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
                                                                                    "Action": "ecr:*"}]}),
                    json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": "*",
                                                                        "Action": "ecr:*", "Sid": "x" * 11000}]})):
            with self.subTest(bad=bad[:40]):
                with self.assertRaises(ecr.exceptions.InvalidParameterException):
                    ecr.set_repository_policy(repositoryName="pol/app", policyText=bad)
        deleted = ecr.delete_repository_policy(repositoryName="pol/app")
        self.assertEqual(deleted["repositoryName"], "pol/app")
        self.assertEqual(requests.get(self.server.base_url + "/v2/pol/app/manifests/v1", headers=anonymous).status_code,
                         401)
        with self.assertRaises(ecr.exceptions.RepositoryPolicyNotFoundException):
            ecr.delete_repository_policy(repositoryName="pol/app")
