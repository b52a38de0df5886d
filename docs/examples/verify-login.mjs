#!/usr/bin/env node
// Server-side check of a kyso login proof in Node.js (no dependencies; OpenSSL does the CMS).
//
//   node verify-login.mjs CHALLENGE_B64 CMS_B64 ROOTS_PEM
//
// As in verify_login.py: your server must have issued the challenge, accept it once and only
// while fresh; this checks the detached CMS over exactly those bytes and the chain to your
// roots, then prints the signer (subject and MST/CCCD) as JSON. Exit status 1 if refused.
import { execFileSync } from "node:child_process";
import { mkdtempSync, writeFileSync, readFileSync, rmSync } from "node:fs";
import { X509Certificate } from "node:crypto";
import { tmpdir } from "node:os";
import { join } from "node:path";

export function verifyLogin(challengeB64, cmsB64, rootsPem) {
  const dir = mkdtempSync(join(tmpdir(), "kyso-login-"));
  try {
    writeFileSync(join(dir, "challenge"), Buffer.from(challengeB64, "base64"));
    writeFileSync(join(dir, "proof.p7s"), Buffer.from(cmsB64, "base64"));
    execFileSync("openssl", ["cms", "-verify", "-binary", "-inform", "DER", "-in", join(dir, "proof.p7s"),
      "-content", join(dir, "challenge"), "-CAfile", rootsPem, "-purpose", "any",
      "-signer", join(dir, "signer.pem"), "-out", "/dev/null"], { stdio: ["ignore", "ignore", "pipe"] });
    const signer = new X509Certificate(readFileSync(join(dir, "signer.pem")));
    const identifiers = {};
    // Node prints UID as "UID=MST:0104359717-001" lines in the subject.
    for (const line of signer.subject.split("\n")) {
      const match = line.match(/^UID=([A-Z]+):(.+)$/);
      if (match) identifiers[match[1]] = match[2];
    }
    return { subject: signer.subject.split("\n").reverse().join(","), identifiers };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const [challenge, cms, roots] = process.argv.slice(2);
  if (!roots) {
    console.error("usage: node verify-login.mjs CHALLENGE_B64 CMS_B64 ROOTS_PEM");
    process.exit(2);
  }
  try {
    console.log(JSON.stringify(verifyLogin(challenge, cms, roots)));
  } catch (error) {
    console.error(`login refused: ${error.stderr?.toString().trim() ?? error.message}`);
    process.exit(1);
  }
}
