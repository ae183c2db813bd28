// The information-governance page: one section per task, shown only when the
// person's roles allow it (the API checks every call regardless).
import { ApiError, get, me, post } from './api.js';
import { clear, el, orDash, row, status } from './dom.js';

const $ = (id) => document.getElementById(id);

const SECTIONS = [
  { id: 'search', label: 'Audit search', permission: 'audit-search' },
  { id: 'sar', label: 'Subject access report', permission: 'subject-access' },
  { id: 'holds', label: 'Held disclosures', permission: 'holds', load: loadHolds },
  { id: 'agreements', label: 'Agreements', permission: 'agreements', load: loadAgreements },
  { id: 'verification', label: 'Verification', permission: 'verification', load: loadVerification },
  { id: 'operations', label: 'Queues and dead letters', permission: 'queues', load: loadOperations },
];

let who = null;
const can = (permission) => who !== null && who.permissions.includes(permission);

function explain(err) {
  if (err instanceof ApiError && err.status === 403 && /session expired|CSRF/.test(err.message)) {
    return `${err.message}`;
  }
  if (err instanceof ApiError) return `Refused (${err.status}): ${err.message}`;
  return `Could not reach carebridged: ${err.message}`;
}

// ---- navigation ----

function show(id, focus = true) {
  for (const s of SECTIONS) {
    const section = $(s.id);
    const active = s.id === id;
    section.hidden = !active;
    const link = document.querySelector(`#nav a[data-section="${s.id}"]`);
    if (link) {
      if (active) link.setAttribute('aria-current', 'page');
      else link.removeAttribute('aria-current');
    }
    if (active && s.load) s.load();
  }
  if (focus) $(`${id}-h`).focus();
}

function buildNav() {
  const nav = clear($('nav'));
  const allowed = SECTIONS.filter((s) => can(s.permission));
  for (const s of allowed) {
    $(`${s.id}-h`).setAttribute('tabindex', '-1');
    nav.append(
      el('li', {}, el('a', {
        href: `#${s.id}`,
        'data-section': s.id,
        text: s.label,
        onclick: (ev) => {
          ev.preventDefault();
          show(s.id);
        },
      })),
    );
  }
  if (allowed.length > 0) show(allowed[0].id, false);
  else notice('Your roles give you no section of this page.');
}

function notice(text) {
  const n = $('notice');
  n.textContent = text;
  n.hidden = !text;
}

// ---- audit search ----

let searchPages = [];  // the `after` value of each page shown so far

function searchBody(after) {
  const f = $('search-form');
  const body = {};
  for (const name of ['nhs_number', 'organisation', 'agreement', 'purpose', 'decision', 'action']) {
    const v = f.elements[name].value.trim();
    if (v) body[name] = v;
  }
  for (const [name, key] of [['from', 'from_ms'], ['to', 'to_ms']]) {
    const v = f.elements[name].value;
    if (v) body[key] = new Date(v).getTime();
  }
  body.limit = Number(f.elements.limit.value);
  if (after !== null && after !== undefined) body.after = after;
  return body;
}

async function runSearch(after) {
  const out = $('search-status');
  status(out, 'Searching…');
  try {
    const res = await post('/api/audit/search', searchBody(after));
    const table = $('search-results');
    const body = clear(table.tBodies[0]);
    for (const e of res.entries) {
      const route = e.source_org || e.destination_org ? `${orDash(e.source_org)} → ${orDash(e.destination_org)}` : '–';
      const details = Object.entries(e.details)
        .filter(([k]) => !['explanation', 'subject_key'].includes(k))
        .map(([k, v]) => `${k}: ${v}`)
        .join('; ');
      body.append(row([String(e.seq), e.time, e.action, e.outcome, orDash(e.decision), route, orDash(e.agreement),
        orDash(e.purpose), e.message_id || e.actor, details]));
    }
    table.hidden = res.entries.length === 0;
    const page = searchPages.length;
    status(out, res.entries.length === 0 ? 'No audit entries match.'
      : `${res.entries.length} entries on page ${page}${res.next_after !== null ? '; more on the next page' : ''}.`, 'ok');
    $('search-next').hidden = res.next_after === null;
    $('search-next').dataset.after = res.next_after === null ? '' : String(res.next_after);
    $('search-first').hidden = page <= 1;
  } catch (err) {
    status(out, explain(err), 'error');
  }
}

function wireSearch() {
  $('search-form').addEventListener('submit', (ev) => {
    ev.preventDefault();
    searchPages = [null];
    runSearch(null);
  });
  $('search-form').addEventListener('reset', () => {
    $('search-results').hidden = true;
    $('search-next').hidden = true;
    $('search-first').hidden = true;
    status($('search-status'), '');
  });
  $('search-next').addEventListener('click', () => {
    const after = Number($('search-next').dataset.after);
    searchPages.push(after);
    runSearch(after);
  });
  $('search-first').addEventListener('click', () => {
    searchPages = [null];
    runSearch(null);
  });
}

// ---- subject access report ----

const SAR_PARTS = [
  ['disclosures', 'Disclosed: shared and delivered', true],
  ['refusals', 'Refused', false],
  ['holds', 'Held for approval', false],
  ['undelivered', 'Decided to share, not (yet) delivered', false],
];

function sarTable(list, delivered) {
  if (list.length === 0) return el('p', { text: 'None.' });
  return el('table', {},
    el('thead', {}, el('tr', {}, ['When (UTC)', 'To', 'Record', 'From', 'Agreement and purpose', 'Lawful basis',
      'Decision', 'Withheld'].map((h) => el('th', { scope: 'col', text: h })))),
    el('tbody', {}, list.map((d) => row([
      delivered && d.delivered ? d.delivered : d.decided,
      `${orDash(d.to_organisation)} (${orDash(d.to_system)})`,
      orDash(d.record_type),
      orDash(d.from_organisation),
      `${orDash(d.agreement)}, flow ${orDash(d.flow)}, ${orDash(d.purpose)}`,
      orDash(d.lawful_basis),
      `${d.decision}${d.explanation && !delivered ? ': ' + d.explanation : ''}`,
      orDash(d.withheld),
    ]))));
}

function wireSar() {
  $('sar-form').addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const input = $('sar-nhs');
    const out = $('sar-status');
    const number = input.value.trim();
    if (!number) {
      status(out, 'Enter the person\'s NHS number.', 'error');
      input.setAttribute('aria-invalid', 'true');
      input.focus();
      return;
    }
    input.removeAttribute('aria-invalid');
    status(out, 'Producing the report…');
    try {
      const r = await post('/api/audit/sar', { nhs_number: number });
      const digits = number.replace(/\s/g, '');
      $('sar-meta').textContent = `Person: NHS number ${digits.slice(0, 3)} ${digits.slice(3, 6)} ${digits.slice(6)}. `
        + `Generated ${r.generated} from ${r.audit_entries} audit entries about this person, for ${who.cn}`
        + `${who.organisation ? ' (' + who.organisation + ')' : ''}.`;
      const sections = clear($('sar-sections'));
      for (const [key, title, delivered] of SAR_PARTS) {
        sections.append(el('section', { class: 'sar-part', 'data-part': key },
          el('h4', { text: `${title} (${r[key].length})` }), sarTable(r[key], delivered)));
      }
      $('sar-report').hidden = false;
      $('sar-print').disabled = false;
      status(out, 'Report ready.', 'ok');
    } catch (err) {
      status(out, explain(err), 'error');
    }
  });
  $('sar-print').addEventListener('click', () => window.print());
}

// ---- held disclosures ----

async function decide(delivery, decision, reasonInput, out) {
  const reason = reasonInput.value.trim();
  if (!reason) {
    status(out, `A reason is required to ${decision} delivery #${delivery}.`, 'error');
    reasonInput.setAttribute('aria-invalid', 'true');
    reasonInput.focus();
    return;
  }
  try {
    await post('/api/holds/decide', { deliveries: [delivery], decision, reason });
    status(out, `Delivery #${delivery} ${decision === 'approve' ? 'approved: it will be sent' : 'refused: it will not be sent'}.`, 'ok');
    await loadHolds(false);
  } catch (err) {
    status(out, explain(err), 'error');
  }
}

async function loadHolds(clearStatus = true) {
  const out = $('holds-status');
  if (clearStatus) status(out, 'Loading…');
  try {
    const r = await get('/api/holds');
    const list = clear($('holds-list'));
    if (r.holds.length === 0) list.append(el('p', { text: 'No disclosures are waiting for approval.' }));
    for (const h of r.holds) {
      const reasonId = `hold-reason-${h.delivery}`;
      const reason = el('textarea', { id: reasonId, rows: 2, required: true });
      const card = el('article', { class: 'card hold', 'data-delivery': h.delivery, 'data-message': h.message_id,
        'aria-labelledby': `hold-h-${h.delivery}` },
        el('h3', { id: `hold-h-${h.delivery}`, text: `Delivery #${h.delivery}: ${h.record_type} to ${orDash(h.to_organisation)} (${h.destination})` }),
        el('dl', { class: 'facts' },
          el('dt', { text: 'Held since' }), el('dd', { text: orDash(h.held_at) }),
          el('dt', { text: 'Message' }), el('dd', { class: 'mono', text: h.message_id }),
          el('dt', { text: 'Agreement' }), el('dd', { text: `${orDash(h.agreement)}, flow ${orDash(h.flow)}` }),
          el('dt', { text: 'Purpose' }), el('dd', { text: orDash(h.purpose) }),
          el('dt', { text: 'Lawful basis' }), el('dd', { text: orDash(h.lawful_basis) }),
          el('dt', { text: 'Approver' }), el('dd', { text: orDash(h.approver) }),
          el('dt', { text: 'Why held' }), el('dd', { text: orDash(h.explanation) }),
          el('dt', { text: 'Withheld items' }), el('dd', { text: orDash(h.withheld) })));
      if (can('decide-holds')) {
        card.append(
          el('div', { class: 'field wide' }, el('label', { for: reasonId, text: `Reason for your decision on delivery #${h.delivery} (required)` }), reason),
          el('div', { class: 'actions' },
            el('button', { type: 'button', class: 'primary approve', text: `Approve #${h.delivery}`,
              onclick: () => decide(h.delivery, 'approve', reason, out) }),
            el('button', { type: 'button', class: 'danger refuse', text: `Refuse #${h.delivery}`,
              onclick: () => decide(h.delivery, 'refuse', reason, out) })));
      }
      list.append(card);
    }
    if (clearStatus) status(out, `${r.holds.length} held disclosure${r.holds.length === 1 ? '' : 's'}.`, 'ok');
  } catch (err) {
    status(out, explain(err), 'error');
  }
}

// ---- agreements ----

async function loadAgreements() {
  const out = $('agreements-status');
  status(out, 'Loading…');
  try {
    const r = await get('/api/agreements');
    const list = clear($('agreements-list'));
    if (r.agreements.length === 0) list.append(el('p', { text: 'No agreements are loaded (no mapped route).' }));
    for (const a of r.agreements) {
      const card = el('article', { class: 'card agreement', 'aria-labelledby': `ag-${a.id}` },
        el('h3', { id: `ag-${a.id}`, text: a.title }),
        el('p', {}, el('span', { class: `badge ${a.status === 'in force' ? 'ok' : 'bad'}`, text: a.status }),
          ` Agreement ${a.id}, version ${a.version}. In force ${a.from} to ${a.end} inclusive`
          + `${a.end !== a.originally_to ? ` (originally to ${a.originally_to})` : ''}; next review ${a.review}.`));
      if (a.days_left !== undefined) {
        card.append(el('p', { class: 'warning', role: 'note',
          text: `Warning: this agreement ends in ${a.days_left} day${a.days_left === 1 ? '' : 's'} (${a.end}). `
            + 'The flows it allows stop by themselves then: extend it or plan for the end.' }));
      }
      card.append(el('details', {}, el('summary', { text: 'Read the agreement' }), el('pre', { class: 'agreement-text', text: a.text })));
      list.append(card);
    }
    status(out, `${r.agreements.length} agreement${r.agreements.length === 1 ? '' : 's'} loaded.`, 'ok');
  } catch (err) {
    status(out, explain(err), 'error');
  }
}

// ---- verification ----

let polling = null;

function facts(dl, pairs) {
  clear(dl);
  for (const [k, v] of pairs) dl.append(el('dt', { text: k }), el('dd', { text: orDash(v) }));
}

function renderRun(run) {
  const result = clear($('verify-result'));
  const wrap = $('verify-progress-wrap');
  const bar = $('verify-progress');
  wrap.hidden = run.state !== 'running';
  if (run.state === 'running') {
    bar.max = Math.max(1, run.total);
    bar.value = run.done;
    status($('verify-status'), `Verifying… ${run.done} of ${run.total || '?'} entries checked.`);
    return;
  }
  if (run.state === 'idle') {
    status($('verify-status'), 'Not run since carebridged started.');
    return;
  }
  status($('verify-status'), `Last run started by ${run.started_by} at ${run.started}, finished ${run.finished}.`);
  if (run.state === 'failed') {
    result.append(el('p', { class: 'verdict bad', text: `Verification could not run: ${run.error}` }));
    return;
  }
  const r = run.result;
  if (r.intact) {
    result.append(el('p', { class: 'verdict ok', 'data-verdict': 'intact',
      text: `Intact: all ${r.entries} entries verified against ${r.checkpoints} signed checkpoint${r.checkpoints === 1 ? '' : 's'}.` }));
    result.append(el('p', { text: r.covered > 0
      ? `Entries 0 to ${r.covered - 1} are pinned by a signed checkpoint${r.latest_checkpoint ? ' (newest signed ' + r.latest_checkpoint + ')' : ''}.`
      : 'No signed checkpoint covers the log yet.' }));
  } else {
    result.append(el('p', { class: 'verdict bad', 'data-verdict': 'altered', text: `THE AUDIT LOG DOES NOT VERIFY: ${r.problem}` }));
    if (r.first_bad_entry !== undefined) {
      result.append(el('p', { class: 'first-bad', text: `First entry that does not match: entry ${r.first_bad_entry}.` }));
    }
    if (r.bad_checkpoint !== undefined) result.append(el('p', { text: `Checkpoint that does not match: tree size ${r.bad_checkpoint}.` }));
  }
}

async function loadVerification() {
  try {
    const v = await get('/api/verification');
    const c = v.checkpoint;
    facts($('checkpoint'), [
      ['Entries in the log', v.audit_entries],
      ['Latest signed checkpoint', c ? `tree size ${c.tree_size}, signed ${c.signed}` : 'none yet'],
      ['Root hash', c ? c.root : ''],
      ['Verifier key', v.key || (v.key_error ? `cannot read: ${v.key_error}` : 'not configured')],
    ]);
    $('verify-run').hidden = !can('run-verification');
    $('verify-run').disabled = v.run.state === 'running' || !v.key;
    renderRun(v.run);
    if (v.run.state === 'running' && polling === null) {
      polling = setTimeout(() => {
        polling = null;
        loadVerification();
      }, 500);
    }
  } catch (err) {
    status($('verify-status'), explain(err), 'error');
  }
}

function wireVerification() {
  $('verify-run').addEventListener('click', async () => {
    try {
      await post('/api/verification/run', {});
      status($('verify-status'), 'Verification started…');
      await loadVerification();
    } catch (err) {
      status($('verify-status'), explain(err), 'error');
    }
  });
}

// ---- operations ----

async function loadOperations() {
  try {
    const h = await get('/api/health');
    const c = h.counts || {};
    facts($('health'), [
      ['Health', h.healthy ? 'healthy' : `unhealthy: ${h.health}`],
      ['Readiness', h.ready ? 'ready' : `not ready: ${h.readiness}`],
      ['Queued', c.queued], ['Dead letters', c.dead], ['Held', c.held], ['Quarantined', c.quarantined],
      ['Audit entries', h.audit_entries],
    ]);
  } catch (err) {
    status($('queue-status'), explain(err), 'error');
  }
  await loadQueue();
}

async function loadQueue() {
  const out = $('queue-status');
  const state = $('q-state').value;
  try {
    const r = await get(`/api/deliveries?state=${encodeURIComponent(state)}&limit=200`);
    const table = $('queue-table');
    const body = clear(table.tBodies[0]);
    let replayable = 0;
    for (const d of r.deliveries) {
      const box = d.state === 'dead' && can('replay')
        ? el('input', { type: 'checkbox', class: 'pick', value: d.delivery, 'aria-label': `Select delivery #${d.delivery}` })
        : '';
      if (box) replayable += 1;
      const tr = row([box, String(d.delivery), el('span', { class: 'mono', text: d.message_id }), d.state, d.destination,
        d.record_type, String(d.attempts), orDash(d.last_error), d.updated_at]);
      tr.dataset.delivery = d.delivery;
      body.append(tr);
    }
    $('queue-caption').textContent = `Deliveries: ${$('q-state').selectedOptions[0].textContent}`;
    table.hidden = r.deliveries.length === 0;
    $('replay-form').hidden = replayable === 0;
    status(out, r.deliveries.length === 0 ? 'None.' : `${r.deliveries.length} deliveries.`, 'ok');
  } catch (err) {
    status(out, explain(err), 'error');
  }
}

function wireOperations() {
  $('queue-form').addEventListener('submit', (ev) => {
    ev.preventDefault();
    loadQueue();
  });
  $('replay-form').addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const out = $('queue-status');
    const picked = [...document.querySelectorAll('#queue-table input.pick:checked')].map((b) => Number(b.value));
    const reason = $('replay-reason');
    if (picked.length === 0) {
      status(out, 'Select the dead-lettered deliveries to replay.', 'error');
      return;
    }
    if (!reason.value.trim()) {
      status(out, 'A reason is required.', 'error');
      reason.setAttribute('aria-invalid', 'true');
      reason.focus();
      return;
    }
    reason.removeAttribute('aria-invalid');
    try {
      const r = await post('/api/deliveries/replay', { deliveries: picked, reason: reason.value.trim() });
      reason.value = '';
      await loadOperations();
      status(out, `${r.replayed.length} deliver${r.replayed.length === 1 ? 'y' : 'ies'} queued again.`, 'ok');
    } catch (err) {
      status(out, explain(err), 'error');
    }
  });
}

// ---- start ----

async function start() {
  wireSearch();
  wireSar();
  wireVerification();
  wireOperations();
  $('holds-refresh').addEventListener('click', () => loadHolds());
  try {
    who = await me();
  } catch (err) {
    $('whoami').textContent = 'Not signed in.';
    notice(explain(err));
    return;
  }
  $('whoami').textContent = `Signed in by certificate as ${who.cn}${who.organisation ? ', ' + who.organisation : ''}`
    + ` (${who.roles.join(', ')}). Reload the page after ${Math.round(who.session_ms / 60000)} minutes.`;
  buildNav();
}

start();
