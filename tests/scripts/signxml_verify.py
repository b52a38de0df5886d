#!/usr/bin/env python3
"""Verify an enveloped XMLDSig with signxml (an implementation kyso did not write).

Usage: signxml_verify.py SIGNED.xml CA.pem [--references N] [--allow-sha1]

The signer certificate and any intermediates come from the signature's X509Data; CA.pem is
the only trust anchor. Prints "VERIFIED ..." and exits 0, or prints the
failure and exits 1. Used by tests/tests/xml_sign.rs.
"""
import argparse
import sys

from signxml import DigestAlgorithm, SignatureMethod
from signxml.verifier import SignatureConfiguration, XMLVerifier


def libxml2_c14n_adds_empty_xmlns() -> bool:
    from lxml import etree

    root = etree.fromstring(b'<r><s xmlns="urn:d"><i><j><t/></j></i></s></r>')
    inner = root.find(".//{urn:d}i")
    return b'xmlns=""' in etree.tostring(inner, method="c14n")


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("xml")
    parser.add_argument("ca")
    parser.add_argument("--references", type=int, default=1)
    parser.add_argument("--allow-sha1", action="store_true")
    args = parser.parse_args()
    with open(args.xml, "rb") as f:
        data = f.read()
    config = SignatureConfiguration(expect_references=args.references)
    if args.allow_sha1:
        config = SignatureConfiguration(
            expect_references=args.references,
            signature_methods=frozenset(SignatureMethod),
            digest_algorithms=frozenset(DigestAlgorithm),
        )
    verifier = XMLVerifier()
    note = ""
    if libxml2_c14n_adds_empty_xmlns():
        # lxml's bundled libxml2 (2.14.x) writes a spurious xmlns="" on grandchildren of a
        # subtree that inherits a default namespace, so its inclusive C14N of an unprefixed
        # SignedInfo is wrong. signxml's switch removes exactly those declarations.
        verifier.excise_empty_xmlns_declarations = True
        note = " (libxml2 C14N xmlns=\"\" bug worked around)"
    try:
        results = verifier.verify(data, ca_pem_file=args.ca, expect_config=config)
    except Exception as error:  # signxml raises several exception types; report any
        print(f"FAILED {type(error).__name__}: {error}")
        return 1
    if not isinstance(results, list):
        results = [results]
    print(f"VERIFIED {len(results)} reference(s){note}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
