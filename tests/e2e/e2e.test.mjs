// End-to-end: the demo portal and the SDK in Debian's headless Chromium, against a real
// `kyso demo` (agent + portal) on the demo SoftHSM token, with the scripted prompter.
//
// - The agent's local CA and the portal's own test CA are trusted through an NSS database in a
//   temporary HOME (certutil), as a user's Chrome would: no certificate-error flags.
// - The portal runs on its own https origin, https://portal.test:PORT (the name mapped to
//   127.0.0.1 with --host-resolver-rules); https://evil.test:PORT is the same server under a
//   name the agent does not allow.
// - Chrome's Local Network Access: a second browser marks the portal's address public
//   (--ip-address-space-overrides) and the permission is granted or denied per context.
// - Signatures made in the page are downloaded and checked by OpenSSL (CMS) and pdfsig (PDF).
//
// Run: scripts/test.sh (or `npm test` here with KYSO_BIN pointing at a built kyso).

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn, execFileSync } from "node:child_process";
import { mkdtempSync, mkdirSync, writeFileSync, readFileSync, rmSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { randomBytes } from "node:crypto";
import { join, dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { createInterface } from "node:readline";
import { chromium } from "playwright-core";

const here = dirname(fileURLToPath(import.meta.url));
const repo = resolve(here, "../..");
const targetDir = process.env.CARGO_TARGET_DIR ?? join(repo, "target");
const KYSO = process.env.KYSO_BIN ?? join(targetDir, "debug", "kyso");
const CHROMIUM = process.env.CHROMIUM ?? "/usr/bin/chromium";
const SCREENSHOTS = process.env.E2E_SCREENSHOTS ?? join(repo, "target", "e2e-screenshots");
const PIN = "123456";

const tmp = mkdtempSync(join(tmpdir(), "kyso-e2e-"));
const home = join(tmp, "home");
const env = {
  ...process.env,
  HOME: home,
  XDG_CONFIG_HOME: join(home, ".config"),
  XDG_DATA_HOME: join(home, ".local/share"),
  // No desktop: the demo must not try to open a browser or native dialogs.
  DISPLAY: "",
  WAYLAND_DISPLAY: "",
};
const dataDir = join(env.XDG_DATA_HOME, "kyso");
const answers = join(tmp, "answers.json");

let demo; // the `kyso demo` process
let agentPort;
let portalPort;
let portal; // https://portal.test:PORT
let browser; // portal on loopback, as on a developer's machine
let publicBrowser; // portal's address marked public (Local Network Access)
const children = [];

function run(command, args, options = {}) {
  return execFileSync(command, args, { env, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"], ...options });
}

/** Starts `kyso ARGS` and resolves with the lines it printed once `ready(lines)` is true. */
function startKyso(args, ready, extraEnv = {}) {
  const child = spawn(KYSO, args, { env: { ...env, ...extraEnv }, stdio: ["ignore", "pipe", "inherit"] });
  children.push(child);
  const lines = [];
  return new Promise((resolveStart, reject) => {
    const timer = setTimeout(() => reject(new Error(`kyso ${args[0]} did not start: ${lines.join("\n")}`)), 120_000);
    child.on("exit", (code) => reject(new Error(`kyso ${args[0]} exited with ${code}: ${lines.join("\n")}`)));
    createInterface({ input: child.stdout }).on("line", (line) => {
      lines.push(line);
      if (ready(lines)) {
        clearTimeout(timer);
        resolveStart({ child, lines });
      }
    });
  });
}

function portOf(lines, pattern) {
  const line = lines.find((l) => pattern.test(l));
  return Number(line?.match(/:(\d+)\/?\s*$/)?.[1]);
}

/** A test CA and a leaf for portal.test and evil.test, made with OpenSSL. */
function makePortalPki(dir) {
  mkdirSync(dir, { recursive: true });
  const p = (name) => join(dir, name);
  run("openssl", ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "2",
    "-subj", "/CN=kyso e2e portal test CA", "-addext", "basicConstraints=critical,CA:TRUE",
    "-addext", "keyUsage=critical,keyCertSign,cRLSign", "-keyout", p("ca-key.pem"), "-out", p("ca.pem")]);
  run("openssl", ["req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-subj", "/CN=portal.test",
    "-keyout", p("portal-key.pem"), "-out", p("portal.csr")]);
  writeFileSync(p("ext.cnf"), "subjectAltName=DNS:portal.test,DNS:evil.test\nextendedKeyUsage=serverAuth\nbasicConstraints=CA:FALSE\n");
  run("openssl", ["x509", "-req", "-in", p("portal.csr"), "-CA", p("ca.pem"), "-CAkey", p("ca-key.pem"), "-CAcreateserial",
    "-days", "2", "-extfile", p("ext.cnf"), "-out", p("portal.pem")]);
  return { ca: p("ca.pem"), cert: p("portal.pem"), key: p("portal-key.pem") };
}

/** Trusts `pem` in `nssdb`: for TLS servers by default, for document signatures with `"signing"`. */
function trust(nssdb, name, pem, purpose = "tls") {
  // NSS trust flags are "TLS,e-mail,object signing"; pdfsig checks signers under e-mail usage.
  const flags = purpose === "signing" ? ",C," : "C,,";
  run("certutil", ["-A", "-d", `sql:${nssdb}`, "-n", name, "-t", flags, "-i", pem]);
}

async function launch(extraArgs, browserEnv = env) {
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    env: browserEnv,
    // Chromium refuses its sandbox as root (CI containers); this is not a certificate flag.
    chromiumSandbox: process.getuid?.() !== 0,
    args: ["--host-resolver-rules=MAP portal.test 127.0.0.1, MAP evil.test 127.0.0.1", ...extraArgs],
  });
}

async function shot(page, name) {
  mkdirSync(SCREENSHOTS, { recursive: true });
  await page.screenshot({ path: join(SCREENSHOTS, `${name}.png`), fullPage: true });
}

async function openPortal(context, url = `${portal}/`) {
  const page = await context.newPage();
  page.on("console", (m) => m.type() === "error" && console.error(`[page] ${m.text()}`));
  await page.goto(url);
  await page.locator('#status:not([data-state="pending"])').waitFor({ timeout: 30_000 });
  return page;
}

async function download(page, selector, path) {
  const [file] = await Promise.all([page.waitForEvent("download"), page.click(selector)]);
  await file.saveAs(path);
  return path;
}

function opensslVerify(signature, content) {
  return run("openssl", ["cms", "-verify", "-binary", "-inform", "DER", "-in", signature, "-content", content,
    "-CAfile", join(dataDir, "demo-token", "demo-root.pem"), "-purpose", "any", "-out", "/dev/null"]);
}

before(async () => {
  assert.ok(existsSync(KYSO), `kyso binary not found at ${KYSO}: run cargo build -p kyso (or set KYSO_BIN)`);
  assert.ok(existsSync(CHROMIUM), `Chromium not found at ${CHROMIUM}: run scripts/setup.sh test`);
  mkdirSync(home, { recursive: true });
  // Consent is not scripted: an origin the agent does not already allow is refused.
  writeFileSync(answers, JSON.stringify({ pin: PIN, certificate: "first", confirm: true }));
  const pki = makePortalPki(join(tmp, "portal-pki"));
  const started = await startKyso(
    ["demo", "--port", "0", "--portal-host", "portal.test", "--portal-cert", pki.cert, "--portal-key", pki.key,
      "--prompter", `scripted:${answers}`, "--no-browser"],
    (lines) => lines.some((l) => l.includes("demo portal:")),
  );
  demo = started.child;
  agentPort = portOf(started.lines, /kyso agent:/);
  portalPort = portOf(started.lines, /demo portal:/);
  assert.ok(agentPort > 0 && portalPort > 0, started.lines.join("\n"));
  portal = `https://portal.test:${portalPort}`;
  const nssdb = join(home, ".pki", "nssdb");
  mkdirSync(nssdb, { recursive: true });
  run("certutil", ["-N", "-d", `sql:${nssdb}`, "--empty-password"]);
  trust(nssdb, "kyso local CA", join(dataDir, "tls", "ca.pem"));
  trust(nssdb, "kyso e2e portal CA", pki.ca);
  browser = await launch([]);
  publicBrowser = await launch([`--ip-address-space-overrides=127.0.0.1:${portalPort}=public`]);
});

after(async () => {
  await browser?.close();
  await publicBrowser?.close();
  for (const child of children) if (child.exitCode === null) child.kill("SIGTERM");
  rmSync(tmp, { recursive: true, force: true });
});

test("the portal detects the agent over WebSocket", async () => {
  const context = await browser.newContext();
  const page = await openPortal(context);
  await shot(page, "01-detect");
  assert.equal(await page.getAttribute("#status", "data-state"), "ok");
  assert.match(await page.textContent("#status"), /Đã kết nối kyso .* \(WebSocket\) — 1 token/);
  await context.close();
});

test("the SDK is served by the agent as a cacheable ES module", async () => {
  const context = await browser.newContext();
  const page = await context.newPage();
  const response = await page.goto(`https://localhost:${agentPort}/kyso.js`);
  assert.equal(response.status(), 200);
  assert.match(response.headers()["content-type"], /text\/javascript/);
  assert.match(response.headers()["cache-control"], /max-age/);
  assert.match(await response.text(), /export async function connect/);
  await context.close();
});

test("the portal lists the demo token's certificates with their MST and CCCD", async () => {
  const context = await browser.newContext();
  const page = await openPortal(context);
  await page.click("#list");
  await page.locator("#certs tbody tr").first().waitFor();
  const table = await page.textContent("#certs");
  await shot(page, "02-certificates");
  assert.match(table, /MST: 0104359717/);
  assert.match(table, /CCCD: \d+/);
  await context.close();
});

test("logging in signs the server's challenge and the server names the signer", async () => {
  const context = await browser.newContext();
  const page = await openPortal(context);
  await page.click("#login");
  await page.locator("#login-result:not(:empty), #login-error .error").first().waitFor();
  await shot(page, "03-login");
  assert.equal(await page.locator("#login-error .error").count(), 0, await page.textContent("#login-error"));
  const result = await page.textContent("#login-result");
  assert.match(result, /^Xin chào .+ — (MST|CCCD): .+Đăng nhập thành công\.$/);
  await context.close();
});

test("the INTEGRATION.md server examples (Python, Node) accept a real login proof and refuse a wrong challenge", async () => {
  const context = await browser.newContext();
  const page = await openPortal(context);
  const challenge = randomBytes(32).toString("base64");
  const proof = await page.evaluate(async (challenge) => {
    const { connect } = await import("/kyso.js");
    const kyso = await connect({ port: Number(document.querySelector('meta[name="kyso-agent-port"]').content) });
    return kyso.authenticate(challenge);
  }, challenge);
  const roots = join(dataDir, "demo-token", "demo-root.pem");
  const other = randomBytes(32).toString("base64");
  for (const [command, script] of [["python3", "verify_login.py"], ["node", "verify-login.mjs"]]) {
    const example = join(repo, "docs", "examples", script);
    const who = JSON.parse(run(command, [example, challenge, proof.cms, roots]));
    assert.ok(Object.keys(who.identifiers).some((k) => k === "MST" || k === "CCCD"), `${script}: ${JSON.stringify(who)}`);
    assert.throws(() => run(command, [example, other, proof.cms, roots]), `${script} accepted a proof for another challenge`);
  }
  await context.close();
});

test("a file signed in the page downloads as a .p7s that OpenSSL verifies", async () => {
  const context = await browser.newContext({ acceptDownloads: true });
  const page = await openPortal(context);
  const content = join(tmp, "hop-dong.txt");
  writeFileSync(content, "Hợp đồng mẫu — ký bằng kyso\n");
  await page.setInputFiles("#cms-file", content);
  await page.click("#cms-sign");
  await page.locator("#cms-result a, #cms-error .error").first().waitFor();
  await shot(page, "04-cms");
  const signature = await download(page, "#cms-result a", join(tmp, "hop-dong.txt.p7s"));
  assert.match(opensslVerify(signature, content) + "", /^$/);
  // The same signature does not verify other content: the check is real.
  const other = join(tmp, "other.txt");
  writeFileSync(other, "something else\n");
  assert.throws(() => opensslVerify(signature, other));
  await context.close();
});

test("three files signed as a batch each verify with OpenSSL, with progress shown", async () => {
  const context = await browser.newContext({ acceptDownloads: true });
  const page = await openPortal(context);
  const files = [1, 2, 3].map((n) => {
    const path = join(tmp, `to-khai-${n}.xml`);
    writeFileSync(path, `<ToKhai so="${n}">Quý ${n}/2026</ToKhai>\n`);
    return path;
  });
  await page.setInputFiles("#batch-files", files);
  await page.click("#batch-sign");
  await page.locator("#batch-result a:nth-of-type(1), #batch-error .error").first().waitFor();
  await page.waitForFunction(() => document.querySelectorAll("#batch-result a").length === 3 || document.querySelector("#batch-error .error"));
  await shot(page, "05-batch");
  assert.equal(await page.getAttribute("#batch-progress", "value"), "3");
  const links = page.locator("#batch-result a");
  assert.equal(await links.count(), 3);
  for (let i = 0; i < 3; i++) {
    const [file] = await Promise.all([page.waitForEvent("download"), links.nth(i).click()]);
    const saved = join(tmp, `batch-${i + 1}.p7s`);
    await file.saveAs(saved);
    opensslVerify(saved, files[i]);
  }
  await context.close();
});

test("a PDF signed visibly in the page downloads and pdfsig validates it", async () => {
  const context = await browser.newContext({ acceptDownloads: true });
  const page = await openPortal(context);
  const pdf = join(tmp, "don-de-nghi.pdf");
  writeFileSync(pdf, minimalPdf());
  await page.setInputFiles("#pdf-file", pdf);
  await page.click("#pdf-sign");
  await page.locator("#pdf-result a, #pdf-error .error").first().waitFor({ timeout: 60_000 });
  await shot(page, "06-pdf");
  assert.equal(await page.locator("#pdf-error .error").count(), 0, await page.textContent("#pdf-error"));
  const signed = await download(page, "#pdf-result a", join(tmp, "don-de-nghi-da-ky.pdf"));
  // pdfsig with an NSS database trusting only the demo root.
  const nssdb = join(tmp, "pdfsig-nssdb");
  mkdirSync(nssdb, { recursive: true });
  run("certutil", ["-N", "-d", `sql:${nssdb}`, "--empty-password"]);
  trust(nssdb, "kyso demo root", join(dataDir, "demo-token", "demo-root.pem"), "signing");
  const report = run("pdfsig", ["-nssdir", `sql:${nssdb}`, signed]);
  assert.match(report, /Signature Validation: Signature is Valid/);
  assert.match(report, /Certificate Validation: Certificate is Trusted/);
  assert.match(report, /Signer full Distinguished Name: .*UID=(MST|CCCD):/);
  // The original file was not touched.
  assert.deepEqual(readFileSync(pdf), minimalPdf());
  // The SDK's verifyPdf agrees with pdfsig on the file and on a copy with one byte changed.
  const bytes = readFileSync(signed);
  const tampered = Buffer.from(bytes);
  tampered[bytes.indexOf("Don de nghi")] ^= 0x01; // the page's own text: D becomes E
  const verdicts = await page.evaluate(async ([good, bad]) => {
    const { connect, fromBase64 } = await import("/kyso.js");
    const kyso = await connect({ port: Number(document.querySelector('meta[name="kyso-agent-port"]').content) });
    const check = async (b64) => (await kyso.verifyPdf(fromBase64(b64))).signatures.map((s) => [s.intact, s.trusted]);
    return [await check(good), await check(bad)];
  }, [bytes.toString("base64"), tampered.toString("base64")]);
  assert.deepEqual(verdicts, [[[true, true]], [[false, false]]]);
  await context.close();
});

test("a site the agent does not allow gets the typed refusal in the page", async () => {
  const context = await browser.newContext();
  const page = await openPortal(context, `https://evil.test:${portalPort}/`);
  await page.click("#list");
  const error = page.locator("#certs-error .error");
  await error.waitFor();
  await shot(page, "07-origin-not-allowed");
  assert.equal(await error.getAttribute("data-code"), "ORIGIN_NOT_ALLOWED");
  assert.match(await error.textContent(), /không được phép|not allowed|chưa được phép/i);
  assert.equal(await page.locator("#certs tbody tr").count(), 0);
  await context.close();
});

test("a stopped agent shows 'not running' in the page", async () => {
  // A second agent (plain `kyso serve`) on the same demo token and the same local CA.
  const conf = join(dataDir, "demo-token", "softhsm2.conf");
  const module = findSoftHsm();
  const { child, lines } = await startKyso(
    ["serve", "--headless", "--port", "0", "--prompter", `scripted:${answers}`, "--module", module, "--no-discover"],
    (ls) => ls.some((l) => l.includes("listening on")),
    { SOFTHSM2_CONF: conf },
  );
  const port = portOf(lines, /listening on/);
  const context = await browser.newContext();
  const page = await openPortal(context, `${portal}/?agent=${port}`);
  assert.equal(await page.getAttribute("#status", "data-state"), "ok", await page.textContent("#status-error"));
  const exited = new Promise((r) => child.on("exit", r));
  child.kill("SIGTERM");
  await exited;
  await page.click("#detect");
  const error = page.locator("#status-error .error");
  await error.waitFor();
  await shot(page, "08-agent-stopped");
  assert.equal(await error.getAttribute("data-code"), "AGENT_NOT_RUNNING");
  assert.match(await error.textContent(), /Không tìm thấy phần mềm ký số kyso/);
  await context.close();
});

test("a public site with local network access granted detects the agent and logs in", async () => {
  const context = await publicBrowser.newContext();
  await context.grantPermissions(["local-network-access"], { origin: portal });
  const page = await openPortal(context);
  assert.equal(await page.evaluate(() => navigator.permissions.query({ name: "local-network-access" }).then((s) => s.state)), "granted");
  assert.equal(await page.getAttribute("#status", "data-state"), "ok", await page.textContent("#status-error"));
  await page.click("#login");
  await page.locator("#login-result:not(:empty), #login-error .error").first().waitFor();
  await shot(page, "09-public-granted");
  assert.match(await page.textContent("#login-result"), /Đăng nhập thành công/);
  await context.close();
});

test("a public site with local network access denied is told it is a permission problem, not 'not running'", async () => {
  // No grant: headless Chromium answers the Local Network Access prompt with "Block", which
  // is what a user's refusal leaves behind (the permission reads "denied" afterwards).
  const context = await publicBrowser.newContext();
  const page = await openPortal(context);
  const error = page.locator("#status-error .error");
  await shot(page, "10-public-denied");
  assert.equal(await page.evaluate(() => navigator.permissions.query({ name: "local-network-access" }).then((s) => s.state)), "denied");
  assert.equal(await error.getAttribute("data-code"), "LOCAL_NETWORK_DENIED", await page.textContent("#status-error"));
  assert.match(await error.textContent(), /truy cập mạng cục bộ/);
  await context.close();
});

test("without kyso's CA trusted the page cannot reach the agent and names the certificate as a possible cause", async () => {
  // Another HOME whose NSS database trusts the portal's CA only.
  const otherHome = join(tmp, "home-untrusting");
  const nssdb = join(otherHome, ".pki", "nssdb");
  mkdirSync(nssdb, { recursive: true });
  run("certutil", ["-N", "-d", `sql:${nssdb}`, "--empty-password"]);
  trust(nssdb, "kyso e2e portal CA", join(tmp, "portal-pki", "ca.pem"));
  const untrusting = await launch([], { ...env, HOME: otherHome });
  try {
    const page = await openPortal(await untrusting.newContext());
    const error = page.locator("#status-error .error");
    await shot(page, "11-local-ca-not-trusted");
    // A page cannot tell an untrusted certificate from a closed port (docs/INTEGRATION.md).
    assert.equal(await error.getAttribute("data-code"), "AGENT_NOT_RUNNING");
    assert.match(await error.textContent(), /kyso trust install/);
  } finally {
    await untrusting.close();
  }
});

/** SoftHSM's module, where Debian puts it. */
function findSoftHsm() {
  for (const path of ["/usr/lib/softhsm/libsofthsm2.so", "/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so", "/usr/lib/aarch64-linux-gnu/softhsm/libsofthsm2.so"]) {
    if (existsSync(path)) return path;
  }
  throw new Error("SoftHSM2 not installed");
}

/** A one-page PDF 1.4 with a correct cross-reference table. */
function minimalPdf() {
  const objects = [
    "<< /Type /Catalog /Pages 2 0 R >>",
    "<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
    "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R /Resources << /Font << /F1 5 0 R >> >> >>",
    null, // the content stream, below
    "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
  ];
  const stream = "BT /F1 18 Tf 72 760 Td (Don de nghi - kyso e2e) Tj ET";
  objects[3] = `<< /Length ${stream.length} >>\nstream\n${stream}\nendstream`;
  let out = "%PDF-1.4\n";
  const offsets = [];
  objects.forEach((body, i) => {
    offsets.push(out.length);
    out += `${i + 1} 0 obj\n${body}\nendobj\n`;
  });
  const xref = out.length;
  out += `xref\n0 ${objects.length + 1}\n0000000000 65535 f \n`;
  for (const offset of offsets) out += `${String(offset).padStart(10, "0")} 00000 n \n`;
  out += `trailer\n<< /Size ${objects.length + 1} /Root 1 0 R >>\nstartxref\n${xref}\n%%EOF\n`;
  return Buffer.from(out, "latin1");
}
