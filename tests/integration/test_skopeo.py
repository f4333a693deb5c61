"""skopeo against berth: copy generated OCI layouts (gzip and zstd layers, a multi-arch
index, an artifact with a subject and a custom config media type) from `oci:` dirs into
berth and back into new `oci:` dirs, comparing manifest, config and layer bytes; inspect,
list-tags, delete; pushes to a repository that does not exist."""

import json
import os
import shutil
import subprocess
import tempfile
import time
import unittest

import ocilayout as oci
from harness import Client, FreshServerTestCase, ServerTestCase, describe, run
from ociasserts import OciAsserts

SKOPEO = shutil.which("skopeo")


class SkopeoMixin:
    def skopeo(self, *args, check=True, timeout=600):
        return run([SKOPEO, "--insecure-policy", *args], timeout=timeout, check=check)

    def copy(self, src, dst, *extra, check=True):
        return self.skopeo("copy", "--src-tls-verify=false", "--dest-tls-verify=false",
                           "--retry-times", "0", *extra, src, dst, check=check)

    def docker_ref(self, name, ref="latest"):
        sep = "@" if ref.startswith("sha256:") else ":"
        return f"docker://{self.server.address}/{name}{sep}{ref}"

    def tmpdir(self):
        d = tempfile.mkdtemp(prefix="berth-skopeo-")
        self.addCleanup(shutil.rmtree, d, True)
        return d

    def assertLayoutHas(self, layout_dir, tag, manifest):
        """Layout `layout_dir` has `manifest` (and everything below it) byte for byte
        under `tag`."""
        desc = oci.layout_manifest_for_tag(layout_dir, tag)
        self.assertEqual(desc["digest"], manifest.digest)
        _, blobs = oci.read_layout(layout_dir)
        for m in manifest.all_manifests():
            self.assertIn(m.digest, blobs, f"manifest {m.digest} missing after the round trip")
            self.assertEqual(blobs[m.digest], m.body)
        for b in manifest.all_blobs():
            self.assertIn(b.digest, blobs, f"blob {b.digest} ({b.media_type}) missing after the round trip")
            self.assertEqual(blobs[b.digest], b.data)


@unittest.skipUnless(SKOPEO, "skopeo is not installed")
class TestSkopeo(ServerTestCase, SkopeoMixin, OciAsserts):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.src_dir = tempfile.mkdtemp(prefix="berth-skopeo-src-")
        cls.addClassCleanup(shutil.rmtree, cls.src_dir, True)
        cls.layout = oci.Layout(cls.src_dir)
        cls.image = oci.build_image(1000, (("gzip", 512 * 1024), ("zstd", 512 * 1024), ("gzip", 64 * 1024)))
        cls.zstd_image = oci.build_image(1001, (("zstd", 256 * 1024), ("zstd", 128 * 1024)))
        cls.multi = oci.build_multiarch(1002, (("gzip", 128 * 1024), ("zstd", 128 * 1024)))
        cls.artifact = oci.build_artifact(1003, subject=cls.image.descriptor(),
                                          artifact_type="application/vnd.example.sbom.v1",
                                          config_media_type="application/vnd.example.sbom.config.v1+json")
        cls.layout.add(cls.image, "image").add(cls.zstd_image, "zstd").add(cls.multi, "multi")
        cls.layout.add(cls.artifact, "artifact")

    def round_trip(self, name, tag, manifest, *flags):
        self.copy(self.layout.ref(tag), self.docker_ref(name, tag), *flags)
        # What berth serves is exactly what was pushed.
        r = self.client.get_manifest(name, tag, accept=manifest.media_type)
        self.assertEqual(r.status_code, 200, describe(r))
        self.assertEqual(r.content, manifest.body)
        self.assertEqual(r.headers.get("Docker-Content-Digest"), manifest.digest)
        for b in manifest.all_blobs():
            g = self.client.get_blob(name, b.digest)
            self.assertEqual(g.status_code, 200, describe(g))
            self.assertEqual(g.content, b.data)
        # And back into a new layout.
        out = self.tmpdir()
        self.copy(self.docker_ref(name, tag), f"oci:{out}:{tag}", *flags)
        self.assertLayoutHas(out, tag, manifest)
        return out

    def test_multi_layer_image_gzip_and_zstd(self):
        name = self.repo("skopeo")
        self.round_trip(name, "image", self.image, "--preserve-digests")

    def test_zstd_only_image(self):
        name = self.repo("skopeo")
        self.round_trip(name, "zstd", self.zstd_image, "--preserve-digests")

    def test_multi_arch_index(self):
        name = self.repo("skopeo")
        self.round_trip(name, "multi", self.multi, "--all", "--preserve-digests")
        for child in self.multi.children:
            r = self.client.get_manifest(name, child.digest, accept=child.media_type)
            self.assertEqual(r.content, child.body)

    def test_single_platform_from_index(self):
        """Without --all skopeo picks the linux/amd64 child out of the index."""
        name = self.repo("skopeo")
        self.copy(self.layout.ref("multi"), self.docker_ref(name, "amd64"), "--preserve-digests",
                  "--override-os", "linux", "--override-arch", "amd64")
        amd = self.multi.children[0]
        r = self.client.get_manifest(name, "amd64", accept=amd.media_type)
        self.assertEqual(r.content, amd.body)

    def test_artifact_with_subject_and_custom_config(self):
        name = self.repo("skopeo")
        self.copy(self.layout.ref("image"), self.docker_ref(name, "image"), "--preserve-digests")
        self.round_trip(name, "artifact", self.artifact, "--preserve-digests")
        r = self.client.referrers(name, self.image.digest)
        self.assertEqual(r.status_code, 200, describe(r))
        self.assertIn(self.artifact.digest, [d["digest"] for d in r.json()["manifests"]])

    def test_nested_repository_name(self):
        name = "team/app/api"
        self.server.repo_create(name)
        self.round_trip(name, "image", self.image, "--preserve-digests")
        r = self.skopeo("list-tags", "--tls-verify=false", f"docker://{self.server.address}/{name}")
        self.assertEqual(json.loads(r.stdout), {"Repository": f"{self.server.address}/{name}", "Tags": ["image"]})

    def test_copy_between_repositories_mounts(self):
        """registry-to-registry copy inside berth (skopeo tries cross-repo mounts)."""
        a, b = self.repo("skopeo"), self.repo("skopeo")
        self.copy(self.layout.ref("image"), self.docker_ref(a, "v1"), "--preserve-digests")
        self.copy(self.docker_ref(a, "v1"), self.docker_ref(b, "v1"), "--preserve-digests")
        r = self.client.get_manifest(b, "v1", accept=self.image.media_type)
        self.assertEqual(r.content, self.image.body)
        for blob in self.image.all_blobs():
            self.assertEqual(self.client.get_blob(b, blob.digest).content, blob.data)

    def test_inspect(self):
        name = self.repo("skopeo")
        self.copy(self.layout.ref("image"), self.docker_ref(name, "v1"), "--preserve-digests")
        raw = self.skopeo("inspect", "--tls-verify=false", "--raw", self.docker_ref(name, "v1")).stdout
        self.assertEqual(raw, self.image.body)
        cfg = self.skopeo("inspect", "--tls-verify=false", "--raw", "--config", self.docker_ref(name, "v1")).stdout
        self.assertEqual(cfg, self.image.config.data)
        info = json.loads(self.skopeo("inspect", "--tls-verify=false", self.docker_ref(name, "v1")).stdout)
        self.assertEqual(info["Digest"], self.image.digest)
        self.assertEqual(info["Architecture"], "amd64")
        self.assertEqual(info["Os"], "linux")
        self.assertEqual(info["Layers"], [l.blob.digest for l in self.image.layers])
        self.assertEqual(info["RepoTags"], ["v1"])
        # By digest too.
        raw = self.skopeo("inspect", "--tls-verify=false", "--raw", self.docker_ref(name, self.image.digest)).stdout
        self.assertEqual(raw, self.image.body)

    def test_inspect_index(self):
        name = self.repo("skopeo")
        self.copy(self.layout.ref("multi"), self.docker_ref(name, "multi"), "--all", "--preserve-digests")
        raw = self.skopeo("inspect", "--tls-verify=false", "--raw", self.docker_ref(name, "multi")).stdout
        self.assertEqual(raw, self.multi.body)
        arm = self.multi.children[1]
        info = json.loads(self.skopeo("inspect", "--tls-verify=false", "--override-arch", "arm64",
                                      self.docker_ref(name, "multi")).stdout)
        # skopeo reports the digest of the reference (the index) and the chosen child's config.
        self.assertEqual(info["Digest"], self.multi.digest)
        self.assertEqual(info["Architecture"], "arm64")
        self.assertEqual(info["Layers"], [l.blob.digest for l in arm.layers])

    def test_list_tags(self):
        name = self.repo("skopeo")
        tags = ["v1", "latest", "1.0", "v1.10", "v1.2"]
        for t in tags:
            self.copy(self.layout.ref("zstd"), self.docker_ref(name, t), "--preserve-digests")
        r = self.skopeo("list-tags", "--tls-verify=false", f"docker://{self.server.address}/{name}")
        self.assertEqual(json.loads(r.stdout)["Tags"], sorted(tags))

    def test_delete(self):
        name = self.repo("skopeo")
        self.copy(self.layout.ref("image"), self.docker_ref(name, "gone"), "--preserve-digests")
        self.skopeo("delete", "--tls-verify=false", self.docker_ref(name, "gone"))
        # skopeo deletes by digest: the manifest is gone, by tag and by digest.
        self.assertOciError(self.client.get_manifest(name, self.image.digest), 404, "MANIFEST_UNKNOWN")
        self.assertOciError(self.client.get_manifest(name, "gone"), 404, "MANIFEST_UNKNOWN")
        r = self.skopeo("inspect", "--tls-verify=false", "--raw", self.docker_ref(name, "gone"), check=False)
        self.assertNotEqual(r.returncode, 0)

    def test_push_to_unknown_repository_fails(self):
        name = self.repo("missing", create=False)
        r = self.copy(self.layout.ref("image"), self.docker_ref(name, "v1"), "--preserve-digests", check=False)
        self.assertNotEqual(r.returncode, 0, "skopeo pushed into a repository that does not exist")
        self.assertIn(b"name unknown", r.stderr.lower().replace(b"_", b" "), r.stderr)
        self.assertOciError(self.client.tags(name), 404, "NAME_UNKNOWN")

    def test_docker_schema2_conversion(self):
        """skopeo --format v2s2 pushes a Docker schema 2 manifest; berth serves it with
        its own media type and the same layers."""
        name = self.repo("skopeo")
        src = self.tmpdir()
        img = oci.build_image(1004, (("gzip", 128 * 1024), ("gzip", 64 * 1024)))
        oci.Layout(src).add(img, "v1")
        self.copy(f"oci:{src}:v1", self.docker_ref(name, "v2s2"), "--format", "v2s2")
        r = self.client.get_manifest(name, "v2s2", accept=[oci.MT_DOCKER_MANIFEST, oci.MT_OCI_MANIFEST])
        self.assertEqual(r.status_code, 200, describe(r))
        self.assertEqual(r.headers["Content-Type"].split(";")[0], oci.MT_DOCKER_MANIFEST)
        manifest = r.json()
        self.assertEqual(manifest["mediaType"], oci.MT_DOCKER_MANIFEST)
        self.assertEqual([l["digest"] for l in manifest["layers"]], [l.blob.digest for l in img.layers])
        out = self.tmpdir()
        self.copy(self.docker_ref(name, "v2s2"), f"dir:{out}")
        for l in img.layers:
            with open(os.path.join(out, l.blob.hex), "rb") as f:
                self.assertEqual(f.read(), l.blob.data)

    def test_pull_missing_tag_fails(self):
        name = self.repo("skopeo")
        out = self.tmpdir()
        r = self.copy(self.docker_ref(name, "nope"), f"oci:{out}:nope", check=False)
        self.assertNotEqual(r.returncode, 0)


@unittest.skipUnless(SKOPEO, "skopeo is not installed")
class TestSkopeoKilledPush(FreshServerTestCase, SkopeoMixin, OciAsserts):
    """kill -9 while skopeo pushes: after a restart the store is consistent (a visible
    manifest has all its blobs, every blob file matches its digest), earlier images are
    intact, and the same push then succeeds."""

    create_on_push = True

    def test_kill9_during_skopeo_push(self):
        src = self.tmpdir()
        early = oci.build_image(1200, (("gzip", 64 * 1024),))
        big = oci.build_image(1201, (("gzip", 3 * 1024 * 1024), ("zstd", 3 * 1024 * 1024),
                                     ("gzip", 2 * 1024 * 1024)))
        oci.Layout(src).add(early, "early").add(big, "big")
        self.copy(f"oci:{src}:early", self.docker_ref("crash/skopeo", "early"), "--preserve-digests")

        def blob_puts():
            with open(self.server.log_path, "rb") as f:
                return f.read().count(b"method=PUT path=\"/v2/crash/skopeo/blobs/uploads/")

        before = blob_puts()
        proc = subprocess.Popen([SKOPEO, "--insecure-policy", "copy", "--dest-tls-verify=false",
                                 "--retry-times", "0", "--preserve-digests", f"oci:{src}:big",
                                 self.docker_ref("crash/skopeo", "big")],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.addCleanup(lambda: proc.poll() is None and (proc.kill(), proc.wait()))
        # Readiness check, not a timer: wait until the access log shows a blob of this
        # push completed (others are then in flight), or skopeo finished. Any moment is
        # a valid crash point; the assertions below hold for all of them.
        deadline = time.monotonic() + 120
        while proc.poll() is None and time.monotonic() < deadline:
            if blob_puts() > before:
                break
            time.sleep(0.01)
        self.server.kill9()
        proc.wait(timeout=120)
        self.server.start()
        self.client = Client(self.server.base_url)

        self.assertEqual(self.server.verify_blob_store(), [])
        r = self.client.get_manifest("crash/skopeo", "early", accept=early.media_type)
        self.assertEqual(r.content, early.body)
        r = self.client.get_manifest("crash/skopeo", "big", accept=big.media_type)
        if r.status_code == 200:  # the push had finished: everything must be there
            self.assertEqual(r.content, big.body)
            for b in big.all_blobs():
                self.assertEqual(self.client.get_blob("crash/skopeo", b.digest).content, b.data)
        else:
            self.assertOciError(r, 404, "MANIFEST_UNKNOWN")
        for b in big.all_blobs():  # a blob is either whole or absent
            g = self.client.get_blob("crash/skopeo", b.digest)
            self.assertIn(g.status_code, (200, 404), describe(g))
            if g.status_code == 200:
                self.assertEqual(g.content, b.data)
        # The same push now succeeds, and pulls back byte for byte.
        self.copy(f"oci:{src}:big", self.docker_ref("crash/skopeo", "big"), "--preserve-digests")
        out = self.tmpdir()
        self.copy(self.docker_ref("crash/skopeo", "big"), f"oci:{out}:big", "--preserve-digests")
        self.assertLayoutHas(out, "big", big)


@unittest.skipUnless(SKOPEO, "skopeo is not installed")
class TestSkopeoCreateOnPush(ServerTestCase, SkopeoMixin, OciAsserts):
    create_on_push = True

    def test_push_creates_repository(self):
        src = self.tmpdir()
        img = oci.build_image(1100, (("gzip", 128 * 1024), ("zstd", 128 * 1024)))
        oci.Layout(src).add(img, "v1")
        name = "fresh/team/app"
        self.copy(f"oci:{src}:v1", self.docker_ref(name, "v1"), "--preserve-digests")
        out = self.tmpdir()
        self.copy(self.docker_ref(name, "v1"), f"oci:{out}:v1", "--preserve-digests")
        self.assertLayoutHas(out, "v1", img)
        self.assertIn(name, self.client.catalog().json()["repositories"])


if __name__ == "__main__":
    unittest.main()
