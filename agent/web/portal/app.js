// The demo portal's page: everything on the token goes through the kyso SDK; the login proof
// is checked by the portal's own server (/api/challenge, /api/login).
import { connect, KysoError, fromBase64 } from "./kyso.js";

const $ = (id) => document.getElementById(id);

/** The agent's port: `?agent=PORT` (to try another agent), else the one the server wrote in. */
function agentPort() {
  const fromQuery = Number(new URLSearchParams(location.search).get("agent"));
  if (Number.isInteger(fromQuery) && fromQuery > 0) return fromQuery;
  return Number(document.querySelector('meta[name="kyso-agent-port"]').content);
}

/** Extra words for the errors a newcomer meets first. */
const HELP = {
  AGENT_NOT_RUNNING:
    "Nếu kyso đang chạy mà vẫn thấy thông báo này, có thể trình duyệt chưa tin chứng thư bảo mật cục bộ của kyso (chạy \"kyso trust install\").",
  LOCAL_NETWORK_DENIED:
    "Chrome hỏi \"Cho phép trang này truy cập các thiết bị trên mạng cục bộ?\" — hãy chọn Cho phép. Quản trị viên có thể cho phép sẵn bằng chính sách LocalNetworkAccessAllowedForUrls.",
  ORIGIN_NOT_ALLOWED: "Trang này chưa được phép dùng token. Mở kyso và cho phép trang nếu bạn tin tưởng nó.",
  UNKNOWN_METHOD: "Phiên bản kyso trên máy bạn chưa hỗ trợ thao tác này; hãy cập nhật kyso.",
};

/** Shows `error` in words a user understands, keeping the stable code for support. */
function showError(target, error) {
  const box = document.createElement("div");
  box.className = "error";
  const code = error instanceof KysoError ? error.code : error?.code ?? "INTERNAL_ERROR";
  box.dataset.code = code;
  const message = error instanceof KysoError ? error.messageVi : error?.message_vi ?? String(error?.message ?? error);
  box.append(message);
  if (HELP[code]) {
    const help = document.createElement("div");
    help.className = "help";
    help.textContent = HELP[code];
    box.append(help);
  }
  const codeLine = document.createElement("div");
  codeLine.className = "code";
  codeLine.textContent = `Mã lỗi: ${code}`;
  box.append(codeLine);
  $(target).replaceChildren(box);
}

function clear(...ids) {
  for (const id of ids) $(id).replaceChildren();
}

let client = null;

function setStatus(state, text) {
  const status = $("status");
  status.className = `status ${state}`;
  status.dataset.state = state;
  status.textContent = text;
}

async function detect() {
  clear("status-error");
  setStatus("pending", "Đang tìm phần mềm ký số kyso trên máy của bạn…");
  client?.close();
  client = null;
  try {
    client = await connect({ port: agentPort() });
    const info = client.agent;
    setStatus(
      "ok",
      `Đã kết nối kyso ${info.version} (${client.transportKind === "websocket" ? "WebSocket" : "HTTPS"}) — ${info.tokens} token đang cắm.`,
    );
  } catch (error) {
    setStatus("bad", "Chưa kết nối được phần mềm ký số.");
    showError("status-error", error);
  }
  return client;
}

/** The client, reconnecting if the last call lost the connection. */
async function kyso() {
  if (client) return client;
  const connected = await detect();
  if (!connected) throw new KysoError("AGENT_NOT_RUNNING", "kyso is not connected", { messageVi: "Chưa kết nối được kyso." });
  return connected;
}

/** Runs `action` for a button, showing its error in `errorId`. */
function wire(buttonId, errorId, action) {
  $(buttonId).addEventListener("click", async () => {
    const button = $(buttonId);
    button.disabled = true;
    clear(errorId);
    try {
      await action();
    } catch (error) {
      if (error?.code === "CONNECTION_LOST") client = null;
      showError(errorId, error);
    } finally {
      button.disabled = false;
    }
  });
}

function download(container, bytes, name, type, label) {
  const url = URL.createObjectURL(new Blob([bytes], { type }));
  const link = document.createElement("a");
  link.href = url;
  link.download = name;
  link.textContent = label ?? `Tải về ${name}`;
  link.className = "download";
  const line = document.createElement("div");
  line.append(link);
  container.append(line);
  return link;
}

function identifiers(map) {
  return Object.entries(map ?? {})
    .map(([kind, value]) => `${kind}: ${value}`)
    .join(", ");
}

async function postJson(path, body) {
  const response = await fetch(path, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body ?? {}),
  });
  const json = await response.json().catch(() => null);
  if (!response.ok) throw json?.error ?? { code: `HTTP_${response.status}`, message_vi: "Máy chủ cổng báo lỗi." };
  return json;
}

wire("detect", "status-error", detect);

wire("login", "login-error", async () => {
  clear("login-result");
  const k = await kyso();
  const { challenge } = await postJson("/api/challenge");
  const proof = await k.authenticate(challenge);
  const who = await postJson("/api/login", { challenge, cms: proof.cms });
  $("login-result").textContent = `Xin chào ${who.name ?? who.subject}${who.organization ? ` (${who.organization})` : ""} — ${identifiers(who.identifiers)}. Đăng nhập thành công.`;
  $("login-result").dataset.name = who.name ?? "";
});

wire("list", "certs-error", async () => {
  const certificates = await (await kyso()).listCertificates();
  const body = $("certs").querySelector("tbody");
  body.replaceChildren(
    ...certificates
      .filter((c) => !c.is_ca)
      .map((c) => {
        const row = document.createElement("tr");
        for (const text of [c.common_name ?? c.subject, identifiers(c.identifiers), c.issuer_common_name ?? c.issuer, c.not_after.slice(0, 10), c.key]) {
          const cell = document.createElement("td");
          cell.textContent = text;
          row.append(cell);
        }
        return row;
      }),
  );
  $("certs").hidden = false;
});

wire("pdf-sign", "pdf-error", async () => {
  clear("pdf-result");
  const file = $("pdf-file").files[0];
  if (!file) throw { code: "BAD_REQUEST", message_vi: "Hãy chọn một tệp PDF trước." };
  const visible = $("pdf-visible").checked;
  const signed = await (await kyso()).signPdf(
    file,
    {
      reason: $("pdf-reason").value,
      location: $("pdf-location").value,
      visible,
      page: 1,
      rect: visible ? [36, 36, 286, 116] : undefined,
      layout: "text",
    },
    { name: file.name },
  );
  const name = file.name.replace(/\.pdf$/i, "") + "-da-ky.pdf";
  download($("pdf-result"), fromBase64(signed.pdf), name, "application/pdf");
});

wire("cms-sign", "cms-error", async () => {
  clear("cms-result");
  const file = $("cms-file").files[0];
  if (!file) throw { code: "BAD_REQUEST", message_vi: "Hãy chọn một tệp trước." };
  const signed = await (await kyso()).signCms(file, { detached: true, documentName: file.name });
  download($("cms-result"), fromBase64(signed.cms), `${file.name}.p7s`, "application/pkcs7-signature");
});

/** Three sample tax declarations, when the user picks no files. */
function sampleFiles() {
  return [1, 2, 3].map(
    (n) =>
      new File(
        [`Tờ khai mẫu số ${n}\nNgười nộp thuế: CÔNG TY TNHH KÝ SỐ VIỆT NAM (MST 0104359717-001)\nKỳ tính thuế: quý ${n}/2026\n`],
        `to-khai-${n}.txt`,
        { type: "text/plain" },
      ),
  );
}

wire("batch-sign", "batch-error", async () => {
  clear("batch-result");
  const chosen = [...$("batch-files").files];
  const files = chosen.length > 0 ? chosen : sampleFiles();
  const progress = $("batch-progress");
  progress.hidden = false;
  progress.max = files.length;
  progress.value = 0;
  const answer = await (await kyso()).signBatch(
    files.map((file) => ({ type: "cms", data: file, detached: true })),
    { onProgress: ({ done }) => (progress.value = done) },
  );
  progress.value = files.length;
  answer.results.forEach((result, i) => {
    if (result.cms) {
      download($("batch-result"), fromBase64(result.cms), `${files[i].name}.p7s`, "application/pkcs7-signature");
    } else {
      const line = document.createElement("div");
      line.textContent = `${files[i].name}: ${result.error?.message_vi ?? "lỗi"}`;
      $("batch-result").append(line);
    }
  });
});

detect();
