// Where the UI sends its requests (this server by default) and the API key it sends.
import { html, useState } from "../lib.js";
import { api, settings, saveSettings } from "../api.js";
import { notify, notifyError, useAsync } from "../components.js";

export function Settings() {
  const [form, setForm] = useState(settings);
  const health = useAsync(() => api.get("/v1/health/"), []);
  const save = async (e) => {
    e.preventDefault();
    saveSettings(form);
    try {
      const h = await api.get("/v1/health/");
      notify(`Saved: the server answers (version ${h.version || "?"}).`);
      health.reload();
    } catch (err) {
      notifyError(err);
    }
  };
  return html`<div class="narrow">
    <h1>Settings</h1>
    <form class="form" onSubmit=${save}>
      <label>Server
        <input name="baseUrl" placeholder="(this server)" value=${form.baseUrl}
          onInput=${(e) => setForm({ ...form, baseUrl: e.target.value })} />
        <span class="hint">Any Letta-compatible server; it must allow this page's origin (CORS).</span>
      </label>
      <label>API key
        <input name="apiKey" type="password" autocomplete="off" value=${form.apiKey}
          onInput=${(e) => setForm({ ...form, apiKey: e.target.value })} />
        <span class="hint">Sent as <code>Authorization: Bearer</code>; kept in this browser only.</span>
      </label>
      <button class="primary" type="submit">Save</button>
    </form>
    <p class="muted">Server status: ${health.data ? `${health.data.status} · version ${health.data.version}` : health.error ? "unreachable" : "…"}</p>
  </div>`;
}
