// Types of kyso.js, the browser SDK of the kyso signing agent.

/** Bytes to sign. A string is taken as UTF-8 text. */
export type Bytes = Uint8Array | ArrayBuffer | ArrayBufferView | Blob | string;
/** Bytes, or their base64 text. */
export type BytesOrBase64 = Uint8Array | ArrayBuffer | ArrayBufferView | Blob | string;

export declare const DEFAULT_PORT: 47320;

/** Codes the SDK reports itself; the agent's codes (PIN_INCORRECT, ...) pass through. */
export declare const SdkErrorCode: {
  readonly AGENT_NOT_RUNNING: "AGENT_NOT_RUNNING";
  readonly LOCAL_NETWORK_DENIED: "LOCAL_NETWORK_DENIED";
  readonly LOCAL_CERT_NOT_TRUSTED: "LOCAL_CERT_NOT_TRUSTED";
  readonly TIMEOUT: "TIMEOUT";
  readonly ABORTED: "ABORTED";
  readonly CONNECTION_LOST: "CONNECTION_LOST";
};

/** The agent's stable codes (see its openapi.json); new ones may be added. */
export type AgentErrorCode =
  | "PIN_INCORRECT" | "PIN_LOCKED" | "PIN_INVALID" | "TOKEN_NOT_PRESENT" | "TOKEN_REMOVED"
  | "MODULE_LOAD_FAILED" | "NO_MODULE" | "CERTIFICATE_NOT_FOUND" | "KEY_NOT_FOUND"
  | "MECHANISM_UNSUPPORTED" | "ALGORITHM_MISMATCH" | "USER_CANCELLED" | "PROMPT_UNAVAILABLE"
  | "TOKEN_ERROR" | "IO_ERROR" | "BAD_REQUEST" | "SIGNATURE_FORMAT_ERROR" | "INTERNAL_ERROR"
  | "ORIGIN_NOT_ALLOWED" | "HOST_NOT_ALLOWED" | "PAYLOAD_TOO_LARGE" | "PROMPT_TIMEOUT" | "BUSY"
  | "PDF_ENCRYPTED" | "PDF_CHANGES_NOT_ALLOWED" | "PDF_INVALID" | "PDF_PAGE_NOT_FOUND"
  | "PDF_FIELD_NOT_FOUND" | "XML_INVALID" | "XML_TARGET_NOT_FOUND" | "XML_DTD_NOT_ALLOWED"
  | "PORT_IN_USE" | "UNKNOWN_METHOD" | "SIGNATURE_INVALID";

export type KysoErrorCode = (typeof SdkErrorCode)[keyof typeof SdkErrorCode] | AgentErrorCode | (string & {});

export declare class KysoError extends Error {
  readonly name: "KysoError";
  /** Stable code. */
  readonly code: KysoErrorCode;
  /** English message (also `message`). */
  readonly message: string;
  /** Vietnamese message. */
  readonly messageVi: string;
  /** For support: ports tried, transports, Local Network Access state, the agent's body. */
  readonly details: {
    localNetworkPermission?: "granted" | "denied" | "prompt" | null;
    /** Set with AGENT_NOT_RUNNING: a page cannot tell a closed port from an untrusted certificate. */
    maybeUntrustedCertificate?: boolean;
    [key: string]: unknown;
  };
  localizedMessage(lang?: "vi" | "en"): string;
}

export declare function toBase64(bytes: Uint8Array | ArrayBuffer): string;
export declare function fromBase64(text: string): Uint8Array;
/** Chrome's Local Network Access permission, or null where the browser has none. */
export declare function localNetworkPermission(): Promise<"granted" | "denied" | "prompt" | null>;

export interface ConnectOptions {
  /** Ports to try, in order (default [47320]). */
  ports?: number[];
  port?: number;
  /** Default "localhost" (the agent's certificate also names 127.0.0.1 and ::1). */
  host?: string;
  /** Per port and transport, milliseconds (default 3000). */
  timeout?: number;
  /** Default "auto": WebSocket, then HTTPS. */
  transport?: "auto" | "websocket" | "https";
  /** The page knows kyso runs: report a failure as LOCAL_CERT_NOT_TRUSTED. */
  assumeRunning?: boolean;
}

export interface CallOptions {
  signal?: AbortSignal;
  /** Milliseconds; none by default (the user may take time with the PIN dialog). */
  timeout?: number;
}

/** `signBatch`: items signed of the total. `signPdf`: bytes of the document hashed. */
export interface Progress {
  id: number;
  done: number;
  total: number;
}

export interface AgentInfo {
  name: "kyso";
  version: string;
  ready: boolean;
  tokens: number;
  features: string[];
}

export interface CertificateSummary {
  thumbprint: string;
  serial: string;
  subject: string;
  common_name?: string | null;
  organization?: string | null;
  /** e.g. {"MST": "0104359717-001"} or {"CCCD": "001090012345"}. */
  identifiers: Record<string, string>;
  issuer: string;
  issuer_common_name?: string | null;
  not_before: string;
  not_after: string;
  valid_now: boolean;
  expiring_soon: boolean;
  key: string;
  key_usage: string[];
  extended_key_usage: string[];
  can_sign: boolean;
  is_ca: boolean;
}

/** A certificate on a token: its summary plus where it lives. */
export interface TokenCertificate extends CertificateSummary {
  token: { label: string; serial: string; [key: string]: unknown };
  /** The certificate object's label on the token. */
  label: string;
}

export interface PdfOptions {
  reason?: string;
  location?: string;
  visible?: boolean;
  /** 1-based, negative from the end; a list puts the signature on each; "all" on every page. */
  page?: number | number[] | "all";
  /** [x1, y1, x2, y2] in PDF points. */
  rect?: [number, number, number, number];
  /** PNG or JPEG. */
  image?: BytesOrBase64;
  layout?: "text" | "image" | "image-text";
}

export interface PdfCallOptions extends CallOptions {
  /** Thumbprint, or "serial:" + hex serial; omitted = the user chooses. */
  certificate?: string;
  /** File name shown in the PIN dialog. */
  name?: string;
  onProgress?: (progress: Progress) => void;
}

export interface XmlOptions {
  /** Sign the element with this Id/id/ID; omitted = the whole document. */
  nodeId?: string;
  /** Local name of the element to put the Signature in (e.g. "CKyDTu", "CHUKYDONVI"). */
  into?: string;
  /** Create `into` under the first element with this name when missing. */
  intoParent?: string;
  c14n?: "inclusive" | "inclusive-comments" | "exclusive";
  digest?: "sha1" | "sha256" | "sha512";
  signatureHash?: "sha1" | "sha256" | "sha512";
  /** e.g. "ds". */
  prefix?: string;
  includeChain?: boolean;
  issuerSerial?: boolean;
  subjectName?: boolean;
  signingTime?: boolean;
}

export interface VerifyOptions extends CallOptions {
  /** Extra trusted roots (DER), besides the CA certificates on the connected tokens. */
  trusted?: BytesOrBase64[];
}

export interface Verification<T> {
  /** At least one signature, all intact and trusted (PDF: nothing unsigned after the last). */
  valid: boolean;
  signatures: T[];
}

export interface SignatureReport {
  signer: CertificateSummary | null;
  /** The signed content and the signature value check out. */
  intact: boolean;
  /** The signer chains to a trusted root. */
  trusted: boolean;
  /** The time the signer's software wrote (not a trusted time). */
  signing_time: string | null;
  problems: string[];
}

export interface PdfSignatureReport extends SignatureReport {
  field: string;
  subfilter: string;
  covers_whole_document: boolean;
  signed_through: number;
  reason: string | null;
  location: string | null;
}

export interface XmlSignatureReport extends SignatureReport {
  signature_method: string;
  references: { uri: string; digest_matches: boolean }[];
}

export interface CmsOptions extends CallOptions {
  certificate?: string;
  /** Default true. */
  detached?: boolean;
  hash?: "sha256" | "sha384" | "sha512";
  pss?: boolean;
  /** Shown in the PIN dialog. */
  documentName?: string;
}

export interface HashOptions extends CallOptions {
  certificate?: string;
  algorithm?: "sha1" | "sha256" | "sha384" | "sha512";
  pss?: boolean;
}

export type BatchItem =
  | { type: "cms"; data: Bytes; detached?: boolean }
  | { type: "hash"; digest: BytesOrBase64; algorithm?: string }
  /** `options` as the agent takes them for /v1/sign/pdf (snake_case). */
  | { type: "pdf"; data: Bytes; name?: string; options?: Record<string, unknown> }
  /** `options` as the agent takes them for /v1/sign/xml (snake_case: node_id, into, ...). */
  | { type: "xml"; data: Bytes | string; name?: string; options?: Record<string, unknown> };

export interface BatchOptions extends CallOptions {
  certificate?: string;
  onProgress?: (progress: Progress) => void;
}

export type BatchResult =
  | { cms: string }
  | { signature: string; signature_algorithm: string }
  | { pdf: string }
  | { xml: string; signature_method: string; weak_algorithm: boolean }
  | { error: { code: KysoErrorCode; message: string; message_vi: string } };

export declare class KysoClient {
  /** https://localhost:PORT */
  readonly base: string;
  /** The agent's info at connection time. */
  agent: AgentInfo | null;
  readonly transportKind: "websocket" | "https";
  info(options?: CallOptions): Promise<AgentInfo>;
  listTokens(options?: CallOptions): Promise<unknown[]>;
  listCertificates(options?: CallOptions): Promise<TokenCertificate[]>;
  chooseCertificate(options?: CallOptions): Promise<CertificateSummary>;
  /** Answers base64 fields. */
  signPdf(data: Bytes, options?: PdfOptions, call?: PdfCallOptions): Promise<{ pdf: string; certificate: string }>;
  /** `data`: the document as bytes or text. */
  signXml(data: Bytes | string, options?: XmlOptions, call?: PdfCallOptions): Promise<{ xml: string; signature_method: string; weak_algorithm: boolean; certificate: string }>;
  /** Checks every signature of a PDF; no PIN (no key is used). */
  verifyPdf(data: Bytes, options?: VerifyOptions): Promise<Verification<PdfSignatureReport>>;
  /** Checks every XMLDSig signature of an XML document; no PIN. */
  verifyXml(data: Bytes | string, options?: VerifyOptions): Promise<Verification<XmlSignatureReport>>;
  signCms(data: Bytes, options?: CmsOptions): Promise<{ cms: string; certificate: string }>;
  signHash(digest: BytesOrBase64, options?: HashOptions): Promise<{ signature: string; signature_algorithm: string; certificate: string }>;
  /** `challenge`: base64 text from your server, or bytes. */
  authenticate(challenge: BytesOrBase64, options?: CallOptions & { certificate?: string }): Promise<{ cms: string; certificate: string }>;
  signBatch(items: BatchItem[], options?: BatchOptions): Promise<{ certificate: string; results: BatchResult[] }>;
  clearPin(options?: CallOptions): Promise<{ cleared: boolean }>;
  close(): void;
}

export declare function connect(options?: ConnectOptions): Promise<KysoClient>;
