#!/usr/bin/env python3
"""Server-side check of a kyso login proof, with the Python standard library and OpenSSL.

    verify_login.py CHALLENGE_B64 CMS_B64 ROOTS_PEM

The challenge must be one your server issued, not yet used and not expired (keep issued
challenges in your session store and delete them on first use): this script checks only the
signature. It verifies that the CMS is a detached signature over exactly the challenge bytes,
by a certificate chaining to ROOTS_PEM (your CA roots), then prints the signer's subject
(RFC 2253, with UID=MST:... / UID=CCCD:...) as JSON. Exit status 1 when it does not verify.
"""
import base64
import json
import subprocess
import sys
import tempfile
from pathlib import Path


def verify_login(challenge_b64: str, cms_b64: str, roots_pem: str) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        (tmp / "challenge").write_bytes(base64.b64decode(challenge_b64, validate=True))
        (tmp / "proof.p7s").write_bytes(base64.b64decode(cms_b64, validate=True))
        # -binary: sign exactly these bytes (no MIME canonicalisation); -purpose any: login
        # certificates are document-signing certificates, not S/MIME ones.
        subprocess.run(
            ["openssl", "cms", "-verify", "-binary", "-inform", "DER",
             "-in", tmp / "proof.p7s", "-content", tmp / "challenge",
             "-CAfile", roots_pem, "-purpose", "any",
             "-signer", tmp / "signer.pem", "-out", "/dev/null"],
            check=True, capture_output=True)
        subject = subprocess.run(
            ["openssl", "x509", "-in", tmp / "signer.pem", "-noout", "-subject",
             "-nameopt", "RFC2253,-esc_msb"],
            check=True, capture_output=True, text=True).stdout.strip()
    subject = subject.removeprefix("subject=")
    ids = {}
    for part in subject.split(","):
        key, _, value = part.partition("=")
        if key == "UID" and ":" in value:
            kind, _, number = value.partition(":")
            ids[kind] = number
    return {"subject": subject, "identifiers": ids}


if __name__ == "__main__":
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    try:
        print(json.dumps(verify_login(*sys.argv[1:]), ensure_ascii=False))
    except subprocess.CalledProcessError as error:
        print(f"login refused: {error.stderr.strip()}", file=sys.stderr)
        sys.exit(1)
