#!/usr/bin/env python3
"""Writes the SigV4 fixtures that src/auth/sigv4_test.cpp verifies.

Every signature here is botocore's own, so the C++ verifier is checked against the
signer the `aws` CLI and boto3 use, not against a second implementation of ours.
The header-form ECR calls go through a real botocore `ecr` client: the request is
captured at `before-send` (nothing leaves the process), so method, path, headers and
body are exactly what would have been on the wire. The clock is frozen by patching
botocore.auth.get_current_datetime, which SigV4Auth.add_auth reads for the timestamp.

Run from anywhere:  python3 tests/data/sigv4/make_fixtures.py
"""

import calendar
import datetime
import hashlib
import json
import os
import pathlib
import sys
import uuid
from unittest import mock
from urllib.parse import urlsplit

import botocore.session
from botocore.auth import UNSIGNED_PAYLOAD, SigV4Auth, SigV4QueryAuth
from botocore.awsrequest import AWSRequest, AWSResponse
from botocore.credentials import Credentials

OUT = pathlib.Path(__file__).resolve().parent
ENDPOINT = "http://127.0.0.1:5000"
REGION = "us-east-1"
SERVICE = "ecr"
ACCESS_KEY = "AKIAIOSFODNN7EXAMPLE"
SECRET_KEY = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
TEMP_ACCESS_KEY = "ASIAJEXAMPLEXEG2JICEA"
TEMP_SECRET_KEY = "9drTJvcXLB89EXAMPLELB8923FB892xMFI"
SESSION_TOKEN = ("IQoJb3JpZ2luX2VjEXAMPLE+token/with=base64//chars"
                 "AQoDYXdzEJr//////////wEaDEXAMPLEtokenEXAMPLEtokenEXAMPLE==")
FROZEN = datetime.datetime(2024, 5, 1, 12, 0, 0)  # naive UTC, as botocore uses


def epoch_ms(dt):
    return calendar.timegm(dt.timetuple()) * 1000


def frozen_clock():
    return mock.patch("botocore.auth.get_current_datetime", return_value=FROZEN)


def text(v):
    return v.decode("utf-8") if isinstance(v, bytes) else str(v)


def wire_headers(headers, url):
    """Header (name, value) pairs as an HTTP server would see them: names lowercased.
    The HTTP client adds Host itself; botocore signs the same value (_host_from_url)."""
    out = [(k.lower(), text(v)) for k, v in headers.items()]
    if not any(k == "host" for k, _ in out):
        out.insert(0, ("host", urlsplit(url).netloc))
    return out


def fixture(name, form, method, url, headers, body, access_key, secret, token,
            expires=None, note=""):
    parts = urlsplit(url)
    body = body or b""
    if isinstance(body, str):
        body = body.encode("utf-8")
    doc = {
        "name": name,
        "note": note,
        "form": form,
        "method": method,
        "path": parts.path or "/",
        "query": parts.query,
        "headers": [[k, v] for k, v in headers],
        "body": body.decode("utf-8"),
        "body_sha256": hashlib.sha256(body).hexdigest(),
        "access_key_id": access_key,
        "secret_access_key": secret,
        "session_token": token or "",
        "region": REGION,
        "service": SERVICE,
        "timestamp": FROZEN.strftime("%Y%m%dT%H%M%SZ"),
        "signed_at_ms": epoch_ms(FROZEN),
    }
    if expires is not None:
        doc["expires"] = expires
    (OUT / f"{name}.json").write_text(json.dumps(doc, indent=2, ensure_ascii=False) + "\n")
    print("wrote", name)


def capture_client_call(name, operation, params, token=None, note=""):
    """Signs an ECR call with a real botocore client and captures it before it is sent."""
    access_key = TEMP_ACCESS_KEY if token else ACCESS_KEY
    secret = TEMP_SECRET_KEY if token else SECRET_KEY
    session = botocore.session.get_session()
    client = session.create_client(
        "ecr", region_name=REGION, endpoint_url=ENDPOINT,
        aws_access_key_id=access_key, aws_secret_access_key=secret, aws_session_token=token)
    captured = {}

    def before_send(request, **_):
        captured["request"] = request
        return AWSResponse(request.url, 200, {}, None)

    client.meta.events.register("before-send.ecr.*", before_send)
    # amz-sdk-invocation-id is a fresh uuid4 per call (not signed): fixed, so reruns diff clean.
    with frozen_clock(), mock.patch("uuid.uuid4", return_value=uuid.UUID(int=0x5167)):
        try:
            getattr(client, operation)(**params)
        except Exception:  # the empty fake response may not parse; the request is what we want
            pass
    req = captured["request"]
    fixture(name, "header", req.method, req.url, wire_headers(req.headers, req.url), req.body,
            access_key, secret, token, note=note)


def sign_headers(name, method, url, headers, body, context=None, note=""):
    """Header-form signing of a hand-built request (for shapes the ECR client never makes)."""
    request = AWSRequest(method=method, url=url, headers=headers, data=body)
    request.context.update(context or {})
    with frozen_clock():
        SigV4Auth(Credentials(ACCESS_KEY, SECRET_KEY), SERVICE, REGION).add_auth(request)
    fixture(name, "header", method, request.url, wire_headers(request.headers, request.url), body,
            ACCESS_KEY, SECRET_KEY, None, note=note)


class UnsignedPayloadQueryAuth(SigV4QueryAuth):
    """Presigned URLs as berth itself issues them (GetDownloadUrlForLayer): the payload is
    UNSIGNED-PAYLOAD, as AWS documents for query-string signing. Path and query handling
    are plain SigV4QueryAuth's (the non-S3 rules), only the payload line differs."""

    def payload(self, request):
        return UNSIGNED_PAYLOAD


def presign(name, auth_cls, url, expires, token=None, note=""):
    access_key = TEMP_ACCESS_KEY if token else ACCESS_KEY
    secret = TEMP_SECRET_KEY if token else SECRET_KEY
    request = AWSRequest(method="GET", url=url)
    with frozen_clock():
        auth_cls(Credentials(access_key, secret, token), SERVICE, REGION, expires=expires).add_auth(request)
    # A client following the URL sends only Host (plus headers nobody signed).
    headers = wire_headers({"User-Agent": "skopeo/1.13"}, request.url)
    fixture(name, "presigned", "GET", request.url, headers, b"", access_key, secret, token,
            expires=expires, note=note)


def main():
    capture_client_call(
        "ecr_create_repository", "create_repository",
        {"repositoryName": "team/my-app", "imageScanningConfiguration": {"scanOnPush": True},
         "tags": [{"Key": "env", "Value": "prod  with   spaces"}]},
        note="POST / with X-Amz-Target and a JSON body, as the aws CLI sends it")
    capture_client_call(
        "ecr_describe_images_session_token", "describe_images",
        {"repositoryName": "team/my-app", "maxResults": 10},
        token=SESSION_TOKEN,
        note="temporary credentials: X-Amz-Security-Token header, signed")
    sign_headers(
        "header_get_path_and_query", "GET",
        ENDPOINT + "/v2//team/./my%20app/../my-app/tags/list?n=10&last=a%2Fb&Z=%7E&empty=",
        {"Accept": "application/json", "X-Custom": "  a   b\t c  "}, b"",
        note="non-normalized path (//, ., ..) and an encoded path segment: botocore normalizes "
             "then quotes once more (safe='/~'); query signed as sent")
    sign_headers(
        "header_date_header", "POST", ENDPOINT + "/",
        {"Date": "Wed, 01 May 2024 11:00:00 GMT", "Content-Type": "application/x-amz-json-1.1",
         "X-Amz-Target": "AmazonEC2ContainerRegistry_V20150921.DescribeRegistry"}, b"{}",
        note="Date header instead of X-Amz-Date (botocore rewrites Date to the signing time)")
    sign_headers(
        "header_unsigned_payload", "POST", "https://registry.example.com/",
        {"Content-Type": "application/x-amz-json-1.1",
         "X-Amz-Target": "AmazonEC2ContainerRegistry_V20150921.UploadLayerPart"},
        b'{"partFirstByte":0}', context={"payload_signing_enabled": False},
        note="X-Amz-Content-SHA256: UNSIGNED-PAYLOAD (botocore over https with payload "
             "signing off)")
    presign(
        "presigned_get", UnsignedPayloadQueryAuth,
        ENDPOINT + "/v2/team/my%20app/blobs/sha256:" + "ab" * 32
        + "?note=a%20b%2Fc&emoji=%E2%9C%93&star=x*y&tilde=~t&empty=",
        expires=900,
        note="presigned GET, payload UNSIGNED-PAYLOAD; path segments and query values "
             "that need encoding")
    presign(
        "presigned_get_session_token", SigV4QueryAuth,
        ENDPOINT + "/v2/team/my-app/blobs/sha256:" + "cd" * 32,
        expires=3600, token=SESSION_TOKEN,
        note="presigned by plain botocore SigV4QueryAuth: payload line is the empty-body "
             "SHA-256 over http; X-Amz-Security-Token in the query")


if __name__ == "__main__":
    # The User-Agent lists feature codes in set order; a fixed hash seed keeps reruns identical.
    if os.environ.get("PYTHONHASHSEED") != "0":
        os.execve(sys.executable, [sys.executable, *sys.argv], {**os.environ, "PYTHONHASHSEED": "0"})
    main()
