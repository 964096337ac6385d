// Definitions: export everything as one JSON document (download) and import one (file upload).
import { html } from 'htm/preact';
import { useState } from 'preact/hooks';
import * as api from '../api.js';
import { isAdmin, refreshVhosts, useStore } from '../store.js';
import { ErrorBox, toast } from '../ui.js';

export function Definitions() {
  const { user } = useStore();
  const [error, setError] = useState(null);
  const [result, setResult] = useState(null);
  const [busy, setBusy] = useState(false);
  const exportDefs = async () => {
    setError(null);
    try {
      const defs = await api.get('/api/definitions');
      const blob = new Blob([JSON.stringify(defs, null, 2)], { type: 'application/json' });
      const a = document.createElement('a');
      a.href = URL.createObjectURL(blob);
      a.download = `warren-definitions-${new Date().toISOString().slice(0, 19).replace(/:/g, '')}.json`;
      document.body.appendChild(a);
      a.click();
      a.remove();
      setTimeout(() => URL.revokeObjectURL(a.href), 10000);
    } catch (e) {
      setError(e);
    }
  };
  const importDefs = async (e) => {
    e.preventDefault();
    setError(null);
    setResult(null);
    const file = e.target.elements.file.files[0];
    if (!file) return;
    setBusy(true);
    try {
      let doc;
      try {
        doc = JSON.parse(await file.text());
      } catch (err) {
        throw new Error(`${file.name} is not JSON: ${err.message}`);
      }
      const r = await api.post('/api/definitions', doc);
      setResult(r);
      toast('Definitions imported');
      refreshVhosts();
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  const imported = result && (result.imported || result);
  return html`<div class="page">
    <div class="page-head"><h1>Definitions</h1></div>
    <p class="muted">One JSON document with the vhosts, users (password hashes only), permissions, limits, exchanges, queues,
      bindings and policies: export it to recreate a deployment, import it to apply one (existing objects are kept; import is idempotent).</p>
    <${ErrorBox} error=${error} />
    <div class="two">
      <section class="panel">
        <h2>Export</h2>
        <p>Download the broker's definitions.</p>
        <button class="primary" onClick=${exportDefs}>Download definitions</button>
      </section>
      <section class="panel">
        <h2>Import</h2>
        ${isAdmin(user)
          ? html`<form class="inline" onSubmit=${importDefs}>
              <input type="file" name="file" accept=".json,application/json" required />
              <button class="primary" type="submit" disabled=${busy}>Upload and import</button>
            </form>`
          : html`<p class="muted">Only users tagged <code>administrator</code> can import definitions.</p>`}
        ${imported
          ? html`<table class="kv result">${Object.entries(imported).map(([k, v]) => html`<tr><th>${k}</th><td>${typeof v === 'object' ? JSON.stringify(v) : v}</td></tr>`)}</table>`
          : null}
      </section>
    </div>
  </div>`;
}
