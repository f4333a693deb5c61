"""The OCI Distribution Spec v1.1 endpoints (end-1 .. end-13) over raw HTTP.

Each test class runs its own `berth serve` (repositories are made with `berth repo
create`, the server runs without --create-on-push unless the class says otherwise).
"""

import hashlib
import json
import random
import re
import unittest
import urllib.parse

import ocilayout as oci
from harness import (Client, FreshServerTestCase, ServerTestCase, describe, error_codes,
                     next_link, sha256_digest, sha512_digest, with_query)
from ociasserts import OciAsserts

MiB = 1024 * 1024


def blob_bytes(seed, size):
    return random.Random(seed).randbytes(size)


class TestBase(ServerTestCase, OciAsserts):
    """end-1 and the server basics."""

    def test_v2_base(self):
        r = self.client.v2()
        self.assertEqual(r.status_code, 200, describe(r))
        self.assertEqual(r.headers.get("Docker-Distribution-API-Version"), "registry/2.0", describe(r))

    def test_v2_base_without_trailing_slash(self):
        r = self.client.request("GET", "/v2")
        # Distribution redirects or answers; either way not an error.
        self.assertIn(r.status_code, (200, 301, 307, 308), describe(r))

    def test_healthz(self):
        r = self.client.request("GET", "/healthz")
        self.assertEqual(r.status_code, 200, describe(r))

    def test_unknown_repository_is_name_unknown(self):
        name = self.repo(create=False)
        self.assertOciError(self.client.tags(name), 404, "NAME_UNKNOWN")
        self.assertOciError(self.client.get_manifest(name, "latest"), 404, ("NAME_UNKNOWN", "MANIFEST_UNKNOWN"))
        self.assertOciError(self.client.get_blob(name, sha256_digest(b"x")), 404, ("NAME_UNKNOWN", "BLOB_UNKNOWN"))

    def test_keep_alive_many_requests_on_one_connection(self):
        name = self.repo()
        d = self.client.push_blob(name, b"keepalive")
        s = Client(self.client.base)
        for _ in range(50):
            r = s.head_blob(name, d)
            self.assertEqual(r.status_code, 200, describe(r))


class TestBlobPull(ServerTestCase, OciAsserts):
    """end-2: blob HEAD and GET, with Range."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.name = "pull/blobs"
        cls.server.repo_create(cls.name)
        cls.data = blob_bytes(2, MiB + 123)
        cls.digest = cls.client.push_blob(cls.name, cls.data)
        cls.size = len(cls.data)

    def test_head(self):
        r = self.client.head_blob(self.name, self.digest)
        self.assertEqual(r.status_code, 200, describe(r))
        self.assertEqual(r.headers.get("Docker-Content-Digest"), self.digest)
        self.assertEqual(int(r.headers.get("Content-Length", -1)), self.size)
        self.assertEqual(r.content, b"")
        self.assertEqual(r.headers.get("Accept-Ranges"), "bytes", describe(r))

    def test_get(self):
        r = self.client.get_blob(self.name, self.digest)
        self.assertEqual(r.status_code, 200, describe(r))
        self.assertEqual(r.headers.get("Docker-Content-Digest"), self.digest)
        self.assertEqual(int(r.headers["Content-Length"]), self.size)
        self.assertEqual(r.content, self.data)
        self.assertEqual(r.headers.get("Accept-Ranges"), "bytes", describe(r))

    def test_get_unknown_blob(self):
        d = sha256_digest(b"never pushed")
        self.assertOciError(self.client.get_blob(self.name, d), 404, "BLOB_UNKNOWN")
        self.assertOciError(self.client.head_blob(self.name, d), 404, "BLOB_UNKNOWN", head=True)

    def test_blob_is_not_visible_from_another_repository(self):
        other = self.repo()
        self.assertOciError(self.client.get_blob(other, self.digest), 404, "BLOB_UNKNOWN")
        self.assertEqual(self.client.head_blob(other, self.digest).status_code, 404)

    def check_range(self, header, first, last):
        r = self.client.get_blob(self.name, self.digest, headers={"Range": header})
        self.assertEqual(r.status_code, 206, f"Range {header}: " + describe(r))
        self.assertEqual(r.headers.get("Content-Range"), f"bytes {first}-{last}/{self.size}", describe(r))
        self.assertEqual(int(r.headers["Content-Length"]), last - first + 1)
        self.assertEqual(r.content, self.data[first:last + 1], f"Range {header}")

    def test_ranges_of_several_sizes(self):
        s = self.size
        for first, last in [(0, 0), (0, 99), (100, 1023), (4096, 4096 + 65535), (1000, 300000),
                            (s - 1, s - 1), (0, s - 1), (12345, s - 1)]:
            with self.subTest(first=first, last=last):
                self.check_range(f"bytes={first}-{last}", first, last)

    def test_open_ended_range(self):
        self.check_range("bytes=1000-", 1000, self.size - 1)

    def test_suffix_range(self):
        self.check_range("bytes=-500", self.size - 500, self.size - 1)

    def test_range_past_the_end_is_clamped(self):
        self.check_range(f"bytes={self.size - 10}-{self.size + 1000}", self.size - 10, self.size - 1)

    def test_unsatisfiable_range(self):
        for header in (f"bytes={self.size}-", f"bytes={self.size + 5}-{self.size + 10}"):
            with self.subTest(range=header):
                r = self.client.get_blob(self.name, self.digest, headers={"Range": header})
                self.assertEqual(r.status_code, 416, describe(r))
                cr = r.headers.get("Content-Range")
                if cr is not None:
                    self.assertEqual(cr, f"bytes */{self.size}", describe(r))

    def test_large_streamed_blob_round_trip(self):
        """A 64 MiB blob pushed with one streamed (chunked transfer-encoding) PATCH and
        read back with a streamed GET; nothing has to fit in memory on either side."""
        name = self.repo()
        chunk = 1 * MiB
        count = 64
        h = hashlib.sha256()
        rng = random.Random(64)
        parts = []
        for _ in range(count):
            part = rng.randbytes(chunk)
            h.update(part)
            parts.append(part)
        digest = "sha256:" + h.hexdigest()
        r = self.client.start_upload(name)
        self.assertEqual(r.status_code, 202, describe(r))
        r = self.client.patch(r.headers["Location"], iter(parts))
        self.assertEqual(r.status_code, 202, describe(r))
        self.assertRangeHeader(r, count * chunk - 1)
        r = self.client.put_upload(r.headers["Location"], digest)
        self.assertEqual(r.status_code, 201, describe(r))
        r = self.client.get_blob(name, digest, stream=True)
        self.assertEqual(r.status_code, 200, describe(r))
        got = hashlib.sha256()
        n = 0
        for piece in r.iter_content(chunk_size=1 << 20):
            got.update(piece)
            n += len(piece)
        self.assertEqual(n, count * chunk)
        self.assertEqual("sha256:" + got.hexdigest(), digest)
        # A range near the end of the big blob.
        r = self.client.get_blob(name, digest, headers={"Range": f"bytes={count * chunk - 100}-"})
        self.assertEqual(r.status_code, 206, describe(r))
        self.assertEqual(r.content, parts[-1][-100:])


class TestBlobUpload(ServerTestCase, OciAsserts):
    """end-4a, end-4b, end-5, end-6, end-13 and upload DELETE."""

    def test_monolithic_post_then_put(self):
        name = self.repo()
        data = blob_bytes(10, 300000)
        digest = sha256_digest(data)
        r = self.client.start_upload(name)
        self.assertEqual(r.status_code, 202, describe(r))
        loc = r.headers.get("Location")
        self.assertTrue(loc, describe(r))
        uuid = r.headers.get("Docker-Upload-UUID")
        self.assertTrue(uuid, "POST without Docker-Upload-UUID: " + describe(r))
        self.assertIn(uuid, loc)
        r = self.client.put_upload(loc, digest, data)
        self.assertEqual(r.status_code, 201, describe(r))
        self.assertEqual(r.headers.get("Docker-Content-Digest"), digest, describe(r))
        blob_loc = r.headers.get("Location")
        self.assertTrue(blob_loc, describe(r))
        r = self.client.request("GET", blob_loc)
        self.assertEqual(r.status_code, 200, describe(r))
        self.assertEqual(r.content, data)
        r = self.client.head_blob(name, digest)
        self.assertEqual(r.status_code, 200)
        self.assertEqual(int(r.headers["Content-Length"]), len(data))

    def test_single_post_with_digest(self):
        name = self.repo()
        data = blob_bytes(11, 200000)
        digest = sha256_digest(data)
        r = self.client.start_upload(name, data=data, digest=digest)
        self.assertEqual(r.status_code, 201, describe(r))
        self.assertTrue(r.headers.get("Location"), describe(r))
        self.assertEqual(r.headers.get("Docker-Content-Digest"), digest)
        self.assertEqual(self.client.get_blob(name, digest).content, data)

    def test_single_post_with_wrong_digest(self):
        name = self.repo()
        data = blob_bytes(12, 5000)
        wrong = sha256_digest(b"something else")
        r = self.client.start_upload(name, data=data, digest=wrong)
        self.assertOciError(r, 400, "DIGEST_INVALID")
        self.assertEqual(self.client.head_blob(name, wrong).status_code, 404)
        self.assertEqual(self.client.head_blob(name, sha256_digest(data)).status_code, 404)

    def test_empty_blob(self):
        name = self.repo()
        digest = sha256_digest(b"")
        r = self.client.start_upload(name)
        self.assertEqual(r.status_code, 202, describe(r))
        r = self.client.put_upload(r.headers["Location"], digest, b"")
        self.assertEqual(r.status_code, 201, describe(r))
        r = self.client.get_blob(name, digest)
        self.assertEqual(r.status_code, 200, describe(r))
        self.assertEqual(r.content, b"")

    def test_chunked_upload(self):
        name = self.repo()
        data = blob_bytes(13, 3 * 256 * 1024 + 777)
        digest = sha256_digest(data)
        r = self.client.start_upload(name)
        self.assertEqual(r.status_code, 202, describe(r))
        loc = r.headers["Location"]
        uuid = r.headers.get("Docker-Upload-UUID")
        chunk = 256 * 1024
        for off in range(0, len(data), chunk):
            part = data[off:off + chunk]
            r = self.client.patch(loc, part, f"{off}-{off + len(part) - 1}")
            self.assertEqual(r.status_code, 202, describe(r))
            self.assertTrue(r.headers.get("Location"), describe(r))
            self.assertRangeHeader(r, off + len(part) - 1)
            self.assertEqual(r.headers.get("Docker-Upload-UUID"), uuid, describe(r))
            loc = r.headers["Location"]
            st = self.client.upload_status(loc)
            self.assertEqual(st.status_code, 204, describe(st))
            self.assertRangeHeader(st, off + len(part) - 1)
            self.assertTrue(st.headers.get("Location"), describe(st))
        r = self.client.put_upload(loc, digest)
        self.assertEqual(r.status_code, 201, describe(r))
        self.assertEqual(r.headers.get("Docker-Content-Digest"), digest)
        self.assertEqual(self.client.get_blob(name, digest).content, data)

    def test_final_chunk_in_put(self):
        name = self.repo()
        data = blob_bytes(14, 100000)
        digest = sha256_digest(data)
        r = self.client.start_upload(name)
        loc = r.headers["Location"]
        r = self.client.patch(loc, data[:60000], "0-59999")
        self.assertEqual(r.status_code, 202, describe(r))
        r = self.client.put_upload(r.headers["Location"], digest, data[60000:],
                                   headers={"Content-Range": f"60000-{len(data) - 1}"})
        self.assertEqual(r.status_code, 201, describe(r))
        self.assertEqual(self.client.get_blob(name, digest).content, data)

    def test_streamed_patch_without_content_range(self):
        name = self.repo()
        data = blob_bytes(15, 2 * MiB + 5)
        digest = sha256_digest(data)
        r = self.client.start_upload(name)
        # Transfer-Encoding: chunked, no Content-Length, no Content-Range.
        pieces = [data[i:i + 100000] for i in range(0, len(data), 100000)]
        r = self.client.patch(r.headers["Location"], iter(pieces))
        self.assertEqual(r.status_code, 202, describe(r))
        self.assertRangeHeader(r, len(data) - 1)
        r = self.client.put_upload(r.headers["Location"], digest)
        self.assertEqual(r.status_code, 201, describe(r))
        self.assertEqual(self.client.get_blob(name, digest).content, data)

    def test_consecutive_streamed_patches_append(self):
        name = self.repo()
        data = blob_bytes(16, 500000)
        digest = sha256_digest(data)
        r = self.client.start_upload(name)
        loc = r.headers["Location"]
        for off in range(0, len(data), 200000):
            r = self.client.patch(loc, data[off:off + 200000])  # Content-Length, no Content-Range
            self.assertEqual(r.status_code, 202, describe(r))
            self.assertRangeHeader(r, min(off + 200000, len(data)) - 1)
            loc = r.headers["Location"]
        r = self.client.put_upload(loc, digest)
        self.assertEqual(r.status_code, 201, describe(r))
        self.assertEqual(self.client.get_blob(name, digest).content, data)

    def test_upload_status(self):
        name = self.repo()
        r = self.client.start_upload(name)
        loc = r.headers["Location"]
        st = self.client.upload_status(loc)
        self.assertEqual(st.status_code, 204, describe(st))
        self.assertTrue(st.headers.get("Location"), describe(st))
        self.assertTrue(st.headers.get("Docker-Upload-UUID"), describe(st))
        self.assertIn(self.upload_end(st), (-1, 0))  # nothing yet ("0-0" is ambiguous)
        r = self.client.patch(loc, b"a" * 1000, "0-999")
        st = self.client.upload_status(r.headers["Location"])
        self.assertEqual(st.status_code, 204, describe(st))
        self.assertRangeHeader(st, 999)
        self.assertEqual(st.content, b"")

    def test_delete_upload(self):
        name = self.repo()
        r = self.client.start_upload(name)
        loc = r.headers["Location"]
        r = self.client.patch(loc, b"b" * 1000, "0-999")
        loc = r.headers["Location"]
        r = self.client.cancel_upload(loc)
        self.assertIn(r.status_code, (202, 204), describe(r))
        self.assertOciError(self.client.upload_status(loc), 404, "BLOB_UPLOAD_UNKNOWN")
        self.assertOciError(self.client.patch(loc, b"c" * 10, "1000-1009"), 404, "BLOB_UPLOAD_UNKNOWN")
        self.assertOciError(self.client.put_upload(loc, sha256_digest(b"b" * 1000)), 404, "BLOB_UPLOAD_UNKNOWN")
        self.assertOciError(self.client.cancel_upload(loc), 404, "BLOB_UPLOAD_UNKNOWN")

    def test_upload_is_gone_after_completion(self):
        name = self.repo()
        r = self.client.start_upload(name)
        loc = r.headers["Location"]
        r = self.client.put_upload(loc, sha256_digest(b"done"), b"done")
        self.assertEqual(r.status_code, 201, describe(r))
        self.assertOciError(self.client.upload_status(loc), 404, "BLOB_UPLOAD_UNKNOWN")
        self.assertOciError(self.client.patch(loc, b"more", "4-7"), 404, "BLOB_UPLOAD_UNKNOWN")

    def test_sha512_upload(self):
        name = self.repo()
        data = blob_bytes(17, 70000)
        d512 = sha512_digest(data)
        r = self.client.start_upload(name)
        r = self.client.put_upload(r.headers["Location"], d512, data)
        self.assertEqual(r.status_code, 201, describe(r))
        r = self.client.head_blob(name, d512)
        self.assertEqual(r.status_code, 200, describe(r))
        self.assertEqual(int(r.headers["Content-Length"]), len(data))
        r = self.client.get_blob(name, d512)
        self.assertEqual(r.status_code, 200, describe(r))
        self.assertEqual(r.content, data)
        # Single POST with sha512, chunked.
        data2 = blob_bytes(18, 40000)
        r = self.client.start_upload(name, data=data2, digest=sha512_digest(data2))
        self.assertEqual(r.status_code, 201, describe(r))
        self.assertEqual(self.client.get_blob(name, sha512_digest(data2)).content, data2)

    def test_sha512_wrong_digest(self):
        name = self.repo()
        data = blob_bytes(19, 1000)
        wrong = sha512_digest(b"not it")
        r = self.client.start_upload(name)
        r = self.client.put_upload(r.headers["Location"], wrong, data)
        self.assertOciError(r, 400, "DIGEST_INVALID")
        self.assertEqual(self.client.head_blob(name, wrong).status_code, 404)
        self.assertEqual(self.client.head_blob(name, sha512_digest(data)).status_code, 404)

    def test_push_to_unknown_repository(self):
        name = self.repo(create=False)
        r = self.client.start_upload(name)
        self.assertOciError(r, 404, "NAME_UNKNOWN")
        data = b"single post"
        r = self.client.start_upload(name, data=data, digest=sha256_digest(data))
        self.assertOciError(r, 404, "NAME_UNKNOWN")
        img = oci.build_image(20, (("gzip", 1000),))
        r = self.client.put_manifest(name, "v1", img.body, img.media_type)
        self.assertOciError(r, 404, "NAME_UNKNOWN")
        # Once created with `berth repo create`, the same push works (server still running).
        self.server.repo_create(name)
        r = self.client.push_manifest_tree(name, img, "v1")
        self.assertEqual(r.status_code, 201, describe(r))


class TestMount(ServerTestCase, OciAsserts):
    """end-11: cross-repository mount, with and without `from`."""

    def test_mount_from_repository_with_the_blob(self):
        src, dst = self.repo("src"), self.repo("dst")
        data = blob_bytes(30, 100000)
        d = self.client.push_blob(src, data)
        self.assertEqual(self.client.head_blob(dst, d).status_code, 404)
        r = self.client.start_upload(dst, mount=d, **{"from": src})
        self.assertEqual(r.status_code, 201, describe(r))
        self.assertEqual(r.headers.get("Docker-Content-Digest"), d, describe(r))
        loc = r.headers.get("Location")
        self.assertTrue(loc, describe(r))
        r = self.client.request("GET", loc)
        self.assertEqual(r.status_code, 200, describe(r))
        self.assertEqual(r.content, data)
        self.assertEqual(self.client.get_blob(dst, d).content, data)

    def test_mount_blob_known_nowhere_starts_upload(self):
        src, dst = self.repo("src"), self.repo("dst")
        data = blob_bytes(31, 5000)
        d = sha256_digest(data)
        r = self.client.start_upload(dst, mount=d, **{"from": src})
        self.assertEqual(r.status_code, 202, describe(r))
        loc = r.headers.get("Location")
        self.assertTrue(loc, describe(r))
        # The 202 is a real upload session: finish it.
        r = self.client.put_upload(loc, d, data)
        self.assertEqual(r.status_code, 201, describe(r))
        self.assertEqual(self.client.get_blob(dst, d).content, data)

    def test_mount_from_repository_without_the_blob(self):
        """`from` names a repository that lacks the blob, which exists elsewhere: the spec
        lets the registry either start an upload (202) or mount it anyway (201)."""
        holder, empty, dst = self.repo("holder"), self.repo("empty"), self.repo("dst")
        data = blob_bytes(32, 5000)
        d = self.client.push_blob(holder, data)
        r = self.client.start_upload(dst, mount=d, **{"from": empty})
        self.assertIn(r.status_code, (201, 202), describe(r))
        self.assertTrue(r.headers.get("Location"), describe(r))
        if r.status_code == 202:
            self.assertEqual(self.client.head_blob(dst, d).status_code, 404)
        else:
            self.assertEqual(self.client.get_blob(dst, d).content, data)

    def test_mount_from_unknown_repository_starts_upload(self):
        dst = self.repo("dst")
        d = sha256_digest(b"nowhere")
        r = self.client.start_upload(dst, mount=d, **{"from": "does/not/exist"})
        self.assertEqual(r.status_code, 202, describe(r))
        self.assertTrue(r.headers.get("Location"), describe(r))

    def test_mount_without_from_when_blob_exists(self):
        src, dst = self.repo("src"), self.repo("dst")
        data = blob_bytes(33, 7000)
        d = self.client.push_blob(src, data)
        r = self.client.start_upload(dst, mount=d)
        self.assertEqual(r.status_code, 201, describe(r))
        self.assertEqual(r.headers.get("Docker-Content-Digest"), d, describe(r))
        self.assertTrue(r.headers.get("Location"), describe(r))
        self.assertEqual(self.client.get_blob(dst, d).content, data)

    def test_mount_without_from_when_blob_is_unknown(self):
        dst = self.repo("dst")
        r = self.client.start_upload(dst, mount=sha256_digest(b"unknown to all"))
        self.assertEqual(r.status_code, 202, describe(r))
        self.assertTrue(r.headers.get("Location"), describe(r))

    def test_mount_into_unknown_repository(self):
        src = self.repo("src")
        d = self.client.push_blob(src, b"mount me")
        dst = self.repo("dst", create=False)
        r = self.client.start_upload(dst, mount=d, **{"from": src})
        self.assertOciError(r, 404, "NAME_UNKNOWN")

    def test_mount_with_invalid_digest(self):
        dst = self.repo("dst")
        r = self.client.start_upload(dst, mount="sha256:abc", **{"from": "x"})
        self.assertOciError(r, 400, "DIGEST_INVALID")


class TestBlobDelete(ServerTestCase, OciAsserts):
    """end-10."""

    def test_delete_blob(self):
        name = self.repo()
        data = blob_bytes(40, 3000)
        d = self.client.push_blob(name, data)
        r = self.client.delete_blob(name, d)
        self.assertEqual(r.status_code, 202, describe(r))
        self.assertEqual(self.client.head_blob(name, d).status_code, 404)
        self.assertOciError(self.client.get_blob(name, d), 404, "BLOB_UNKNOWN")
        self.assertOciError(self.client.delete_blob(name, d), 404, "BLOB_UNKNOWN")

    def test_delete_blob_in_one_repository_keeps_it_in_another(self):
        a, b = self.repo("a"), self.repo("b")
        data = blob_bytes(41, 3000)
        d = self.client.push_blob(a, data)
        self.assertEqual(self.client.push_blob(b, data), d)
        self.assertEqual(self.client.delete_blob(a, d).status_code, 202)
        self.assertEqual(self.client.head_blob(a, d).status_code, 404)
        r = self.client.get_blob(b, d)
        self.assertEqual(r.status_code, 200, describe(r))
        self.assertEqual(r.content, data)

    def test_delete_unknown_blob(self):
        name = self.repo()
        self.assertOciError(self.client.delete_blob(name, sha256_digest(b"never")), 404, "BLOB_UNKNOWN")


class TestManifests(ServerTestCase, OciAsserts):
    """end-3, end-7, end-9: manifests of every media type, by tag and by digest."""

    def check_get(self, name, ref, m, accept=None):
        r = self.client.get_manifest(name, ref, accept=accept or m.media_type)
        self.assertEqual(r.status_code, 200, describe(r))
        self.assertEqual(r.content, m.body, "manifest bytes changed")
        self.assertEqual(r.headers.get("Content-Type", "").split(";")[0].strip(), m.media_type, describe(r))
        self.assertEqual(r.headers.get("Docker-Content-Digest"), m.digest, describe(r))
        h = self.client.head_manifest(name, ref, accept=accept or m.media_type)
        self.assertEqual(h.status_code, 200, describe(h))
        self.assertEqual(h.content, b"")
        self.assertEqual(int(h.headers.get("Content-Length", -1)), m.size, describe(h))
        self.assertEqual(h.headers.get("Docker-Content-Digest"), m.digest, describe(h))
        self.assertEqual(h.headers.get("Content-Type", "").split(";")[0].strip(), m.media_type, describe(h))

    def push(self, name, m, ref):
        r = self.client.push_manifest_tree(name, m, ref)
        self.assertEqual(r.status_code, 201, describe(r))
        self.assertEqual(r.headers.get("Docker-Content-Digest"), m.digest, describe(r))
        loc = r.headers.get("Location")
        self.assertTrue(loc, describe(r))
        got = self.client.request("GET", loc, headers={"Accept": m.media_type})
        self.assertEqual(got.status_code, 200, describe(got))
        self.assertEqual(got.content, m.body)
        return r

    def test_oci_image_manifest_by_tag_and_digest(self):
        name = self.repo()
        img = oci.build_image(50)
        self.push(name, img, "v1")
        self.check_get(name, "v1", img)
        self.check_get(name, img.digest, img)
        for blob in img.all_blobs():
            self.assertEqual(self.client.get_blob(name, blob.digest).content, blob.data)

    def test_put_by_digest_without_tag(self):
        name = self.repo()
        img = oci.build_image(51, (("gzip", 1000),))
        self.push(name, img, img.digest)
        self.check_get(name, img.digest, img)
        self.assertEqual(self.client.tags(name).json().get("tags") or [], [])

    def test_put_same_manifest_twice_is_idempotent(self):
        name = self.repo()
        img = oci.build_image(52, (("gzip", 1000),))
        self.push(name, img, "v1")
        self.push(name, img, "v1")
        self.push(name, img, img.digest)
        self.check_get(name, "v1", img)

    def test_retag_moves_tag(self):
        name = self.repo()
        a = oci.build_image(53, (("gzip", 1000),))
        b = oci.build_image(54, (("gzip", 1000),))
        self.push(name, a, "latest")
        self.push(name, b, "latest")
        self.check_get(name, "latest", b)
        self.check_get(name, a.digest, a)  # the old manifest stays by digest

    def test_docker_schema2_manifest(self):
        name = self.repo()
        img = oci.build_image(55, (("gzip", 2000), ("gzip", 3000)), docker=True)
        self.assertEqual(img.media_type, oci.MT_DOCKER_MANIFEST)
        self.push(name, img, "docker")
        self.check_get(name, "docker", img)
        self.check_get(name, img.digest, img)

    def test_docker_manifest_list(self):
        name = self.repo()
        amd = oci.build_image(56, (("gzip", 1000),), arch="amd64", docker=True)
        arm = oci.build_image(57, (("gzip", 1000),), arch="arm64", docker=True)
        lst = oci.build_index([amd, arm], docker=True)
        self.push(name, lst, "multi")
        self.check_get(name, "multi", lst)
        self.check_get(name, amd.digest, amd)
        self.check_get(name, arm.digest, arm)

    def test_oci_index(self):
        name = self.repo()
        idx = oci.build_multiarch(58)
        self.push(name, idx, "multi")
        self.check_get(name, "multi", idx)
        for child in idx.children:
            self.check_get(name, child.digest, child)

    def test_artifact_with_custom_config_media_type(self):
        name = self.repo()
        art = oci.build_artifact(59, config_media_type="application/vnd.example.custom.config.v1+json",
                                 artifact_type="application/vnd.example.thing.v1")
        self.push(name, art, "artifact")
        self.check_get(name, "artifact", art)
        self.assertEqual(self.client.get_blob(name, art.config.digest).content, art.config.data)

    def test_manifest_with_unknown_media_type_layers(self):
        """Layers may have any media type (artifacts): the registry does not interpret them."""
        name = self.repo()
        art = oci.build_artifact(60, payload_media_type="application/x-berth-anything")
        self.push(name, art, "any")
        self.check_get(name, "any", art)

    def test_delete_by_tag(self):
        name = self.repo()
        img = oci.build_image(61, (("gzip", 1000),))
        self.push(name, img, "gone")
        self.push(name, img, "stays")
        r = self.client.delete_manifest(name, "gone")
        self.assertEqual(r.status_code, 202, describe(r))
        self.assertOciError(self.client.get_manifest(name, "gone"), 404, "MANIFEST_UNKNOWN")
        self.check_get(name, img.digest, img)
        self.check_get(name, "stays", img)
        self.assertEqual(self.client.tags(name).json()["tags"], ["stays"])

    def test_delete_by_digest(self):
        name = self.repo()
        img = oci.build_image(62, (("gzip", 1000),))
        self.push(name, img, "t1")
        self.push(name, img, "t2")
        r = self.client.delete_manifest(name, img.digest)
        self.assertEqual(r.status_code, 202, describe(r))
        self.assertOciError(self.client.get_manifest(name, img.digest), 404, "MANIFEST_UNKNOWN")
        self.assertEqual(self.client.head_manifest(name, img.digest).status_code, 404)
        # Tags that pointed at it are gone too.
        self.assertOciError(self.client.get_manifest(name, "t1"), 404, "MANIFEST_UNKNOWN")
        self.assertEqual(self.client.tags(name).json().get("tags") or [], [])
        self.assertOciError(self.client.delete_manifest(name, img.digest), 404, "MANIFEST_UNKNOWN")

    def test_unknown_manifest(self):
        name = self.repo()
        self.assertOciError(self.client.get_manifest(name, "nope"), 404, "MANIFEST_UNKNOWN")
        self.assertOciError(self.client.get_manifest(name, sha256_digest(b"nope")), 404, "MANIFEST_UNKNOWN")
        self.assertEqual(self.client.head_manifest(name, "nope").status_code, 404)
        self.assertOciError(self.client.delete_manifest(name, "nope"), 404, "MANIFEST_UNKNOWN")

    def test_manifest_in_other_repository_is_not_visible(self):
        a, b = self.repo("a"), self.repo("b")
        img = oci.build_image(63, (("gzip", 1000),))
        self.push(a, img, "v1")
        self.assertOciError(self.client.get_manifest(b, img.digest), 404, "MANIFEST_UNKNOWN")
        self.assertOciError(self.client.get_manifest(b, "v1"), 404, "MANIFEST_UNKNOWN")

    def test_sha512_manifest_reference(self):
        name = self.repo()
        img = oci.build_image(64, (("gzip", 1000),))
        for b in img.all_blobs():
            self.client.push_blob(name, b.data)
        d512 = sha512_digest(img.body)
        r = self.client.put_manifest(name, d512, img.body, img.media_type)
        self.assertEqual(r.status_code, 201, describe(r))
        r = self.client.get_manifest(name, d512, accept=img.media_type)
        self.assertEqual(r.status_code, 200, describe(r))
        self.assertEqual(r.content, img.body)

    # -- content negotiation ----------------------------------------------------------

    def test_accept_list_and_parameters(self):
        name = self.repo()
        img = oci.build_image(65, (("gzip", 1000),))
        self.push(name, img, "v1")
        accepts = [
            [oci.MT_DOCKER_MANIFEST, oci.MT_DOCKER_LIST, oci.MT_OCI_MANIFEST, oci.MT_OCI_INDEX],
            f"{oci.MT_OCI_INDEX}, {oci.MT_OCI_MANIFEST};q=0.9",
            "*/*",
            f"{oci.MT_OCI_MANIFEST}; q=0.5, */*; q=0.1",
        ]
        for accept in accepts:
            with self.subTest(accept=accept):
                self.check_get(name, "v1", img, accept=accept)
        # Several Accept header lines (as Go clients send them).
        with self.subTest(accept="multiple header lines"):
            from harness import raw
            r = raw(self.server, "GET", f"/v2/{name}/manifests/v1",
                    headers=[("Accept", oci.MT_DOCKER_MANIFEST), ("Accept", oci.MT_OCI_MANIFEST)])
            self.assertEqual(r.status, 200, describe(r))
            self.assertEqual(r.body, img.body)
            self.assertEqual(r.header("Content-Type").split(";")[0].strip(), oci.MT_OCI_MANIFEST)

    def test_no_accept_header(self):
        name = self.repo()
        img = oci.build_image(66, (("gzip", 1000),))
        self.push(name, img, "v1")
        r = self.client.request("GET", f"/v2/{name}/manifests/v1", headers={"Accept": None})
        self.assertEqual(r.status_code, 200, describe(r))
        self.assertEqual(r.content, img.body)
        self.assertEqual(r.headers["Content-Type"].split(";")[0].strip(), img.media_type)

    def test_accept_without_the_stored_type(self):
        """The spec leaves this open: the registry may return the stored manifest anyway
        (with its true Content-Type) or refuse with 404/406. It must never label the
        bytes with a type they are not."""
        name = self.repo()
        idx = oci.build_multiarch(67, (("gzip", 1000),))
        self.push(name, idx, "multi")
        r = self.client.get_manifest(name, "multi", accept=oci.MT_DOCKER_MANIFEST)
        self.assertIn(r.status_code, (200, 404, 406), describe(r))
        if r.status_code == 200:
            ctype = r.headers["Content-Type"].split(";")[0].strip()
            body = json.loads(r.content)
            self.assertEqual(body.get("mediaType"), ctype, describe(r))
            self.assertEqual(r.headers.get("Docker-Content-Digest"), sha256_digest(r.content))
        else:
            self.assertOciError(r, (404, 406), ("MANIFEST_UNKNOWN", "UNSUPPORTED", "MANIFEST_INVALID"))

    # -- validation -------------------------------------------------------------------

    def test_manifest_referencing_missing_layer(self):
        name = self.repo()
        img = oci.build_image(70, (("gzip", 1000), ("zstd", 1000)))
        self.client.push_blob(name, img.config.data)
        self.client.push_blob(name, img.layers[0].blob.data)  # second layer missing
        r = self.client.put_manifest(name, "v1", img.body, img.media_type)
        self.assertOciError(r, 400, "MANIFEST_BLOB_UNKNOWN")
        self.assertEqual(self.client.head_manifest(name, img.digest).status_code, 404)
        self.assertEqual(self.client.head_manifest(name, "v1").status_code, 404)

    def test_manifest_referencing_missing_config(self):
        name = self.repo()
        img = oci.build_image(71, (("gzip", 1000),))
        self.client.push_blob(name, img.layers[0].blob.data)
        r = self.client.put_manifest(name, "v1", img.body, img.media_type)
        self.assertOciError(r, 400, "MANIFEST_BLOB_UNKNOWN")
        self.assertEqual(self.client.head_manifest(name, "v1").status_code, 404)

    def test_manifest_referencing_blob_of_another_repository(self):
        a, b = self.repo("a"), self.repo("b")
        img = oci.build_image(72, (("gzip", 1000),))
        for blob in img.all_blobs():
            self.client.push_blob(a, blob.data)
        r = self.client.put_manifest(b, "v1", img.body, img.media_type)
        self.assertOciError(r, 400, "MANIFEST_BLOB_UNKNOWN")
        self.assertEqual(self.client.head_manifest(b, img.digest).status_code, 404)

    def test_docker_manifest_referencing_missing_layer(self):
        name = self.repo()
        img = oci.build_image(73, (("gzip", 1000),), docker=True)
        self.client.push_blob(name, img.config.data)
        r = self.client.put_manifest(name, "v1", img.body, img.media_type)
        self.assertOciError(r, 400, "MANIFEST_BLOB_UNKNOWN")

    def test_index_with_missing_child(self):
        name = self.repo()
        idx = oci.build_multiarch(74, (("gzip", 1000),))
        amd = idx.children[0]
        self.client.push_manifest_tree(name, amd)  # only the amd64 child
        r = self.client.put_manifest(name, "multi", idx.body, idx.media_type)
        self.assertOciError(r, 400, "MANIFEST_BLOB_UNKNOWN")
        self.assertEqual(self.client.head_manifest(name, "multi").status_code, 404)
        self.assertEqual(self.client.head_manifest(name, idx.digest).status_code, 404)

    def test_docker_list_with_missing_child(self):
        name = self.repo()
        amd = oci.build_image(75, (("gzip", 1000),), docker=True)
        lst = oci.build_index([amd], docker=True)
        r = self.client.put_manifest(name, "multi", lst.body, lst.media_type)
        self.assertOciError(r, 400, "MANIFEST_BLOB_UNKNOWN")

    def test_invalid_manifest_json(self):
        name = self.repo()
        for body in (b"not json", b"{", b"[]", b'{"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json", "config": 5}'):
            with self.subTest(body=body):
                r = self.client.put_manifest(name, "bad", body, oci.MT_OCI_MANIFEST)
                self.assertOciError(r, 400, "MANIFEST_INVALID")
        self.assertEqual(self.client.head_manifest(name, "bad").status_code, 404)

    def test_manifest_media_type_disagrees_with_content_type(self):
        name = self.repo()
        img = oci.build_image(76, (("gzip", 1000),))
        for b in img.all_blobs():
            self.client.push_blob(name, b.data)
        r = self.client.put_manifest(name, "v1", img.body, oci.MT_OCI_INDEX)
        self.assertOciError(r, 400, "MANIFEST_INVALID")
        self.assertEqual(self.client.head_manifest(name, "v1").status_code, 404)

    def test_manifest_digest_reference_mismatch(self):
        name = self.repo()
        img = oci.build_image(77, (("gzip", 1000),))
        for b in img.all_blobs():
            self.client.push_blob(name, b.data)
        wrong = sha256_digest(b"other")
        r = self.client.put_manifest(name, wrong, img.body, img.media_type)
        self.assertOciError(r, 400, "DIGEST_INVALID")
        self.assertEqual(self.client.head_manifest(name, wrong).status_code, 404)
        self.assertEqual(self.client.head_manifest(name, img.digest).status_code, 404)

    def test_invalid_tag(self):
        name = self.repo()
        img = oci.build_image(78, (("gzip", 1000),))
        for b in img.all_blobs():
            self.client.push_blob(name, b.data)
        for tag in ("-leading-dash", "a" * 129, ".dot"):
            with self.subTest(tag=tag[:20]):
                r = self.client.put_manifest(name, tag, img.body, img.media_type)
                self.assertOciError(r, 400, "MANIFEST_INVALID")  # the spec has no TAG_INVALID code
        r = self.client.put_manifest(name, "a" * 128, img.body, img.media_type)
        self.assertEqual(r.status_code, 201, describe(r))

    def test_tag_outside_grammar_is_unknown_on_read_and_delete(self):
        # A tag no push can create names no manifest: 404 as for any unknown manifest (the OCI
        # conformance suite asks for ".INVALID_MANIFEST_NAME"); an unknown repository still wins.
        name = self.repo()
        for tag in (".INVALID_MANIFEST_NAME", "-leading-dash", "a" * 129):
            with self.subTest(tag=tag[:20]):
                self.assertOciError(self.client.get_manifest(name, tag), 404, "MANIFEST_UNKNOWN")
                self.assertEqual(self.client.head_manifest(name, tag).status_code, 404)
                self.assertOciError(self.client.delete_manifest(name, tag), 404, "MANIFEST_UNKNOWN")
        missing = self.repo(create=False)
        self.assertOciError(self.client.get_manifest(missing, ".INVALID_MANIFEST_NAME"), 404, "NAME_UNKNOWN")

    # -- size limit -------------------------------------------------------------------

    def padded_manifest(self, seed, size):
        """An OCI image manifest of exactly `size` bytes (padded with an annotation)."""
        img = oci.build_image(seed, (("gzip", 1000),))
        body = json.loads(img.body)
        body["annotations"] = {"org.example.padding": ""}
        base = len(json.dumps(body).encode())
        body["annotations"]["org.example.padding"] = "p" * (size - base)
        data = json.dumps(body).encode()
        assert len(data) == size, (len(data), size)
        return img, data

    def test_manifest_of_exactly_4_mib_is_accepted(self):
        name = self.repo()
        img, data = self.padded_manifest(80, 4 * MiB)
        for b in img.all_blobs():
            self.client.push_blob(name, b.data)
        r = self.client.put_manifest(name, "big", data, img.media_type)
        self.assertEqual(r.status_code, 201, describe(r))
        r = self.client.get_manifest(name, "big", accept=img.media_type)
        self.assertEqual(r.status_code, 200)
        self.assertEqual(r.content, data)

    def test_manifest_over_4_mib_is_rejected(self):
        name = self.repo()
        img, data = self.padded_manifest(81, 4 * MiB + 1)
        for b in img.all_blobs():
            self.client.push_blob(name, b.data)
        r = self.client.put_manifest(name, "toobig", data, img.media_type)
        self.assertIn(r.status_code, (400, 413), describe(r))
        if r.content:
            self.assertOciError(r, (400, 413), ("MANIFEST_INVALID", "SIZE_INVALID"))
        self.assertEqual(self.client.head_manifest(name, "toobig").status_code, 404)
        self.assertEqual(self.client.head_manifest(name, sha256_digest(data)).status_code, 404)

    def test_manifest_over_4_mib_streamed_without_length_is_rejected(self):
        name = self.repo()
        img, data = self.padded_manifest(82, 5 * MiB)
        for b in img.all_blobs():
            self.client.push_blob(name, b.data)
        pieces = [data[i:i + 65536] for i in range(0, len(data), 65536)]
        try:
            r = self.client.put_manifest(name, "toobig", iter(pieces), img.media_type)
            self.assertIn(r.status_code, (400, 413), describe(r))
        except Exception as e:  # the server may close the connection after answering
            import requests
            self.assertIsInstance(e, requests.ConnectionError)
        self.assertEqual(self.client.head_manifest(name, "toobig").status_code, 404)
        self.assertEqual(self.client.head_manifest(name, sha256_digest(data)).status_code, 404)


class TestTags(ServerTestCase, OciAsserts):
    """end-8a, end-8b: tag listing in lexical order, with n/last and Link."""

    TAGS = ["v1.10", "v1.2", "latest", "1.0", "a-b", "a.b", "a", "b", "zz", "0", "v2", "stable"]

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.name = "tags/app"
        cls.server.repo_create(cls.name)
        img = oci.build_image(90, (("gzip", 1000),))
        cls.client.push_manifest_tree(cls.name, img, img.digest)
        for t in cls.TAGS:
            r = cls.client.put_manifest(cls.name, t, img.body, img.media_type)
            assert r.status_code == 201, describe(r)
        cls.sorted_tags = sorted(cls.TAGS)  # all lowercase: byte order == case-insensitive order

    def test_list_all(self):
        r = self.client.tags(self.name)
        self.assertEqual(r.status_code, 200, describe(r))
        self.assertIn("json", r.headers.get("Content-Type", ""))
        body = r.json()
        self.assertEqual(body["name"], self.name)
        self.assertEqual(body["tags"], self.sorted_tags)
        self.assertIsNone(next_link(r))

    def test_paginate_with_n_and_link(self):
        got = []
        path = f"/v2/{self.name}/tags/list?n=5"
        pages = 0
        while path:
            r = self.client.request("GET", path)
            self.assertEqual(r.status_code, 200, describe(r))
            page = r.json()["tags"]
            self.assertLessEqual(len(page), 5)
            got += page
            pages += 1
            link = next_link(r)
            if len(got) < len(self.TAGS):
                self.assertIsNotNone(link, "no Link header while tags remain: " + describe(r))
                self.assertEqual(len(page), 5, "short page while tags remain")
                self.assertTrue(urllib.parse.urlsplit(link).path.endswith(f"/v2/{self.name}/tags/list"), link)
                q = urllib.parse.parse_qs(urllib.parse.urlsplit(link).query)
                self.assertEqual(q.get("n"), ["5"], link)
                self.assertEqual(q.get("last"), [page[-1]], link)
            path = link
            self.assertLess(pages, 10)
        self.assertEqual(got, self.sorted_tags)

    def test_link_header_format(self):
        r = self.client.tags(self.name, n=2)
        link = r.headers.get("Link")
        self.assertIsNotNone(link, describe(r))
        self.assertRegex(link, r'^<[^>]+>;\s*rel="next"$')

    def test_last(self):
        for last in ("a", "latest", "v1.10", "0", "zz", "m", "v9"):
            with self.subTest(last=last):
                r = self.client.tags(self.name, last=last)
                self.assertEqual(r.status_code, 200, describe(r))
                self.assertEqual(r.json().get("tags") or [], [t for t in self.sorted_tags if t > last])

    def test_n_and_last(self):
        r = self.client.tags(self.name, n=3, last="a-b")
        self.assertEqual(r.json()["tags"], [t for t in self.sorted_tags if t > "a-b"][:3])

    def test_n_larger_than_count(self):
        r = self.client.tags(self.name, n=1000)
        self.assertEqual(r.json()["tags"], self.sorted_tags)
        self.assertIsNone(next_link(r))

    def test_n_zero(self):
        r = self.client.tags(self.name, n=0)
        self.assertEqual(r.status_code, 200, describe(r))
        self.assertEqual(r.json().get("tags") or [], [])
        self.assertIsNone(r.headers.get("Link"), describe(r))

    def test_invalid_n(self):
        r = self.client.tags(self.name, n="abc")
        self.assertNot5xx(r)
        r = self.client.tags(self.name, n="-1")
        self.assertNot5xx(r)

    def test_repository_without_tags(self):
        name = self.repo()
        r = self.client.tags(name)
        self.assertEqual(r.status_code, 200, describe(r))
        self.assertEqual(r.json().get("tags") or [], [])

    def test_unknown_repository(self):
        self.assertOciError(self.client.tags(self.repo(create=False)), 404, "NAME_UNKNOWN")

    def test_nested_repository_name(self):
        name = "team/app/api"
        self.server.repo_create(name)
        img = oci.build_image(91, (("gzip", 1000),))
        self.client.push_manifest_tree(name, img, "v1")
        r = self.client.tags(name)
        self.assertEqual(r.json(), {"name": name, "tags": ["v1"]})


class TestCatalog(ServerTestCase, OciAsserts):
    """/v2/_catalog with n/last pagination and Link."""

    REPOS = ["alpha", "beta/one", "beta/two", "gamma", "team/app/api", "z0"]

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        for name in cls.REPOS:
            cls.server.repo_create(name)
            cls.client.push_blob(name, name.encode())

    def test_full_catalog(self):
        r = self.client.catalog()
        self.assertEqual(r.status_code, 200, describe(r))
        self.assertEqual(r.json()["repositories"], sorted(self.REPOS))

    def test_paginated_catalog(self):
        got = []
        path = "/v2/_catalog?n=2"
        for _ in range(10):
            r = self.client.request("GET", path)
            self.assertEqual(r.status_code, 200, describe(r))
            page = r.json()["repositories"]
            self.assertLessEqual(len(page), 2)
            got += page
            path = next_link(r)
            if len(got) < len(self.REPOS):
                self.assertIsNotNone(path, "no Link header while repositories remain: " + describe(r))
                self.assertRegex(r.headers["Link"], r'^<[^>]*/v2/_catalog\?[^>]*>;\s*rel="next"$')
            if not path:
                break
        self.assertEqual(got, sorted(self.REPOS))

    def test_last(self):
        r = self.client.catalog(last="beta/one")
        self.assertEqual(r.json()["repositories"], ["beta/two", "gamma", "team/app/api", "z0"])
        r = self.client.catalog(n=2, last="beta/two")
        self.assertEqual(r.json()["repositories"], ["gamma", "team/app/api"])


class TestReferrers(ServerTestCase, OciAsserts):
    """end-12a, end-12b and OCI-Subject."""

    SBOM = "application/vnd.example.sbom.v1"
    SIG = "application/vnd.example.signature.v1"

    def setUp(self):
        self.name = self.repo()
        self.img = oci.build_image(100, (("gzip", 1000),))
        self.client.push_manifest_tree(self.name, self.img, "v1")
        self.subject = self.img.descriptor()

    def push_referrer(self, m, name=None):
        name = name or self.name
        for b in m.all_blobs():
            if self.client.head_blob(name, b.digest).status_code != 200:
                self.client.push_blob(name, b.data)
        r = self.client.put_manifest(name, m.digest, m.body, m.media_type)
        self.assertEqual(r.status_code, 201, describe(r))
        self.assertEqual(r.headers.get("OCI-Subject"), m.json["subject"]["digest"], describe(r))
        return r

    def referrers(self, digest=None, artifact_type=None, name=None):
        r = self.client.referrers(name or self.name, digest or self.img.digest, artifact_type)
        self.assertEqual(r.status_code, 200, describe(r))
        self.assertEqual(r.headers.get("Content-Type", "").split(";")[0].strip(), oci.MT_OCI_INDEX, describe(r))
        body = r.json()
        self.assertEqual(body.get("schemaVersion"), 2)
        self.assertEqual(body.get("mediaType"), oci.MT_OCI_INDEX)
        self.assertIsInstance(body.get("manifests"), list, describe(r))
        return r, body

    def test_referrers_list(self):
        sbom = oci.build_artifact(101, subject=self.subject, artifact_type=self.SBOM)
        sig = oci.build_artifact(102, subject=self.subject, artifact_type=self.SIG,
                                 annotations={"org.example.signer": "alice"})
        self.push_referrer(sbom)
        self.push_referrer(sig)
        _, body = self.referrers()
        by_digest = {d["digest"]: d for d in body["manifests"]}
        self.assertEqual(set(by_digest), {sbom.digest, sig.digest})
        for m in (sbom, sig):
            d = by_digest[m.digest]
            self.assertEqual(d["mediaType"], oci.MT_OCI_MANIFEST)
            self.assertEqual(d["size"], m.size)
            self.assertEqual(d["artifactType"], m.json["artifactType"])
            self.assertEqual(d.get("annotations"), m.json["annotations"])

    def test_artifact_type_filter(self):
        sbom = oci.build_artifact(103, subject=self.subject, artifact_type=self.SBOM)
        sig = oci.build_artifact(104, subject=self.subject, artifact_type=self.SIG)
        self.push_referrer(sbom)
        self.push_referrer(sig)
        r, body = self.referrers(artifact_type=self.SBOM)
        self.assertEqual([d["digest"] for d in body["manifests"]], [sbom.digest])
        self.assertEqual(r.headers.get("OCI-Filters-Applied"), "artifactType", describe(r))
        r, body = self.referrers(artifact_type="application/vnd.example.none")
        self.assertEqual(body["manifests"], [])
        self.assertEqual(r.headers.get("OCI-Filters-Applied"), "artifactType", describe(r))
        r, body = self.referrers()
        self.assertIsNone(r.headers.get("OCI-Filters-Applied"), describe(r))

    def test_unknown_subject_gives_empty_index(self):
        _, body = self.referrers(digest=sha256_digest(b"no such manifest"))
        self.assertEqual(body["manifests"], [])

    def test_subject_may_not_exist_yet(self):
        ghost = {"mediaType": oci.MT_OCI_MANIFEST, "digest": sha256_digest(b"later"), "size": 5}
        art = oci.build_artifact(105, subject=ghost, artifact_type=self.SBOM)
        self.push_referrer(art)
        _, body = self.referrers(digest=ghost["digest"])
        self.assertEqual([d["digest"] for d in body["manifests"]], [art.digest])

    def test_artifact_type_defaults_to_config_media_type(self):
        cfg_type = "application/vnd.example.config.v1+json"
        art = oci.build_artifact(106, subject=self.subject, artifact_type=None, config_media_type=cfg_type)
        self.push_referrer(art)
        _, body = self.referrers()
        self.assertEqual([d.get("artifactType") for d in body["manifests"]], [cfg_type])

    def test_index_with_subject(self):
        child = oci.build_image(107, (("gzip", 1000),))
        self.client.push_manifest_tree(self.name, child)
        idx = oci.build_index([child], subject=self.subject, annotations={"org.example.kind": "bundle"})
        r = self.client.put_manifest(self.name, idx.digest, idx.body, idx.media_type)
        self.assertEqual(r.status_code, 201, describe(r))
        self.assertEqual(r.headers.get("OCI-Subject"), self.img.digest, describe(r))
        _, body = self.referrers()
        self.assertEqual(len(body["manifests"]), 1, body)
        d = body["manifests"][0]
        self.assertEqual(d["digest"], idx.digest)
        self.assertEqual(d["mediaType"], oci.MT_OCI_INDEX)
        self.assertNotIn("artifactType", d)  # index without artifactType: omitted
        self.assertEqual(d.get("annotations"), {"org.example.kind": "bundle"})

    def test_manifest_without_subject_has_no_oci_subject_header(self):
        img = oci.build_image(108, (("gzip", 1000),))
        r = self.client.push_manifest_tree(self.name, img, "plain")
        self.assertIsNone(r.headers.get("OCI-Subject"), describe(r))

    def test_deleted_referrer_disappears(self):
        art = oci.build_artifact(109, subject=self.subject, artifact_type=self.SBOM)
        self.push_referrer(art)
        self.assertEqual(len(self.referrers()[1]["manifests"]), 1)
        self.assertEqual(self.client.delete_manifest(self.name, art.digest).status_code, 202)
        self.assertEqual(self.referrers()[1]["manifests"], [])

    def test_referrers_are_per_repository(self):
        other = self.repo("other")
        self.client.push_manifest_tree(other, self.img, "v1")
        art = oci.build_artifact(110, subject=self.subject, artifact_type=self.SBOM)
        self.push_referrer(art, name=other)
        self.assertEqual(self.referrers()[1]["manifests"], [])
        self.assertEqual(len(self.referrers(name=other)[1]["manifests"]), 1)

    def test_referrers_with_invalid_digest(self):
        r = self.client.referrers(self.name, "sha256:abc")
        self.assertOciError(r, 400, "DIGEST_INVALID")
        r = self.client.referrers(self.name, "latest")
        self.assertIn(r.status_code, (400, 404), describe(r))


class TestCreateOnPush(ServerTestCase, OciAsserts):
    """`berth serve --create-on-push`: the first push creates the repository."""

    create_on_push = True

    def test_push_creates_repository(self):
        name = self.repo("auto", create=False)
        img = oci.build_image(120, (("gzip", 1000),))
        r = self.client.push_manifest_tree(name, img, "v1")
        self.assertEqual(r.status_code, 201, describe(r))
        self.assertEqual(self.client.tags(name).json()["tags"], ["v1"])
        self.assertIn(name, self.client.catalog().json()["repositories"])

    def test_pull_from_unknown_repository_still_404(self):
        name = self.repo("auto", create=False)
        self.assertOciError(self.client.get_manifest(name, "v1"), 404, ("NAME_UNKNOWN", "MANIFEST_UNKNOWN"))
        self.assertOciError(self.client.tags(name), 404, "NAME_UNKNOWN")


if __name__ == "__main__":
    unittest.main()


class TestAccessLog(FreshServerTestCase):
    def test_paths_are_quoted_and_escaped(self):
        # One line per request; the path quoted, with what needs escaping escaped (a
        # client must not be able to forge fields or lines), plain paths copied as sent.
        from harness import raw
        targets = ["/v2/plain/tags/list", '/v2/quote"back\\slash/tags/list', "/v2/caf\xe9/tags/list"]
        for target in targets:
            raw(self.server, "GET", target)
        self.server.stop()  # the access log is written in batches, and at shutdown
        with open(self.server.log_path, "rb") as f:
            log = f.read()
        self.assertIn(b'path="/v2/plain/tags/list" status=', log)
        self.assertIn(b'path="/v2/quote\\"back\\\\slash/tags/list" status=', log)
        self.assertIn(b'path="/v2/caf\\xe9/tags/list" status=', log)
        self.assertNotIn(b"caf\xe9", log)

    def test_a_path_that_is_not_utf8_is_answered_not_crashed_on(self):
        from harness import raw
        for target in ["/v2/\xe9", "/v2/caf\xe9/tags/list", "/v2/x/manifests/\xff\xfe"]:
            with self.subTest(target=target):
                r = raw(self.server, "GET", target)
                self.assertIn(r.status, (400, 404), r.body)
                json.loads(r.body)  # a well-formed error body
