// The page: login, routes (#/, #/p/<project>, …/freight, …/stage/<s>, …/warehouse/<w>),
// the project's data kept fresh from its event stream, and the actions' buttons.
// Performance marks `lading:<page>:render` and `lading:<page>:interactive` time each
// page's first render and the moment its buttons and live updates work.

import * as actions from './actions.js';
import { ApiError, api, canPromote, forget, p, setToken, token, whoami } from './api.js';
import { picks, renderStage, renderWarehouse } from './details.js';
import { esc, route } from './html.js';
import { follow } from './live.js';
import { health, render as renderPipeline } from './pipeline.js';
import { render as renderTimeline } from './timeline.js';

const app = document.getElementById('app');
const state = { project: null, data: null, stop: null, live: false, loading: null, dirty: false, filter: '', view: null };
const marked = new Set();

function parseRoute() {
  const parts = location.hash.replace(/^#\/?/, '').split('/').filter(Boolean).map(decodeURIComponent);
  if (parts[0] === 'p' && parts[1]) {
    return { project: parts[1], view: parts[2] ?? 'pipeline', name: parts[3] };
  }
  return { project: null, view: parts[0] === 'login' ? 'login' : 'projects' };
}

function mark(view, what) {
  const name = `lading:${view}:${what}`;
  if (!marked.has(name)) {
    marked.add(name);
    performance.mark(name);
  }
}

/** Marks the first render after the browser painted it; interactive once live too. */
function markRendered(view) {
  if (marked.has(`lading:${view}:render`)) return;
  requestAnimationFrame(() =>
    setTimeout(() => {
      mark(view, 'render');
      if (state.live || !state.project) mark(view, 'interactive');
    }, 0),
  );
}

function crumbs(route_) {
  const nav = document.getElementById('crumbs');
  if (!route_.project) {
    nav.innerHTML = '';
    return;
  }
  const pr = route_.project;
  const tab = (view, label) => `<a href="${route(pr, ...(view === 'pipeline' ? [] : [view]))}" class="${route_.view === view ? 'current' : ''}">${label}</a>`;
  nav.innerHTML = `<a href="#/">Projects</a> / <b>${esc(pr)}</b> ${tab('pipeline', 'Pipeline')} ${tab('freight', 'Freight')}`;
}

async function loadProject(project) {
  const [stages, warehouses, freight] = await Promise.all([
    api(p(project, 'stages')),
    api(p(project, 'warehouses')),
    api(p(project, 'freight')),
  ]);
  return { stages: stages.items, warehouses: warehouses.items, freight: freight.items };
}

/** Reloads the project's data after an event; events arriving meanwhile coalesce. */
async function refreshProject() {
  if (state.loading) {
    state.dirty = true;
    return;
  }
  const project = state.project;
  state.loading = loadProject(project);
  try {
    const data = await state.loading;
    if (state.project === project) {
      state.data = data;
      draw();
    }
  } catch (error) {
    actions.flash(error.message);
  } finally {
    state.loading = null;
    if (state.dirty) {
      state.dirty = false;
      refreshProject();
    }
  }
}

function setLive(open) {
  state.live = open;
  document.getElementById('live').hidden = !open;
  if (open && state.view && marked.has(`lading:${state.view}:render`)) mark(state.view, 'interactive');
}

function followProject(project) {
  if (state.stop) state.stop();
  setLive(false);
  state.stop = follow(project, token(), () => refreshProject(), setLive);
}

function draw() {
  const r = parseRoute();
  const data = state.data;
  if (!data) return;
  const allowed = canPromote(r.project);
  const viewName = r.view === 'pipeline' ? 'pipeline' : r.view === 'freight' ? 'timeline' : r.view;
  state.view = viewName;
  if (r.view === 'pipeline') app.innerHTML = renderPipeline(r.project, data, allowed);
  else if (r.view === 'freight') app.innerHTML = renderTimeline(data, state.filter, allowed);
  else if (r.view === 'stage') app.innerHTML = renderStage(data, r.name, allowed);
  else if (r.view === 'warehouse') {
    // Keep what the user picked across a live re-render.
    const form = document.getElementById('picks');
    const picked = form ? new FormData(form) : null;
    app.innerHTML = renderWarehouse(data, r.name, allowed);
    const again = document.getElementById('picks');
    if (picked && again) {
      for (const [key, value] of picked) {
        const input = [...again.elements].find((e) => e.name === key && e.value === value);
        if (input) input.checked = true;
      }
    }
  } else app.innerHTML = '<p class="error">No such page.</p>';
  markRendered(viewName);
}

async function showProjects() {
  if (state.stop) state.stop();
  state.stop = null;
  state.project = null;
  state.data = null;
  setLive(false);
  const projects = (await api('/projects')).items;
  const cards = await Promise.all(
    projects.map(async (pr) => {
      const name = pr.metadata.name;
      let stages = [];
      try {
        stages = (await api(p(name, 'stages'))).items;
      } catch {
        stages = [];
      }
      const chips = stages
        .map((s) => {
          const [h, why] = health(s);
          return `<span class="chip health-${h}" title="${esc(h)}: ${esc(why)}">${esc(s.metadata.name)}</span>`;
        })
        .join('');
      return `<article class="project"><h2><a href="${route(name)}">${esc(name)}</a></h2>
        <p class="muted">${pr.status?.stages ?? 0} stages · ${pr.status?.warehouses ?? 0} warehouses</p><div>${chips}</div></article>`;
    }),
  );
  app.innerHTML = `<section class="projects">${cards.join('') || '<p class="muted">No projects you may read.</p>'}</section>`;
  state.view = 'projects';
  markRendered('projects');
}

function showLogin(message = '') {
  if (state.stop) state.stop();
  state.stop = null;
  setLive(false);
  document.getElementById('who').textContent = '';
  document.getElementById('logout').hidden = true;
  document.getElementById('crumbs').innerHTML = '';
  app.innerHTML = `<form id="login" class="login"><h2>Log in</h2>
    <p class="muted">With a token from <code>lading token create</code> (or the server's admin token). It is kept in this browser tab only.</p>
    <label>Token <input id="token" name="token" type="password" autocomplete="off" required></label>
    <button class="primary" type="submit" id="login-button">Log in</button>
    ${message ? `<p class="error" id="login-error">${esc(message)}</p>` : ''}</form>`;
}

async function show() {
  actions.clearFlash();
  const r = parseRoute();
  if (!token() || r.view === 'login') {
    showLogin();
    return;
  }
  try {
    const project = r.project;
    const loading = project && project !== state.project ? loadProject(project) : null;
    if (loading) {
      state.project = project;
      state.data = null;
      followProject(project);
    }
    const me = await whoami();
    document.getElementById('who').textContent = `${me.name} (${me.role}${me.project ? ` in ${me.project}` : ''})`;
    document.getElementById('logout').hidden = false;
    crumbs(r);
    if (!project) {
      await showProjects();
      return;
    }
    if (loading) {
      state.data = await loading;
      const view = r.view === 'pipeline' ? 'pipeline' : r.view === 'freight' ? 'timeline' : r.view;
      mark(view, 'data');
    }
    draw();
  } catch (error) {
    if (error instanceof ApiError && error.status === 401) {
      forget();
      showLogin(error.message);
    } else {
      app.innerHTML = `<p class="error">${esc(error.message)}</p>`;
    }
  }
}

function find(kind, name) {
  const list = kind === 'stage' ? state.data.stages : state.data.freight;
  return list.find((x) => x.metadata.name === name);
}

app.addEventListener('submit', async (event) => {
  if (event.target.id !== 'login') return;
  event.preventDefault();
  setToken(document.getElementById('token').value.trim());
  try {
    await whoami(true);
  } catch (error) {
    forget();
    showLogin(error.message);
    return;
  }
  if (location.hash === '#/login') location.hash = '#/';
  else show();
});

app.addEventListener('change', (event) => {
  if (event.target.id === 'warehouse-filter') {
    state.filter = event.target.value;
    draw();
  }
});

document.addEventListener('click', async (event) => {
  const copy = event.target.closest('[data-copy]');
  if (copy && !event.target.closest('[data-action]')) {
    navigator.clipboard?.writeText(copy.dataset.copy).then(
      () => actions.flash(`copied ${copy.dataset.copy}`, true),
      () => {},
    );
  }
  const button = event.target.closest('button[data-action]');
  if (!button || !state.project) return;
  const project = state.project;
  const d = button.dataset;
  let done = null;
  switch (d.action) {
    case 'promote-stage':
      done = await actions.promoteToStage(project, find('stage', d.stage), state.data.freight);
      break;
    case 'promote-freight':
      done = await actions.chooseStage(project, find('freight', d.freight), state.data.stages, 'promote');
      break;
    case 'approve':
      done = await actions.chooseStage(project, find('freight', d.freight), state.data.stages, 'approve');
      break;
    case 'alias':
      done = await actions.editAlias(project, find('freight', d.freight));
      break;
    case 'abort':
      done = await actions.abort(project, d.stage, d.promotion);
      break;
    case 'verify':
    case 'stop-verification':
      done = await actions.verify(project, find('stage', d.stage), d.action === 'stop-verification');
      break;
    case 'refresh':
      done = await actions.refresh(project, d.warehouse);
      break;
    case 'assemble':
      done = await actions.assemble(project, d.warehouse, picks(document.getElementById('picks')));
      break;
    default:
      return;
  }
  // The event stream brings the outcome too; reload now so the page never lags it.
  if (done) refreshProject();
});

document.getElementById('logout').addEventListener('click', () => {
  forget();
  state.project = null;
  location.hash = '#/login';
  showLogin();
});

window.addEventListener('hashchange', show);
show();
