// Stage details (its verifications, newest first, with their phases and messages; each
// promotion's steps with status, timing and message, and the commit it pushed) and
// warehouse details (discovered artifacts; freight by hand).

import { ago, esc, freightTag, phaseBadge } from './html.js';
import { verificationBadge, verifyButton } from './pipeline.js';

function seconds(from, to) {
  if (!from || !to) return '';
  return `${Math.max(0, (Date.parse(to) - Date.parse(from)) / 1000).toFixed(0)}s`;
}

/**
 * What one `git-push` step pushed: the commit (a link to its page when the api knows
 * one: an https Git host), the branch and repository, and the files it changed.
 */
function pushed(push) {
  const short = esc(push.commit.slice(0, 12));
  const commit = push.commitURL
    ? `<a class="commit" href="${esc(push.commitURL)}" target="_blank" rel="noopener noreferrer" title="${esc(push.commit)}">${short}</a>`
    : `<code class="commit" title="${esc(push.commit)}" data-copy="${esc(push.commit)}">${short}</code>`;
  const files = (push.changes ?? [])
    .map((c) => `<li data-path="${esc(c.path)}"><code>${esc(c.path)}</code> <span class="added">+${esc(c.added)}</span> <span class="removed">−${esc(c.removed)}</span></li>`)
    .join('');
  const more = push.changedFiles > (push.changes ?? []).length ? `<li class="muted">${push.changedFiles - push.changes.length} more files</li>` : '';
  return `<div class="pushed" data-commit="${esc(push.commit)}">pushed ${commit} to <code>${esc(push.branch)}</code> of <code>${esc(push.repoURL)}</code>
    · ${esc(push.changedFiles)} file${push.changedFiles === 1 ? '' : 's'} changed<ul class="changes">${files}${more}</ul></div>`;
}

function promotion(p, stageName, canPromote) {
  const s = p.status ?? {};
  const steps = (s.stepExecutionMetadata ?? [])
    .map(
      (step) => `<tr><td>${esc(step.alias || step.uses)}</td><td>${esc(step.uses)}</td><td>${phaseBadge(step.status)}</td>
        <td title="${esc(step.startedAt)}">${esc(seconds(step.startedAt, step.finishedAt))}</td><td class="message">${esc(step.message ?? '')}</td></tr>`,
    )
    .join('');
  const running = s.phase === 'Pending' || s.phase === 'Running';
  const abort = canPromote && running
    ? `<button type="button" data-action="abort" data-stage="${esc(stageName)}" data-promotion="${esc(p.name)}">Abort</button>`
    : '';
  return `<article class="promotion" data-promotion="${esc(p.name)}">
    <h3>${phaseBadge(s.phase)} <code>${esc(p.name)}</code> ${abort}</h3>
    <p>${freightTag(p.freight.name, p.freight.alias)} · ${esc(p.trigger)}${p.createdBy ? ` by ${esc(p.createdBy)}` : ''} ·
      <span title="${esc(p.createdAt)}">${esc(ago(p.createdAt))}</span>${s.finishedAt ? ` · took ${esc(seconds(s.startedAt, s.finishedAt))}` : ''}
      ${s.commit && !s.pushes?.length ? ` · pushed <code class="commit" title="${esc(s.commit)}" data-copy="${esc(s.commit)}">${esc(s.commit.slice(0, 12))}</code>` : ''}</p>
    ${s.message ? `<p class="message">${esc(s.message)}</p>` : ''}
    ${(s.pushes ?? []).map(pushed).join('')}
    ${steps ? `<table class="steps"><thead><tr><th>Step</th><th>Uses</th><th>Status</th><th>Took</th><th>Message</th></tr></thead><tbody>${steps}</tbody></table>` : ''}
  </article>`;
}

/** One metric's measurements, briefly: its name and each value with its phase. */
function metricSummary(metric) {
  const values = (metric.measurements ?? []).map((m) => `${m.value ?? ''} ${m.phase}`.trim());
  return `${esc(metric.name)}: ${esc(values.join(', '))}`;
}

/** The stage's verifications (every `verificationHistory` entry), newest first. */
function verifications(stage) {
  const rows = [];
  for (const held of stage.status?.freightHistory ?? []) {
    for (const v of held.verificationHistory ?? []) rows.push({ held, v });
  }
  rows.sort((a, b) => Date.parse(b.v.startTime) - Date.parse(a.v.startTime));
  if (!rows.length) return '<p class="muted">No verifications yet.</p>';
  const body = rows
    .map(({ held, v }) => {
      const metrics = (v.metrics ?? []).map(metricSummary).join('; ');
      return `<tr class="verification" data-verification="${esc(v.id)}" data-phase="${esc(v.phase)}"><td>${phaseBadge(v.phase)}</td>
        <td>${freightTag(held.name, held.alias)}</td>
        <td title="${esc(v.startTime)}">${esc(ago(v.startTime))}</td><td>${esc(seconds(v.startTime, v.finishTime))}</td>
        <td>${esc(v.actor ?? '')}</td>
        <td><div class="${v.phase === 'Successful' ? 'note' : 'message'}">${esc(v.message ?? '')}</div>${metrics ? `<div class="metrics">${metrics}</div>` : ''}</td></tr>`;
    })
    .join('');
  return `<table class="verifications"><thead><tr><th>Phase</th><th>Freight</th><th>Started</th><th>Took</th><th>By</th><th>Message</th></tr></thead>
    <tbody>${body}</tbody></table>`;
}

/** A stage's verifications and promotions, newest first. */
export function renderStage(data, stageName, canPromote) {
  const stage = data.stages.find((s) => s.metadata.name === stageName);
  if (!stage) return `<p class="error">Stage ${esc(stageName)} not found.</p>`;
  const promotions = [...(stage.status?.promotions ?? [])].reverse();
  const freightByName = new Map(data.freight.map((f) => [f.metadata.name, f]));
  const buttons = canPromote
    ? `<button type="button" data-action="promote-stage" data-stage="${esc(stageName)}">Promote…</button> ${verifyButton(stage)}`
    : '';
  const verification = stage.spec?.verification?.analysisTemplates?.length
    ? `<section class="verifications" id="verifications"><h3>Verification ${verificationBadge(stage, freightByName)}</h3>${verifications(stage)}</section>`
    : '';
  return `<section class="details"><h2>Stage ${esc(stageName)} ${buttons}</h2>
    ${verification}
    <h3>Promotions</h3>
    ${promotions.length ? promotions.map((p) => promotion(p, stageName, canPromote)).join('') : '<p class="muted">No promotions yet.</p>'}</section>`;
}

function pickList(kind, repoURL, items, label) {
  return `<fieldset><legend>${esc(kind)} ${esc(repoURL)}</legend>${items
    .map(
      (item, i) => `<label class="choice"><input type="radio" name="${esc(kind)}|${esc(repoURL)}" value="${esc(item.value)}" ${i === 0 ? 'checked' : ''}> ${label(item)}</label>`,
    )
    .join('')}</fieldset>`;
}

/** What a warehouse discovered, per subscription, with picks to assemble freight. */
export function renderWarehouse(data, name, canPromote) {
  const warehouse = data.warehouses.find((w) => w.metadata.name === name);
  if (!warehouse) return `<p class="error">Warehouse ${esc(name)} not found.</p>`;
  const found = warehouse.status?.discoveredArtifacts;
  const error = warehouse.status?.lastDiscoveryError;
  let lists = '';
  if (found) {
    for (const g of found.git ?? []) {
      lists += pickList('commit', g.repoURL, g.commits.map((c) => ({ ...c, value: c.id })), (c) =>
        `<code title="${esc(c.id)}">${esc(c.tag || c.id.slice(0, 7))}</code> ${esc(c.subject)} <span class="muted">${esc(c.author)}</span>`);
    }
    for (const i of found.images ?? []) {
      lists += pickList('image', i.repoURL, i.references.map((r) => ({ ...r, value: r.tag })), (r) =>
        `<code title="${esc(r.digest)}">${esc(r.tag)}</code>`);
    }
    for (const c of found.charts ?? []) {
      lists += pickList('chart', c.repoURL, c.versions.map((v) => ({ value: v })), (v) => `<code>${esc(v.value)}</code>`);
    }
  }
  const buttons = canPromote
    ? `<button type="button" data-action="refresh" data-warehouse="${esc(name)}">Refresh</button>
       ${found ? `<button type="button" data-action="assemble" data-warehouse="${esc(name)}">Assemble freight…</button>` : ''}`
    : '';
  return `<section class="details"><h2>Warehouse ${esc(name)} ${buttons}</h2>
    ${error ? `<p class="error">Discovery failed ${esc(ago(error.at))}: ${esc(error.message)}</p>` : ''}
    ${found ? `<p class="muted">Discovered ${esc(ago(found.discoveredAt))}</p><form id="picks">${lists}</form>` : '<p class="muted">Nothing discovered yet.</p>'}
  </section>`;
}

/** The picks of the warehouse form, as the freight API takes them. */
export function picks(formElement) {
  const body = { commits: [], images: [], charts: [] };
  for (const [key, value] of new FormData(formElement)) {
    const [kind, repoURL] = key.split('|');
    if (kind === 'commit') body.commits.push({ repoURL, id: value });
    if (kind === 'image') body.images.push({ repoURL, tag: value });
    if (kind === 'chart') body.charts.push({ repoURL, version: value });
  }
  return body;
}
