"""podman and buildah against berth (vfs storage in a temporary root, plain HTTP):
pull an image pushed by skopeo, push it back under a new tag, pull a platform out of a
multi-arch index, and build an image from scratch with buildah and push it.

If podman cannot run in this sandbox (detected by running it), the tests are skipped
with the reason podman gave."""

import gzip
import io
import json
import os
import shutil
import subprocess
import tarfile
import tempfile
import unittest

import ocilayout as oci
from harness import ServerTestCase, describe, run, sha256_digest
from ociasserts import OciAsserts

PODMAN = shutil.which("podman")
BUILDAH = shutil.which("buildah")
SKOPEO = shutil.which("skopeo")


class ContainerTool:
    """podman or buildah with its own vfs storage under `root`."""

    def __init__(self, binary, root):
        self.binary = binary
        self.root = root
        self.env = dict(os.environ)
        self.env["HOME"] = os.path.join(root, "home")
        self.env["XDG_RUNTIME_DIR"] = os.path.join(root, "xdg")
        self.env["TMPDIR"] = os.path.join(root, "tmp")
        for d in (self.env["HOME"], self.env["XDG_RUNTIME_DIR"], self.env["TMPDIR"]):
            os.makedirs(d, exist_ok=True)

    def args(self):
        return [self.binary, "--root", os.path.join(self.root, "storage"),
                "--runroot", os.path.join(self.root, "run"), "--storage-driver", "vfs"]

    def __call__(self, *args, check=True, timeout=600):
        return run(self.args() + list(args), env=self.env, check=check, timeout=timeout)


def podman_problem():
    """None when podman works here with vfs storage, else what went wrong."""
    if not PODMAN:
        return "podman is not installed"
    root = tempfile.mkdtemp(prefix="berth-podman-probe-")
    try:
        r = ContainerTool(PODMAN, root)("info", "--format", "{{.Store.GraphDriverName}}", check=False, timeout=120)
        if r.returncode != 0 or r.stdout.strip() != b"vfs":
            return f"`podman info` with vfs storage failed ({r.returncode}): {r.stderr.decode(errors='replace')[-500:]}"
        return None
    except (OSError, subprocess.TimeoutExpired) as e:
        return f"podman did not run: {e}"
    finally:
        shutil.rmtree(root, ignore_errors=True)


class TestPodman(ServerTestCase, OciAsserts):

    @classmethod
    def setUpClass(cls):
        problem = podman_problem()
        if problem:
            raise unittest.SkipTest(problem)
        super().setUpClass()
        cls.work = tempfile.mkdtemp(prefix="berth-podman-")
        cls.addClassCleanup(shutil.rmtree, cls.work, True)
        cls.layout_dir = os.path.join(cls.work, "layout")
        cls.image = oci.build_image(2000, (("gzip", 256 * 1024), ("zstd", 256 * 1024)))
        cls.multi = oci.build_multiarch(2001, (("gzip", 64 * 1024),))
        oci.Layout(cls.layout_dir).add(cls.image, "v1").add(cls.multi, "multi")
        cls.name = "podman/app"
        cls.server.repo_create(cls.name)
        for tag, extra in (("v1", []), ("multi", ["--all"])):
            run([SKOPEO, "--insecure-policy", "copy", "--dest-tls-verify=false", "--preserve-digests", *extra,
                 f"oci:{cls.layout_dir}:{tag}", f"docker://{cls.server.address}/{cls.name}:{tag}"])

    def tool(self, binary):
        # podman refuses a runroot longer than 50 characters: keep the path short.
        root = tempfile.mkdtemp(prefix="bpod-", dir="/tmp")
        self.addCleanup(shutil.rmtree, root, True)
        return ContainerTool(binary, root)

    def ref(self, name, tag):
        return f"{self.server.address}/{name}:{tag}"

    def test_pull_image_pushed_by_skopeo(self):
        podman = self.tool(PODMAN)
        podman("pull", "--tls-verify=false", self.ref(self.name, "v1"))
        info = json.loads(podman("image", "inspect", self.ref(self.name, "v1")).stdout)[0]
        self.assertEqual(info["Digest"], self.image.digest)
        self.assertEqual(info["Id"], self.image.config.digest.split(":")[1])
        self.assertEqual(info["RootFS"]["Layers"], [l.diff_id for l in self.image.layers])

    def test_pull_by_digest(self):
        podman = self.tool(PODMAN)
        podman("pull", "--tls-verify=false", f"{self.server.address}/{self.name}@{self.image.digest}")
        out = podman("images", "--digests", "--format", "{{.Digest}}").stdout.decode()
        self.assertIn(self.image.digest, out)

    def test_push_back_under_new_tag(self):
        podman = self.tool(PODMAN)
        podman("pull", "--tls-verify=false", self.ref(self.name, "v1"))
        podman("tag", self.ref(self.name, "v1"), self.ref(self.name, "from-podman"))
        podman("push", "--tls-verify=false", self.ref(self.name, "from-podman"))
        r = self.client.get_manifest(self.name, "from-podman",
                                     accept=[oci.MT_OCI_MANIFEST, oci.MT_DOCKER_MANIFEST])
        self.assertEqual(r.status_code, 200, describe(r))
        manifest = r.json()
        # podman may recompress layers; the uncompressed content must be the same.
        cfg = self.client.get_blob(self.name, manifest["config"]["digest"])
        self.assertEqual(cfg.status_code, 200, describe(cfg))
        self.assertEqual(sha256_digest(cfg.content), manifest["config"]["digest"])
        self.assertEqual(json.loads(cfg.content)["rootfs"]["diff_ids"], [l.diff_id for l in self.image.layers])
        for layer in manifest["layers"]:
            g = self.client.get_blob(self.name, layer["digest"])
            self.assertEqual(g.status_code, 200, describe(g))
            self.assertEqual(sha256_digest(g.content), layer["digest"])
            self.assertEqual(len(g.content), layer["size"])
        # A second, empty storage pulls what podman pushed.
        other = self.tool(PODMAN)
        other("pull", "--tls-verify=false", self.ref(self.name, "from-podman"))
        info = json.loads(other("image", "inspect", self.ref(self.name, "from-podman")).stdout)[0]
        self.assertEqual(info["RootFS"]["Layers"], [l.diff_id for l in self.image.layers])

    def test_pull_platform_from_index(self):
        podman = self.tool(PODMAN)
        podman("pull", "--tls-verify=false", "--arch", "arm64", self.ref(self.name, "multi"))
        info = json.loads(podman("image", "inspect", self.ref(self.name, "multi")).stdout)[0]
        arm = self.multi.children[1]
        self.assertEqual(info["Architecture"], "arm64")
        self.assertEqual(info["Id"], arm.config.digest.split(":")[1])

    def test_pull_unknown_tag_fails(self):
        podman = self.tool(PODMAN)
        r = podman("pull", "--tls-verify=false", self.ref(self.name, "nope"), check=False)
        self.assertNotEqual(r.returncode, 0)

    @unittest.skipUnless(BUILDAH, "buildah is not installed")
    def test_buildah_from_scratch_commit_push(self):
        buildah = self.tool(BUILDAH)
        hello = os.path.join(self.work, "hello.txt")
        with open(hello, "w") as f:
            f.write("hello from buildah\n")
        r = buildah("from", "scratch", check=False)
        if r.returncode != 0:
            self.skipTest(f"buildah from scratch does not work here: {r.stderr.decode(errors='replace')[-300:]}")
        ctr = r.stdout.decode().strip()
        self.addCleanup(buildah, "rm", ctr, check=False)
        buildah("add", ctr, hello, "/hello.txt")
        buildah("config", "--cmd", "/hello", "--label", "org.example.built-by=buildah", ctr)
        buildah("commit", "--format", "oci", ctr, "localhost/built:1")
        buildah("push", "--tls-verify=false", "localhost/built:1", f"docker://{self.ref(self.name, 'built')}")
        r = self.client.get_manifest(self.name, "built", accept=oci.MT_OCI_MANIFEST)
        self.assertEqual(r.status_code, 200, describe(r))
        self.assertEqual(r.headers["Content-Type"].split(";")[0], oci.MT_OCI_MANIFEST)
        manifest = r.json()
        cfg = json.loads(self.client.get_blob(self.name, manifest["config"]["digest"]).content)
        self.assertEqual(cfg["config"]["Labels"]["org.example.built-by"], "buildah")
        found = None
        for layer in manifest["layers"]:
            data = self.client.get_blob(self.name, layer["digest"]).content
            self.assertEqual(sha256_digest(data), layer["digest"])
            if layer["mediaType"].endswith("gzip"):
                data = gzip.decompress(data)
            with tarfile.open(fileobj=io.BytesIO(data)) as tar:
                for member in tar.getmembers():
                    if member.name.lstrip("./") == "hello.txt":
                        found = tar.extractfile(member).read()
        self.assertEqual(found, b"hello from buildah\n")
        # And podman pulls it back.
        podman = self.tool(PODMAN)
        podman("pull", "--tls-verify=false", self.ref(self.name, "built"))


if __name__ == "__main__":
    unittest.main()
