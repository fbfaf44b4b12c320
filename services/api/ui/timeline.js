// The freight timeline: newest first, by alias (the name on hover, copied on click),
// with the stages each is in, verified in and approved for; filtered by warehouse.

import { ago, esc, freightTag } from './html.js';

function stageChips(kind, stages) {
  return stages.map((s) => `<span class="chip ${kind}" title="${kind} ${esc(s)}">${kind} ${esc(s)}</span>`).join('');
}

function artifacts(f) {
  const parts = [];
  for (const c of f.commits ?? []) parts.push(`<span title="${esc(c.repoURL)} ${esc(c.id)}">⎇ ${esc(c.tag || c.id?.slice(0, 7))} ${esc(c.message ?? '')}</span>`);
  for (const i of f.images ?? []) parts.push(`<span title="${esc(i.repoURL)}@${esc(i.digest)}">◫ ${esc(i.repoURL.split('/').pop())}:${esc(i.tag)}</span>`);
  for (const c of f.charts ?? []) parts.push(`<span title="${esc(c.repoURL)}">⎈ ${esc(c.name)} ${esc(c.version)}</span>`);
  return parts.join(' ');
}

/** The page's HTML; `warehouse` filters (empty: all). */
export function render(data, warehouse, canPromote) {
  const warehouses = [...new Set(data.freight.map((f) => f.origin?.name))].sort();
  const options = ['<option value="">all warehouses</option>']
    .concat(warehouses.map((w) => `<option ${w === warehouse ? 'selected' : ''} value="${esc(w)}">${esc(w)}</option>`))
    .join('');
  const shown = warehouse ? data.freight.filter((f) => f.origin?.name === warehouse) : data.freight;
  const rows = shown
    .map((f) => {
      const s = f.status ?? {};
      const name = f.metadata.name;
      const buttons = canPromote
        ? `<button type="button" data-action="promote-freight" data-freight="${esc(name)}">Promote…</button>
           <button type="button" data-action="approve" data-freight="${esc(name)}">Approve…</button>
           <button type="button" data-action="alias" data-freight="${esc(name)}">Alias…</button>`
        : '';
      return `<div class="row" data-freight-row="${esc(name)}">
        <div>${freightTag(name, f.alias)} <button type="button" class="copy" data-copy="${esc(name)}" title="copy ${esc(name)}">copy</button></div>
        <div>${esc(f.origin?.name)}</div>
        <div title="${esc(f.metadata.creationTimestamp)}">${esc(ago(f.metadata.creationTimestamp))}</div>
        <div class="arts">${artifacts(f)}</div>
        <div>${stageChips('in', Object.keys(s.currentlyIn ?? {}))}${stageChips('verified', Object.keys(s.verifiedIn ?? {}))}${stageChips('approved', Object.keys(s.approvedFor ?? {}))}</div>
        <div class="buttons">${buttons}</div></div>`;
    })
    .join('');
  return `<section class="timeline">
    <label>Warehouse <select id="warehouse-filter">${options}</select></label> <span class="muted">${shown.length} freight</span>
    <div class="rows"><div class="row head"><div>Freight</div><div>Warehouse</div><div>Created</div><div>Artifacts</div><div>Stages</div><div></div></div>
    <div id="freight-rows">${rows}</div></div></section>`;
}
