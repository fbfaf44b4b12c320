// What people do, each behind a confirmation: promote, approve, abort, re-verify (or
// stop a verification), edit an alias, assemble freight. Every action calls the same API the CLI does, with the user's token;
// the api decides (and its refusal is shown as it words it).

import { api, p } from './api.js';
import { esc } from './html.js';

const dialog = () => document.getElementById('dialog');
const form = () => document.getElementById('dialog-form');

/**
 * Shows a dialog with `body` (HTML) and OK/Cancel; resolves to the form's data when
 * confirmed, or null when cancelled.
 */
export function ask(title, body, confirmLabel = 'OK') {
  return new Promise((resolve) => {
    const f = form();
    f.innerHTML = `<h2>${esc(title)}</h2>${body}
      <menu><button value="cancel" type="submit" formnovalidate>Cancel</button>
      <button value="ok" type="submit" class="primary" id="confirm">${esc(confirmLabel)}</button></menu>`;
    const d = dialog();
    d.returnValue = '';
    d.onclose = () => resolve(d.returnValue === 'ok' ? new FormData(f) : null);
    d.showModal();
  });
}

/** Shows `message` in the page's banner (an error unless `ok`). */
export function flash(message, ok = false) {
  const banner = document.getElementById('flash');
  banner.textContent = message;
  banner.className = ok ? 'ok' : 'error';
  banner.hidden = false;
}

export function clearFlash() {
  document.getElementById('flash').hidden = true;
}

/** Runs an API call, flashing its outcome; resolves to its answer or null. */
async function run(what, call) {
  try {
    const answer = await call();
    flash(what, true);
    return answer;
  } catch (error) {
    flash(`${what} failed: ${error.message}`);
    return null;
  }
}

/** The request of `stage` for freight from `origin` (`{kind, name}`), if any. */
export function requestFor(stage, origin) {
  return (stage.spec?.requestedFreight ?? []).find(
    (r) => (r.origin?.kind ?? 'Warehouse') === (origin?.kind ?? 'Warehouse') && r.origin?.name === origin?.name,
  );
}

/**
 * Whether `freight` may be promoted to `stage`: null when it may, or why not (the api
 * also checks, including soak times).
 */
export function whyNotAvailable(stage, freight) {
  const name = stage.metadata.name;
  const request = requestFor(stage, freight.origin);
  if (!request) return `${name} does not take freight from ${freight.origin?.name}`;
  const status = freight.status ?? {};
  if (status.approvedFor?.[name] || request.sources?.direct) return null;
  const upstream = request.sources?.stages ?? [];
  const verified = upstream.filter((u) => status.verifiedIn?.[u]);
  const all = request.sources?.availabilityStrategy === 'All';
  if (all ? verified.length === upstream.length && upstream.length > 0 : verified.length > 0) return null;
  return `not verified in ${upstream.join(all ? ' and ' : ' or ')} yet (or approved for ${name})`;
}

export async function promote(project, stageName, freight) {
  const label = freight.alias || freight.metadata.name;
  const confirmed = await ask(
    `Promote to ${stageName}`,
    `<p>Promote <b title="${esc(freight.metadata.name)}">${esc(label)}</b> to <b>${esc(stageName)}</b>?</p>`,
    'Promote',
  );
  if (!confirmed) return null;
  return run(`promotion of ${label} to ${stageName} created`, () =>
    api(p(project, 'stages', stageName, 'promotions'), { method: 'POST', body: { freight: freight.metadata.name } }),
  );
}

/** Asks which freight to promote to `stage`, listing only what it takes. */
export async function promoteToStage(project, stage, freightList) {
  const name = stage.metadata.name;
  const candidates = freightList.filter((f) => requestFor(stage, f.origin));
  if (!candidates.length) {
    flash(`no freight for ${name} yet`);
    return null;
  }
  const current = new Set((stage.status?.currentFreight ?? []).map((c) => c.name));
  const rows = candidates
    .slice(0, 200)
    .map((f) => {
      const why = whyNotAvailable(stage, f);
      const id = f.metadata.name;
      const here = current.has(id) ? ' <span class="muted">(current)</span>' : '';
      return `<label class="choice${why ? ' unavailable' : ''}"><input type="radio" name="freight" value="${esc(id)}" ${why ? 'disabled' : ''} required>
        <span class="freight" title="${esc(id)}">${esc(f.alias)}</span>${here} ${why ? `<span class="why">${esc(why)}</span>` : ''}</label>`;
    })
    .join('');
  const data = await ask(`Promote to ${name}`, `<div class="choices">${rows}</div>`, 'Promote');
  const picked = data?.get('freight');
  if (!picked) return null;
  const freight = candidates.find((f) => f.metadata.name === picked);
  return run(`promotion of ${freight.alias} to ${name} created`, () =>
    api(p(project, 'stages', name, 'promotions'), { method: 'POST', body: { freight: picked } }),
  );
}

/** Asks which stage to promote `freight` to, or approve it for. */
export async function chooseStage(project, freight, stages, verb) {
  const rows = stages
    .filter((s) => requestFor(s, freight.origin))
    .map((s) => {
      const name = s.metadata.name;
      const why = verb === 'promote' ? whyNotAvailable(s, freight) : freight.status?.approvedFor?.[name] ? 'already approved' : null;
      return `<label class="choice${why ? ' unavailable' : ''}"><input type="radio" name="stage" value="${esc(name)}" ${why ? 'disabled' : ''} required>
        <b>${esc(name)}</b> ${why ? `<span class="why">${esc(why)}</span>` : ''}</label>`;
    })
    .join('');
  const title = verb === 'promote' ? `Promote ${freight.alias}` : `Approve ${freight.alias}`;
  const data = await ask(title, `<div class="choices">${rows || '<p>No stage takes this freight.</p>'}</div>`, verb === 'promote' ? 'Promote' : 'Approve');
  const stage = data?.get('stage');
  if (!stage) return null;
  if (verb === 'promote') {
    return run(`promotion of ${freight.alias} to ${stage} created`, () =>
      api(p(project, 'stages', stage, 'promotions'), { method: 'POST', body: { freight: freight.metadata.name } }),
    );
  }
  return run(`${freight.alias} approved for ${stage}`, () =>
    api(p(project, 'freight', freight.metadata.name, 'approve'), { method: 'POST', query: { stage } }),
  );
}

export async function abort(project, stageName, promotion) {
  const confirmed = await ask(`Abort in ${stageName}`, `<p>Abort promotion <code>${esc(promotion)}</code>?</p>`, 'Abort');
  if (!confirmed) return null;
  return run(`promotion ${promotion} aborted`, () =>
    api(p(project, 'stages', stageName, 'abort'), { method: 'POST', body: { promotion } }),
  );
}

/** Verifies the freight `stage` holds again, or with `stop` aborts the running verification. */
export async function verify(project, stage, stop = false) {
  const name = stage.metadata.name;
  const held = (stage.status?.currentFreight ?? [])
    .map((c) => `<b title="${esc(c.name)}">${esc(c.alias || c.name)}</b>`)
    .join(', ');
  const confirmed = stop
    ? await ask(`Stop verifying in ${name}`, `<p>Abort the running verification of ${held} in <b>${esc(name)}</b>?</p>`, 'Stop')
    : await ask(`Re-verify in ${name}`, `<p>Verify ${held} in <b>${esc(name)}</b> again?</p>`, 'Verify');
  if (!confirmed) return null;
  return run(stop ? `verification in ${name} stopped` : `verification of ${name} requested`, () =>
    api(p(project, 'stages', name, 'verify'), { method: 'POST', body: stop ? { abort: true } : {} }),
  );
}

export async function editAlias(project, freight) {
  const data = await ask(
    `Alias of ${freight.alias}`,
    `<label>New alias <input name="alias" value="${esc(freight.alias)}" required pattern="[a-z0-9]([-a-z0-9]*[a-z0-9])?" maxlength="63"></label>
     <p class="muted">${esc(freight.metadata.name)}</p>`,
    'Save',
  );
  const alias = data?.get('alias');
  if (!alias || alias === freight.alias) return null;
  return run(`alias changed to ${alias}`, () =>
    api(p(project, 'freight', freight.metadata.name), { method: 'PATCH', body: { alias } }),
  );
}

export async function assemble(project, warehouse, picks) {
  const confirmed = await ask(`Assemble freight in ${warehouse}`, `<p>Make freight from the picked artifacts?</p>`, 'Create');
  if (!confirmed) return null;
  return run(`freight assembled in ${warehouse}`, () =>
    api(p(project, 'freight'), { method: 'POST', body: { warehouse, ...picks } }),
  );
}

export async function refresh(project, warehouse) {
  return run(`refresh of ${warehouse} requested`, () =>
    api(p(project, 'warehouses', warehouse, 'refresh'), { method: 'POST' }),
  );
}
