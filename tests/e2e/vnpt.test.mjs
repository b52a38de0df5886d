// End-to-end: a portal page written for the VNPT-CA plugin, in Debian's headless Chromium,
// against a real `kyso serve` with the VNPT-CA compatibility listener on, on the demo SoftHSM
// token, with the scripted prompter.
//
// - The page's client below is written from the protocol description alone
//   (docs/INTEGRATION.md, "VNPT-CA compatibility"): it tries wss://localhost:4433/plugin,
//   then 4434 and 4435, sends `{functionID, funcCallback, args, domain}` frames on one socket
//   and takes the next `<result>*<callback>` frame as the answer to the call in flight.
// - The portal runs on its own https origin (https://portal.test:PORT, its own test CA); the
//   agent's local CA and the portal's CA are trusted through an NSS database, as in e2e.test.mjs.
// - The page does the portal login pattern (checkPlugin → setLicenseKey → getCertInfo →
//   signArrDataAdvanced with a cmsdetached challenge), then signs a PDF and an XML document;
//   results are checked by openssl cms -verify, pdfsig and xmlsec1.
//
// Run: scripts/test.sh (or `node --test vnpt.test.mjs` here with KYSO_BIN pointing at kyso).

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync, execFileSync } from "node:child_process";
import { mkdtempSync, mkdirSync, writeFileSync, readFileSync, rmSync, existsSync } from "node:fs";
import { createServer } from "node:https";
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

const tmp = mkdtempSync(join(tmpdir(), "kyso-vnpt-"));
const home = join(tmp, "home");
const env = {
  ...process.env,
  HOME: home,
  XDG_CONFIG_HOME: join(home, ".config"),
  XDG_DATA_HOME: join(home, ".local/share"),
  DISPLAY: "",
  WAYLAND_DISPLAY: "",
};
const dataDir = join(env.XDG_DATA_HOME, "kyso");
const answers = join(tmp, "answers.json");
const children = [];
let portal; // https://portal.test:PORT
let server;
let browser;

function run(command, args, options = {}) {
  return execFileSync(command, args, { env, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"], ...options });
}

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

function stop(child) {
  return new Promise((r) => {
    if (child.exitCode !== null) return r();
    child.removeAllListeners("exit");
    child.on("exit", r);
    child.kill("SIGTERM");
  });
}

function makePortalPki(dir) {
  mkdirSync(dir, { recursive: true });
  const p = (name) => join(dir, name);
  run("openssl", ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "2",
    "-subj", "/CN=kyso vnpt e2e portal test CA", "-addext", "basicConstraints=critical,CA:TRUE",
    "-addext", "keyUsage=critical,keyCertSign,cRLSign", "-keyout", p("ca-key.pem"), "-out", p("ca.pem")]);
  run("openssl", ["req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-subj", "/CN=portal.test",
    "-keyout", p("portal-key.pem"), "-out", p("portal.csr")]);
  writeFileSync(p("ext.cnf"), "subjectAltName=DNS:portal.test\nextendedKeyUsage=serverAuth\nbasicConstraints=CA:FALSE\n");
  run("openssl", ["x509", "-req", "-in", p("portal.csr"), "-CA", p("ca.pem"), "-CAkey", p("ca-key.pem"), "-CAcreateserial",
    "-days", "2", "-extfile", p("ext.cnf"), "-out", p("portal.pem")]);
  return { ca: p("ca.pem"), cert: p("portal.pem"), key: p("portal-key.pem") };
}

function trust(nssdb, name, pem, purpose = "tls") {
  const flags = purpose === "signing" ? ",C," : "C,,";
  run("certutil", ["-A", "-d", `sql:${nssdb}`, "-n", name, "-t", flags, "-i", pem]);
}

function findSoftHsm() {
  for (const path of ["/usr/lib/softhsm/libsofthsm2.so", "/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so", "/usr/lib/aarch64-linux-gnu/softhsm/libsofthsm2.so"]) {
    if (existsSync(path)) return path;
  }
  throw new Error("SoftHSM2 not installed: run scripts/setup.sh test");
}

// The portal's page: a plugin client written from the protocol description, nothing else.
const PAGE = `<!doctype html><meta charset="utf-8"><title>Cổng thử nghiệm VNPT-CA</title>
<p id="state">pending</p>
<script>
class PluginClient {
  constructor() { this.queue = []; this.ws = null; }
  async connect() {
    for (const port of [4433, 4434, 4435]) {
      try { this.ws = await this.open(port); this.port = port; return port; } catch (e) { /* next port */ }
    }
    throw new Error("plugin not found on 4433-4435");
  }
  open(port) {
    return new Promise((ok, fail) => {
      const ws = new WebSocket("wss://localhost:" + port + "/plugin");
      const timer = setTimeout(() => { ws.close(); fail(new Error("timeout")); }, 3000);
      ws.onopen = () => { clearTimeout(timer); ok(ws); };
      ws.onerror = () => { clearTimeout(timer); fail(new Error("error")); };
      ws.onmessage = (event) => this.receive(event.data);
    });
  }
  receive(frame) {
    const parts = String(frame).split("*");
    const result = parts[0], callback = parts[1];
    const pending = this.queue.shift();
    if (callback !== "callbackDefault" && typeof window[callback] === "function") window[callback](result);
    if (pending) pending({ result, callback, parts: parts.length });
  }
  call(functionID, args, funcCallback = "callbackDefault") {
    return new Promise((ok) => {
      this.queue.push(ok);
      this.ws.send(JSON.stringify({ functionID, funcCallback, args, domain: location.hostname }));
    });
  }
}
window.plugin = new PluginClient();
window.licenceSeen = null;
window.onLicence = (r) => { window.licenceSeen = r; };
window.plugin.connect().then((port) => { document.getElementById("state").textContent = "ok " + port; },
  (e) => { document.getElementById("state").textContent = "failed: " + e.message; });
</script>`;

before(async () => {
  assert.ok(existsSync(KYSO), `kyso binary not found at ${KYSO}: run cargo build -p kyso (or set KYSO_BIN)`);
  assert.ok(existsSync(CHROMIUM), `Chromium not found at ${CHROMIUM}: run scripts/setup.sh test`);
  mkdirSync(home, { recursive: true });
  writeFileSync(answers, JSON.stringify({ pin: "123456", certificate: "first", confirm: true }));
  // `kyso demo` provisions the demo token (and the local CA); then the plain agent runs on it.
  const demo = await startKyso(["demo", "--port", "0", "--prompter", `scripted:${answers}`, "--no-browser"],
    (lines) => lines.some((l) => l.includes("demo portal:")));
  await stop(demo.child);

  const pki = makePortalPki(join(tmp, "portal-pki"));
  server = createServer({ cert: readFileSync(pki.cert), key: readFileSync(pki.key) }, (req, res) => {
    res.writeHead(200, { "content-type": "text/html; charset=utf-8" });
    res.end(PAGE);
  });
  await new Promise((r) => server.listen(0, "127.0.0.1", r));
  portal = `https://portal.test:${server.address().port}`;

  const configDir = join(env.XDG_CONFIG_HOME, "kyso");
  mkdirSync(configDir, { recursive: true });
  writeFileSync(join(configDir, "config.toml"), `allowed_origins = ["${portal}"]\n`);
  run(KYSO, ["compat", "vnpt", "on"]);
  await startKyso(
    ["serve", "--headless", "--port", "0", "--prompter", `scripted:${answers}`, "--module", findSoftHsm(), "--no-discover"],
    (lines) => lines.some((l) => l.includes("listening on")),
    { SOFTHSM2_CONF: join(dataDir, "demo-token", "softhsm2.conf") },
  );
  const status = JSON.parse(readFileSync(join(dataDir, "compat-vnpt.json"), "utf8"));
  assert.ok(status.port, `the compatibility listener got no port (4433-4435 all taken?): ${JSON.stringify(status)}`);

  const nssdb = join(home, ".pki", "nssdb");
  mkdirSync(nssdb, { recursive: true });
  run("certutil", ["-N", "-d", `sql:${nssdb}`, "--empty-password"]);
  trust(nssdb, "kyso local CA", join(dataDir, "tls", "ca.pem"));
  trust(nssdb, "kyso vnpt e2e portal CA", pki.ca);
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    env,
    chromiumSandbox: process.getuid?.() !== 0,
    args: ["--host-resolver-rules=MAP portal.test 127.0.0.1"],
  });
});

after(async () => {
  await browser?.close();
  server?.close();
  for (const child of children) if (child.exitCode === null) child.kill("SIGTERM");
  rmSync(tmp, { recursive: true, force: true });
});

async function openPortal() {
  const context = await browser.newContext();
  const page = await context.newPage();
  page.on("console", (m) => m.type() === "error" && console.error(`[page] ${m.text()}`));
  await page.goto(`${portal}/`);
  await page.locator("#state:not(:text('pending'))").waitFor({ timeout: 30_000 });
  assert.match(await page.textContent("#state"), /^ok 443[345]$/);
  return { context, page };
}

const demoRoot = () => join(dataDir, "demo-token", "demo-root.pem");

test("the portal login pattern signs the challenge and openssl verifies it", async () => {
  const { context, page } = await openPortal();
  const challenge = randomBytes(32).toString("base64");
  const out = await page.evaluate(async (challenge) => {
    const p = window.plugin;
    const check = await p.call(7, [""]);
    const licence = await p.call(6, [btoa("<License><Domain>portal.test</Domain></License>")], "onLicence");
    const cert = JSON.parse((await p.call(0, ["1"])).result);
    const items = JSON.stringify([{ data: challenge, type: "cmsdetached" }]);
    const signed = await p.call(10, [items, cert.serial, "1", "1"]);
    return { check: check.result, licence: licence.result, licenceSeen: window.licenceSeen, cert, signed: signed.result };
  }, challenge);
  assert.equal(out.check, "1");
  assert.equal(JSON.parse(out.licence).code, 1);
  assert.equal(out.licenceSeen, out.licence, "a named callback is called with the result");
  assert.ok(out.cert.serial && out.cert.subjectCN, JSON.stringify(out.cert));
  const first = JSON.parse(JSON.parse(out.signed)[0]);
  assert.equal(first.code, 0, out.signed);
  assert.equal(first.serial, out.cert.serial);
  const sig = join(tmp, "login.p7s");
  const content = join(tmp, "challenge.bin");
  writeFileSync(sig, Buffer.from(first.data, "base64"));
  writeFileSync(content, Buffer.from(challenge, "base64"));
  run("openssl", ["cms", "-verify", "-binary", "-inform", "DER", "-in", sig, "-content", content,
    "-CAfile", demoRoot(), "-purpose", "any", "-out", "/dev/null"]);
  writeFileSync(content, "another challenge");
  assert.throws(() => run("openssl", ["cms", "-verify", "-binary", "-inform", "DER", "-in", sig, "-content", content,
    "-CAfile", demoRoot(), "-purpose", "any", "-out", "/dev/null"]));
  await context.close();
});

test("a PDF signed from the page is valid and trusted for pdfsig", async () => {
  const { context, page } = await openPortal();
  const original = readFileSync(join(repo, "fixtures", "pdftex-shared-mime-info-spec.pdf"));
  const signer = JSON.stringify({ page: 1, llx: 36, lly: 36, urx: 286, ury: 116, Signer: "Nguyễn Văn A",
    SignerPosition: "Chuyên viên", SigType: 0, SigTextSize: 9 });
  const answer = await page.evaluate(async ([data, signer]) => (await window.plugin.call(2, [data, signer])).result,
    [original.toString("base64"), signer]);
  const result = JSON.parse(answer);
  assert.equal(result.code, 0, answer.slice(0, 300));
  const signed = Buffer.from(result.data, "base64");
  assert.ok(signed.subarray(0, original.length).equals(original), "the original bytes are kept");
  const path = join(tmp, "signed.pdf");
  writeFileSync(path, signed);
  const nssdb = join(tmp, "pdfsig-nssdb");
  mkdirSync(nssdb, { recursive: true });
  run("certutil", ["-N", "-d", `sql:${nssdb}`, "--empty-password"]);
  trust(nssdb, "kyso demo root", demoRoot(), "signing");
  const report = run("pdfsig", ["-nssdir", `sql:${nssdb}`, path]);
  assert.match(report, /Signature Validation: Signature is Valid/);
  assert.match(report, /Certificate Validation: Certificate is Trusted/);
  await context.close();
});

test("an HTKK tax return signed from the page verifies with xmlsec1", async () => {
  const { context, page } = await openPortal();
  const xml = '<?xml version="1.0" encoding="UTF-8"?>\n<HSoThueDTu xmlns="http://kekhaithue.gdt.gov.vn/TKhaiThue">'
    + '<HSoKhaiThue id="_NODE_TO_SIGN"><TTinChung><MST>0104359717</MST><TenNNT>Công ty TNHH Ký Số</TenNNT></TTinChung></HSoKhaiThue>'
    + "<CKyDTu/></HSoThueDTu>\n";
  const signer = JSON.stringify({ TagSigning: "HSoKhaiThue", NodeToSign: "_NODE_TO_SIGN", TagSaveResult: "CKyDTu",
    DsSignature: true, SigningType: "Enveloped", DigestMethod: "SHA256", SignatureMethod: "RSAwithSHA256" });
  const answer = await page.evaluate(async ([data, signer]) => (await window.plugin.call(1, [data, signer])).result,
    [Buffer.from(xml).toString("base64"), signer]);
  const result = JSON.parse(answer);
  assert.equal(result.code, 0, answer.slice(0, 300));
  const signed = Buffer.from(result.data, "base64").toString("utf8");
  assert.match(signed, /<CKyDTu><ds:Signature/);
  const path = join(tmp, "signed.xml");
  writeFileSync(path, signed);
  const verify = spawnSync("xmlsec1", ["--verify", "--trusted-pem", demoRoot(),
    "--untrusted-pem", join(dataDir, "demo-token", "demo-chain.pem"),
    "--id-attr:id", "http://kekhaithue.gdt.gov.vn/TKhaiThue:HSoKhaiThue", path], { env, encoding: "utf8" });
  assert.equal(verify.status, 0, `xmlsec1: ${verify.stderr}`);
  assert.match(verify.stderr, /^OK/m);
  await context.close();
});

test("an unknown function gets an error answer at once and the socket keeps serving", async () => {
  const { context, page } = await openPortal();
  const out = await page.evaluate(async () => {
    const unknown = await window.plugin.call(99, [""]);
    const version = await window.plugin.call(11, [""]);
    return { unknown, version };
  });
  assert.equal(out.unknown.parts, 2);
  assert.equal(JSON.parse(out.unknown.result).code, 1);
  assert.match(out.version.result, /^\d+\.\d+\.\d+/);
  await context.close();
});
