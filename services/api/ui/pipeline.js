// The pipeline page: a freight lane (newest first) above the graph of warehouses and
// stages, each stage card with its current freight by alias, the last promotion's
// phase, the phase of its latest verification, its health and an auto-promotion badge.

import { CARD, edgePath, layout } from './graph.js';
import { ago, esc, freightTag, phaseBadge, route } from './html.js';

const RUNNING = new Set(['Pending', 'Running']);

/** A stage's health: broken references or a failed last promotion make it unhealthy. */
export function health(stage) {
  const ready = (stage.status?.conditions ?? []).find((c) => c.type === 'Ready');
  if (ready && ready.status === 'False') return ['unhealthy', ready.message];
  const current = stage.status?.currentPromotion;
  if (current && RUNNING.has(current.status?.phase)) return ['progressing', `promotion ${current.name} is ${current.status.phase}`];
  const last = stage.status?.lastPromotion?.status;
  if (last && (last.phase === 'Failed' || last.phase === 'Errored')) return ['unhealthy', last.message ?? last.phase];
  if (!stage.status?.currentFreight?.length) return ['unknown', 'no freight yet'];
  return ['healthy', 'references resolve; last promotion succeeded'];
}

/** Whether the stage verifies its freight (its `spec.verification` names templates). */
export function verifies(stage) {
  return (stage.spec?.verification?.analysisTemplates ?? []).length > 0;
}

/**
 * The stage's latest verification of the freight it holds: the newest
 * `verificationHistory` entry of the newest `freightHistory` entry for that freight.
 */
export function latestVerification(stage) {
  const current = new Set((stage.status?.currentFreight ?? []).map((c) => c.name));
  const entry = (stage.status?.freightHistory ?? []).find((h) => current.has(h.name));
  return entry?.verificationHistory?.[0] ?? null;
}

/**
 * The verification phase of the freight a stage holds: the latest verification's phase
 * (Running, Successful, Failed, Error, Aborted, Inconclusive; Pending before it starts),
 * or for a stage without verification, whether the freight counts as verified there.
 */
export function verificationPhase(stage, freightByName) {
  const current = stage.status?.currentFreight ?? [];
  if (!current.length) return '';
  if (verifies(stage)) return latestVerification(stage)?.phase ?? 'Pending';
  const verified = current.every((c) => freightByName.get(c.name)?.status?.verifiedIn?.[stage.metadata.name]);
  return verified ? 'Verified' : 'Pending';
}

/** Re-verify (or, while a verification runs, stop it) for a stage that verifies. */
export function verifyButton(stage) {
  if (!verifies(stage) || !stage.status?.currentFreight?.length) return '';
  const name = esc(stage.metadata.name);
  const latest = latestVerification(stage);
  if (latest && RUNNING.has(latest.phase)) {
    return `<button type="button" data-action="stop-verification" data-stage="${name}">Stop verifying</button>`;
  }
  return `<button type="button" data-action="verify" data-stage="${name}">Re-verify</button>`;
}

/** The verification badge of a stage (its message on hover). */
export function verificationBadge(stage, freightByName) {
  const phase = verificationPhase(stage, freightByName);
  const message = verifies(stage) ? latestVerification(stage)?.message : '';
  return phaseBadge(phase, 'verification', message);
}

function stageCard(project, stage, node, freightByName, canPromote) {
  const name = stage.metadata.name;
  const [state, why] = health(stage);
  const current = stage.status?.currentFreight ?? [];
  const freight = current.length
    ? current.map((c) => freightTag(c.name, c.alias)).join(' ')
    : '<span class="muted">no freight</span>';
  const last = stage.status?.lastPromotion;
  const running = stage.status?.currentPromotion;
  const auto = stage.status?.autoPromotionEnabled ? '<span class="badge auto" title="auto-promotion enabled">auto</span>' : '';
  let buttons = '';
  if (canPromote) {
    buttons = `<button type="button" data-action="promote-stage" data-stage="${esc(name)}">Promote</button>`;
    if (running && RUNNING.has(running.status?.phase)) {
      buttons += ` <button type="button" data-action="abort" data-stage="${esc(name)}" data-promotion="${esc(running.name)}">Abort</button>`;
    }
    const verify = verifyButton(stage);
    if (verify) buttons += ` ${verify}`;
  }
  return `<div class="card stage health-${state}" style="left:${node.x}px;top:${node.y}px" data-stage="${esc(name)}">
    <div class="title"><span class="dot" title="${esc(state)}: ${esc(why)}"></span><a href="${route(project, 'stage', name)}">${esc(name)}</a> ${auto}</div>
    <div class="current">${freight}</div>
    <div class="badges">${last ? phaseBadge(last.status?.phase, 'promotion') : ''} ${verificationBadge(stage, freightByName)}
      ${last ? `<span class="muted" title="${esc(last.createdAt)}">${esc(ago(last.status?.finishedAt ?? last.createdAt))}</span>` : ''}</div>
    <div class="buttons">${buttons}</div>
  </div>`;
}

function warehouseCard(project, warehouse, node, freightByName, canPromote) {
  const name = node.name;
  const last = warehouse?.status?.lastFreightID;
  const lastFreight = last ? freightByName.get(last) : null;
  const error = warehouse?.status?.lastDiscoveryError;
  return `<div class="card warehouse${error || node.missing ? ' health-unhealthy' : ''}" style="left:${node.x}px;top:${node.y}px" data-warehouse="${esc(name)}">
    <div class="title">▣ <a href="${route(project, 'warehouse', name)}">${esc(name)}</a></div>
    <div class="current">${lastFreight ? freightTag(last, lastFreight.alias) : '<span class="muted">nothing discovered</span>'}</div>
    <div class="badges">${node.missing ? '<span class="badge phase-failed">missing</span>' : ''}${error ? `<span class="badge phase-failed" title="${esc(error.message)}">discovery failed</span>` : ''}</div>
    <div class="buttons">${canPromote && !node.missing ? `<button type="button" data-action="refresh" data-warehouse="${esc(name)}">Refresh</button>` : ''}</div>
  </div>`;
}

/** How many freight the lane shows; the timeline has them all. */
const LANE = 100;

/** The freight lane: the newest freight, with the stages each is in. */
function lane(project, freight) {
  const more = freight.length > LANE ? `<li class="more"><a href="${route(project, 'freight')}">${freight.length - LANE} more…</a></li>` : '';
  const chips = freight
    .slice(0, LANE)
    .map((f) => {
      const inStages = Object.keys(f.status?.currentlyIn ?? {});
      return `<li>${freightTag(f.metadata.name, f.alias)}<small>${esc(inStages.join(', '))}</small></li>`;
    })
    .join('');
  return `<section class="lane" aria-label="freight"><h3><a href="${route(project, 'freight')}">Freight</a> <span class="muted">${freight.length}</span></h3><ol>${chips}${more}</ol></section>`;
}

/** The page's HTML for `data` ({stages, warehouses, freight}). */
export function render(project, data, canPromote) {
  const { nodes, edges, width, height } = layout(data.warehouses, data.stages);
  const freightByName = new Map(data.freight.map((f) => [f.metadata.name, f]));
  const stageByName = new Map(data.stages.map((s) => [s.metadata.name, s]));
  const warehouseByName = new Map(data.warehouses.map((w) => [w.metadata.name, w]));
  const paths = edges
    .map((e) => {
      const from = nodes.get(e.from);
      const to = nodes.get(e.to);
      return from && to ? `<path d="${edgePath(from, to)}"/>` : '';
    })
    .join('');
  const cards = [];
  for (const node of nodes.values()) {
    cards.push(
      node.kind === 'stage'
        ? stageCard(project, stageByName.get(node.name), node, freightByName, canPromote)
        : warehouseCard(project, warehouseByName.get(node.name), node, freightByName, canPromote),
    );
  }
  const empty = data.stages.length ? '' : '<p class="muted">No stages in this project yet.</p>';
  return `${lane(project, data.freight)}${empty}
    <section class="graph" id="graph" style="width:${width}px;height:${height + CARD.gapY}px">
      <svg class="edges" width="${width}" height="${height}" aria-hidden="true">${paths}</svg>
      ${cards.join('')}
    </section>`;
}
