// Users, vhosts and permissions: list, add, delete (administrator tag needed to change them).
import { html } from 'htm/preact';
import { useState } from 'preact/hooks';
import * as api from '../api.js';
import { isAdmin, itemsOf, refreshVhosts, useStore } from '../store.js';
import { Confirm, ErrorBox, act, useLoad } from '../ui.js';

const TAGS = ['administrator', 'management', 'monitoring'];

export function Admin() {
  const { user } = useStore();
  const admin = isAdmin(user);
  // Listing users needs the administrator or monitoring tag; a management user sees itself only.
  const seesUsers = admin || (user.tags || []).includes('monitoring');
  const users = useLoad(() => (seesUsers ? api.get('/api/users') : Promise.resolve([{ name: user.name, tags: user.tags }])), []);
  const vhosts = useLoad(() => api.get('/api/vhosts'), []);
  const perms = useLoad(() => api.get('/api/permissions'), []);
  const [confirm, setConfirm] = useState(null);
  const vhostNames = itemsOf(vhosts.data).map((v) => (typeof v === 'string' ? v : v.name));
  const userNames = itemsOf(users.data).map((u) => u.name);
  const reloadAll = () => {
    users.reload();
    vhosts.reload();
    perms.reload();
    refreshVhosts();
  };
  return html`<div class="page admin">
    <div class="page-head"><h1>Users, vhosts and permissions</h1></div>
    ${admin ? null : html`<p class="muted">Only users tagged <code>administrator</code> can change these.</p>`}
    <section class="panel">
      <h2>Users</h2>
      <${ErrorBox} error=${users.error} />
      <table class="grid">
        <thead><tr><th>Name</th><th>Tags</th><th class="num">Connections</th><th class="num">Max connections</th><th></th></tr></thead>
        <tbody>
          ${itemsOf(users.data).map(
            (u) => html`<tr key=${u.name}><td>${u.name}</td><td>${(u.tags || []).map((t) => html`<span class=${`tag ${t}`}>${t}</span>`)}
              ${(u.tags || []).length === 0 ? html`<span class="muted small">no tag: no console access</span>` : null}</td>
              <td class="num">${u.connections ?? '–'}</td><td class="num">${u.maxConnections ?? html`<span class="muted">–</span>`}</td>
              <td class="actions">${admin && u.name !== user.name
                ? html`<button class="small danger" onClick=${() => setConfirm({ what: `user ${u.name}`, url: `/api/users/${api.path(u.name)}` })}>Delete</button>`
                : null}</td></tr>`,
          )}
        </tbody>
      </table>
      ${admin ? html`<${AddUser} onDone=${reloadAll} />` : null}
    </section>
    <div class="two">
      <section class="panel">
        <h2>Virtual hosts</h2>
        <${ErrorBox} error=${vhosts.error} />
        <table class="grid">
          <thead><tr><th>Name</th><th>Limits</th><th></th></tr></thead>
          <tbody>
            ${itemsOf(vhosts.data).map((v) => {
              const name = typeof v === 'string' ? v : v.name;
              const limits = typeof v === 'object' && v.limits ? Object.entries(v.limits).filter(([, x]) => x !== null && x !== undefined) : [];
              return html`<tr key=${name}><td>${name}</td><td class="small">${limits.map(([k, x]) => html`<span class="tag">${k} ${x}</span>`)}</td>
                <td class="actions">${admin && name !== '/'
                  ? html`<button class="small danger" onClick=${() => setConfirm({ what: `vhost ${name} and everything in it`, url: `/api/vhosts/${api.path(name)}` })}>Delete</button>`
                  : null}</td></tr>`;
            })}
          </tbody>
        </table>
        ${admin ? html`<${AddVhost} onDone=${reloadAll} />` : null}
      </section>
      <section class="panel">
        <h2>Permissions</h2>
        <${ErrorBox} error=${perms.error} />
        <table class="grid">
          <thead><tr><th>User</th><th>Vhost</th><th>Configure</th><th>Write</th><th>Read</th><th></th></tr></thead>
          <tbody>
            ${itemsOf(perms.data).map(
              (p) => html`<tr key=${p.user + '\u0000' + p.vhost}><td>${p.user}</td><td>${p.vhost}</td>
                <td class="regex"><code>${p.configure}</code></td><td class="regex"><code>${p.write}</code></td><td class="regex"><code>${p.read}</code></td>
                <td class="actions">${admin
                  ? html`<button class="small danger" onClick=${() => setConfirm({ what: `the permissions of ${p.user} in ${p.vhost}`, url: `/api/permissions/${api.path(p.vhost)}/${api.path(p.user)}` })}>Revoke</button>`
                  : null}</td></tr>`,
            )}
          </tbody>
        </table>
        ${admin ? html`<${SetPermission} users=${userNames} vhosts=${vhostNames} onDone=${reloadAll} />` : null}
      </section>
    </div>
    ${confirm
      ? html`<${Confirm} title="Delete" danger="Delete" onClose=${() => setConfirm(null)} run=${() => act(() => api.del(confirm.url), 'Deleted').then(reloadAll)}>
          Delete ${confirm.what}?<//>`
      : null}
  </div>`;
}

function AddUser({ onDone }) {
  const [f, setF] = useState({ name: '', password: '', tags: ['management'] });
  const [error, setError] = useState(null);
  const toggle = (t) => setF({ ...f, tags: f.tags.includes(t) ? f.tags.filter((x) => x !== t) : [...f.tags, t] });
  const submit = async (e) => {
    e.preventDefault();
    setError(null);
    try {
      await api.put(`/api/users/${api.path(f.name)}`, { password: f.password, tags: f.tags });
      setF({ name: '', password: '', tags: ['management'] });
      onDone();
    } catch (err) {
      setError(err);
    }
  };
  return html`<form class="inline add" onSubmit=${submit}>
    <strong>Add or update user</strong>
    <input name="newUser" placeholder="name" value=${f.name} onInput=${(e) => setF({ ...f, name: e.target.value })} required />
    <input name="newPassword" type="password" placeholder="password" autocomplete="new-password" value=${f.password} onInput=${(e) => setF({ ...f, password: e.target.value })} required />
    ${TAGS.map((t) => html`<label class="check"><input type="checkbox" checked=${f.tags.includes(t)} onChange=${() => toggle(t)} /> ${t}</label>`)}
    <button class="primary" type="submit">Save user</button>
    <${ErrorBox} error=${error} />
  </form>`;
}

function AddVhost({ onDone }) {
  const [name, setName] = useState('');
  const [error, setError] = useState(null);
  const submit = async (e) => {
    e.preventDefault();
    setError(null);
    try {
      await api.put(`/api/vhosts/${api.path(name)}`, {});
      setName('');
      onDone();
    } catch (err) {
      setError(err);
    }
  };
  return html`<form class="inline add" onSubmit=${submit}>
    <input name="newVhost" placeholder="new vhost" value=${name} onInput=${(e) => setName(e.target.value)} required />
    <button class="primary" type="submit">Add vhost</button>
    <${ErrorBox} error=${error} />
  </form>`;
}

function SetPermission({ users, vhosts, onDone }) {
  const [f, setF] = useState({ user: '', vhost: '', configure: '.*', write: '.*', read: '.*' });
  const [error, setError] = useState(null);
  const set = (k) => (e) => setF({ ...f, [k]: e.target.value });
  const submit = async (e) => {
    e.preventDefault();
    setError(null);
    try {
      const user = f.user || users[0];
      const vhost = f.vhost || vhosts[0];
      await api.put(`/api/permissions/${api.path(vhost)}/${api.path(user)}`, { configure: f.configure, write: f.write, read: f.read });
      onDone();
    } catch (err) {
      setError(err);
    }
  };
  return html`<form class="inline add" onSubmit=${submit}>
    <strong>Grant</strong>
    <select value=${f.user || users[0]} onChange=${set('user')} aria-label="user" title="user">${users.map((u) => html`<option value=${u}>${u}</option>`)}</select>
    <select value=${f.vhost || vhosts[0]} onChange=${set('vhost')} aria-label="vhost" title="vhost">${vhosts.map((v) => html`<option value=${v}>${v}</option>`)}</select>
    <input class="re" value=${f.configure} onInput=${set('configure')} title="configure (regex)" aria-label="configure" />
    <input class="re" value=${f.write} onInput=${set('write')} title="write (regex)" aria-label="write" />
    <input class="re" value=${f.read} onInput=${set('read')} title="read (regex)" aria-label="read" />
    <button class="primary" type="submit">Set</button>
    <${ErrorBox} error=${error} />
  </form>`;
}
