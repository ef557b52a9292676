// Folders (data sources): the list, create and delete; one folder's files with their
// processing status (polled while any is still being processed), upload by picker or drop,
// and the agents it is attached to.
import { html, useState, useMemo } from "../lib.js";
import { api, listAll } from "../api.js";
import {
  useAsync,
  useInterval,
  notify,
  notifyError,
  Loaded,
  Empty,
  ConfirmButton,
  fmtDate,
  fmtNumber,
} from "../components.js";

const DONE = new Set(["completed", "error"]);

export function Folders({ folderId }) {
  if (folderId) return html`<${FolderDetail} folderId=${folderId} key=${folderId} />`;
  return html`<${FolderList} />`;
}

function embeddingOf(folder) {
  const c = folder.embedding_config || {};
  return c.handle || (c.embedding_endpoint_type ? `${c.embedding_endpoint_type}/${c.embedding_model}` : c.embedding_model) || "–";
}

function FolderList() {
  const state = useAsync(() => listAll("/v1/folders/"), []);
  const remove = async (id) => {
    try {
      await api.del(`/v1/folders/${id}`);
      state.setData((list) => list.filter((f) => f.id !== id));
      notify("Folder deleted.");
    } catch (err) {
      notifyError(err);
    }
  };
  return html`<div class="panel folders">
    <header class="page-head">
      <div><h1>Folders</h1><div class="muted small">Files an agent can open and search, once the folder is attached to it.</div></div>
    </header>
    <${CreateFolder} />
    <${Loaded} state=${state}>
      ${(list) =>
        list.length
          ? html`<table class="list folders-table" aria-label="Folders">
              <thead><tr><th>Name</th><th>Description</th><th>Embedding</th><th>Created</th><th></th></tr></thead>
              <tbody>
                ${list.map(
                  (f) => html`<tr key=${f.id} data-folder-id=${f.id}>
                    <td><a href=${`#/folders/${f.id}`}>${f.name}</a></td>
                    <td>${f.description || ""}</td>
                    <td class="mono small">${embeddingOf(f)}</td>
                    <td>${fmtDate(f.created_at)}</td>
                    <td class="actions"><${ConfirmButton} label="Delete" onConfirm=${() => remove(f.id)} /></td>
                  </tr>`,
                )}
              </tbody>
            </table>`
          : html`<${Empty}>No folders yet.<//>`}
    <//>
  </div>`;
}

function CreateFolder() {
  const models = useAsync(() => api.get("/v1/models/embedding"), []);
  const [f, setF] = useState({ name: "", description: "", embedding: "" });
  const [busy, setBusy] = useState(false);
  const set = (k) => (e) => setF({ ...f, [k]: e.target.value });
  const submit = async (e) => {
    e.preventDefault();
    setBusy(true);
    try {
      const body = { name: f.name.trim() };
      if (f.description.trim()) body.description = f.description.trim();
      if (f.embedding.trim()) body.embedding = f.embedding.trim();
      const folder = await api.post("/v1/folders/", body);
      notify(`Folder ${folder.name} created.`);
      location.hash = `#/folders/${folder.id}`;
    } catch (err) {
      notifyError(err);
    } finally {
      setBusy(false);
    }
  };
  const handles = (models.data || []).map((m) => m.handle).filter(Boolean);
  return html`<form class="form card create-folder" onSubmit=${submit} aria-label="New folder">
    <div class="row">
      <label class="grow">Name <input name="name" value=${f.name} onInput=${set("name")} /></label>
      <label class="grow">Embedding <span class="hint">empty: the server's default</span>
        <input name="embedding" list="embedding-handles" placeholder="openai/text-embedding-3-small"
          value=${f.embedding} onInput=${set("embedding")} />
      </label>
    </div>
    <datalist id="embedding-handles">${handles.map((h) => html`<option key=${h} value=${h} />`)}</datalist>
    <label>Description <input name="description" value=${f.description} onInput=${set("description")} /></label>
    <div><button class="primary" type="submit" disabled=${busy || !f.name.trim()}>Create folder</button></div>
  </form>`;
}

function FolderDetail({ folderId }) {
  const folder = useAsync(() => api.get(`/v1/folders/${folderId}`), [folderId]);
  return html`<div class="panel folder-detail" data-folder-id=${folderId}>
    <a href="#/folders" class="small">← Folders</a>
    <${Loaded} state=${folder}>
      ${(f) => html`<header class="page-head">
        <div>
          <h1>${f.name}</h1>
          <div class="muted small"><code>${f.id}</code> · ${embeddingOf(f)}${f.description ? ` · ${f.description}` : ""}</div>
        </div>
      </header>`}
    <//>
    <${FolderFiles} folderId=${folderId} />
    <${FolderAgents} folderId=${folderId} />
  </div>`;
}

function FolderFiles({ folderId }) {
  const files = useAsync(() => api.get(`/v1/folders/${folderId}/files`, { limit: 1000 }), [folderId]);
  const busy = (files.data || []).some((f) => !DONE.has(f.processing_status));
  // Poll while a file is still being parsed or embedded; stops when all are done or on unmount.
  useInterval(files.reload, busy ? 2000 : 0);
  const [uploading, setUploading] = useState(null);
  const upload = async (list) => {
    for (const file of list) {
      setUploading(file.name);
      const form = new FormData();
      form.append("file", file, file.name);
      try {
        const meta = await api.upload(`/v1/folders/${folderId}/upload`, form);
        notify(`Uploaded ${meta?.original_file_name || file.name}.`);
      } catch (err) {
        notifyError(err);
      }
    }
    setUploading(null);
    files.reload();
  };
  const remove = async (id) => {
    try {
      await api.del(`/v1/folders/${folderId}/${id}`);
      files.setData((list) => list.filter((f) => f.id !== id));
      notify("File deleted.");
    } catch (err) {
      notifyError(err);
    }
  };
  return html`<section class="card folder-files" aria-label="Files">
    <div class="row section-head">
      <h3 class="grow">Files</h3>
      ${busy ? html`<span class="muted small">processing…</span>` : null}
      <button onClick=${files.reload} disabled=${files.loading}>Refresh</button>
    </div>
    <${DropZone} onFiles=${upload} uploading=${uploading} />
    <${Loaded} state=${files}>
      ${(list) => (list.length ? html`<${FileTable} list=${list} onRemove=${remove} />` : html`<${Empty}>No files yet.<//>`)}
    <//>
  </section>`;
}

/** A drop target that is also a file picker. */
function DropZone({ onFiles, uploading }) {
  const [over, setOver] = useState(false);
  const drop = (e) => {
    e.preventDefault();
    setOver(false);
    const list = [...(e.dataTransfer?.files || [])];
    if (list.length) onFiles(list);
  };
  const pick = (e) => {
    const list = [...e.target.files];
    e.target.value = "";
    if (list.length) onFiles(list);
  };
  return html`<div class=${"dropzone" + (over ? " over" : "")} aria-label="Drop files here"
    onDragOver=${(e) => (e.preventDefault(), setOver(true))} onDragLeave=${() => setOver(false)} onDrop=${drop}>
    Drop files here, or
    <label class="button file-pick">Choose files<input type="file" multiple onChange=${pick} /></label>
    ${uploading ? html`<div class="small uploading">Uploading ${uploading}…</div>` : null}
  </div>`;
}

function FileStatus({ file: f }) {
  const chunks = f.total_chunks ? ` ${fmtNumber(f.chunks_embedded || 0)}/${fmtNumber(f.total_chunks)} chunks` : "";
  return html`<span class="status status-${f.processing_status}" title=${f.error_message || ""}>${f.processing_status}</span>
    <span class="muted small">${chunks}</span>
    ${f.error_message ? html`<div class="small error-text">${f.error_message}</div>` : null}`;
}

function fmtBytes(n) {
  if (n === null || n === undefined) return "–";
  if (n < 1024) return `${n} B`;
  return n < 1024 * 1024 ? `${(n / 1024).toFixed(1)} KB` : `${(n / 1024 / 1024).toFixed(1)} MB`;
}

function FileTable({ list, onRemove }) {
  return html`<table class="list files-table" aria-label="Folder files">
    <thead><tr><th>Name</th><th>Type</th><th>Size</th><th>Status</th><th>Uploaded</th><th></th></tr></thead>
    <tbody>
      ${list.map(
        (f) => html`<tr key=${f.id} data-file-id=${f.id} data-file-name=${f.original_file_name || f.file_name}>
          <td title=${f.file_name}>${f.original_file_name || f.file_name}</td>
          <td class="small">${f.file_type || "–"}</td>
          <td class="num">${fmtBytes(f.file_size)}</td>
          <td class="file-status"><${FileStatus} file=${f} /></td>
          <td>${fmtDate(f.created_at)}</td>
          <td class="actions"><${ConfirmButton} label="Delete" onConfirm=${() => onRemove(f.id)} /></td>
        </tr>`,
      )}
    </tbody>
  </table>`;
}

/** The agents using the folder, detach, and attach to another agent. */
function FolderAgents({ folderId }) {
  const attached = useAsync(() => api.get(`/v1/folders/${folderId}/agents`, { limit: 1000 }), [folderId]);
  const agents = useAsync(() => listAll("/v1/agents/"), []);
  const names = useMemo(() => new Map((agents.data || []).map((a) => [a.id, a.name])), [agents.data]);
  const [choice, setChoice] = useState("");
  const ids = (attached.data || []).map((a) => (typeof a === "string" ? a : a.id));
  const change = async (agentId, how) => {
    try {
      await api.patch(`/v1/agents/${agentId}/folders/${how}/${folderId}`);
      notify(how === "attach" ? `Attached to ${names.get(agentId) || agentId}.` : `Detached from ${names.get(agentId) || agentId}.`);
      setChoice("");
      attached.reload();
    } catch (err) {
      notifyError(err);
    }
  };
  const others = (agents.data || []).filter((a) => !ids.includes(a.id));
  return html`<section class="card folder-agents" aria-label="Agents using this folder">
    <h3>Agents using this folder</h3>
    <${Loaded} state=${attached}>
      ${() =>
        ids.length
          ? html`<ul class="plain-list">
              ${ids.map(
                (id) => html`<li key=${id} data-agent-id=${id} class="row">
                  <a class="grow" href=${`#/agents/${id}/chat`}>${names.get(id) || id}</a>
                  <button onClick=${() => change(id, "detach")}>Detach</button>
                </li>`,
              )}
            </ul>`
          : html`<div class="muted small">Not attached to any agent.</div>`}
    <//>
    <form class="row attach-form" onSubmit=${(e) => (e.preventDefault(), choice && change(choice, "attach"))}>
      <select aria-label="Agent to attach" class="grow" value=${choice} onChange=${(e) => setChoice(e.target.value)}>
        <option value="">(choose an agent)</option>
        ${others.map((a) => html`<option key=${a.id} value=${a.id}>${a.name}</option>`)}
      </select>
      <button type="submit" disabled=${!choice}>Attach</button>
    </form>
  </section>`;
}
