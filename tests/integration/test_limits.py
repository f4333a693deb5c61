"""--max-connections and --max-uploads: what a client sees at the limits.

Every wait here is a readiness check on /metrics (a connection is waiting for a slot, an
upload holds the slot), never a guess at how long something takes. The one clock is
the server's --io-timeout, which the refused upload waits out.
"""

import gc
import json
import threading
import time
import unittest

import harness
from harness import MT_OCTET, RawConn, ServerTestCase, error_codes, parse_range, sha256_digest

READY_TIMEOUT = 60  # seconds a readiness check may take before the test fails


def wait_for(predicate, what):
    deadline = time.monotonic() + READY_TIMEOUT
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"still waiting for {what} after {READY_TIMEOUT} s")
        time.sleep(0.01)


def accept_queue(port):
    """Connections waiting in the kernel for berth's listening sockets on `port` to accept
    them (for a listening socket, /proc/net/tcp's rx_queue is its accept queue)."""
    waiting = 0
    with open("/proc/net/tcp") as f:
        for line in f.readlines()[1:]:
            fields = line.split()
            local_port = int(fields[1].rsplit(":", 1)[1], 16)
            if local_port == port and fields[3] == "0A":  # TCP_LISTEN
                waiting += int(fields[4].split(":")[1], 16)
    return waiting


def metric(text, name):
    for line in text.splitlines():
        if line.startswith(name + " "):
            return int(float(line.split()[1]))
    raise AssertionError(f"{name} not in /metrics:\n{text}")


class TestConnectionLimit(ServerTestCase):
    server_args = ("--max-connections", "2")

    def conn(self):
        return RawConn(self.server.host, self.server.port)

    def metric(self, conn, name):
        r = conn.request("GET", "/metrics")
        self.assertEqual(r.status, 200, r)
        return metric(r.body.decode(), name)

    def test_a_connection_beyond_the_limit_waits_until_one_closes(self):
        # Connections the harness left to the garbage collector (boto3's login) would
        # hold a slot: close them, and start from this test's own connection alone.
        gc.collect()
        c1 = self.conn()
        wait_for(lambda: self.metric(c1, "berth_http_connections") == 1, "only this test's connection to be open")
        self.assertEqual(self.metric(c1, "berth_http_connections_max"), 2)
        # c2 is in the middle of a request head: busy, never reclaimed.
        c2 = self.conn()
        c2.sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: berth\r\n")
        wait_for(lambda: self.metric(c1, "berth_http_connections") == 2, "the second connection to be served")

        # At the limit, c1, idle between two requests as a client's pooled connection is,
        # is closed to make room (as nginx does), and the newcomer is served at once.
        c3 = self.conn()
        self.assertEqual(c3.request("GET", "/healthz").status, 200)
        self.assertEqual(c1.sock.recv(1), b"", "the idle connection was not closed")
        c1.sock.close()
        # c3 found the limit reached, but whether it had to wait depends on how fast c1's
        # close raced its request for a slot: count from here.
        delayed = self.metric(c3, "berth_http_connections_delayed_total")

        # Both slots busy (c3 now in a request head too): a fourth connection waits.
        c3.sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: berth\r\n")
        c4 = self.conn()
        c4.send_request_head("GET", "/healthz")
        # Accepted, with no slot to have (c2 and c3 are both in the middle of a request,
        # nothing is idle to close): it waits.
        wait_for(lambda: accept_queue(self.server.port) == 0, "berth to accept the fourth connection")
        c4.sock.setblocking(False)
        with self.assertRaises(BlockingIOError, msg="a connection beyond the limit was answered"):
            c4.sock.recv(1)
        c4.sock.settimeout(READY_TIMEOUT)
        # The open connections are still served meanwhile; the first to finish a request
        # closes after its answer (Connection: close) instead of staying open idle, which
        # lets the waiting one in.
        c2.sock.sendall(b"\r\n")
        resp = c2.read_response()
        self.assertEqual(resp.status, 200)
        self.assertEqual((resp.header("Connection") or "").lower(), "close", resp)
        self.assertEqual(c2.sock.recv(1), b"", "the connection that answered stayed open")
        c2.sock.close()
        self.assertEqual(c4.read_response().status, 200)
        r = c4.request("GET", "/metrics")
        self.assertEqual(metric(r.body.decode(), "berth_http_connections_waiting"), 0)
        self.assertEqual(metric(r.body.decode(), "berth_http_connections_delayed_total"), delayed + 1)
        self.assertGreaterEqual(metric(r.body.decode(), "berth_http_connections_reclaimed_total"), 2)
        with open(self.server.log_path, "rb") as f:
            log = f.read().decode(errors="replace")
        self.assertEqual(log.count("connection limit of 2 reached"), 1, self.server.log_tail())
        c3.sock.close()
        c4.sock.close()


class TestUploadLimit(ServerTestCase):
    IO_TIMEOUT = 3
    server_args = ("--max-uploads", "1", "--io-timeout", str(IO_TIMEOUT))

    def metric(self, name):
        r = self.client.s.get(self.server.base_url + "/metrics", timeout=READY_TIMEOUT)
        self.assertEqual(r.status_code, 200)
        return metric(r.text, name)

    def hold_slot(self, repo):
        """A PATCH whose body trickles in, holding the only upload slot. Returns the
        connection (close() or reset() it) and a function that stops the trickle."""
        wait_for(lambda: self.metric("berth_uploads_receiving") == 0, "the upload slot to be free")
        r = self.client.start_upload(repo)
        self.assertEqual(r.status_code, 202, harness.describe(r))
        conn = RawConn(self.server.host, self.server.port)
        conn.send_request_head("PATCH", r.headers["Location"],
                               {"Content-Type": MT_OCTET, "Content-Length": str(1 << 20)})
        stop = threading.Event()

        # A byte every 50 ms keeps the body progressing, so --io-timeout never ends it
        # while it holds the slot.
        def trickle():
            while not stop.wait(0.05):
                try:
                    conn.send(b"x")
                except OSError:
                    return

        t = threading.Thread(target=trickle, daemon=True)
        t.start()

        def stop_trickle():
            stop.set()
            t.join()

        self.addCleanup(stop_trickle)
        wait_for(lambda: self.metric("berth_uploads_receiving") == 1, "the trickling PATCH to hold the slot")
        return conn, stop_trickle

    def test_an_upload_beyond_the_limit_gets_429_and_stays_resumable(self):
        repo = self.repo()
        data = bytes(range(256)) * 8
        r = self.client.start_upload(repo)
        self.assertEqual(r.status_code, 202, harness.describe(r))
        r = self.client.patch(r.headers["Location"], data[:1024], "0-1023")
        self.assertEqual(r.status_code, 202, harness.describe(r))
        location = r.headers["Location"]
        refused_before = self.metric("berth_uploads_refused_total")

        holder, stop_trickle = self.hold_slot(repo)
        c = RawConn(self.server.host, self.server.port)
        c.send_request_head("PATCH", location, {"Content-Type": MT_OCTET, "Content-Range": "1024-2047",
                                                "Content-Length": "1024"})
        c.send(data[1024:])
        wait_for(lambda: self.metric("berth_uploads_waiting") == 1, "the second PATCH to wait for the slot")
        resp = c.read_response()  # after --io-timeout
        self.assertEqual(resp.status, 429, resp)
        self.assertEqual(error_codes(resp), ["TOOMANYREQUESTS"], resp)
        self.assertIn("too many uploads in progress", resp.json()["errors"][0]["message"])
        self.assertGreater(int(resp.header("Retry-After")), 0, resp)
        self.assertEqual(parse_range(resp.header("Range")), (0, 1023), resp)
        c.sock.close()
        self.assertEqual(self.metric("berth_uploads_refused_total"), refused_before + 1)
        # Nothing changed: the upload is where it was.
        st = self.client.upload_status(location)
        self.assertEqual(st.status_code, 204, harness.describe(st))
        self.assertEqual(parse_range(st.headers["Range"]), (0, 1023))

        # A monolithic POST is refused before it creates an upload session.
        r = self.client.start_upload(repo, data=data, digest=sha256_digest(data))
        self.assertEqual(r.status_code, 429, harness.describe(r))
        self.assertIn("Retry-After", r.headers)
        self.assertNotIn("Location", r.headers)

        stop_trickle()
        holder.sock.close()
        # Once the slot is free the refused upload resumes from its offset and completes.
        r = self.client.patch(location, data[1024:], "1024-2047")
        self.assertEqual(r.status_code, 202, harness.describe(r))
        r = self.client.put_upload(r.headers["Location"], sha256_digest(data))
        self.assertEqual(r.status_code, 201, harness.describe(r))
        self.assertEqual(self.client.get_blob(repo, sha256_digest(data)).content, data)

    def test_an_unknown_upload_or_a_chunk_out_of_order_is_answered_without_a_slot(self):
        # Had they waited for the slot, both would end in 429 after --io-timeout instead.
        repo = self.repo()
        r = self.client.start_upload(repo)
        self.assertEqual(r.status_code, 202, harness.describe(r))
        location = r.headers["Location"]
        refused_before = self.metric("berth_uploads_refused_total")
        holder, stop_trickle = self.hold_slot(repo)
        unknown = location.rsplit("/", 1)[0] + "/00000000-0000-4000-8000-000000000000"
        r = self.client.patch(unknown, b"abcd", "0-3")
        self.assertEqual(r.status_code, 404, harness.describe(r))
        self.assertEqual(error_codes(r), ["BLOB_UPLOAD_UNKNOWN"])
        r = self.client.patch(location, b"abcd", "8-11")
        self.assertEqual(r.status_code, 416, harness.describe(r))
        self.assertEqual(error_codes(r), ["BLOB_UPLOAD_INVALID"])
        self.assertEqual(parse_range(r.headers["Range"]), (0, 0))
        r = self.client.put_upload(unknown, sha256_digest(b"abcd"), data=b"abcd")
        self.assertEqual(r.status_code, 404, harness.describe(r))
        self.assertEqual(self.metric("berth_uploads_refused_total"), refused_before)
        stop_trickle()
        holder.sock.close()

    def large_manifest(self, repo):
        """An image manifest of over 100 KiB (a padding annotation) whose blobs are in `repo`."""
        config, layer = b'{"architecture":"amd64","os":"linux"}', b"layer bytes"
        for blob in (config, layer):
            self.client.push_blob(repo, blob)
        return json.dumps({
            "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                       "digest": sha256_digest(config), "size": len(config)},
            "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar",
                        "digest": sha256_digest(layer), "size": len(layer)}],
            "annotations": {"padding": "x" * (100 * 1024)},
        }).encode()

    def test_a_large_ecr_request_waits_for_a_slot_too(self):
        import boto3
        import botocore.config
        import botocore.exceptions
        key_id, secret = harness.root_keys(self.server.data_dir)
        ecr = boto3.client("ecr", endpoint_url=self.server.base_url, region_name="us-east-1",
                           aws_access_key_id=key_id, aws_secret_access_key=secret,
                           config=botocore.config.Config(retries={"max_attempts": 1}))
        repo = self.repo()
        # A PutImage body over 64 KiB is held whole in memory, so it needs the slot the
        # trickling PATCH holds.
        manifest = self.large_manifest(repo).decode()
        holder, stop_trickle = self.hold_slot(repo)
        # A small request is served at once meanwhile.
        self.assertEqual(ecr.describe_repositories(repositoryNames=[repo])["repositories"][0]["repositoryName"], repo)
        with self.assertRaises(botocore.exceptions.ClientError) as caught:
            ecr.put_image(repositoryName=repo, imageManifest=manifest, imageTag="big")
        self.assertEqual(caught.exception.response["Error"]["Code"], "ThrottlingException")
        self.assertIn("too many uploads in progress", caught.exception.response["Error"]["Message"])
        self.assertEqual(ecr.list_images(repositoryName=repo)["imageIds"], [])  # nothing changed
        stop_trickle()
        holder.sock.close()
        out = ecr.put_image(repositoryName=repo, imageManifest=manifest, imageTag="big")
        self.assertEqual(out["image"]["imageId"]["imageTag"], "big")

    def test_a_large_ecr_request_without_a_known_key_takes_no_slot(self):
        # Were it let in to wait for a slot, anyone could hold every slot the pushes need
        # by trickling such bodies in. Refused from its head: the body is never sent here.
        now = time.gmtime()
        amz_date, day = time.strftime("%Y%m%dT%H%M%SZ", now), time.strftime("%Y%m%d", now)
        forged = (f"AWS4-HMAC-SHA256 Credential=AKIAUNKNOWNKEY000000/{day}/us-east-1/ecr/aws4_request, "
                  f"SignedHeaders=host;x-amz-date;x-amz-target, Signature={'0' * 64}")
        head = {"X-Amz-Target": "AmazonEC2ContainerRegistry_V20150921.PutImage",
                "Content-Type": "application/x-amz-json-1.1", "Content-Length": str(100 * 1024),
                "X-Amz-Date": amz_date}
        for authorization, code in ((None, "MissingAuthenticationTokenException"),
                                    (forged, "UnrecognizedClientException")):
            c = RawConn(self.server.host, self.server.port)
            c.send_request_head("POST", "/", dict(head, **({"Authorization": authorization} if authorization else {})),
                                login=False)
            resp = c.read_response()
            self.assertEqual(resp.status, 403, resp)
            self.assertEqual(resp.json()["__type"], code, resp)
            c.sock.close()

    def test_a_large_manifest_put_waits_for_a_slot_too(self):
        repo = self.repo()
        manifest = self.large_manifest(repo)
        holder, stop_trickle = self.hold_slot(repo)
        r = self.client.put_manifest(repo, "big", manifest, "application/vnd.oci.image.manifest.v1+json")
        self.assertEqual(r.status_code, 429, harness.describe(r))
        self.assertEqual(error_codes(r), ["TOOMANYREQUESTS"])
        self.assertIn("Retry-After", r.headers)
        self.assertEqual(self.client.get_manifest(repo, "big").status_code, 404)  # nothing stored
        stop_trickle()
        holder.sock.close()
        r = self.client.put_manifest(repo, "big", manifest, "application/vnd.oci.image.manifest.v1+json")
        self.assertEqual(r.status_code, 201, harness.describe(r))

    def test_a_client_that_disconnects_mid_body_gives_its_slot_back(self):
        repo = self.repo()
        holder, stop_trickle = self.hold_slot(repo)
        stop_trickle()
        holder.reset()
        # The next upload gets the slot; were it still held, this would wait out
        # --io-timeout and get 429.
        data = b"after the disconnect" * 100
        digest = self.client.push_blob(repo, data)
        self.assertEqual(self.client.get_blob(repo, digest).content, data)
        self.assertEqual(self.metric("berth_uploads_receiving"), 0)


if __name__ == "__main__":
    unittest.main()
