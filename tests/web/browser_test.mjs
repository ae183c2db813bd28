// Browser tests of the information-governance page (issue #6), end to end:
// a real carebridged with a mapped route RiO (Oxleas, RPG) -> LAS (Bromley,
// 00AF) under agreements/bromley-oxleas.xml, which holds Section 42
// enquiries shared without consent for an approver; a partner sink over
// mutual TLS played by this script; Debian's headless chromium presenting a
// client certificate per role through Playwright's `clientCertificates`.
//
// Screenshots of the main pages go to $CB_SCREENSHOTS.
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import https from 'node:https';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';

const env = (name) => {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set (run this through ctest: tests/web/run-browser-tests)`);
  return v;
};
const SRC = env('CB_SOURCE_DIR');
const CAREBRIDGED = env('CB_CAREBRIDGED');
const CAREBRIDGE = env('CB_CAREBRIDGE');
const PLUGINS = env('CB_PLUGIN_DIR');
const SHOTS = env('CB_SCREENSHOTS');
const require = createRequire(path.join(env('CB_WEB_NODE_MODULES'), 'noop.js'));
const { chromium } = require('playwright-core');

const NHS_NUMBER = '9990000026';  // the RiO sample's person (a test NHS number)
const ROLES = ['ig-reviewer', 'approver', 'operator', 'auditor'];
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function eventually(what, fn, timeoutMs = 15000) {
  const end = Date.now() + timeoutMs;
  let last;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}${last ? ': ' + last.message : ''}`);
    await sleep(200);
  }
}

// ---- the world around the daemon ----

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cb-web-'));
const certs = path.join(dir, 'certs');
const db = path.join(dir, 'state', 'carebridge.db');
const read = (f) => fs.readFileSync(path.join(certs, f));

/// The destination partner (Bromley's LAS): records what it is sent, or refuses with 400.
class Sink {
  constructor() {
    this.received = [];
    this.refuse = false;
    this.server = https.createServer(
      { key: read('server.key'), cert: read('server.pem'), ca: read('ca.pem'), requestCert: true, rejectUnauthorized: true },
      (req, res) => {
        const chunks = [];
        req.on('data', (c) => chunks.push(c));
        req.on('end', () => {
          if (this.refuse) {
            res.writeHead(400).end('refused\n');
            return;
          }
          const id = req.headers['x-carebridge-message-id'] || '';
          if (!this.received.some((r) => r.id === id)) this.received.push({ id, body: Buffer.concat(chunks).toString() });
          res.writeHead(201).end('ok\n');
        });
      });
  }
  listen() {
    return new Promise((resolve) => this.server.listen(0, '127.0.0.1', () => resolve(this.server.address().port)));
  }
  ids() {
    return this.received.map((r) => r.id).sort();
  }
}

/// Oxleas's RiO sending an enquiry over mutual TLS.
function send(port, body, id) {
  return new Promise((resolve, reject) => {
    const req = https.request({
      host: '127.0.0.1', port, path: '/records', method: 'POST', servername: 'localhost',
      key: read('partner-a.key'), cert: read('partner-a.pem'), ca: read('ca.pem'),
      headers: { 'Content-Type': 'application/xml', 'X-Message-Id': id },
    }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode));
    });
    req.on('error', reject);
    req.end(body);
  });
}

let daemon;
let daemonLog = '';
let adminPort;
let inPort;
let sink;
let browser;
const pages = {};
const cspViolations = [];

function isoDay(d) {
  return d.toISOString().slice(0, 10);
}

function writeConfig(sinkPort) {
  fs.mkdirSync(path.join(dir, 'agreements', 'schema'), { recursive: true });
  fs.copyFileSync(path.join(SRC, 'agreements', 'schema', 'agreement.xsd'), path.join(dir, 'agreements', 'schema', 'agreement.xsd'));
  // The agreement as shipped, its last extension brought to 30 days from
  // now, so the page has an agreement nearing its end to warn about.
  let agreement = fs.readFileSync(path.join(SRC, 'agreements', 'bromley-oxleas.xml'), 'utf8');
  const soon = isoDay(new Date(Date.now() + 30 * 86400000));
  if (soon > '2026-11-30') agreement = agreement.replace('<NewEnd>2027-11-30</NewEnd>', `<NewEnd>${soon}</NewEnd>`);
  fs.writeFileSync(path.join(dir, 'agreements', 'bromley-oxleas.xml'), agreement);
  const c = (f) => path.join(certs, f);
  const users = [
    ['ig-reviewer', 'ig-reviewer', '00AF'],
    ['approver', 'approver', '00AF'],
    ['operator', 'operator', 'RPG'],
    ['auditor', 'auditor', '00AF'],
  ].map(([cn, role, org]) => `[[admin.user]]\ncn = "${cn}"\nrole = "${role}"\norganisation = "${org}"\n`).join('');
  fs.writeFileSync(path.join(dir, 'carebridge.toml'), `[daemon]
data_dir = "state"
plugin_dir = "${PLUGINS}"
log_level = "info"
drain_timeout = "3s"
mappings_dir = "${path.join(SRC, 'mappings')}"
agreements_dir = "${path.join(dir, 'agreements')}"
[admin]
listen = "127.0.0.1:0"
web_root = "${path.join(SRC, 'web')}"
session_timeout = "30m"
  [admin.tls]
  certificate = "${c('server.pem')}"
  private_key = "${c('server.key')}"
  ca = "${c('ca.pem')}"
  crl = "${c('crl.pem')}"
${users}[audit]
signing_key = "audit.key"
checkpoint_interval = "1s"
[[adapter]]
name = "in"
plugin = "https"
organisation = "RPG"
system = "rio"
  [adapter.tls]
  certificate = "${c('server.pem')}"
  private_key = "${c('server.key')}"
  ca = "${c('ca.pem')}"
  [adapter.settings]
  listen = "127.0.0.1:0"
  max_body = 65536
[[adapter]]
name = "out"
plugin = "https"
organisation = "00AF"
system = "las"
  [adapter.tls]
  certificate = "${c('carebridge.pem')}"
  private_key = "${c('carebridge.key')}"
  ca = "${c('ca.pem')}"
  server_name = "localhost"
  [adapter.settings]
  url = "https://localhost:${sinkPort}/records"
  timeout = "5s"
  [adapter.delivery]
  initial_backoff = "50ms"
  max_backoff = "200ms"
  max_attempts = 1000
[[route]]
name = "rio-to-las"
from = "in"
to = ["out"]
mode = "mapped"
purpose = "safeguarding"
`);
}

async function startDaemon() {
  daemon = spawn(CAREBRIDGED, ['--config', path.join(dir, 'carebridge.toml')], { stdio: ['ignore', 'pipe', 'pipe'] });
  const take = (d) => { daemonLog += d.toString(); };
  daemon.stdout.on('data', take);
  daemon.stderr.on('data', take);
  await eventually('carebridged to be ready', () => {
    if (daemon.exitCode !== null) throw new Error(`carebridged exited ${daemon.exitCode}:\n${daemonLog}`);
    return daemonLog.includes('ready:');
  }, 20000);
  adminPort = Number(/admin listener on [^:]+:(\d+)/.exec(daemonLog)[1]);
  inPort = Number(/adapter in listening on port (\d+)/.exec(daemonLog)[1]);
}

function enquiry(id) {
  const sample = fs.readFileSync(path.join(SRC, 'mappings', 'rio', 'samples', 'safeguarding-enquiry.xml'), 'utf8');
  return sample.replace('SG-2024-0117', id);
}

function sql(query) {
  return execFileSync('sqlite3', [db, query], { encoding: 'utf8' }).trim();
}

async function pageFor(role) {
  const context = await browser.newContext({
    clientCertificates: [{ origin: `https://127.0.0.1:${adminPort}`, certPath: path.join(certs, `${role}.pem`), keyPath: path.join(certs, `${role}.key`) }],
    // The admin listener's certificate comes from the test CA, which this
    // throw-away browser profile does not trust; the client side is what is
    // under test here, and the daemon checks it strictly.
    ignoreHTTPSErrors: true,
    viewport: { width: 1280, height: 900 },
  });
  const page = await context.newPage();
  page.on('console', (m) => {
    if (/Content Security Policy/i.test(m.text())) cspViolations.push(`${role}: ${m.text()}`);
  });
  await page.goto(`https://127.0.0.1:${adminPort}/`);
  await page.locator('#whoami').filter({ hasText: 'Signed in by certificate' }).waitFor();
  return page;
}

async function section(page, label) {
  await page.getByRole('link', { name: label, exact: true }).click();
}

async function shot(page, name) {
  fs.mkdirSync(SHOTS, { recursive: true });
  await page.screenshot({ path: path.join(SHOTS, `${name}.png`), fullPage: true });
}

before(async () => {
  execFileSync(path.join(SRC, 'certs', 'make-dev-certs'), [certs, 'carebridge', 'partner-a', ...ROLES, 'outsider'], { stdio: 'ignore' });
  execFileSync(CAREBRIDGE, ['audit', 'keygen', '--out', path.join(dir, 'audit.key')], { stdio: 'ignore' });
  sink = new Sink();
  writeConfig(await sink.listen());
  await startDaemon();
  for (const id of ['SG-A', 'SG-B']) assert.equal(await send(inPort, enquiry(id), id), 202);
  browser = await chromium.launch({ executablePath: process.env.CB_CHROMIUM || '/usr/bin/chromium', headless: true, args: ['--no-sandbox'] });
  for (const role of ROLES) pages[role] = await pageFor(role);
});

after(async () => {
  if (browser) await browser.close();
  if (daemon && daemon.exitCode === null) {
    daemon.kill('SIGTERM');
    await eventually('carebridged to stop', () => daemon.exitCode !== null, 20000).catch(() => daemon.kill('SIGKILL'));
  }
  if (sink) sink.server.close();
  fs.mkdirSync(SHOTS, { recursive: true });
  fs.writeFileSync(path.join(SHOTS, 'carebridged.log'), daemonLog);
});

let approved;
let refused;

test('an approver approves one held disclosure and refuses another; only the approved one is delivered', async () => {
  const page = pages.approver;
  await section(page, 'Held disclosures');
  const cards = page.locator('article.hold');
  await eventually('two held disclosures', async () => {
    await page.locator('#holds-refresh').click();
    return (await cards.count()) === 2;
  });
  await shot(page, 'holds');
  assert.equal(sink.received.length, 0, 'nothing leaves before a person decides');
  const first = cards.nth(0);
  approved = await first.getAttribute('data-message');
  const refuseDelivery = await cards.nth(1).getAttribute('data-delivery');
  refused = await cards.nth(1).getAttribute('data-message');
  await first.getByLabel(/Reason for your decision/).fill('s42 enquiry open; the council must act');
  await first.getByRole('button', { name: /^Approve/ }).click();
  await page.locator('#holds-status').filter({ hasText: 'approved' }).waitFor();
  // A reason is required: refusing without one changes nothing.
  const second = page.locator(`article.hold[data-delivery="${refuseDelivery}"]`);
  await second.getByRole('button', { name: /^Refuse/ }).click();
  await page.locator('#holds-status').filter({ hasText: 'A reason is required' }).waitFor();
  assert.equal(await page.locator('article.hold').count(), 1);
  await second.getByLabel(/Reason for your decision/).fill('no current risk to the adult');
  await second.getByRole('button', { name: /^Refuse/ }).click();
  await page.locator('#holds-status').filter({ hasText: 'refused' }).waitFor();
  await page.getByText('No disclosures are waiting for approval.').waitFor();
  await eventually('the approved disclosure to be delivered', () => sink.received.length === 1);
  await sleep(1500);
  assert.deepEqual(sink.ids(), [approved]);
  assert.equal(sql("SELECT count(*) FROM audit_log WHERE action = 'hold.approved' AND actor = 'person:approver'"), '1');
  assert.equal(sql("SELECT count(*) FROM audit_log WHERE action = 'hold.refused' AND actor = 'person:approver'"), '1');
});

test('a reviewer cannot approve: 403, and the refusal is audited', async () => {
  const page = pages['ig-reviewer'];
  assert.equal(await page.getByRole('link', { name: 'Held disclosures' }).count(), 0, 'no holds section for a reviewer');
  const statuses = await page.evaluate(async () => {
    const me = await (await fetch('/api/me')).json();
    const decide = await fetch('/api/holds/decide', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', 'X-CSRF-Token': me.csrf_token },
      body: JSON.stringify({ deliveries: [1], decision: 'approve', reason: 'I should not be able to' }),
    });
    const noToken = await fetch('/api/audit/search', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: '{}' });
    return { decide: decide.status, list: (await fetch('/api/holds')).status, noToken: noToken.status };
  });
  assert.deepEqual(statuses, { decide: 403, list: 403, noToken: 403 });
  const refusals = Number(sql("SELECT count(*) FROM audit_log WHERE action = 'admin.request' AND outcome = 'refused' "
    + "AND actor = 'person:ig-reviewer' AND entry LIKE '%decide-holds%'"));
  assert.equal(refusals, 1);
});

test('a certificate the CA issued to someone not configured gets nothing', async () => {
  const context = await browser.newContext({
    clientCertificates: [{ origin: `https://127.0.0.1:${adminPort}`, certPath: path.join(certs, 'outsider.pem'), keyPath: path.join(certs, 'outsider.key') }],
    ignoreHTTPSErrors: true,
  });
  const page = await context.newPage();
  await page.goto(`https://127.0.0.1:${adminPort}/`);
  await page.locator('#notice').filter({ hasText: '403' }).waitFor();
  assert.equal(await page.locator('#nav a').count(), 0);
  await context.close();
});

test('an operator replays a dead-lettered message', async () => {
  sink.refuse = true;
  assert.equal(await send(inPort, enquiry('SG-C'), 'SG-C'), 202);
  // Held like the others: the approver releases it, and the partner refuses it.
  const approver = pages.approver;
  const card = approver.locator('article.hold');
  await eventually('the third enquiry to be held', async () => {
    await approver.locator('#holds-refresh').click();
    return (await card.count()) === 1;
  });
  const third = await card.first().getAttribute('data-message');
  await card.first().getByLabel(/Reason for your decision/).fill('enquiry still open');
  await card.first().getByRole('button', { name: /^Approve/ }).click();
  await approver.locator('#holds-status').filter({ hasText: 'approved' }).waitFor();

  const page = pages.operator;
  await section(page, 'Queues and dead letters');
  const deadRow = page.locator('#queue-table tbody tr').filter({ hasText: third });
  await eventually('the delivery to be dead-lettered', async () => {
    await page.getByRole('button', { name: 'Show' }).click();
    return (await deadRow.count()) === 1;
  });
  assert.match(await deadRow.innerText(), /refused with HTTP 400/);
  await shot(page, 'operations-dead-letters');
  sink.refuse = false;
  await deadRow.getByRole('checkbox').check();
  await page.getByLabel(/Reason for replaying/).fill('partner fixed its validation');
  await page.getByRole('button', { name: 'Replay selected' }).click();
  await page.locator('#queue-status').filter({ hasText: '1 delivery queued again' }).waitFor();
  await eventually('the replayed delivery to arrive', () => sink.ids().includes(third));
  assert.deepEqual(sink.ids(), [approved, third].sort());
  assert.equal(sql("SELECT count(*) FROM audit_log WHERE action = 'delivery.replayed' AND actor = 'person:operator' "
    + "AND entry LIKE '%partner fixed its validation%'"), '1');
});

test('an IG reviewer searches by NHS number and sees exactly the disclosures made', async () => {
  const page = pages['ig-reviewer'];
  await section(page, 'Audit search');
  const form = page.locator('#search-form');
  await form.getByLabel("Person's NHS number").fill(NHS_NUMBER);
  await form.getByLabel('Action').selectOption('delivery.attempt');
  await form.getByRole('button', { name: 'Search' }).click();
  await page.locator('#search-status').filter({ hasText: 'entries on page 1' }).waitFor();
  const rows = page.locator('#search-results tbody tr');
  const delivered = new Set();
  for (let i = 0; i < await rows.count(); i++) {
    const cells = await rows.nth(i).locator('td').allInnerTexts();
    if (cells[3] === 'success') delivered.add(cells[8]);
  }
  assert.deepEqual([...delivered].sort(), sink.ids(), 'successful deliveries in the trail = what the partner received');
  // The NHS number never appears in an address: it went in the POST body.
  assert.ok(!page.url().includes(NHS_NUMBER));
  await shot(page, 'audit-search');
  await form.getByLabel('Action').selectOption('sharing.decided');
  await form.getByLabel('Entries per page').selectOption('25');
  await form.getByRole('button', { name: 'Search' }).click();
  await page.locator('#search-status').filter({ hasText: 'entries on page 1' }).waitFor();
  assert.equal(await rows.count(), 3, 'three enquiries decided (all held)');
});

test('the subject access report renders and prints', async () => {
  const page = pages['ig-reviewer'];
  await section(page, 'Subject access report');
  await page.locator('#sar-nhs').fill('999 000 0026');
  await page.getByRole('button', { name: 'Produce report' }).click();
  await page.locator('#sar-status').filter({ hasText: 'Report ready' }).waitFor();
  const disclosed = page.locator('[data-part="disclosures"]');
  assert.match(await disclosed.locator('h4').innerText(), /Disclosed: shared and delivered \(2\)/);
  assert.equal(await disclosed.locator('tbody tr').count(), 2);
  assert.match(await disclosed.innerText(), /00AF/);
  assert.match(await page.locator('#sar-meta').innerText(), /999 000 0026/);
  await shot(page, 'subject-access-report');
  await page.emulateMedia({ media: 'print' });
  await shot(page, 'subject-access-report-print');
  await page.pdf({ path: path.join(SHOTS, 'subject-access-report.pdf') });
  await page.emulateMedia({ media: 'screen' });
});

test('agreements read as text, with their validity and a warning near the end', async () => {
  const page = pages['ig-reviewer'];
  await section(page, 'Agreements');
  const card = page.locator('article.agreement').first();
  await card.waitFor();
  assert.match(await card.locator('h3').innerText(), /Bromley/);
  assert.match(await card.innerText(), /in force/);
  if (isoDay(new Date(Date.now() + 30 * 86400000)) > '2026-11-30') {
    assert.match(await card.locator('.warning').innerText(), /ends in (29|30|31) days/);
  }
  await card.getByText('Read the agreement').click();
  assert.match(await card.locator('pre').innerText(), /Lawful basis/);
  await shot(page, 'agreements');
});

test('verification shows intact, then the failing entry after the store is tampered with', async () => {
  const page = pages['ig-reviewer'];
  await section(page, 'Verification');
  await eventually('a signed checkpoint', async () => {
    await section(page, 'Verification');
    return /tree size \d+, signed/.test(await page.locator('#checkpoint').innerText());
  });
  await page.getByRole('button', { name: 'Run verification' }).click();
  await page.locator('[data-verdict="intact"]').waitFor({ timeout: 30000 });
  await shot(page, 'verification-intact');
  // Someone with access to the SQLite file edits one entry.
  sql("UPDATE audit_log SET entry = replace(entry, 'success', 'failure') WHERE seq = 3");
  await page.getByRole('button', { name: 'Run verification' }).click();
  await page.locator('[data-verdict="altered"]').waitFor({ timeout: 30000 });
  assert.match(await page.locator('.first-bad').innerText(), /entry 3\./);
  await shot(page, 'verification-tampered');
});

test('an auditor sees everything read-only', async () => {
  const page = pages.auditor;
  for (const label of ['Audit search', 'Subject access report', 'Held disclosures', 'Agreements', 'Verification', 'Queues and dead letters']) {
    assert.equal(await page.getByRole('link', { name: label, exact: true }).count(), 1, label);
  }
  await section(page, 'Queues and dead letters');
  await page.locator('#queue-status').filter({ hasText: /deliveries|None/ }).waitFor();
  assert.equal(await page.locator('#replay-form').isHidden(), true);
});

test('no personal data in the audit trail or the logs; no CSP violations', () => {
  assert.equal(sql(`SELECT count(*) FROM audit_log WHERE entry LIKE '%${NHS_NUMBER}%'`), '0');
  assert.ok(!daemonLog.includes(NHS_NUMBER), 'the daemon log names no NHS number');
  assert.ok(Number(sql("SELECT count(*) FROM audit_log WHERE action = 'audit.viewed' AND actor = 'person:ig-reviewer'")) > 3);
  assert.deepEqual(cspViolations, []);
});
