// The REST API with the user's token (kept in this browser tab's session storage).

const TOKEN_KEY = 'lading.token';

export function token() {
  return sessionStorage.getItem(TOKEN_KEY);
}

export function setToken(value) {
  if (value) sessionStorage.setItem(TOKEN_KEY, value);
  else sessionStorage.removeItem(TOKEN_KEY);
}

/** An API error: its HTTP status and the api's message. */
export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

/** Calls the API; resolves to the JSON answer, rejects with an ApiError. */
export async function api(path, { method = 'GET', body, query } = {}) {
  const headers = { Authorization: `Bearer ${token() ?? ''}` };
  let url = `/api/v1${path}`;
  if (query) url += `?${new URLSearchParams(query)}`;
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const response = await fetch(url, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await response.text();
  let json = null;
  try {
    json = text ? JSON.parse(text) : null;
  } catch {
    json = null;
  }
  if (!response.ok) {
    throw new ApiError(response.status, json?.error ?? `${response.status} ${response.statusText}`);
  }
  return json;
}

/** Path pieces, encoded. */
export function p(project, ...rest) {
  return `/projects/${encodeURIComponent(project)}${rest.map((r) => `/${encodeURIComponent(r)}`).join('')}`;
}

let me = null;

/** Who the token belongs to: {name, role, project}. */
export async function whoami(refresh = false) {
  if (!me || refresh) me = await api('/whoami');
  return me;
}

export function forget() {
  me = null;
  setToken(null);
}

/** Whether the logged-in token may promote, approve and abort in `project`. */
export function canPromote(project) {
  if (!me) return false;
  const role = me.role;
  if (role !== 'promoter' && role !== 'admin') return false;
  return me.project == null || me.project === project;
}
