// Every request the UI makes goes through here: the public Letta REST API, nothing else.
// The server defaults to the page's own origin; Settings can point the UI at another
// Letta-compatible server (which must then allow this origin) and set an API key.

const BASE_KEY = "mneme.baseUrl";
const KEY_KEY = "mneme.apiKey";

export function settings() {
  return {
    baseUrl: localStorage.getItem(BASE_KEY) || "",
    apiKey: localStorage.getItem(KEY_KEY) || "",
  };
}

export function saveSettings({ baseUrl, apiKey }) {
  localStorage.setItem(BASE_KEY, (baseUrl || "").replace(/\/+$/, ""));
  localStorage.setItem(KEY_KEY, apiKey || "");
}

/** An error answer of the API: `status` and the `detail` Letta's errors carry. */
export class ApiError extends Error {
  constructor(status, detail, body) {
    super(detail ? `${detail}` : `HTTP ${status}`);
    this.status = status;
    this.detail = detail;
    this.body = body;
  }
}

/** The message of a Letta error body: a string `detail`, or FastAPI's list of field errors. */
function detailOf(body) {
  if (!body) return "";
  if (typeof body === "string") return body;
  const d = body.detail ?? body.message ?? body.error;
  if (Array.isArray(d)) {
    return d.map((e) => `${(e.loc || []).slice(1).join(".")}: ${e.msg}`).join("; ");
  }
  if (d && typeof d === "object") return d.message || JSON.stringify(d);
  return d ? String(d) : JSON.stringify(body);
}

export function url(path, query) {
  const u = new URL(settings().baseUrl + path, location.origin);
  for (const [k, v] of Object.entries(query || {})) {
    if (v === undefined || v === null || v === "") continue;
    if (Array.isArray(v)) v.forEach((x) => u.searchParams.append(k, x));
    else u.searchParams.set(k, v);
  }
  return u.toString();
}

function headers(extra) {
  const h = { Accept: "application/json", ...extra };
  const { apiKey } = settings();
  if (apiKey) h.Authorization = `Bearer ${apiKey}`;
  return h;
}

async function failure(resp) {
  const text = await resp.text();
  let body = text;
  try {
    body = JSON.parse(text);
  } catch (_) {
    /* a non-JSON error body is shown as it is */
  }
  return new ApiError(resp.status, detailOf(body) || resp.statusText, body);
}

async function request(method, path, { query, json, form, signal, raw } = {}) {
  const init = { method, headers: headers(), signal };
  if (json !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(json);
  } else if (form !== undefined) {
    init.body = form; // the browser sets the multipart boundary
  }
  const resp = await fetch(url(path, query), init);
  if (!resp.ok) throw await failure(resp);
  if (raw) return resp;
  if (resp.status === 204) return null;
  const text = await resp.text();
  return text ? JSON.parse(text) : null;
}

export const api = {
  get: (path, query, opts) => request("GET", path, { query, ...opts }),
  post: (path, json, opts) => request("POST", path, { json, ...opts }),
  patch: (path, json, opts) => request("PATCH", path, { json, ...opts }),
  put: (path, json, opts) => request("PUT", path, { json, ...opts }),
  del: (path, opts) => request("DELETE", path, opts),
  upload: (path, form, opts) => request("POST", path, { form, ...opts }),
  raw: (method, path, opts) => request(method, path, { ...opts, raw: true }),
};

/** Every page of a cursor-paginated list (`after=<last id>`), up to `max` items. */
export async function listAll(path, query = {}, max = 1000) {
  const items = [];
  let after;
  while (items.length < max) {
    const page = await api.get(path, { ...query, limit: 100, after });
    const list = Array.isArray(page) ? page : page?.data || [];
    items.push(...list);
    if (list.length < 100) break;
    after = list[list.length - 1].id;
  }
  return items;
}

/**
 * POSTs `body` to an SSE route and calls `onEvent(obj)` for each `data:` frame as it arrives
 * (pings included). An `event: error` frame throws an ApiError carrying its body; `[DONE]`
 * ends the stream. Resolves when the stream ends; abort with `signal`.
 */
export async function stream(path, body, onEvent, signal) {
  const resp = await fetch(url(path), {
    method: "POST",
    headers: headers({ "Content-Type": "application/json", Accept: "text/event-stream" }),
    body: JSON.stringify(body),
    signal,
  });
  if (!resp.ok) throw await failure(resp);
  const reader = resp.body.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buffer += decoder.decode(value, { stream: true }).replace(/\r\n?/g, "\n");
    let cut;
    while ((cut = buffer.indexOf("\n\n")) >= 0) {
      const frame = buffer.slice(0, cut);
      buffer = buffer.slice(cut + 2);
      if (handleFrame(frame, onEvent) === "done") {
        reader.cancel().catch(() => {});
        return;
      }
    }
  }
  if (buffer.trim()) handleFrame(buffer, onEvent);
}

function handleFrame(frame, onEvent) {
  let event = "";
  const data = [];
  for (const line of frame.split("\n")) {
    if (line.startsWith("event:")) event = line.slice(6).trim();
    else if (line.startsWith("data:")) data.push(line.slice(5).replace(/^ /, ""));
  }
  const text = data.join("\n");
  if (!text) return;
  if (text.startsWith("[DONE]")) return "done";
  const obj = JSON.parse(text);
  if (event === "error") throw new ApiError(200, detailOf(obj), obj);
  if (event && event !== "message") return;
  onEvent(obj);
}
