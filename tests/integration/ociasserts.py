"""Assertion helpers shared by the raw-HTTP test files."""

import json
import re

from harness import describe, error_codes

ERROR_CODES = {"BLOB_UNKNOWN", "BLOB_UPLOAD_INVALID", "BLOB_UPLOAD_UNKNOWN", "DIGEST_INVALID",
               "MANIFEST_BLOB_UNKNOWN", "MANIFEST_INVALID", "MANIFEST_UNKNOWN", "NAME_INVALID",
               "NAME_UNKNOWN", "SIZE_INVALID", "UNAUTHORIZED", "DENIED", "UNSUPPORTED",
               "TOOMANYREQUESTS"}


def _status(r):
    return r.status_code


def _header(r, name):
    if hasattr(r, "header"):
        return r.header(name)
    return r.headers.get(name)


def _body(r):
    return r.body if hasattr(r, "body") else r.content


class OciAsserts:
    """Mixin for unittest.TestCase."""

    def assertStatus(self, r, *statuses):
        self.assertIn(_status(r), statuses, describe(r))

    def assertOciError(self, r, statuses, codes, head=False):
        """`r` has one of `statuses` and, unless it answers a HEAD, an OCI error body
        ({"errors":[{"code","message","detail"?}]}) with one of `codes`."""
        statuses = (statuses,) if isinstance(statuses, int) else tuple(statuses)
        codes = (codes,) if isinstance(codes, str) else tuple(codes)
        self.assertIn(_status(r), statuses, describe(r))
        if head:
            return
        ctype = _header(r, "Content-Type") or ""
        self.assertIn("json", ctype, "error response without a JSON Content-Type: " + describe(r))
        try:
            body = json.loads(_body(r))
        except ValueError:
            self.fail("error body is not JSON: " + describe(r))
        self.assertIsInstance(body, dict, describe(r))
        self.assertIsInstance(body.get("errors"), list, describe(r))
        self.assertTrue(body["errors"], "empty errors list: " + describe(r))
        for e in body["errors"]:
            self.assertIsInstance(e, dict, describe(r))
            self.assertIsInstance(e.get("code"), str, describe(r))
            self.assertRegex(e["code"], r"^[A-Z_]+$", describe(r))
            self.assertIn(e["code"], ERROR_CODES, "error code not in the spec: " + describe(r))
            self.assertIsInstance(e.get("message"), str, "error without a message: " + describe(r))
            self.assertTrue(e["message"].strip(), "empty error message: " + describe(r))
            # The spec's detail is optional: absent when there is none, never null.
            self.assertTrue("detail" not in e or e["detail"] is not None, "null detail: " + describe(r))
        got = [e["code"] for e in body["errors"]]
        self.assertTrue(set(got) & set(codes), f"expected one of {codes}, got {got}: " + describe(r))

    def assertNot5xx(self, r):
        self.assertLess(_status(r), 500, describe(r))

    def assertRangeHeader(self, r, end):
        """`Range: 0-<end>` on an upload response."""
        value = _header(r, "Range")
        self.assertIsNotNone(value, "no Range header: " + describe(r))
        self.assertRegex(value.strip(), r"^(bytes=)?0-\d+$", describe(r))
        self.assertEqual(int(value.strip().rsplit("-", 1)[1]), end, describe(r))

    def upload_end(self, r):
        """The end offset in an upload response's Range header (-1 when the header says
        nothing was received: absent, `0-0` on an empty upload is ambiguous)."""
        value = _header(r, "Range")
        if value is None:
            return -1
        m = re.fullmatch(r"(?:bytes=)?0-(-?\d+)", value.strip())
        self.assertIsNotNone(m, "bad Range header: " + describe(r))
        return int(m.group(1))
