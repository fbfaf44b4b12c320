// Small helpers for building HTML strings safely and formatting values.

const ESCAPES = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

/** Escapes text for HTML content and attribute values. */
export function esc(value) {
  return String(value ?? '').replace(/[&<>"']/g, (c) => ESCAPES[c]);
}

/** "3m ago" style age of an RFC 3339 time; the exact time is for the title. */
export function ago(time) {
  if (!time) return '';
  const seconds = Math.max(0, (Date.now() - Date.parse(time)) / 1000);
  if (seconds < 60) return `${Math.floor(seconds)}s ago`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)}m ago`;
  if (seconds < 86400) return `${Math.floor(seconds / 3600)}h ago`;
  return `${Math.floor(seconds / 86400)}d ago`;
}

/** A freight's alias, with its full name on hover; clicking copies the name. */
export function freightTag(name, alias, extra = '') {
  return `<span class="freight ${extra}" title="${esc(name)}" data-copy="${esc(name)}" data-freight="${esc(name)}">${esc(alias || name.slice(0, 7))}</span>`;
}

/** A badge for a phase (Succeeded, Failed, Running, …); `label` and `detail` on hover. */
export function phaseBadge(phase, label = '', detail = '') {
  if (!phase) return '';
  const title = `${label}${label ? ': ' : ''}${phase}${detail ? ` — ${detail}` : ''}`;
  const kind = label ? ` data-kind="${esc(label)}"` : '';
  return `<span class="badge phase-${esc(phase.toLowerCase())}"${kind} title="${esc(title)}">${esc(phase)}</span>`;
}

/** A project-relative route. */
export function route(project, ...rest) {
  return `#/p/${encodeURIComponent(project)}${rest.map((r) => `/${encodeURIComponent(r)}`).join('')}`;
}
