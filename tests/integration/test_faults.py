"""Bad input and faults (issue 2, "Bad input and faults"): every malformed request gets
the spec's error and changes nothing; a dropped connection or a crash leaves the store
consistent, and uploads stay resumable from their last good offset."""

import hashlib
import os
import random
import select
import signal
import socket
import threading
import time
import unittest
import urllib.parse
import uuid

import requests

import ocilayout as oci
from harness import (Client, FreshServerTestCase, RawConn, ServerTestCase, describe, raw,
                     serve_supports, sha256_digest, sha512_digest)
from ociasserts import OciAsserts

MiB = 1024 * 1024


def blob_bytes(seed, size):
    return random.Random(seed).randbytes(size)


def path_of(location):
    """Path and query of a (relative or absolute) Location, for raw requests."""
    p = urllib.parse.urlsplit(location)
    return p.path + (("?" + p.query) if p.query else "")


class UploadMixin(OciAsserts):
    def new_upload(self, name):
        r = self.client.start_upload(name)
        self.assertEqual(r.status_code, 202, describe(r))
        return r.headers["Location"]

    def offset(self, loc):
        """The next byte the upload at `loc` expects (from GET upload status). `Range:
        0-0` is ambiguous (empty, or one byte): it is returned as 1; use assertOffset
        when the expected offset is known."""
        st = self.client.upload_status(loc)
        self.assertEqual(st.status_code, 204, describe(st))
        return self.upload_end(st) + 1 if self.upload_end(st) >= 0 else 0

    def assertOffset(self, loc, expected):
        st = self.client.upload_status(loc)
        self.assertEqual(st.status_code, 204, describe(st))
        end = self.upload_end(st)
        if expected == 0:
            # Nothing received: no Range, `0-0` (as distribution says) or `0--1`.
            self.assertIn(end, (-1, 0), describe(st))
        else:
            self.assertEqual(end, expected - 1, describe(st))

    def finish(self, name, loc, data, start):
        """Send data[start:] as one chunk and close the upload; check the blob."""
        if start < len(data):
            r = self.client.patch(loc, data[start:], f"{start}-{len(data) - 1}")
            self.assertEqual(r.status_code, 202, describe(r))
            loc = r.headers["Location"]
        digest = sha256_digest(data)
        r = self.client.put_upload(loc, digest)
        self.assertEqual(r.status_code, 201, describe(r))
        got = self.client.get_blob(name, digest)
        self.assertEqual(got.status_code, 200, describe(got))
        self.assertEqual(hashlib.sha256(got.content).hexdigest(), digest.split(":")[1])


class TestUploadFaults(ServerTestCase, UploadMixin):

    # -- digests ----------------------------------------------------------------------

    def test_wrong_digest_on_monolithic_put(self):
        name = self.repo()
        data = blob_bytes(1, 100000)
        wrong = sha256_digest(b"not the data")
        loc = self.new_upload(name)
        r = self.client.put_upload(loc, wrong, data)
        self.assertOciError(r, 400, "DIGEST_INVALID")
        for d in (wrong, sha256_digest(data)):
            self.assertEqual(self.client.head_blob(name, d).status_code, 404)
            self.assertFalse(os.path.exists(self.server.blob_path(d)), d)
        files = self.server.blob_files()
        self.assertNotIn(wrong.split(":")[1], files)
        self.assertNotIn(sha256_digest(data).split(":")[1], files)

    def test_wrong_digest_after_chunks(self):
        name = self.repo()
        data = blob_bytes(2, 300000)
        loc = self.new_upload(name)
        r = self.client.patch(loc, data[:200000], "0-199999")
        self.assertEqual(r.status_code, 202, describe(r))
        r = self.client.patch(r.headers["Location"], data[200000:], f"200000-{len(data) - 1}")
        self.assertEqual(r.status_code, 202, describe(r))
        wrong = sha256_digest(data[:-1])
        r = self.client.put_upload(r.headers["Location"], wrong)
        self.assertOciError(r, 400, "DIGEST_INVALID")
        for d in (wrong, sha256_digest(data)):
            self.assertEqual(self.client.head_blob(name, d).status_code, 404)
            self.assertFalse(os.path.exists(self.server.blob_path(d)), d)

    def test_put_without_digest(self):
        name = self.repo()
        loc = self.new_upload(name)
        r = self.client.request("PUT", loc, data=b"abc", headers={"Content-Type": "application/octet-stream"})
        self.assertOciError(r, 400, ("DIGEST_INVALID", "BLOB_UPLOAD_INVALID"))
        self.assertEqual(self.client.head_blob(name, sha256_digest(b"abc")).status_code, 404)

    # -- Content-Range ----------------------------------------------------------------

    def test_first_chunk_not_at_zero(self):
        name = self.repo()
        loc = self.new_upload(name)
        r = self.client.patch(loc, b"x" * 100, "100-199")
        self.assertOciError(r, 416, ("BLOB_UPLOAD_INVALID", "SIZE_INVALID"))
        self.assertOffset(loc, 0)
        self.finish(name, loc, b"y" * 300, 0)

    def test_overlapping_chunk(self):
        name = self.repo()
        data = blob_bytes(3, 4096)
        loc = self.new_upload(name)
        r = self.client.patch(loc, data[:1024], "0-1023")
        self.assertEqual(r.status_code, 202, describe(r))
        loc = r.headers["Location"]
        for rng, part in (("0-1023", data[:1024]), ("512-1535", data[512:1536]), ("1023-2046", data[1023:2047])):
            with self.subTest(range=rng):
                r = self.client.patch(loc, part, rng)
                self.assertEqual(r.status_code, 416, describe(r))
                self.assertRangeHeader(r, 1023)
                self.assertOffset(loc, 1024)
        self.finish(name, loc, data, 1024)

    def test_out_of_order_chunks(self):
        name = self.repo()
        data = blob_bytes(4, 3072)
        loc = self.new_upload(name)
        r = self.client.patch(loc, data[:1024], "0-1023")
        self.assertEqual(r.status_code, 202, describe(r))
        loc = r.headers["Location"]
        r = self.client.patch(loc, data[2048:], "2048-3071")
        self.assertEqual(r.status_code, 416, describe(r))
        self.assertRangeHeader(r, 1023)
        self.assertOffset(loc, 1024)
        r = self.client.patch(loc, data[1024:2048], "1024-2047")
        self.assertEqual(r.status_code, 202, describe(r))
        r = self.client.patch(r.headers["Location"], data[2048:], "2048-3071")
        self.assertEqual(r.status_code, 202, describe(r))
        r = self.client.put_upload(r.headers["Location"], sha256_digest(data))
        self.assertEqual(r.status_code, 201, describe(r))
        self.assertEqual(self.client.get_blob(name, sha256_digest(data)).content, data)

    def test_content_range_disagrees_with_body_length(self):
        name = self.repo()
        loc = self.new_upload(name)
        r = self.client.patch(loc, b"z" * 50, "0-99")
        self.assertIn(r.status_code, (400, 416), describe(r))
        self.assertNot5xx(r)
        if r.status_code == 400:
            self.assertOciError(r, 400, ("BLOB_UPLOAD_INVALID", "SIZE_INVALID"))
        self.assertOffset(loc, 0)
        self.finish(name, loc, b"q" * 10, 0)

    def test_malformed_content_range(self):
        name = self.repo()
        loc = self.new_upload(name)
        # ("bytes 0-9/10" and "bytes=0-9" are left out: accepting them when they describe
        # the chunk exactly is lenient, not wrong; an empty value may mean "no range".)
        for value in ("abc", "5-2", "-1-8", "0-", "0-9-10", "0x0-0x9"):
            with self.subTest(value=value):
                r = self.client.patch(loc, b"0123456789", value)
                self.assertIn(r.status_code, (400, 416), describe(r))
                self.assertOffset(loc, 0)
        self.finish(name, loc, b"0123456789", 0)

    def test_final_chunk_in_put_out_of_order(self):
        name = self.repo()
        data = blob_bytes(5, 2000)
        loc = self.new_upload(name)
        r = self.client.patch(loc, data[:1000], "0-999")
        loc = r.headers["Location"]
        r = self.client.put_upload(loc, sha256_digest(data), data[1500:],
                                   headers={"Content-Range": f"1500-{len(data) - 1}"})
        self.assertIn(r.status_code, (400, 416), describe(r))
        self.assertEqual(self.client.head_blob(name, sha256_digest(data)).status_code, 404)

    # -- truncated bodies and dropped connections -------------------------------------

    def test_body_shorter_than_content_length(self):
        """Headers promise 4096 bytes, 1000 arrive, then the client closes. The upload
        keeps its last good offset (1024, or 2024 if the partial bytes were kept) and
        completes correctly from the offset GET reports."""
        name = self.repo()
        data = blob_bytes(6, 8192)
        loc = self.new_upload(name)
        r = self.client.patch(loc, data[:1024], "0-1023")
        self.assertEqual(r.status_code, 202, describe(r))
        loc = r.headers["Location"]
        c = RawConn(self.server.host, self.server.port)
        try:
            c.send_request_head("PATCH", path_of(loc), {
                "Content-Type": "application/octet-stream", "Content-Length": "4096",
                "Content-Range": "1024-5119"})
            c.send(data[1024:2024])
            c.half_close()
            got = c.wait_closed(timeout=120)  # the server notices the short body and closes
        finally:
            c.close()
        self.assertFalse(got.startswith(b"HTTP/1.1 2"), f"a truncated PATCH was accepted: {got[:300]!r}")
        off = self.offset(loc)
        self.assertIn(off, range(1024, 2025), f"offset {off} after a truncated PATCH")
        self.finish(name, loc, data, off)

    def test_client_disconnects_mid_stream_then_resumes(self):
        """A streamed (chunked transfer-encoding) PATCH loses its connection part way;
        the client asks where it stands and resumes with the same Location."""
        name = self.repo()
        data = blob_bytes(7, 2 * MiB)
        loc = self.new_upload(name)
        c = RawConn(self.server.host, self.server.port)
        try:
            c.send_request_head("PATCH", path_of(loc), {
                "Content-Type": "application/octet-stream", "Transfer-Encoding": "chunked"})
            sent = 0
            for i in range(0, MiB, 65536):
                piece = data[i:i + 65536]
                c.send(b"%x\r\n" % len(piece) + piece + b"\r\n")
                sent += len(piece)
            c.half_close()  # no last-chunk: the body ends early
            got = c.wait_closed(timeout=120)
        finally:
            c.close()
        self.assertFalse(got.startswith(b"HTTP/1.1 2"), f"an incomplete PATCH was accepted: {got[:300]!r}")
        off = self.offset(loc)
        if off == 1:
            off = 0  # data went in 64 KiB pieces: `Range: 0-0` can only mean empty here
        self.assertLessEqual(off, sent)
        self.finish(name, loc, data, off)

    def test_client_resets_connection_mid_upload(self):
        """As above, but the connection is reset (RST) rather than closed."""
        name = self.repo()
        data = blob_bytes(8, 2 * MiB)
        loc = self.new_upload(name)
        c = RawConn(self.server.host, self.server.port)
        c.send_request_head("PATCH", path_of(loc), {
            "Content-Type": "application/octet-stream", "Content-Length": str(len(data)),
            "Content-Range": f"0-{len(data) - 1}"})
        c.send(data[:MiB])
        c.reset()
        # The server learns of the reset asynchronously: retry from whatever offset it
        # reports until a resume is accepted (a 416 means the offset moved meanwhile).
        # "Another request is writing to this upload" (409, 423, or 400 with
        # BLOB_UPLOAD_INVALID) is transient until the server has seen the reset.
        deadline = time.monotonic() + 120
        attempt = 0
        while True:
            attempt += 1
            off = self.offset(loc)
            if off == 1 and attempt % 2:
                off = 0  # `Range: 0-0` may mean nothing received
            self.assertLessEqual(off, MiB)
            r = self.client.patch(loc, data[off:], f"{off}-{len(data) - 1}")
            if r.status_code == 202:
                break
            self.assertIn(r.status_code, (400, 409, 416, 423), describe(r))
            if r.status_code == 400:
                self.assertOciError(r, 400, "BLOB_UPLOAD_INVALID")
            self.assertLess(time.monotonic(), deadline, "upload never became resumable: " + describe(r))
            time.sleep(0.05)
        r = self.client.put_upload(r.headers["Location"], sha256_digest(data))
        self.assertEqual(r.status_code, 201, describe(r))
        self.assertEqual(self.client.get_blob(name, sha256_digest(data)).content, data)

    def test_two_clients_push_same_blob_concurrently(self):
        name = self.repo()
        data = blob_bytes(9, 4 * MiB)
        digest = sha256_digest(data)
        barrier = threading.Barrier(2, timeout=120)
        results = [None, None]

        def push(i):
            try:
                c = Client(self.server.base_url)
                r = c.start_upload(name)
                loc = r.headers["Location"]
                r = c.patch(loc, data[:2 * MiB], f"0-{2 * MiB - 1}")
                loc = r.headers["Location"]
                barrier.wait()
                r = c.patch(loc, data[2 * MiB:], f"{2 * MiB}-{len(data) - 1}")
                loc = r.headers["Location"]
                barrier.wait()
                results[i] = c.put_upload(loc, digest)
            except Exception as e:  # reported below
                results[i] = e

        threads = [threading.Thread(target=push, args=(i,)) for i in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=300)
        for r in results:
            self.assertIsInstance(r, requests.Response, repr(r))
            self.assertEqual(r.status_code, 201, describe(r))
        r = self.client.get_blob(name, digest)
        self.assertEqual(r.content, data)
        self.assertEqual(len(self.server.blob_files().get(digest.split(":")[1], [])), 1,
                         self.server.blob_files().get(digest.split(":")[1]))
        self.assertEqual(self.server.verify_blob_store(), [])

    def test_two_repositories_push_same_blob_concurrently(self):
        a, b = self.repo("a"), self.repo("b")
        data = blob_bytes(10, 2 * MiB)
        digest = sha256_digest(data)
        barrier = threading.Barrier(2, timeout=120)
        results = {}

        def push(name):
            try:
                c = Client(self.server.base_url)
                loc = c.start_upload(name).headers["Location"]
                barrier.wait()
                results[name] = c.put_upload(loc, digest, data)
            except Exception as e:
                results[name] = e

        threads = [threading.Thread(target=push, args=(n,)) for n in (a, b)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=300)
        for n in (a, b):
            self.assertIsInstance(results[n], requests.Response, repr(results[n]))
            self.assertEqual(results[n].status_code, 201, describe(results[n]))
            self.assertEqual(self.client.get_blob(n, digest).content, data)
        self.assertEqual(len(self.server.blob_files().get(digest.split(":")[1], [])), 1)

    # -- upload ids -------------------------------------------------------------------

    def test_unknown_upload_id(self):
        name = self.repo()
        loc = f"/v2/{name}/blobs/uploads/{uuid.uuid4()}"
        self.assertOciError(self.client.upload_status(loc), 404, "BLOB_UPLOAD_UNKNOWN")
        self.assertOciError(self.client.patch(loc, b"abc", "0-2"), 404, "BLOB_UPLOAD_UNKNOWN")
        self.assertOciError(self.client.put_upload(loc, sha256_digest(b"abc"), b"abc"), 404, "BLOB_UPLOAD_UNKNOWN")
        self.assertOciError(self.client.cancel_upload(loc), 404, "BLOB_UPLOAD_UNKNOWN")
        self.assertEqual(self.client.head_blob(name, sha256_digest(b"abc")).status_code, 404)

    def test_garbage_upload_ids(self):
        name = self.repo()
        ids = ["../../etc", "..%2F..%2Fetc", "..", ".", "%00", "a" * 2000, "%2e%2e%2f%2e%2e%2fmeta.db",
               "x'%3B%20DROP%20TABLE%20uploads%3B--", "%ff%fe", "uploads", "~root"]
        for upload_id in ids:
            for method, body in (("GET", b""), ("PATCH", b"abc"), ("PUT", b""), ("DELETE", b"")):
                with self.subTest(id=upload_id[:30], method=method):
                    target = f"/v2/{name}/blobs/uploads/{upload_id}"
                    if method == "PUT":
                        target += "?digest=" + sha256_digest(b"")
                    r = raw(self.server, method, target, body=body,
                            headers={"Content-Type": "application/octet-stream"})
                    self.assertIn(r.status, (400, 404), describe(r))
        # Nothing escaped the data dir and the server is fine.
        self.assertEqual(self.client.v2().status_code, 200)
        self.assertTrue(os.path.exists(os.path.join(self.server.data_dir, "meta.db")))

    def test_upload_id_of_another_repository(self):
        a, b = self.repo("a"), self.repo("b")
        loc = self.new_upload(a)
        p = urllib.parse.urlsplit(loc)
        upload_id = p.path.rstrip("/").rsplit("/", 1)[1]
        other = f"/v2/{b}/blobs/uploads/{upload_id}" + (("?" + p.query) if p.query else "")
        self.assertOciError(self.client.upload_status(other), 404, "BLOB_UPLOAD_UNKNOWN")
        self.assertOciError(self.client.patch(other, b"abc", "0-2"), 404, "BLOB_UPLOAD_UNKNOWN")
        self.assertOciError(self.client.put_upload(other, sha256_digest(b"abc"), b"abc"), 404, "BLOB_UPLOAD_UNKNOWN")
        self.assertEqual(self.client.head_blob(b, sha256_digest(b"abc")).status_code, 404)
        self.assertOffset(loc, 0)  # still usable where it belongs
        self.finish(a, loc, b"abc", 0)


class TestNamesAndDigests(ServerTestCase, OciAsserts):
    """Invalid repository names and digests. The server creates repositories on push, so
    a NAME_UNKNOWN cannot stand in for the NAME_INVALID that is due."""

    create_on_push = True

    INVALID_NAMES = ["../x", "x/../y", "Upper", "team/App", "a" * 257, "a//b", "-a", "a-", ".a",
                     "a..b", "a/.", "a%2Fb", "a b", "a%00b", "_a"]

    def test_invalid_names(self):
        digest = sha256_digest(b"abc")
        for name in self.INVALID_NAMES:
            for method, target, body in (
                    ("GET", f"/v2/{name}/tags/list", b""),
                    ("POST", f"/v2/{name}/blobs/uploads/", b""),
                    ("POST", f"/v2/{name}/blobs/uploads/?digest={digest}", b"abc"),
                    ("GET", f"/v2/{name}/manifests/latest", b""),
                    ("PUT", f"/v2/{name}/manifests/latest", b"{}"),
                    ("GET", f"/v2/{name}/blobs/{digest}", b"")):
                with self.subTest(name=name[:40], method=method, target=target[:80]):
                    headers = {"Content-Type": "application/octet-stream"}
                    if method == "PUT":
                        headers["Content-Type"] = oci.MT_OCI_MANIFEST
                    r = raw(self.server, method, target.replace(" ", "%20"), headers=headers, body=body)
                    self.assertOciError(r, 400, "NAME_INVALID")
        repos = self.client.catalog().json().get("repositories") or []
        for name in self.INVALID_NAMES:
            self.assertNotIn(name, repos)

    def test_name_length_limit(self):
        ok = "/".join(["a" * 50] * 5) + "/b"  # 256 characters
        self.assertEqual(len(ok), 256)
        data = b"long name"
        r = self.client.start_upload(ok, data=data, digest=sha256_digest(data))
        self.assertEqual(r.status_code, 201, describe(r))
        self.assertEqual(self.client.get_blob(ok, sha256_digest(data)).content, data)
        too_long = ok + "c"
        r = self.client.start_upload(too_long, data=data, digest=sha256_digest(data))
        self.assertOciError(r, 400, "NAME_INVALID")

    def test_repo_create_rejects_invalid_names(self):
        for name in ("../x", "Upper", "a" * 257, "a//b"):
            with self.subTest(name=name[:40]):
                r = self.server.repo_create(name, check=False)
                self.assertNotEqual(r.returncode, 0, f"berth repo create accepted {name!r}")
        self.assertFalse(os.path.exists(os.path.join(self.server.data_dir, "..", "x")))

    INVALID_DIGESTS = ["sha256:abc", "md5:d41d8cd98f00b204e9800998ecf8427e", "sha256:" + "A" * 64,
                       "sha256:" + "g" * 64, "sha256:" + "a" * 65, "sha256:" + "a" * 63,
                       "sha512:" + "a" * 64, "sha256:", ":" + "a" * 64, "SHA256:" + "a" * 64,
                       "sha256:../../../../etc/passwd"]

    def test_invalid_digests_on_blob_endpoints(self):
        name = "digests/blobs"
        self.client.push_blob(name, b"make the repository exist")
        for d in self.INVALID_DIGESTS + ["sha256"]:
            q = urllib.parse.quote(d, safe=":")
            with self.subTest(digest=d[:40], op="GET blob"):
                self.assertOciError(raw(self.server, "GET", f"/v2/{name}/blobs/{q}"), 400, "DIGEST_INVALID")
            with self.subTest(digest=d[:40], op="HEAD blob"):
                self.assertEqual(raw(self.server, "HEAD", f"/v2/{name}/blobs/{q}").status, 400)
            with self.subTest(digest=d[:40], op="DELETE blob"):
                self.assertOciError(raw(self.server, "DELETE", f"/v2/{name}/blobs/{q}"), 400, "DIGEST_INVALID")
            with self.subTest(digest=d[:40], op="single POST"):
                r = self.client.start_upload(name, data=b"abc", digest=d)
                self.assertOciError(r, 400, "DIGEST_INVALID")
            with self.subTest(digest=d[:40], op="PUT upload"):
                loc = self.client.start_upload(name).headers["Location"]
                r = self.client.put_upload(loc, d, b"abc")
                self.assertOciError(r, 400, "DIGEST_INVALID")
        self.assertEqual(self.client.head_blob(name, sha256_digest(b"abc")).status_code, 404)

    def test_invalid_digests_on_manifest_endpoints(self):
        name = "digests/manifests"
        img = oci.build_image(20, (("gzip", 1000),))
        self.client.push_manifest_tree(name, img, "v1")
        for d in self.INVALID_DIGESTS:
            q = urllib.parse.quote(d, safe=":")
            with self.subTest(digest=d[:40], op="GET manifest"):
                self.assertOciError(raw(self.server, "GET", f"/v2/{name}/manifests/{q}"), 400,
                                    ("DIGEST_INVALID", "MANIFEST_INVALID"))
            with self.subTest(digest=d[:40], op="PUT manifest"):
                r = raw(self.server, "PUT", f"/v2/{name}/manifests/{q}", body=img.body,
                        headers={"Content-Type": img.media_type})
                self.assertOciError(r, 400, ("DIGEST_INVALID", "MANIFEST_INVALID"))
            with self.subTest(digest=d[:40], op="DELETE manifest"):
                self.assertOciError(raw(self.server, "DELETE", f"/v2/{name}/manifests/{q}"), 400,
                                    ("DIGEST_INVALID", "MANIFEST_INVALID"))
        self.assertEqual(self.client.get_manifest(name, "v1", accept=img.media_type).content, img.body)


class TestRestartAndCrash(FreshServerTestCase, UploadMixin):
    """Each test gets its own server and data dir, restarted or killed with -9."""

    def test_upload_resumable_after_restart(self):
        name = "resume/app"
        self.server.repo_create(name)
        data = blob_bytes(30, 3 * MiB + 17)
        loc = self.new_upload(name)
        r = self.client.patch(loc, data[:MiB], f"0-{MiB - 1}")
        self.assertEqual(r.status_code, 202, describe(r))
        loc = r.headers["Location"]
        self.restart()
        loc = self.client.location_on_this_server(loc)
        self.assertEqual(self.offset(loc), MiB)
        r = self.client.patch(loc, data[MiB:2 * MiB], f"{MiB}-{2 * MiB - 1}")
        self.assertEqual(r.status_code, 202, describe(r))
        self.finish(name, r.headers["Location"], data, 2 * MiB)

    def test_upload_after_kill9_is_resumable_or_gone(self):
        """After kill -9 an acknowledged chunk is either still there (resume works from
        the reported offset) or the whole upload is unknown; never a wrong offset."""
        name = "resume/killed"
        self.server.repo_create(name)
        data = blob_bytes(31, 2 * MiB)
        loc = self.new_upload(name)
        r = self.client.patch(loc, data[:MiB], f"0-{MiB - 1}")
        self.assertEqual(r.status_code, 202, describe(r))
        loc = r.headers["Location"]
        self.restart(kill=True)
        loc = self.client.location_on_this_server(loc)
        st = self.client.upload_status(loc)
        if st.status_code == 404:
            self.assertOciError(st, 404, "BLOB_UPLOAD_UNKNOWN")
        else:
            self.assertEqual(st.status_code, 204, describe(st))
            self.assertRangeHeader(st, MiB - 1)
            self.finish(name, loc, data, MiB)
        self.assertEqual(self.server.verify_blob_store(), [])

    def push_reference_image(self, name, seed):
        img = oci.build_image(seed, (("gzip", 256 * 1024), ("zstd", 256 * 1024)))
        r = self.client.push_manifest_tree(name, img, "stable")
        self.assertEqual(r.status_code, 201, describe(r))
        return img

    def check_image_intact(self, name, img, tag="stable"):
        r = self.client.get_manifest(name, tag, accept=img.media_type)
        self.assertEqual(r.status_code, 200, describe(r))
        self.assertEqual(r.content, img.body)
        self.assertEqual(r.headers.get("Docker-Content-Digest"), img.digest)
        for b in img.all_blobs():
            g = self.client.get_blob(name, b.digest)
            self.assertEqual(g.status_code, 200, describe(g))
            self.assertEqual(sha256_digest(g.content), b.digest)

    def test_data_survives_graceful_restart(self):
        name = "survive/app"
        self.server.repo_create(name)
        img = self.push_reference_image(name, 32)
        idx = oci.build_multiarch(33, (("gzip", 2000),))
        self.client.push_manifest_tree(name, idx, "multi")
        self.restart()
        self.check_image_intact(name, img)
        self.assertEqual(self.client.get_manifest(name, "multi", accept=idx.media_type).content, idx.body)
        self.assertEqual(self.client.tags(name).json()["tags"], ["multi", "stable"])
        self.assertIn(name, self.client.catalog().json()["repositories"])

    def test_kill9_during_streamed_push(self):
        name = "crash/app"
        self.server.repo_create(name)
        img = self.push_reference_image(name, 34)
        other = "crash/other"
        self.server.repo_create(other)
        img2 = self.push_reference_image(other, 35)

        size = 64 * MiB
        rng = random.Random(36)
        h = hashlib.sha256()
        pieces = []
        for _ in range(size // MiB):
            p = rng.randbytes(MiB)
            pieces.append(p)
            h.update(p)
        big = "sha256:" + h.hexdigest()

        loc = self.new_upload(name)
        c = RawConn(self.server.host, self.server.port, timeout=120)
        try:
            c.send_request_head("PATCH", path_of(loc), {
                "Content-Type": "application/octet-stream", "Content-Length": str(size)})
            for p in pieces[:24]:  # 24 MiB of 64: the server is busy writing when it dies
                c.send(p)
            self.server.kill9()
        finally:
            c.close()
        self.server.start()
        self.client = Client(self.server.base_url)

        # No partial blob is visible, by digest or on disk.
        self.assertEqual(self.client.head_blob(name, big).status_code, 404)
        self.assertFalse(os.path.exists(self.server.blob_path(big)))
        self.assertEqual(self.server.verify_blob_store(), [])
        # The interrupted upload is unknown, or resumable from what really arrived; it
        # cannot be closed as if it were complete.
        loc = self.client.location_on_this_server(loc)
        st = self.client.upload_status(loc)
        self.assertIn(st.status_code, (204, 404), describe(st))
        if st.status_code == 204:
            self.assertLessEqual(self.upload_end(st) + 1, 24 * MiB)
        r = self.client.put_upload(loc, big)
        self.assertIn(r.status_code, (400, 404), describe(r))
        self.assertEqual(self.client.head_blob(name, big).status_code, 404)
        # Earlier data is intact.
        self.check_image_intact(name, img)
        self.check_image_intact(other, img2)
        self.assertEqual(self.client.tags(name).json()["tags"], ["stable"])
        # And the registry takes new pushes.
        r = self.client.patch(self.new_upload(name), iter(pieces))
        self.assertEqual(r.status_code, 202, describe(r))
        r = self.client.put_upload(r.headers["Location"], big)
        self.assertEqual(r.status_code, 201, describe(r))

    def test_kill9_between_blobs_and_manifest(self):
        """Blobs pushed, manifest never sent: after kill -9 the tag does not exist, the
        blobs are either present and whole or absent."""
        name = "crash/half"
        self.server.repo_create(name)
        img = oci.build_image(37, (("gzip", 100000), ("zstd", 100000)))
        for b in img.all_blobs():
            self.client.push_blob(name, b.data)
        self.restart(kill=True)
        self.assertEqual(self.client.head_manifest(name, "v1").status_code, 404)
        for b in img.all_blobs():
            g = self.client.get_blob(name, b.digest)
            if g.status_code == 200:
                self.assertEqual(g.content, b.data)
            else:
                self.assertEqual(g.status_code, 404)
        self.assertEqual(self.server.verify_blob_store(), [])
        r = self.client.push_manifest_tree(name, img, "v1")
        self.assertEqual(r.status_code, 201, describe(r))

    def test_sigterm_finishes_in_flight_request(self):
        """Graceful shutdown: a request already being served completes."""
        name = "graceful/app"
        self.server.repo_create(name)
        data = blob_bytes(38, 8 * MiB)
        loc = self.new_upload(name)
        c = RawConn(self.server.host, self.server.port, timeout=120)
        try:
            # Expect: 100-continue makes "in flight" certain: the server has read the
            # request head and is in its handler before the signal is sent.
            c.send_request_head("PATCH", path_of(loc), {
                "Content-Type": "application/octet-stream", "Content-Length": str(len(data)),
                "Content-Range": f"0-{len(data) - 1}", "Expect": "100-continue"})
            interim = c.read_response(head_only=True)
            self.assertEqual(interim.status, 100, describe(interim))
            c.send(data[:MiB])
            self.server.terminate()
            c.send(data[MiB:])
            r = c.read_response()
        finally:
            c.close()
        self.assertEqual(r.status, 202, describe(r))
        rc = self.server.wait_exit()
        self.assertEqual(rc, 0)
        self.restart()
        loc = self.client.location_on_this_server(loc)
        self.assertEqual(self.offset(loc), len(data))
        self.finish(name, loc, data, len(data))


class TestConnectionFaults(ServerTestCase, OciAsserts):
    # A short header timeout (when the server has the knob) keeps the slowloris test
    # short; the test itself does not depend on the value.
    server_args = ("--header-timeout", "5") if serve_supports("--header-timeout") else ()

    def test_slowloris_is_disconnected(self):
        """A client that sends its headers a byte at a time is eventually disconnected.
        The bound is only the test's timeout, not a requirement on the server's."""
        c = RawConn(self.server.host, self.server.port, timeout=5)
        closed = False
        deadline = time.monotonic() + 300
        try:
            c.send(b"GET /v2/ HTTP/1.1\r\nHost: x\r\n")
            i = 0
            while time.monotonic() < deadline:
                try:
                    c.send(b"X-Slow-%d: " % i + b"a" + b"\r\n")
                except OSError:
                    closed = True
                    break
                i += 1
                readable, _, _ = select.select([c.sock], [], [], 1.0)
                if readable:
                    try:
                        data = c.sock.recv(65536)
                    except OSError:
                        closed = True
                        break
                    if not data:
                        closed = True
                        break
                    # A 408 (or 400) before closing is fine; anything else is not.
                    self.assertRegex(data[:12], rb"^HTTP/1\.[01] (408|400|431)", data[:200])
        finally:
            c.close()
        self.assertTrue(closed, "a slowloris connection stayed open for 300 s")

    def test_slow_clients_do_not_block_others(self):
        conns = []
        try:
            for _ in range(64):
                c = RawConn(self.server.host, self.server.port)
                c.send(b"GET /v2/ HTTP/1.1\r\nHost: x\r\n")
                conns.append(c)
            for _ in range(10):
                r = requests.get(self.server.base_url + "/v2/", timeout=60)
                self.assertEqual(r.status_code, 200)
        finally:
            for c in conns:
                c.close()

    def test_oversized_header(self):
        r = raw(self.server, "GET", "/v2/", headers={"X-Big": "a" * (128 * 1024)})
        self.assertIn(r.status, (400, 431), describe(r))
        self.assertEqual(self.client.v2().status_code, 200)

    def test_too_many_headers(self):
        headers = [(f"X-H{i}", "v" * 40) for i in range(4000)]
        r = raw(self.server, "GET", "/v2/", headers=headers)
        self.assertIn(r.status, (400, 431), describe(r))
        self.assertEqual(self.client.v2().status_code, 200)

    def test_oversized_request_target(self):
        r = raw(self.server, "GET", "/v2/" + "a" * (128 * 1024) + "/tags/list")
        self.assertIn(r.status, (400, 414, 431), describe(r))
        self.assertEqual(self.client.v2().status_code, 200)

    def test_garbage_request(self):
        for junk in (b"HELLO\r\n\r\n", b"GET\r\n\r\n", b"GET / HTTP/9.9\r\n\r\n", b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + b"\x00" * 100):
            with self.subTest(junk=junk[:20]):
                c = RawConn(self.server.host, self.server.port)
                try:
                    c.send(junk)
                    c.half_close()
                    got = c.wait_closed(timeout=120)
                finally:
                    c.close()
                if got:
                    self.assertRegex(got[:12], rb"^HTTP/1\.[01] (400|405|505|501)", got[:200])
        self.assertEqual(self.client.v2().status_code, 200)

    def test_bad_content_length(self):
        name = self.repo()
        loc = self.client.start_upload(name).headers["Location"]
        for value in ("abc", "-1", "1, 2", "99999999999999999999999"):
            with self.subTest(content_length=value):
                c = RawConn(self.server.host, self.server.port)
                try:
                    c.send_request_head("PATCH", path_of(loc), {"Content-Length": value, "Content-Type": "application/octet-stream"})
                    c.send(b"abc")
                    c.half_close()
                    got = c.wait_closed(timeout=120)
                finally:
                    c.close()
                if got:
                    self.assertRegex(got[:12], rb"^HTTP/1\.[01] (400|413|416)", got[:300])
        st = self.client.upload_status(loc)
        self.assertEqual(st.status_code, 204, describe(st))
        self.assertIn(self.upload_end(st), (-1, 0))

    def test_pipelined_requests(self):
        name = self.repo()
        d = self.client.push_blob(name, b"pipelined")
        with RawConn(self.server.host, self.server.port) as c:
            a = c.auth_line()
            req = (f"HEAD /v2/{name}/blobs/{d} HTTP/1.1\r\nHost: x\r\n{a}\r\n"
                   f"GET /v2/{name}/blobs/{d} HTTP/1.1\r\nHost: x\r\n{a}\r\n"
                   f"GET /v2/ HTTP/1.1\r\nHost: x\r\n{a}\r\n").encode()
            c.send(req)
            r1 = c.read_response(head_only=True)
            r2 = c.read_response()
            r3 = c.read_response()
        self.assertEqual(r1.status, 200, describe(r1))
        self.assertEqual(r1.header("Content-Length"), str(len(b"pipelined")))
        self.assertEqual((r2.status, r2.body), (200, b"pipelined"))
        self.assertEqual(r3.status, 200)

    def test_unknown_method_and_route(self):
        for method, target in (("BREW", "/v2/"), ("PUT", "/v2/"), ("GET", "/v3/"), ("GET", "/"),
                               ("TRACE", "/v2/x/blobs/uploads/")):
            with self.subTest(method=method, target=target):
                r = raw(self.server, method, target)
                self.assertIn(r.status, (400, 404, 405, 501), describe(r))
        self.assertEqual(self.client.v2().status_code, 200)


if __name__ == "__main__":
    unittest.main()


class TestBodyLimit(ServerTestCase, OciAsserts):
    """A body over --max-body-bytes is refused with SIZE_INVALID before anything is
    created: not the repository (create-on-push), not an upload."""

    create_on_push = True
    server_args = ("--max-body-bytes", "1000")

    def test_oversized_monolithic_push_changes_nothing(self):
        body = b"x" * 5000
        digest = "sha256:" + hashlib.sha256(body).hexdigest()
        r = self.client.request("POST", "/v2/limit/app/blobs/uploads/", params={"digest": digest}, data=body,
                                headers={"Content-Type": "application/octet-stream"})
        self.assertOciError(r, (413,), ("SIZE_INVALID",))
        self.assertNotIn("limit/app", self.client.catalog().json().get("repositories", []))
        self.assertEqual(self.server.blob_files(), {})

    def test_small_push_still_works(self):
        body = b"y" * 500
        digest = "sha256:" + hashlib.sha256(body).hexdigest()
        r = self.client.request("POST", "/v2/limit/ok/blobs/uploads/", params={"digest": digest}, data=body,
                                headers={"Content-Type": "application/octet-stream"})
        self.assertStatus(r, 201)
