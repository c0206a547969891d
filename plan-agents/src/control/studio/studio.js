// The studio: the agents and runs of a plan-agents control server, live over its WebSocket.
//
// Plain JavaScript and SVG, no framework: the page is a few tables and two drawings redrawn
// from one model, which needs no virtual DOM, and without a build step it is embedded in the
// server as written, works offline and can be read in one sitting.
//
// Everything arrives as JSON-RPC over `/rpc?token=…`: the page asks (`list`, `runs`, `run`,
// `dead_tasks`), subscribes (`subscribe`, `subscribe_runs`) and acts (`wake`, `sleep`, `stop`,
// `mail`, `replay_dead_tasks`, `answer`). Notifications are queued and applied once per
// animation frame, so that a burst of events costs one redraw; a `lagged` notice, or a queue
// grown past what is worth applying one by one, makes the page fetch everything again.
'use strict';

const TOKEN = new URLSearchParams(location.search).get('token') || '';
/** Events kept in the log. */
const LOG = 200;
/** Queued notifications past which fetching everything again is cheaper than applying them. */
const BACKLOG = 5000;
/** Calls in one batch: the server's default `max_batch`. */
const BATCH = 64;

const model = {
  agents: new Map(), // name -> AgentStatus
  dead: new Map(), // name -> [DeadTask]
  log: [], // newest first
  runs: new Map(), // id -> summary
  run: null, // the selected run's detail
  selected: null, // its id
};

// ---- the connection -------------------------------------------------------------------

let socket = null;
let nextId = 1;
const waiting = new Map(); // request id -> {resolve, reject}

function connect() {
  const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
  socket = new WebSocket(`${scheme}//${location.host}/rpc?token=${encodeURIComponent(TOKEN)}`);
  socket.onopen = () => {
    showConnection('live', 'live');
    resync();
  };
  socket.onmessage = (message) => receive(JSON.parse(message.data));
  socket.onclose = () => {
    showConnection('closed', 'disconnected: reconnecting…');
    for (const { reject } of waiting.values()) reject(new Error('the connection closed'));
    waiting.clear();
    setTimeout(connect, 1000);
  };
}

function showConnection(state, text) {
  const badge = document.getElementById('connection');
  badge.dataset.state = state;
  badge.textContent = text;
}

/** Calls `method`; resolves with its result, rejects with its error. */
function call(method, params) {
  return new Promise((resolve, reject) => {
    if (!socket || socket.readyState !== WebSocket.OPEN) {
      reject(new Error('not connected'));
      return;
    }
    const id = nextId++;
    waiting.set(id, { resolve, reject });
    socket.send(JSON.stringify({ jsonrpc: '2.0', id, method, params }));
  });
}

/** Calls each of `calls` ([method, params]), in batches of at most BATCH; resolves with
 *  their results in order (an error in place of a failed call's). */
function callAll(calls) {
  const promises = calls.map(() => null);
  for (let start = 0; start < calls.length; start += BATCH) {
    const frame = [];
    calls.slice(start, start + BATCH).forEach(([method, params], i) => {
      const id = nextId++;
      frame.push({ jsonrpc: '2.0', id, method, params });
      promises[start + i] = new Promise((resolve) => waiting.set(id, { resolve, reject: resolve }));
    });
    if (socket && socket.readyState === WebSocket.OPEN) socket.send(JSON.stringify(frame));
  }
  return Promise.all(promises);
}

function receive(message) {
  if (Array.isArray(message)) {
    message.forEach(receive);
    return;
  }
  if (message.id !== undefined && waiting.has(message.id)) {
    const { resolve, reject } = waiting.get(message.id);
    waiting.delete(message.id);
    if (message.error) reject(Object.assign(new Error(message.error.message), message.error));
    else resolve(message.result);
    return;
  }
  if (message.method === 'lagged') {
    const of = message.params.of === 'runs' ? 'run' : 'agent';
    note(`fell ${message.params.missed} ${of} events behind: fetching everything again`);
    queue.length = 0;
    resync();
    return;
  }
  if (message.method === 'event' || message.method === 'run_event') {
    queue.push(message);
    if (queue.length > BACKLOG) {
      queue.length = 0;
      stale = true;
    }
    schedule();
  }
}

// ---- fetching everything --------------------------------------------------------------

let resyncing = false;
let stale = false;

/** Subscribes (again) and fetches the agents, their dead letters, the runs and the selected
 *  run: after connecting, after `lagged`, after a burst too long to apply. */
async function resync() {
  if (resyncing) {
    stale = true;
    return;
  }
  resyncing = true;
  try {
    await call('subscribe', {});
    await call('subscribe_runs', {});
    const snapshot = await call('list', {});
    model.agents = new Map(snapshot.agents.map((a) => [a.name, a]));
    const withDead = snapshot.agents.filter((a) => a.dead > 0).map((a) => a.name);
    const dead = await callAll(withDead.map((agent) => ['dead_tasks', { agent }]));
    model.dead = new Map();
    withDead.forEach((name, i) => Array.isArray(dead[i]) && model.dead.set(name, dead[i]));
    const { runs } = await call('runs', {});
    model.runs = new Map(runs.map((r) => [r.id, r]));
    if (model.selected !== null) await fetchRun(model.selected);
    dirty.agents = dirty.runs = dirty.run = true;
  } catch (error) {
    note(`resync failed: ${error.message}`);
  } finally {
    resyncing = false;
    schedule();
  }
}

async function fetchRun(id) {
  try {
    model.run = await call('run', { run: id });
  } catch (error) {
    model.run = null;
    note(`run ${id}: ${error.message}`);
  }
  dirty.run = true;
  schedule();
}

// Agents and runs whose figures events only approximate are fetched again, a few at a time.
const refetch = { agents: new Set(), dead: new Set(), runs: false, run: false, busy: false };

async function refetchSome() {
  if (refetch.busy) return;
  const agents = [...refetch.agents].slice(0, BATCH);
  const dead = [...refetch.dead].slice(0, BATCH);
  const { runs, run } = refetch;
  if (!agents.length && !dead.length && !runs && !run) return;
  refetch.busy = true;
  agents.forEach((a) => refetch.agents.delete(a));
  dead.forEach((a) => refetch.dead.delete(a));
  refetch.runs = refetch.run = false;
  try {
    const statuses = await callAll(agents.map((agent) => ['status', { agent }]));
    statuses.forEach((s, i) => {
      if (s && s.name) model.agents.set(s.name, s);
      else if (s && s.data && s.data.kind === 'no_agent') model.agents.delete(agents[i]);
    });
    const lists = await callAll(dead.map((agent) => ['dead_tasks', { agent }]));
    lists.forEach((list, i) => {
      if (Array.isArray(list) && list.length) model.dead.set(dead[i], list);
      else model.dead.delete(dead[i]);
    });
    if (runs) model.runs = new Map((await call('runs', {})).runs.map((r) => [r.id, r]));
    if (run && model.selected !== null) model.run = await call('run', { run: model.selected });
    dirty.agents = dirty.runs = dirty.run = true;
  } catch (error) {
    note(`refresh failed: ${error.message}`);
  } finally {
    // At most four rounds a second, however many events come.
    setTimeout(() => {
      refetch.busy = false;
      refetchSome();
    }, 250);
    schedule();
  }
}

// ---- applying events, once per frame --------------------------------------------------

const queue = [];
const dirty = { agents: false, runs: false, run: false, log: false };
let frame = 0;

function schedule() {
  if (!frame) frame = requestAnimationFrame(flush);
}

function flush() {
  frame = 0;
  if (stale) {
    stale = false;
    resync();
  }
  for (const message of queue.splice(0)) {
    if (message.method === 'event') applyAgentEvent(message.params);
    else applyRunEvent(message.params);
  }
  refetchSome();
  if (dirty.agents) renderAgents();
  if (dirty.log) renderLog();
  if (dirty.runs) renderRuns();
  if (dirty.run) renderRun();
  dirty.agents = dirty.runs = dirty.run = dirty.log = false;
}

function applyAgentEvent(event) {
  const name = event.agent;
  let agent = model.agents.get(name);
  if (!agent) {
    agent = {
      name, kind: event.kind || '', state: 'idle', queued: 0, running: 0, wake_at_ms: null,
      wakes_on: [], schedules: [], done: 0, failed: 0, dead: 0, last_error: null,
    };
    model.agents.set(name, agent);
  }
  switch (event.event) {
    case 'state': agent.state = event.to; break;
    case 'task_queued': agent.queued = event.queued; break;
    case 'task_started': agent.queued = Math.max(0, agent.queued - 1); agent.running += 1; break;
    case 'task_done': agent.running = Math.max(0, agent.running - 1); agent.done += 1; break;
    case 'task_failed':
      agent.running = Math.max(0, agent.running - 1);
      agent.failed += 1;
      agent.last_error = event.error;
      if (event.dead) {
        agent.dead += 1;
        refetch.dead.add(name);
      }
      break;
    case 'error': agent.last_error = event.error; break;
    default: break;
  }
  refetch.agents.add(name);
  log(describeAgentEvent(event));
  dirty.agents = true;
}

function describeAgentEvent(e) {
  switch (e.event) {
    case 'created': return `${e.agent}: created (${e.kind})`;
    case 'state': return `${e.agent}: ${e.from} → ${e.to}${e.woken_by ? ` (woken by ${JSON.stringify(e.woken_by)})` : ''}`;
    case 'task_queued': return `${e.agent}: queued ${e.name} #${e.task}`;
    case 'task_started': return `${e.agent}: started ${e.name} #${e.task} (attempt ${e.attempt})`;
    case 'task_done': return `${e.agent}: done ${e.name} #${e.task} in ${e.ms} ms`;
    case 'task_failed': return `${e.agent}: ${e.dead ? 'dead' : 'failed'} ${e.name} #${e.task}: ${e.error}`;
    case 'error': return `${e.agent}: error: ${e.error}`;
    default: return `${e.agent}: ${e.event}`;
  }
}

function applyRunEvent(event) {
  switch (event.event) {
    case 'run':
      model.runs.set(event.run, { id: event.run, name: event.name, status: 'running', nodes: 0 });
      log(`run ${event.run} (${event.name}) started`);
      dirty.runs = true;
      return;
    case 'question':
    case 'answered':
      log(`run ${event.run}: ${event.node} ${event.event === 'question' ? 'asks a question' : 'was answered'}`);
      refetch.runs = true;
      if (event.run === model.selected) refetch.run = true;
      return;
    default: break;
  }
  if (event.parent === null && event.event === 'finished') refetch.runs = true;
  if (event.run !== model.selected || !model.run) return;
  const nodes = model.run.report.nodes;
  const node = nodes[event.id];
  switch (event.event) {
    case 'started':
      nodes[event.id] = {
        id: event.id, parent: event.parent, name: event.name, kind: event.node_kind,
        path: event.path, start_us: event.at_us, end_us: null, attempts: 1,
        outcome: { status: 'running' },
      };
      break;
    case 'retrying': if (node) node.attempts = event.attempt + 1; break;
    case 'finished':
      if (node) {
        node.end_us = event.at_us;
        node.outcome = event.outcome;
      }
      // The critical path, barriers and totals come with the run's detail: a group's
      // barrier once it ends, the rest once the run does.
      if (event.parent === null || event.node_kind === 'par' || event.node_kind === 'each') {
        refetch.run = true;
      }
      break;
    case 'waited': if (node) node.waited_us = (node.waited_us || 0) + event.us; break;
    case 'count':
      if (node) {
        node.counters = node.counters || {};
        node.counters[event.counter] = (node.counters[event.counter] || 0) + event.amount;
      }
      break;
    case 'deadline': if (node) node.deadline_us = event.after_us; break;
    case 'note': if (node) node.notes = { ...node.notes, [event.key]: event.value }; break;
    case 'budget': model.run.budget = event.budget; break;
    default: break;
  }
  dirty.run = true;
}

function log(line) {
  model.log.unshift(`${new Date().toLocaleTimeString()}  ${line}`);
  if (model.log.length > LOG) model.log.length = LOG;
  dirty.log = true;
}

function note(line) {
  log(line);
  schedule();
}

// ---- drawing helpers ------------------------------------------------------------------

/** An HTML element: attributes (`class`, `data-*`, event handlers as functions) and
 *  children (nodes or text: never parsed as HTML). */
function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  setAll(node, attrs);
  node.append(...children.flat().filter((c) => c !== null && c !== undefined).map(asNode));
  return node;
}

function asNode(child) {
  return child instanceof Node ? child : document.createTextNode(String(child));
}

const SVG = 'http://www.w3.org/2000/svg';

function svg(tag, attrs = {}, ...children) {
  const node = document.createElementNS(SVG, tag);
  setAll(node, attrs);
  node.append(...children.filter((c) => c !== null && c !== undefined).map(asNode));
  return node;
}

function setAll(node, attrs) {
  for (const [key, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    if (typeof value === 'function') node.addEventListener(key.replace(/^on/, ''), value);
    else node.setAttribute(key, value);
  }
}

function time(ms) {
  return ms ? new Date(ms).toLocaleTimeString() : '';
}

function ms(us) {
  return us === null || us === undefined ? '' : (us / 1000).toFixed(1);
}

// ---- the agents view ------------------------------------------------------------------

function act(method, params) {
  call(method, params).then(
    () => {
      refetch.agents.add(params.agent);
      refetch.dead.add(params.agent);
      schedule();
    },
    (error) => note(`${method} ${params.agent}: ${error.message}`),
  );
}

function renderAgents() {
  const agents = [...model.agents.values()].sort((a, b) => a.name.localeCompare(b.name));
  const rows = agents.map((a) => {
    const mail = el('input', { placeholder: 'mail (JSON or text)', 'aria-label': `mail to ${a.name}` });
    const send = () => {
      let message = mail.value;
      try { message = JSON.parse(message); } catch { /* plain text */ }
      act('mail', { agent: a.name, message });
      mail.value = '';
    };
    return el('tr', { 'data-agent': a.name },
      el('td', {}, a.name),
      el('td', {}, a.kind),
      el('td', {}, el('span', { class: 'state', 'data-state': a.state }, a.state)),
      el('td', { class: 'num' }, a.queued),
      el('td', { class: 'num' }, a.running),
      el('td', {}, a.wake_at_ms ? time(a.wake_at_ms) : (a.wakes_on || []).join(', ')),
      el('td', {}, (a.schedules || []).slice(0, 3).map(time).join(', ')),
      el('td', { class: 'num' }, `${a.done} / ${a.failed} / ${a.dead}`),
      el('td', { class: 'error' }, a.last_error || ''),
      el('td', { class: 'actions' },
        el('button', { onclick: () => act('wake', { agent: a.name }) }, 'wake'),
        el('button', { onclick: () => act('sleep', { agent: a.name }) }, 'sleep'),
        el('button', { onclick: () => act('stop', { agent: a.name }) }, 'stop'),
        a.dead > 0 ? el('button', { onclick: () => act('replay_dead_tasks', { agent: a.name }) }, 'replay dead') : null,
        mail,
        el('button', { onclick: send }, 'mail')));
  });
  document.querySelector('#agents tbody').replaceChildren(...rows);
  document.getElementById('agents-empty').hidden = agents.length > 0;
  const counts = {};
  for (const a of agents) counts[a.state] = (counts[a.state] || 0) + 1;
  document.getElementById('agents-summary').textContent =
    `${agents.length} agents: ${Object.entries(counts).map(([s, n]) => `${n} ${s}`).join(', ') || 'none'}`;

  const dead = [...model.dead.entries()].flatMap(([agent, tasks]) => tasks.map((t) => ({ agent, ...t })));
  document.querySelector('#dead tbody').replaceChildren(...dead.map((d) => el('tr', { 'data-agent': d.agent },
    el('td', {}, d.agent),
    el('td', {}, `${d.task.name} #${d.task.id}`),
    el('td', { class: 'error' }, d.error),
    el('td', {}, time(d.at_ms)),
    el('td', {}, el('button', { onclick: () => act('replay_dead_tasks', { agent: d.agent }) }, 'replay')))));
  document.getElementById('dead-empty').hidden = dead.length > 0;
}

function renderLog() {
  document.getElementById('events').replaceChildren(...model.log.map((line) => el('li', {}, line)));
}

// ---- the runs view --------------------------------------------------------------------

function renderRuns() {
  const runs = [...model.runs.values()].sort((a, b) => b.id - a.id);
  document.getElementById('runs').replaceChildren(...runs.map((r) => el('li', {},
    el('a', { href: `#runs/${r.id}`, 'data-run': r.id, class: r.id === model.selected ? 'current' : null },
      el('span', { class: 'name' }, `#${r.id} ${r.name}`),
      el('span', { class: 'chip', 'data-state': chipState(r.status) }, r.status)))));
  document.getElementById('runs-empty').hidden = runs.length > 0;
}

function chipState(status) {
  return { running: 'running', done: 'done', failed: 'failed', waiting: 'cancelled' }[status] || 'waiting';
}

/** A node instance's state by its outcome: running, done, failed, timed out or cancelled. */
function stateOf(record) {
  switch (record.outcome.status) {
    case 'running': return 'running';
    case 'ok': return 'done';
    case 'cancelled': return 'cancelled';
    case 'timed_out': return 'timed-out';
    default: return 'failed';
  }
}

/** The instances a deadline cut off: cancelled under an instance whose own deadline passed,
 *  through cancelled ones only — the branches of a `settled` group still running at its
 *  deadline, say, which the report can only call cancelled. */
function cutOff(all) {
  const cut = new Set();
  for (const n of all) {
    if (!n || n.outcome.status !== 'cancelled') continue;
    for (let up = all[n.parent]; up; up = all[up.parent]) {
      if (up.deadline_us !== undefined && up.deadline_us !== null) {
        cut.add(n.id);
        break;
      }
      if (up.outcome.status !== 'cancelled') break;
    }
  }
  return cut;
}

/** What a state is called. */
function stateName(state) {
  return state === 'timed-out' ? 'timed out' : state;
}

function renderRun() {
  const article = document.getElementById('run');
  const detail = model.run;
  article.hidden = !detail;
  if (!detail) return;
  const { run, graph, report } = detail;
  const summary = model.runs.get(run.id) || run;
  // The deadlines that passed, as the detail has them (events add those passing since).
  for (const [id, after] of Object.entries(detail.deadlines || {})) {
    if (report.nodes[id]) report.nodes[id].deadline_us = after;
  }
  const nodes = report.nodes.filter(Boolean);
  countPasses(report.nodes, nodes);
  const cut = cutOff(report.nodes);
  const state = (n) => (cut.has(n.id) ? 'timed-out' : stateOf(n));
  const running = detail.question ? 'waiting' : summary.status;
  document.getElementById('run-title').textContent = `Run #${run.id}: ${run.name}`;
  const wall = Math.max(0, ...nodes.map((n) => n.end_us ?? n.start_us));
  const totals = Object.entries(detail.totals || {}).map(([k, v]) => `${k} ${round(v)}`).join(', ');
  document.getElementById('run-meta').textContent =
    `${running} · started ${time(run.started_ms)} · ${nodes.length} node instances · ${ms(wall)} ms` +
    (totals ? ` · ${totals}` : '');
  const query = `?token=${encodeURIComponent(TOKEN)}`;
  document.getElementById('download-report').href = `runs/${run.id}/report.json${query}`;
  document.getElementById('download-trace').href = `runs/${run.id}/trace.json${query}`;
  renderBudget(detail.budget);

  // The latest instance of each graph node, by path; a finished run's others were skipped.
  const byPath = new Map();
  for (const n of nodes) byPath.set(n.path, n);
  const critical = new Set(detail.critical || []);
  const criticalPaths = new Set(nodes.filter((n) => critical.has(n.id)).map((n) => n.path));
  const roles = policyRoles(graph, nodes, byPath, state);
  const finished = summary.status === 'done' || summary.status === 'failed';
  const asking = detail.question ? detail.question.node : null;
  const stateOfNode = (g) => {
    if (asking && g.name === asking) return 'asking';
    const record = byPath.get(g.path);
    if (record) return state(record);
    return finished ? 'skipped' : 'waiting';
  };
  drawGraph(graph, byPath, stateOfNode, criticalPaths, roles);
  drawTimeline(nodes, critical, wall, asking, state);
  renderQuestion(detail);

  const rows = nodes.filter((n) => n.kind !== 'plan' || n.parent !== null).map((n) => el('tr',
    { 'data-node': n.path, 'data-state': state(n), class: critical.has(n.id) ? 'critical' : null },
    el('td', {}, `${n.name}${n.path ? ` (${n.path})` : ''}${critical.has(n.id) ? ' ★' : ''}`),
    el('td', {}, n.kind),
    el('td', {}, el('span', { class: 'chip', 'data-state': state(n) },
      cut.has(n.id) ? 'timed out' : n.outcome.status.replace('_', ' ')),
      roles.get(n.path) ? ` ${roles.get(n.path).text}` : ''),
    el('td', { class: 'num' }, n.attempts),
    el('td', { class: 'num' }, ms(n.start_us)),
    el('td', { class: 'num' }, n.end_us === null ? '' : ms(n.end_us - n.start_us)),
    el('td', { class: 'num' }, ms(n.waited_us || 0)),
    el('td', {}, Object.entries(n.counters || {}).map(([k, v]) => `${k} ${round(v)}`).join(', ')),
    el('td', { class: 'notes' }, notesOf(n).map((line) => el('div', {}, line)))));
  document.querySelector('#nodes tbody').replaceChildren(...rows);
  const sum = (f) => nodes.reduce((t, n) => t + f(n), 0);
  document.querySelector('#nodes tfoot').replaceChildren(el('tr', {},
    el('th', {}, 'total'), el('th', {}), el('th', {}),
    el('th', { class: 'num' }, sum((n) => Math.max(0, n.attempts - 1)), ' retries'),
    el('th', {}), el('th', { class: 'num' }, ms(wall)),
    el('th', { class: 'num' }, ms(sum((n) => n.waited_us || 0))),
    el('th', {}, totals), el('th', {})));
}

/** Sets each loop instance's `passes`: how many passes it has begun, counted by its body's
 *  first part, which starts once a pass. */
function countPasses(all, nodes) {
  const first = new Map(); // loop id -> the path of the first part started in it
  for (const n of nodes) if (n.kind === 'loop') n.passes = 0;
  for (const n of nodes) {
    const loop = all[n.parent];
    if (!loop || loop.kind !== 'loop') continue;
    if (!first.has(loop.id)) first.set(loop.id, n.path);
    if (first.get(loop.id) === n.path) loop.passes += 1;
  }
}

/** How many passes, in words. */
function passesText(passes) {
  return `${passes} ${passes === 1 ? 'pass' : 'passes'}`;
}

/** What was said of an instance: its notes (a policy's ranking, a `settled` group's
 *  outcomes, a worker), a loop's passes and the deadline that cut it off. */
function notesOf(n) {
  const lines = Object.entries(n.notes || {}).map(([k, v]) => `${k}: ${v}`);
  if (n.passes !== undefined) lines.push(`passes: ${n.passes}`);
  if (n.deadline_us !== undefined && n.deadline_us !== null) {
    lines.push(`deadline: timed out after ${Number(ms(n.deadline_us))} ms`);
  }
  return lines;
}

/** The run's budget: what it has spent of each limit, with a meter of the share used. */
function renderBudget(budget) {
  const box = document.getElementById('budget');
  box.hidden = !budget;
  if (!budget) return;
  const money = (v) => `$${v >= 1 ? v.toFixed(2) : Number(v.toPrecision(2))}`;
  const shows = {
    tokens: (v) => Math.round(v).toLocaleString('en'), dollars: money, requests: String,
    wall_ms: (v) => `${Number((v / 1000).toFixed(1))} s`,
  };
  const limits = Object.entries(shows).filter(([k]) => budget[k] && budget[k].limit !== null);
  const parts = limits.map(([k, show]) => {
    const { spent, limit } = budget[k];
    const used = limit > 0 ? Math.min(1, spent / limit) : 1;
    return el('span', { class: 'limit', 'data-limit': k },
      `${k === 'wall_ms' ? 'wall time' : k} `, el('meter', { min: 0, max: 1, low: 0.75, high: 0.9, optimum: 0, value: used }),
      ` ${show(spent)} / ${show(limit)} (${Math.round((1 - used) * 100)}% left)`);
  });
  const renews = budget.renews_every_ms ? ` · renews every ${budget.renews_every_ms / 1000} s` : '';
  box.replaceChildren(el('strong', {}, 'budget'), ...(parts.length ? parts : [' no limits']), renews);
}

/** A counter as people read it: whole, or to a sensible precision (dollars are small). */
function round(value) {
  if (Number.isInteger(value)) return value;
  if (Math.abs(value) >= 100) return value.toFixed(0);
  if (Math.abs(value) >= 1) return value.toFixed(1);
  return value.toPrecision(2);
}

/** What each branch of a parallel group became, by path, as `{ role, text }`: `first`'s
 *  winner and its cancelled losers; `n_best`'s and `best`'s ranks with their scores, from
 *  the ranking the group noted (a `par`'s branches only: an `each`'s items share one node,
 *  and their ranks go on their lanes in the timeline);
 *  the branches a deadline or another policy cut off. */
function policyRoles(graph, nodes, byPath, state) {
  const roles = new Map();
  for (const g of graph.nodes) {
    if (g.kind !== 'par' && g.kind !== 'each') continue;
    const group = byPath.get(g.path);
    if (!group) continue;
    const first = (g.policy || '').startsWith('first') || (g.policy || '').startsWith('race');
    for (const b of nodes.filter((n) => n.parent === group.id)) {
      if (first && b.outcome.status === 'ok') roles.set(b.path, { role: 'winner', text: 'winner' });
      else if (state(b) === 'timed-out') roles.set(b.path, { role: 'timed-out', text: 'timed out' });
      else if (b.outcome.status === 'cancelled') {
        roles.set(b.path, first ? { role: 'loser', text: 'loser' } : { role: 'cut-off', text: 'cut off' });
      }
    }
    if (g.kind !== 'par') continue;
    const branches = graph.nodes.filter((b) => b.parent === g.id);
    for (const [index, role] of ranksOf(group)) {
      if (branches[index]) roles.set(branches[index].path, role);
    }
  }
  return roles;
}

/** The ranks a `n_best` or `best` group noted, by branch (an `each`'s: by item), as
 *  `{ role, text }`. */
function ranksOf(group) {
  const roles = new Map();
  const ranks = group.notes && group.notes.ranks;
  if (!ranks) return roles;
  // `branch 2: 0.91 (1st), branch 0: 0.5 (not kept), branch 1 failed (step)`; a score is
  // written as its type's Debug, which may hold commas.
  for (const part of ranks.split(/, (?=branch \d+[: ]|and \d+ more$)/)) {
    const ranked = /^branch (\d+): (.*) \((\d+(?:st|nd|rd|th)|not kept)\)$/.exec(part);
    if (!ranked) continue;
    const [, index, score, rank] = ranked;
    roles.set(Number(index), rank === 'not kept'
      ? { role: 'not-kept', text: `not kept · ${score}` }
      : { role: 'kept', text: `${rank} · ${score}` });
  }
  return roles;
}

// The plan: leaves as boxes, constructs as dashed boxes around their parts; sequences run
// left to right, parallel branches and choices top to bottom.
const ROW = new Set(['plan', 'seq', 'loop', 'focus', 'let']);
const GAP = 14;
const PAD = 8;
const HEAD = 16;
const LEAF_H = 30;

function drawGraph(graph, byPath, stateOfNode, criticalPaths, roles) {
  const label = (g) => boxText(g, byPath.get(g.path), roles.get(g.path));
  const children = new Map();
  for (const g of graph.nodes) {
    if (!children.has(g.parent)) children.set(g.parent, []);
    children.get(g.parent).push(g);
  }
  const size = new Map();
  const measure = (g) => {
    const inner = children.get(g.id) || [];
    if (!inner.length) {
      const badge = badgesOf(g, byPath.get(g.path), roles.get(g.path));
      const s = { w: Math.max(70, 8 * g.name.length + 30 + (badge ? 7 * badge.length + 12 : 0)), h: LEAF_H };
      size.set(g.id, s);
      return s;
    }
    const parts = inner.map(measure);
    const row = ROW.has(g.kind);
    const w = row ? parts.reduce((t, p) => t + p.w, 0) + GAP * (parts.length - 1) : Math.max(...parts.map((p) => p.w));
    const h = row ? Math.max(...parts.map((p) => p.h)) : parts.reduce((t, p) => t + p.h, 0) + GAP / 2 * (parts.length - 1);
    const s = { w: Math.max(w + 2 * PAD, 7 * label(g).length + 2 * PAD), h: h + 2 * PAD + HEAD };
    size.set(g.id, s);
    return s;
  };
  const out = [];
  const place = (g, x, y) => {
    const inner = children.get(g.id) || [];
    const s = size.get(g.id);
    if (!inner.length) {
      const role = roles.get(g.path);
      const badge = badgesOf(g, byPath.get(g.path), role);
      out.push(svg('g', {
        class: `node${criticalPaths.has(g.path) ? ' critical' : ''}`,
        'data-path': g.path, 'data-name': g.name, 'data-state': stateOfNode(g), 'data-role': role ? role.role : null,
        transform: `translate(${x},${y})`,
      },
      svg('title', {}, `${g.source}\n${g.location.file}:${g.location.line}`),
      svg('rect', { width: s.w, height: s.h, rx: 6 }),
      svg('text', { x: 10, y: 19 }, g.name),
      badge ? svg('text', { class: 'badge', x: s.w - 8, y: 19, 'text-anchor': 'end' }, badge) : null));
      return;
    }
    // A construct: a dashed box, its label saying what became of it (a branch's rank, a
    // deadline that passed); what its policy noted shows on hover and in the table.
    const record = byPath.get(g.path);
    const notes = record ? notesOf(record) : [];
    const passed = record && record.deadline_us !== undefined && record.deadline_us !== null;
    out.push(svg('g', {
      class: 'group', 'data-path': g.path, 'data-name': g.name,
      'data-state': record ? stateOfNode(g) : null, 'data-deadline': passed ? 'passed' : null,
      'data-passes': record && record.passes !== undefined ? record.passes : null,
    },
      svg('title', {}, [`${g.source}`, ...notes].join('\n')),
      svg('rect', { class: 'box', x, y, width: s.w, height: s.h, rx: 8 }),
      svg('text', { class: 'box-label', x: x + PAD, y: y + 13 }, label(g))));
    const row = ROW.has(g.kind);
    let cx = x + PAD;
    let cy = y + PAD + HEAD;
    for (const c of inner) {
      place(c, cx, cy);
      if (row) cx += size.get(c.id).w + GAP;
      else cy += size.get(c.id).h + GAP / 2;
    }
  };
  const roots = children.get(null) || [];
  let y = 10;
  let width = 0;
  for (const r of roots) {
    const s = measure(r);
    place(r, 10, y);
    y += s.h + GAP;
    width = Math.max(width, s.w);
  }
  const drawing = document.getElementById('graph');
  drawing.setAttribute('width', width + 20);
  drawing.setAttribute('height', y + 4);
  drawing.replaceChildren(...out.filter(Boolean));
}

/** What a leaf's box says besides its name: its attempts under a retry, its part in a
 *  parallel group's policy, its time waited for limits. */
function badgesOf(g, record, role) {
  const badges = [];
  if (record && record.attempts > 1) badges.push(`×${record.attempts}`);
  else if (g.retry) badges.push(`retry ≤${g.retry.attempts}`);
  if (role) badges.push(role.text);
  if (record && record.waited_us) badges.push(`waited ${ms(record.waited_us)} ms`);
  return badges.join(' · ');
}

/** A construct's label, and what became of its instance `record`: a loop's passes so far,
 *  its `role` in its group, the deadline that cut it off. */
function boxText(g, record, role) {
  const passes = record && record.passes !== undefined ? ` · ${passesText(record.passes)}` : '';
  const deadline = record && record.deadline_us !== undefined && record.deadline_us !== null
    ? ` · timed out after ${Number(ms(record.deadline_us))} ms` : '';
  return `${boxLabel(g)}${passes}${role ? ` · ${role.text}` : ''}${deadline}`;
}

function boxLabel(g) {
  const timeout = g.timeout ? ` · timeout ${g.timeout.secs * 1000 + g.timeout.nanos / 1e6} ms` : '';
  const name = g.kind === 'plan' ? 'plan' : (g.name === g.kind ? '' : `${g.name}: `);
  return `${name}${g.kind === 'plan' ? '' : g.kind}${g.policy ? `(${g.policy})` : ''}${timeout}`;
}

// The timeline: a swimlane per branch. The run's steps go in sequence on the first lane; each
// branch of a parallel group (a `par`'s branch, an `each`'s item, a `let`'s binding) gets a
// lane of its own under its group's, indented, with the groups nested in it under it. On a
// lane: each step's bar, coloured by how it ended, the time it waited for a rate or
// concurrency limit darkened at its start; a group's span outlined, its barrier wait (first
// branch done to last) banded; on a branch's lane, the time it waited at its group's barrier
// after it finished; a red mark where a deadline passed.
const FORKS = new Set(['par', 'each', 'let']);

/** The lanes of a run, depth first: `{ label, depth, group, branch, role, items }`, a
 *  branch's label saying its rank if its group ranked its branches (an `each`'s items too). */
function lanesOf(nodes) {
  const inner = new Map();
  for (const n of nodes) {
    if (n.parent === null) continue;
    if (!inner.has(n.parent)) inner.set(n.parent, []);
    inner.get(n.parent).push(n);
  }
  const passed = (n) => n.deadline_us !== undefined && n.deadline_us !== null;
  const drawn = (n) => leafKind(n) || n.barrier || FORKS.has(n.kind) || passed(n);
  const lanes = [];
  const visit = (n, lane) => {
    if (drawn(n) && n.parent !== null) lane.items.push(n);
    const parts = inner.get(n.id) || [];
    if (!FORKS.has(n.kind)) {
      parts.forEach((c) => visit(c, lane));
      return;
    }
    const ranks = ranksOf(n);
    parts.forEach((c, i) => {
      const rank = ranks.get(i);
      const label = `${n.kind === 'each' ? `${n.name} #${i}` : `${n.name} › ${c.name}`}${rank ? ` · ${rank.text}` : ''}`;
      const branch = {
        label, depth: lane.depth + 1, group: n, branch: i, role: rank ? rank.role : null, items: [], end: c.end_us,
      };
      lanes.push(branch);
      visit(c, branch);
    });
  };
  for (const root of nodes.filter((n) => n.parent === null)) {
    const lane = { label: root.name, depth: 0, group: null, branch: null, role: null, items: [] };
    lanes.push(lane);
    visit(root, lane);
  }
  return lanes;
}

function leafKind(n) {
  return n.kind === 'step' || n.kind === 'blocking';
}

function drawTimeline(nodes, critical, wall, asking, state) {
  const zoom = 2 ** Number(document.getElementById('zoom').value);
  const drawing = document.getElementById('timeline');
  const room = Math.max(300, drawing.parentElement.clientWidth - 260);
  const scale = (room / Math.max(wall, 1)) * zoom; // px per µs
  const passed = (n) => n.deadline_us !== undefined && n.deadline_us !== null;
  const lanes = lanesOf(nodes);
  const LABEL = 200;
  const INDENT = 12;
  const H = 18;
  const out = [];
  const ticks = 10;
  for (let i = 0; i <= ticks; i++) {
    const at = (wall * i) / ticks;
    out.push(svg('line', { class: 'axis', x1: LABEL + at * scale, x2: LABEL + at * scale, y1: 14, y2: 18 + lanes.length * (H + 4) }));
    out.push(svg('text', { class: 'tick', x: LABEL + at * scale + 2, y: 10 }, `${ms(at)} ms`));
  }
  lanes.forEach((lane, i) => {
    const y = 18 + i * (H + 4);
    const parts = [svg('text', { class: 'lane-label', x: 4 + lane.depth * INDENT, y: y + 13 }, lane.label)];
    const barrier = lane.group && lane.group.barrier;
    if (barrier && lane.end !== null && lane.end !== undefined && lane.end < barrier.last_finished_us) {
      // This branch finished and waited for its group's last.
      const waited = barrier.last_finished_us - lane.end;
      parts.push(svg('rect', {
        class: 'barrier-wait', x: LABEL + lane.end * scale, y: y + 6, width: Math.max(1, waited * scale), height: H - 12,
      }, svg('title', {}, `${lane.label} waited ${ms(waited)} ms at the barrier`)));
    }
    for (const n of lane.items) parts.push(...laneItem(n, y));
    out.push(svg('g', {
      class: 'lane', 'data-depth': lane.depth,
      'data-group': lane.group ? lane.group.name : null,
      'data-branch': lane.branch === null ? null : lane.branch, 'data-role': lane.role,
    }, ...parts));
  });

  /** What `n` adds to the lane at `y`. */
  function laneItem(n, y) {
    const end = n.end_us ?? wall;
    const x = LABEL + n.start_us * scale;
    const width = Math.max(1, (end - n.start_us) * scale);
    const said = `${n.name}${n.attempts > 1 ? ` ×${n.attempts}` : ''}: ${ms(end - n.start_us)} ms, ${stateName(state(n))}`;
    const items = [];
    if (!leafKind(n)) {
      items.push(svg('rect', { class: 'span', 'data-state': state(n), 'data-name': n.name, x, y: y + 1, width, height: H - 2 },
        svg('title', {}, `${n.name} (${n.kind}): ${said.slice(n.name.length + 2)}`)));
    } else {
      items.push(svg('rect', {
        // The step that asks ends its attempt "failed", waiting for the answer.
        class: `bar${critical.has(n.id) ? ' critical' : ''}`, 'data-name': n.name,
        'data-state': n.name === asking && n.outcome.status === 'failed' ? 'asking' : state(n),
        x, y, width, height: H,
      }, svg('title', {}, said)));
      if (width > 7 * n.name.length + 6) {
        items.push(svg('text', { class: 'bar-label', x: x + 3, y: y + 13 }, n.name));
      }
    }
    if (n.waited_us) {
      items.push(svg('rect', {
        class: 'wait', 'data-name': n.name, x, y, width: Math.max(1, n.waited_us * scale), height: H,
      }, svg('title', {}, `${n.name} waited ${ms(n.waited_us)} ms for a limit`)));
    }
    if (n.barrier) {
      const b = n.barrier;
      items.push(svg('rect', {
        class: 'barrier', 'data-name': n.name, x: LABEL + b.first_finished_us * scale, y: y + 3,
        width: Math.max(1, b.wait_us * scale), height: H - 6,
      }, svg('title', {}, `barrier wait ${ms(b.wait_us)} ms (${b.branches_finished} branches finished)`)));
    }
    if (passed(n)) {
      const at = LABEL + (n.start_us + n.deadline_us) * scale;
      const timedOut = `timed out after ${Number(ms(n.deadline_us))} ms`;
      items.push(svg('line', { class: 'deadline', 'data-name': n.name, x1: at, x2: at, y1: y - 2, y2: y + H + 2 },
        svg('title', {}, `${n.name}'s deadline passed: ${timedOut}`)));
      items.push(svg('text', { class: 'deadline-label', x: at + 4, y: y + 13 }, timedOut));
    }
    return items;
  }

  drawing.setAttribute('width', LABEL + wall * scale + 180);
  drawing.setAttribute('height', 24 + lanes.length * (H + 4));
  drawing.replaceChildren(...out);
}

// A question for a person: what the run asks, and a form from its answer's description.
let questionShown = null;

function renderQuestion(detail) {
  const box = document.getElementById('question');
  const q = detail.question;
  const key = q ? `${detail.run.id}/${q.node}/${JSON.stringify(q.question)}` : null;
  box.hidden = !q;
  if (key === questionShown) return; // keep what the person is typing
  questionShown = key;
  if (!q) {
    box.replaceChildren();
    return;
  }
  const inputs = q.form.fields.map((f) => {
    let input;
    switch (f.type) {
      case 'yes_no': input = el('input', { type: 'checkbox', name: f.name }); break;
      case 'number': input = el('input', { type: 'number', name: f.name, step: 'any', value: '0' }); break;
      case 'choice': input = el('select', { name: f.name }, f.options.map((o) => el('option', { value: o }, o))); break;
      default: input = el('input', { type: 'text', name: f.name }); break;
    }
    return { field: f, input, label: el('label', {}, `${f.label} `, input) };
  });
  const failure = el('p', { class: 'failure' });
  const submit = (event) => {
    event.preventDefault();
    const answer = {};
    for (const { field, input } of inputs) {
      if (field.type === 'yes_no') answer[field.name] = input.checked;
      else if (field.type === 'number') answer[field.name] = Number(input.value);
      else answer[field.name] = input.value;
    }
    call('answer', { run: detail.run.id, answer }).then(
      () => {
        failure.textContent = '';
        note(`run ${detail.run.id}: answered`);
      },
      (error) => { failure.textContent = error.message; },
    );
  };
  box.replaceChildren(...[
    el('h3', {}, `${q.node} asks`),
    el('pre', {}, JSON.stringify(q.question, null, 2)),
    q.refused ? el('p', { class: 'refused' }, `The last answer was refused: ${q.refused}`) : null,
    el('form', { id: 'answer', onsubmit: submit }, inputs.map((i) => i.label), el('button', { type: 'submit' }, 'Answer')),
    failure,
  ].filter(Boolean));
}

// ---- navigation -----------------------------------------------------------------------

function route() {
  const [view, id] = location.hash.replace(/^#/, '').split('/');
  const runs = view === 'runs';
  document.getElementById('agents-view').hidden = runs;
  document.getElementById('runs-view').hidden = !runs;
  document.getElementById('tab-agents').classList.toggle('current', !runs);
  document.getElementById('tab-runs').classList.toggle('current', runs);
  const selected = runs && id ? Number(id) : null;
  if (selected !== model.selected) {
    model.selected = selected;
    model.run = null;
    questionShown = null;
    if (selected !== null && socket && socket.readyState === WebSocket.OPEN) fetchRun(selected);
  }
  dirty.runs = dirty.run = true;
  schedule();
}

window.addEventListener('hashchange', route);
document.getElementById('zoom').addEventListener('input', () => {
  dirty.run = true;
  schedule();
});
route();
connect();
