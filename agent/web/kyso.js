// kyso.js — the browser SDK of the kyso signing agent (https://github.com/kyso-signing/kyso).
// An ES module with no build step and no dependencies; types in kyso.d.ts.
//
//   import { connect } from "https://localhost:47320/kyso.js"; // or a copy on your own site
//   const kyso = await connect();
//   const certificates = await kyso.listCertificates();
//
// Transport: JSON-RPC 2.0 over one WebSocket (wss://localhost:PORT/v1/ws), which carries
// progress and cancellation; when the WebSocket cannot be opened but HTTPS works (some proxies
// and extensions break WebSockets), the same calls go over fetch to the HTTPS API.
//
// Binary data (documents, PDFs) travels as binary WebSocket frames; every answer field holding
// bytes is base64, exactly as the agent sends it (see toBase64 / fromBase64 below).

/** The agent's default port (config key `port`). */
export const DEFAULT_PORT = 47320;

/** Codes the SDK itself reports (the agent's own codes come through unchanged). */
export const SdkErrorCode = Object.freeze({
  /** Nothing answered on the agent's port(s): kyso is not installed or not started. */
  AGENT_NOT_RUNNING: "AGENT_NOT_RUNNING",
  /** The browser refused this page access to the local network (Chrome's Local Network Access). */
  LOCAL_NETWORK_DENIED: "LOCAL_NETWORK_DENIED",
  /** The agent is running but the browser does not trust its local HTTPS certificate. */
  LOCAL_CERT_NOT_TRUSTED: "LOCAL_CERT_NOT_TRUSTED",
  /** The agent did not answer in time. */
  TIMEOUT: "TIMEOUT",
  /** The page aborted the call (AbortSignal). */
  ABORTED: "ABORTED",
  /** The connection to the agent closed while a call was in flight. */
  CONNECTION_LOST: "CONNECTION_LOST",
});

const SDK_MESSAGES = {
  AGENT_NOT_RUNNING: [
    "Không tìm thấy phần mềm ký số kyso trên máy này. Hãy cài đặt hoặc mở kyso rồi thử lại.",
    "The kyso signing agent was not found on this computer. Install or start kyso and try again.",
  ],
  LOCAL_NETWORK_DENIED: [
    "Trình duyệt đang chặn trang này kết nối tới kyso trên máy của bạn. Hãy cho phép \"truy cập mạng cục bộ\" (biểu tượng ổ khóa cạnh địa chỉ trang) rồi tải lại trang.",
    "The browser blocks this page from reaching kyso on your computer. Allow \"local network access\" for this site (the lock icon next to the address) and reload the page.",
  ],
  LOCAL_CERT_NOT_TRUSTED: [
    "kyso đang chạy nhưng trình duyệt chưa tin chứng thư bảo mật cục bộ của kyso. Chạy \"kyso trust install\" rồi khởi động lại trình duyệt.",
    "kyso is running but the browser does not trust kyso's local security certificate. Run \"kyso trust install\" and restart the browser.",
  ],
  TIMEOUT: [
    "kyso không trả lời kịp thời. Hãy thử lại.",
    "kyso did not answer in time. Try again.",
  ],
  ABORTED: ["Thao tác đã bị hủy.", "The operation was aborted."],
  CONNECTION_LOST: [
    "Mất kết nối tới kyso. Hãy kiểm tra kyso còn chạy rồi thử lại.",
    "The connection to kyso was lost. Check that kyso is still running and try again.",
  ],
};

/**
 * Every failure of the SDK. `code` is stable: one of {@link SdkErrorCode} or an agent code
 * such as PIN_INCORRECT, USER_CANCELLED, ORIGIN_NOT_ALLOWED (see the agent's openapi.json).
 */
export class KysoError extends Error {
  constructor(code, message, { messageVi, cause, details } = {}) {
    super(message, cause === undefined ? undefined : { cause });
    this.name = "KysoError";
    this.code = code;
    this.messageVi = messageVi ?? message;
    this.details = details ?? {};
  }

  /** The message in `lang` ("vi" or "en"). */
  localizedMessage(lang = "vi") {
    return lang === "vi" ? this.messageVi : this.message;
  }

  /** An SDK-side error with its built-in bilingual message. */
  static sdk(code, { cause, details } = {}) {
    const [vi, en] = SDK_MESSAGES[code];
    return new KysoError(code, en, { messageVi: vi, cause, details });
  }

  /** From the agent's `{code, message, message_vi}` error body. */
  static fromAgent(body, fallbackCode = "INTERNAL_ERROR") {
    const code = body?.code ?? fallbackCode;
    return new KysoError(code, body?.message ?? code, { messageVi: body?.message_vi, details: { agent: body } });
  }
}

// ---------------------------------------------------------------------------------------------
// Bytes helpers

/** Base64 of bytes (Uint8Array or ArrayBuffer). */
export function toBase64(bytes) {
  const view = bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes);
  let binary = "";
  // Chunks keep String.fromCharCode's argument count within engine limits.
  for (let i = 0; i < view.length; i += 0x8000) {
    binary += String.fromCharCode.apply(null, view.subarray(i, i + 0x8000));
  }
  return btoa(binary);
}

/** Bytes of a base64 string. */
export function fromBase64(text) {
  const binary = atob(text);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}

/** Uint8Array | ArrayBuffer | ArrayBufferView | Blob → Uint8Array; a string is UTF-8 text. */
async function bytesOf(data) {
  if (data instanceof Uint8Array) return data;
  if (data instanceof ArrayBuffer) return new Uint8Array(data);
  if (ArrayBuffer.isView(data)) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  if (typeof Blob !== "undefined" && data instanceof Blob) return new Uint8Array(await data.arrayBuffer());
  if (typeof data === "string") return new TextEncoder().encode(data);
  throw new KysoError("BAD_REQUEST", "data must be bytes (Uint8Array, ArrayBuffer, Blob) or text", {
    messageVi: "Dữ liệu cần ký không hợp lệ.",
  });
}

/** Base64 text stays as is; bytes become base64. */
async function base64Of(value) {
  return typeof value === "string" ? value : toBase64(await bytesOf(value));
}

function dropUndefined(object) {
  return Object.fromEntries(Object.entries(object).filter(([, v]) => v !== undefined));
}

// ---------------------------------------------------------------------------------------------
// Transports

/** The HTTPS route of each JSON-RPC method. */
const HTTP_ROUTES = {
  info: ["GET", "/v1/info"],
  tokens: ["GET", "/v1/tokens"],
  certificates: ["GET", "/v1/certificates"],
  "certificates.choose": ["POST", "/v1/certificates/choose"],
  "sign.hash": ["POST", "/v1/sign/hash"],
  "sign.cms": ["POST", "/v1/sign/cms"],
  "sign.pdf": ["POST", "/v1/sign/pdf"],
  "sign.xml": ["POST", "/v1/sign/xml"],
  "verify.pdf": ["POST", "/v1/verify/pdf"],
  "verify.xml": ["POST", "/v1/verify/xml"],
  "auth.challenge": ["POST", "/v1/auth/challenge"],
  "sign.batch": ["POST", "/v1/sign/batch"],
  "pin.clear": ["POST", "/v1/pin/clear"],
};

function withTimeout(promise, ms, onTimeout) {
  if (!ms) return promise;
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => {
      onTimeout?.();
      reject(KysoError.sdk("TIMEOUT", { details: { timeoutMs: ms } }));
    }, ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

function abortError(signal) {
  return KysoError.sdk("ABORTED", { cause: signal?.reason });
}

/** JSON-RPC 2.0 over one WebSocket; calls run concurrently and are matched by id. */
class WebSocketTransport {
  constructor(socket) {
    this.kind = "websocket";
    this.socket = socket;
    this.nextId = 1;
    this.pending = new Map();
    socket.addEventListener("message", (event) => this.onMessage(event));
    socket.addEventListener("close", () => this.failAll(KysoError.sdk("CONNECTION_LOST")));
  }

  /** Opens `url`; rejects with null when it cannot (the browser gives no reason). */
  static open(url, timeoutMs) {
    return new Promise((resolve, reject) => {
      let socket;
      try {
        socket = new WebSocket(url);
      } catch (e) {
        reject(e);
        return;
      }
      socket.binaryType = "arraybuffer";
      const timer = setTimeout(() => {
        socket.close();
        reject(KysoError.sdk("TIMEOUT", { details: { url, timeoutMs } }));
      }, timeoutMs);
      socket.addEventListener("open", () => {
        clearTimeout(timer);
        resolve(new WebSocketTransport(socket));
      });
      socket.addEventListener("error", () => {
        clearTimeout(timer);
        reject(new Error(`WebSocket ${url} failed`));
      });
    });
  }

  onMessage(event) {
    if (typeof event.data !== "string") return;
    let message;
    try {
      message = JSON.parse(event.data);
    } catch {
      return;
    }
    if (message.method === "progress") {
      this.pending.get(message.params?.id)?.onProgress?.(message.params);
      return;
    }
    const call = this.pending.get(message.id);
    if (!call) return;
    this.pending.delete(message.id);
    if (message.error) {
      call.reject(KysoError.fromAgent(message.error.data ?? { code: "INTERNAL_ERROR", message: message.error.message }));
    } else {
      call.resolve(message.result);
    }
  }

  failAll(error) {
    for (const call of this.pending.values()) call.reject(error);
    this.pending.clear();
  }

  /** `binary`: bytes sent raw in a binary frame, arriving at the agent as `params.data`. */
  call(method, params, { binary, onProgress, signal, timeout } = {}) {
    if (this.socket.readyState !== WebSocket.OPEN) return Promise.reject(KysoError.sdk("CONNECTION_LOST"));
    if (signal?.aborted) return Promise.reject(abortError(signal));
    const id = this.nextId++;
    const request = { jsonrpc: "2.0", id, method, params };
    const promise = new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject, onProgress });
      signal?.addEventListener(
        "abort",
        () => {
          if (!this.pending.has(id)) return;
          this.pending.delete(id);
          this.cancel(id);
          reject(abortError(signal));
        },
        { once: true },
      );
    });
    if (binary) {
      const header = new TextEncoder().encode(JSON.stringify(request));
      const frame = new Uint8Array(4 + header.length + binary.length);
      new DataView(frame.buffer).setUint32(0, header.length);
      frame.set(header, 4);
      frame.set(binary, 4 + header.length);
      this.socket.send(frame);
    } else {
      this.socket.send(JSON.stringify(request));
    }
    return withTimeout(promise, timeout, () => {
      this.pending.delete(id);
      this.cancel(id);
    });
  }

  cancel(id) {
    if (this.socket.readyState === WebSocket.OPEN) {
      this.socket.send(JSON.stringify({ jsonrpc: "2.0", id: `cancel-${id}`, method: "cancel", params: { id } }));
    }
  }

  close() {
    this.socket.close();
  }
}

/** The same calls over fetch: no progress notifications; abort drops the answer. */
class HttpTransport {
  constructor(base) {
    this.kind = "https";
    this.base = base;
  }

  async call(method, params, { binary, signal, timeout } = {}) {
    const route = HTTP_ROUTES[method];
    if (!route) throw new KysoError("UNKNOWN_METHOD", `no HTTPS route for ${method}`);
    const [verb, path] = route;
    const body = binary ? { ...params, data: toBase64(binary) } : params;
    const controller = new AbortController();
    signal?.addEventListener("abort", () => controller.abort(signal.reason), { once: true });
    const request = (async () => {
      let response;
      try {
        response = await fetch(this.base + path, {
          method: verb,
          headers: verb === "POST" ? { "content-type": "application/json" } : undefined,
          body: verb === "POST" ? JSON.stringify(body ?? {}) : undefined,
          signal: controller.signal,
          credentials: "omit",
          cache: "no-store",
        });
      } catch (e) {
        if (signal?.aborted) throw abortError(signal);
        throw KysoError.sdk("CONNECTION_LOST", { cause: e });
      }
      const json = await response.json().catch(() => null);
      if (!response.ok) throw KysoError.fromAgent(json?.error ?? { code: `HTTP_${response.status}`, message: response.statusText });
      return json;
    })();
    return withTimeout(request, timeout, () => controller.abort());
  }

  close() {}
}

// ---------------------------------------------------------------------------------------------
// Detection

/** Chrome's Local Network Access permission state, or null where the browser has none. */
export async function localNetworkPermission() {
  if (typeof navigator === "undefined" || !navigator.permissions?.query) return null;
  for (const name of ["local-network-access", "loopback-network", "local-network"]) {
    try {
      const status = await navigator.permissions.query({ name });
      return status.state;
    } catch {
      // This browser does not know the name: try the next spelling.
    }
  }
  return null;
}

async function fetchInfo(base, timeoutMs) {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), timeoutMs);
  try {
    const response = await fetch(`${base}/v1/info`, { signal: controller.signal, credentials: "omit", cache: "no-store" });
    const json = await response.json().catch(() => null);
    if (!response.ok) throw KysoError.fromAgent(json?.error);
    return json;
  } catch (e) {
    if (controller.signal.aborted) throw KysoError.sdk("TIMEOUT", { details: { url: base, timeoutMs } });
    throw e;
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Finds the agent and returns a client.
 *
 * What a page can tell apart when nothing works (a browser hides network errors from scripts on
 * purpose: a refused connection, a TLS failure and a Local Network Access block all surface as
 * the same `TypeError: Failed to fetch` / WebSocket `error` event):
 * - LOCAL_NETWORK_DENIED: the browser reports the Local Network Access permission as `denied`
 *   (Chrome 142+, `navigator.permissions.query`), so the failure is the browser's doing.
 * - TIMEOUT: something accepted the connection but never answered.
 * - AGENT_NOT_RUNNING: everything else. This includes an agent whose local certificate the
 *   browser does not trust: from a page, an untrusted certificate and a closed port look the
 *   same. The error's `details.maybeUntrustedCertificate` is true then, so a page can add
 *   "or its certificate is not trusted" to its help text; LOCAL_CERT_NOT_TRUSTED is reported
 *   only with `assumeRunning: true` (the page knows kyso runs, e.g. it worked before).
 */
export async function connect(options = {}) {
  const ports = options.ports ?? [options.port ?? DEFAULT_PORT];
  const host = options.host ?? "localhost";
  const timeoutMs = options.timeout ?? 3000;
  const transport = options.transport ?? "auto";
  const failures = [];
  for (const port of ports) {
    const base = `https://${host}:${port}`;
    if (transport !== "https") {
      try {
        const ws = await WebSocketTransport.open(`wss://${host}:${port}/v1/ws`, timeoutMs);
        const client = new KysoClient(ws, base);
        try {
          client.agent = await ws.call("info", {}, { timeout: timeoutMs });
        } catch (e) {
          ws.close();
          throw e;
        }
        return client;
      } catch (e) {
        failures.push({ port, transport: "websocket", error: e });
      }
    }
    if (transport !== "websocket") {
      try {
        const info = await fetchInfo(base, timeoutMs);
        const client = new KysoClient(new HttpTransport(base), base);
        client.agent = info;
        return client;
      } catch (e) {
        failures.push({ port, transport: "https", error: e });
        // The agent answered with a typed error (e.g. ORIGIN_NOT_ALLOWED): that is the answer.
        if (e instanceof KysoError && !(e.code in SdkErrorCode)) throw e;
      }
    }
  }
  const details = { ports, failures: failures.map((f) => ({ port: f.port, transport: f.transport, error: String(f.error) })) };
  const permission = await localNetworkPermission();
  details.localNetworkPermission = permission;
  if (permission === "denied") throw KysoError.sdk("LOCAL_NETWORK_DENIED", { details });
  if (failures.length > 0 && failures.every((f) => f.error instanceof KysoError && f.error.code === "TIMEOUT")) {
    throw KysoError.sdk("TIMEOUT", { details });
  }
  if (options.assumeRunning) throw KysoError.sdk("LOCAL_CERT_NOT_TRUSTED", { details });
  details.maybeUntrustedCertificate = true;
  throw KysoError.sdk("AGENT_NOT_RUNNING", { details });
}

// ---------------------------------------------------------------------------------------------
// The client

/** A connection to the agent. Get one from {@link connect}. */
export class KysoClient {
  constructor(transport, base) {
    this.transport = transport;
    /** `https://localhost:PORT`. */
    this.base = base;
    /** The agent's `info` answer at connection time. */
    this.agent = null;
  }

  /** "websocket" or "https". */
  get transportKind() {
    return this.transport.kind;
  }

  /** Version, readiness, token count and features (no consent needed). */
  info(options) {
    return this.transport.call("info", {}, options);
  }

  /** Connected tokens with their PIN state. */
  listTokens(options) {
    return this.transport.call("tokens", {}, options);
  }

  /** Certificates on the connected tokens (the user may be asked to allow this site once). */
  listCertificates(options) {
    return this.transport.call("certificates", {}, options);
  }

  /** Lets the user pick a certificate in kyso's own dialog; answers its summary. */
  chooseCertificate(options) {
    return this.transport.call("certificates.choose", {}, options);
  }

  /** PAdES signature of a PDF; answers `{pdf, certificate}` (base64). */
  async signPdf(data, options = {}, call = {}) {
    const bytes = await bytesOf(data);
    const params = dropUndefined({
      certificate: call.certificate,
      name: call.name,
      options: dropUndefined({
        reason: options.reason,
        location: options.location,
        field: options.field,
        visible: options.visible
          ? dropUndefined({
              page: options.page,
              rect: options.rect,
              text: options.text,
              image: options.image === undefined ? undefined : await base64Of(options.image),
              layout: options.layout,
            })
          : undefined,
      }),
    });
    return this.transport.call("sign.pdf", params, { ...call, binary: bytes });
  }

  /**
   * Enveloped XMLDSig of an XML document (bytes or text). `options` are the agent's XML options
   * in camelCase (`nodeId`, `into`, `intoParent`, `c14n`, `digest`, `signatureHash`, `prefix`,
   * `includeChain`, `issuerSerial`, `subjectName`, `signingTime`). Answers
   * `{xml, signature_method, weak_algorithm, certificate}`.
   */
  async signXml(data, options = {}, call = {}) {
    const bytes = typeof data === "string" ? new TextEncoder().encode(data) : await bytesOf(data);
    const params = dropUndefined({
      certificate: call.certificate,
      name: call.name,
      options: dropUndefined({
        node_id: options.nodeId,
        into: options.into,
        into_parent: options.intoParent,
        c14n: options.c14n,
        digest: options.digest,
        signature_hash: options.signatureHash,
        prefix: options.prefix,
        include_chain: options.includeChain,
        issuer_serial: options.issuerSerial,
        subject_name: options.subjectName,
        signing_time: options.signingTime,
      }),
    });
    return this.transport.call("sign.xml", params, { ...call, binary: bytes });
  }

  /**
   * Checks every signature of a signed PDF (no PIN: no key is used); answers
   * `{valid, signatures: [{field, signer, intact, trusted, covers_whole_document, ...}]}`.
   * `trusted`: extra root certificates (bytes or base64 DER) besides the CAs on the tokens.
   */
  async verifyPdf(data, options = {}) {
    return this.#verify("verify.pdf", await bytesOf(data), options);
  }

  /** Checks every XMLDSig signature of an XML document, as {@link verifyPdf} does. */
  async verifyXml(data, options = {}) {
    const bytes = typeof data === "string" ? new TextEncoder().encode(data) : await bytesOf(data);
    return this.#verify("verify.xml", bytes, options);
  }

  async #verify(method, bytes, options) {
    const trusted = await Promise.all((options.trusted ?? []).map(base64Of));
    const params = dropUndefined({ trusted: trusted.length ? trusted : undefined });
    return this.transport.call(method, params, { ...options, binary: bytes });
  }

  /** CMS/CAdES-BES signature (detached unless `detached: false`); answers `{cms, certificate}`. */
  async signCms(data, options = {}) {
    const bytes = await bytesOf(data);
    const params = dropUndefined({
      certificate: options.certificate,
      detached: options.detached,
      hash: options.hash,
      pss: options.pss,
      document_name: options.documentName,
    });
    return this.transport.call("sign.cms", params, { ...options, binary: bytes });
  }

  /** Raw signature of a digest (bytes or base64); answers `{signature, signature_algorithm, certificate}`. */
  async signHash(digest, options = {}) {
    const params = dropUndefined({
      certificate: options.certificate,
      algorithm: options.algorithm,
      pss: options.pss,
      digest: await base64Of(digest),
    });
    return this.transport.call("sign.hash", params, options);
  }

  /** Login: a detached CMS over the server's challenge (base64 or bytes); answers `{cms, certificate}`. */
  async authenticate(challenge, options = {}) {
    const params = dropUndefined({ certificate: options.certificate, challenge: await base64Of(challenge) });
    return this.transport.call("auth.challenge", params, options);
  }

  /**
   * Several items under one PIN. Items: `{type: "cms", data, detached?}`,
   * `{type: "hash", digest, algorithm?}` (bytes or base64), `{type: "pdf", data, name?, options?}`
   * or `{type: "xml", data, name?, options?}` (options as the agent's API takes them).
   * Answers `{certificate, results}`, one result per item (a failed item carries `error`).
   */
  async signBatch(items, options = {}) {
    const wire = [];
    for (const item of items) {
      const { type, ...rest } = item;
      const entry = { type, ...rest };
      if (typeof rest.data === "string") entry.data = toBase64(new TextEncoder().encode(rest.data));
      else if (rest.data !== undefined) entry.data = toBase64(await bytesOf(rest.data));
      if (rest.digest !== undefined) entry.digest = await base64Of(rest.digest);
      wire.push(dropUndefined(entry));
    }
    return this.transport.call("sign.batch", dropUndefined({ certificate: options.certificate, items: wire }), options);
  }

  /** Logs the tokens out and forgets cached PINs for this site. */
  clearPin(options) {
    return this.transport.call("pin.clear", {}, options);
  }

  /** Closes the connection. */
  close() {
    this.transport.close();
  }
}
