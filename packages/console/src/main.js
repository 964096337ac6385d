// Entry point: login gate, top bar (navigation, vhost selector, user), hash router.
import { html } from 'htm/preact';
import { render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import * as api from './api.js';
import { refreshVhosts, setState, useStore } from './store.js';
import { Toasts, ErrorBox } from './ui.js';
import { Overview } from './pages/overview.js';
import { Connections } from './pages/connections.js';
import { Queues } from './pages/queues.js';
import { QueueDetail } from './pages/queue.js';
import { Exchanges } from './pages/exchanges.js';
import { Admin } from './pages/admin.js';
import { Definitions } from './pages/definitions.js';
import { Tasks } from './pages/tasks.js';
import { Buckets, BucketDetail } from './pages/buckets.js';

const NAV = [
  ['#/', 'Overview'],
  ['#/connections', 'Connections'],
  ['#/exchanges', 'Exchanges'],
  ['#/queues', 'Queues'],
  ['#/buckets', 'Buckets'],
  ['#/tasks', 'Tasks'],
  ['#/admin', 'Users & vhosts'],
  ['#/definitions', 'Definitions'],
];

function useHash() {
  const [hash, setHash] = useState(location.hash || '#/');
  useEffect(() => {
    const on = () => setHash(location.hash || '#/');
    addEventListener('hashchange', on);
    return () => removeEventListener('hashchange', on);
  }, []);
  return hash;
}

function route(hash) {
  const parts = hash.replace(/^#\/?/, '').split('/').map((p) => decodeURIComponent(p));
  switch (parts[0]) {
    case '':
      return html`<${Overview} />`;
    case 'connections':
      return html`<${Connections} />`;
    case 'queues':
      return parts.length >= 3 ? html`<${QueueDetail} key=${hash} vhost=${parts[1]} name=${parts.slice(2).join('/')} />` : html`<${Queues} />`;
    case 'buckets':
      return parts.length >= 3 ? html`<${BucketDetail} key=${hash} vhost=${parts[1]} name=${parts.slice(2).join('/')} />` : html`<${Buckets} />`;
    case 'tasks':
      return html`<${Tasks} />`;
    case 'exchanges':
      return html`<${Exchanges} />`;
    case 'admin':
      return html`<${Admin} />`;
    case 'definitions':
      return html`<${Definitions} />`;
    default:
      return html`<div class="page"><h1>Not found</h1><p>No page at <code>${hash}</code>.</p></div>`;
  }
}

function Login({ reason }) {
  const [user, setUser] = useState('');
  const [password, setPassword] = useState('');
  const [error, setError] = useState(reason || null);
  const [busy, setBusy] = useState(false);
  const submit = async (e) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    const auth = { user, password };
    try {
      const me = await api.get('/api/whoami', { auth });
      api.setAuth(auth);
      setState({ user: me });
    } catch (err) {
      setError(err.status === 401 ? `Login failed: ${err.message || 'wrong user name or password'}` : String(err));
    } finally {
      setBusy(false);
    }
  };
  return html`<div class="login">
    <form onSubmit=${submit} class="card">
      <div class="brand big"><span class="logo"></span>Warren</div>
      <p class="muted">Management console</p>
      <label>User<input name="user" autocomplete="username" value=${user} onInput=${(e) => setUser(e.target.value)} autofocus required /></label>
      <label>Password<input name="password" type="password" autocomplete="current-password" value=${password}
        onInput=${(e) => setPassword(e.target.value)} /></label>
      <${ErrorBox} error=${error} />
      <button class="primary" type="submit" disabled=${busy}>${busy ? 'Logging in…' : 'Log in'}</button>
    </form>
  </div>`;
}

function VhostSelect() {
  const { vhost, vhosts } = useStore();
  return html`<label class="vhost-select" title="Virtual host">
    <span class="muted">vhost</span>
    <select name="vhost" value=${vhost} onChange=${(e) => setState({ vhost: e.target.value })}>
      <option value="">All</option>
      ${vhosts.map((v) => html`<option value=${v}>${v}</option>`)}
    </select>
  </label>`;
}

function App() {
  const { user } = useStore();
  const hash = useHash();
  const [checking, setChecking] = useState(!!api.savedAuth());
  const [reason, setReason] = useState(null);
  useEffect(() => {
    api.whenUnauthorized(() => {
      api.setAuth(null);
      setReason('Your session ended: log in again.');
      setState({ user: null });
    });
    if (api.savedAuth()) {
      api
        .get('/api/whoami')
        .then((me) => setState({ user: me }))
        .catch(() => api.setAuth(null))
        .finally(() => setChecking(false));
    }
  }, []);
  useEffect(() => {
    if (user) refreshVhosts();
  }, [user]);
  if (checking) return null;
  if (!user) return html`<${Login} reason=${reason} /><${Toasts} />`;
  const logout = () => {
    api.setAuth(null);
    setReason(null);
    setState({ user: null });
  };
  const current = '#/' + (hash.replace(/^#\/?/, '').split('/')[0] || '');
  return html`<div class="shell">
    <header class="topbar">
      <a class="brand" href="#/"><span class="logo"></span>Warren</a>
      <nav>${NAV.map(([href, label]) => html`<a href=${href} class=${current === href ? 'active' : ''}>${label}</a>`)}</nav>
      <span class="spacer"></span>
      <${VhostSelect} />
      <span class="user" title=${(user.tags || []).join(', ')}>${user.name}</span>
      <button class="link" onClick=${logout}>Log out</button>
    </header>
    <main>${route(hash)}</main>
    <${Toasts} />
  </div>`;
}

render(html`<${App} />`, document.getElementById('app'));
