// The little global state the pages share: who is logged in and the selected vhost.
import { useEffect, useState } from 'preact/hooks';
import * as api from './api.js';

const VHOST_KEY = 'warren.console.vhost';
let state = { user: null, vhost: sessionStorage.getItem(VHOST_KEY) || '', vhosts: [] };
const listeners = new Set();

export function getState() {
  return state;
}

export function setState(patch) {
  state = { ...state, ...patch };
  if ('vhost' in patch) sessionStorage.setItem(VHOST_KEY, patch.vhost);
  for (const l of listeners) l(state);
}

export function useStore() {
  const [s, set] = useState(state);
  useEffect(() => {
    listeners.add(set);
    set(state);
    return () => listeners.delete(set);
  }, []);
  return s;
}

/** The list items of a paged answer, or the array itself. */
export function itemsOf(r) {
  if (!r) return [];
  return Array.isArray(r) ? r : r.items || [];
}

export function canWrite(user) {
  return !!user && (user.tags || []).some((t) => t === 'administrator' || t === 'management');
}
export function isAdmin(user) {
  return !!user && (user.tags || []).includes('administrator');
}

/** Reloads the vhost list of the selector. */
export async function refreshVhosts() {
  try {
    const r = await api.get('/api/vhosts');
    setState({ vhosts: itemsOf(r).map((v) => (typeof v === 'string' ? v : v.name)).sort() });
  } catch {
    // A monitoring user may not list vhosts everywhere; the selector then offers "All" only.
  }
}

