// The web UI in headless Chromium against a real `conveyor serve`: loads the DAG list, is asked
// for the API token when it unpauses a DAG without one, logs in through the form (the token kept
// in the tab's sessionStorage, not localStorage) and so unpauses the DAG, triggers a run with
// conf from the form, sees the run go green in the grid and the graph,
// opens a task's log (task output shown as text, never markup), and saves screenshots.
//
// Usage: node ui_test.mjs CONVEYOR SCREENSHOT_DIR SOURCE_DIR
// (playwright-core from npm, Debian's chromium)
import { spawn } from 'node:child_process';
import { mkdtempSync, mkdirSync, writeFileSync, rmSync, copyFileSync, symlinkSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';

const [conveyor, shots, source] = process.argv.slice(2);
const TOKEN = 'ui-test-token';
mkdirSync(shots, { recursive: true });

function freePort() {
  return new Promise((resolve) => {
    const server = createServer();
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

async function until(what, check, timeout = 20000) {
  const deadline = Date.now() + timeout;
  while (Date.now() < deadline) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error('timed out waiting for ' + what);
}

const dir = mkdtempSync(join(tmpdir(), 'conveyor_ui_'));
mkdirSync(join(dir, 'dags'));
writeFileSync(join(dir, 'dags', 'ui_demo.yaml'), `description: the browser test's DAG
tags: [ui]
params: {who: world}
tasks:
  - id: hello
    operator: shell
    command: echo "hello {{ params.who }}"; echo '<script>document.title="pwned"</script>'
  - id: after
    operator: noop
    depends_on: [hello]
`);
// A drift task on two generated tables: x drifts in the primary rows, colour does not.
writeFileSync(join(dir, 'dags', 'ui_drift.yaml'), `tags: [ui]
tasks:
  - {id: baseline, operator: ingest, args: {source: baseline.csv, table: b}}
  - {id: primary, operator: ingest, args: {source: primary.csv, table: p}}
  - id: drift
    operator: drift_check
    depends_on: [baseline, primary]
    args: {baseline: b, primary: p, timestamp_column: day, window: 1 week}
`);
const rows = (n, shift, start) => Array.from({ length: n }, (_, i) => {
  const day = new Date(Date.UTC(2026, 0, start + (i % 21))).toISOString().slice(0, 10);
  return `${day},${((i * 7919) % 1000) / 100 + shift},${['red', 'green', 'blue'][Math.floor(i / 21) % 3]}`;
}).join('\n');
writeFileSync(join(dir, 'dags', 'baseline.csv'), 'day,x,colour\n' + rows(900, 0, 1) + '\n');
writeFileSync(join(dir, 'dags', 'primary.csv'), 'day,x,colour\n' + rows(630, 3, 40) + '\n');
// A task group and a branch: the grid's group row folds, the graph's group node unfolds, and the
// run page says why a task was skipped.
writeFileSync(join(dir, 'dags', 'ui_flow.yaml'), `tags: [ui]
groups:
  - id: prep
    tasks:
      - {id: clean, operator: noop}
      - {id: scale, operator: noop, depends_on: [clean]}
tasks:
  - {id: pick, operator: branch, args: {choose: train}, depends_on: [prep]}
  - {id: train, operator: noop, depends_on: [pick]}
  - {id: skip_me, operator: noop, depends_on: [pick]}
`);
// The example training DAG registers credit_default@production: the model page serves it live.
copyFileSync(join(source, 'dags', 'credit_default_training.yaml'),
  join(dir, 'dags', 'credit_default_training.yaml'));
symlinkSync(join(source, 'dags', 'data'), join(dir, 'dags', 'data'));
writeFileSync(join(dir, 'dags', 'broken.yaml'), 'tasks:\n  - {id: x, operator: nope}\n');
const port = await freePort();
writeFileSync(join(dir, 'conveyor.yaml'),
  `dags_folder: dags\ndb: state/conveyor.db\nport: ${port}\ntoken: ${TOKEN}\n`);
const serve = spawn(conveyor, ['--config', join(dir, 'conveyor.yaml'), 'serve'], { stdio: 'ignore' });
const base = `http://127.0.0.1:${port}`;
const apiGet = async (path) =>
  (await fetch(base + '/api/v1' + path, { headers: { Authorization: 'Bearer ' + TOKEN } })).json();

let browser;
let failed = false;
try {
  await until('serve', async () => {
    try { return (await fetch(base + '/api/v1/health')).ok; } catch { return false; }
  });
  browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--no-sandbox'] });
  const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
  const problems = [];
  page.on('console', (m) => { if (m.type() === 'error') problems.push(m.text()); });
  page.on('pageerror', (e) => problems.push(String(e)));
  page.on('response', (r) => { if (r.status() >= 400) problems.push(`${r.status()} ${r.url()}`); });

  await page.goto(base + '/');
  await page.waitForSelector('tr[data-dag="ui_demo"]');
  await page.waitForSelector('.banner[data-dag="broken"]');
  await page.screenshot({ path: join(shots, '1-dag-list.png'), fullPage: true });

  // Without a token a write is refused (401) and the login form opens; nothing changes.
  if (await page.isVisible('#login')) throw new Error('the login form before any refusal');
  if (problems.length) throw new Error('console errors: ' + problems.join('\n'));
  await page.click('tr[data-dag="ui_demo"] input.unpaused');
  await page.waitForSelector('#login', { state: 'visible' });
  await page.screenshot({ path: join(shots, '1b-login.png'), fullPage: true });
  if (!(await apiGet('/dags/ui_demo')).is_paused) throw new Error('unpaused without a token');

  // Logging in saves the token and sends the waiting write again.
  await page.fill('#login-token', TOKEN);
  await page.click('#login-submit');
  await page.waitForSelector('#login', { state: 'hidden' });
  await page.waitForSelector('#logout', { state: 'visible' });
  await until('the DAG to be unpaused', async () => !(await apiGet('/dags/ui_demo')).is_paused);
  const stored = await page.evaluate(() => [sessionStorage.getItem('conveyor-token'),
    localStorage.getItem('conveyor-token'), JSON.stringify(localStorage)]);
  if (stored[0] !== TOKEN) throw new Error('sessionStorage token: ' + stored[0]);
  if (stored[1] !== null || stored[2].includes(TOKEN)) throw new Error('token in localStorage');

  await page.goto(base + '/#/dag/ui_demo/trigger');
  await page.fill('#conf', 'not json');
  await page.click('#trigger');
  await page.waitForSelector('text=Invalid conf');
  await page.fill('#conf', '{"who": "browser"}');
  await page.fill('#run-id', 'from_the_form');
  await page.click('#trigger');
  // Polled from here: the page's CSP forbids the eval that waitForFunction would need.
  await until('the run page', async () => page.url().endsWith('#/dag/ui_demo/run/from_the_form'));
  await page.waitForSelector('.run-state[data-state="success"]');
  await page.screenshot({ path: join(shots, '2-run.png'), fullPage: true });

  await page.goto(base + '/#/dag/ui_demo/grid');
  await page.waitForSelector('a[data-run="from_the_form"][data-task="hello"][data-state="success"]');
  await page.waitForSelector('a[data-run="from_the_form"][data-task="after"][data-state="success"]');
  await page.screenshot({ path: join(shots, '3-grid.png'), fullPage: true });

  await page.goto(base + '/#/dag/ui_demo/graph');
  await page.waitForSelector('g.node[data-task="after"][data-state="success"]');
  await page.screenshot({ path: join(shots, '4-graph.png'), fullPage: true });

  await page.goto(base + '/#/dag/ui_demo/grid');
  await page.click('a[data-run="from_the_form"][data-task="hello"]');
  await page.waitForSelector('pre.log >> text=hello browser');
  const log = await page.textContent('pre.log');
  if (!log.includes('<script>document.title="pwned"</script>')) throw new Error('log: ' + log);
  if (await page.title() !== 'conveyor') throw new Error('the log ran as markup');
  if ((await page.$$('main script')).length !== 0) throw new Error('a script element in the page');
  await page.screenshot({ path: join(shots, '5-task-log.png'), fullPage: true });

  await page.goto(base + '/#/dag/ui_demo/source');
  await page.waitForSelector('pre.source >> text=the browser test');

  // Monitoring: run the drift DAG through the API, then read its report.
  const triggered = await fetch(base + '/api/v1/dags/ui_drift/dagRuns', {
    method: 'POST', headers: { Authorization: 'Bearer ' + TOKEN, 'Content-Type': 'application/json' },
    body: JSON.stringify({ dag_run_id: 'drift_run' }) });
  if (!triggered.ok) throw new Error('trigger ui_drift: ' + triggered.status);
  await until('the drift run', async () => {
    const { state } = await apiGet('/dags/ui_drift/dagRuns/drift_run');
    if (state === 'failed') {
      const { task_instances } = await apiGet('/dags/ui_drift/dagRuns/drift_run/taskInstances');
      throw new Error('the drift run failed: ' + JSON.stringify(task_instances));
    }
    return state === 'success';
  });
  await page.goto(base + '/#/drift');
  await page.click('a[href="#/drift/ui_drift/drift"]');
  await page.waitForSelector('table.drift-report tr.drifted[data-feature="x"]');
  await page.waitForSelector('table.drift-report tr[data-feature="colour"]:not(.drifted)');
  if ((await page.$$('table.drift-report svg.histogram')).length !== 2) throw new Error('histograms');
  await page.waitForSelector('figure.chart[data-feature="x"][data-test="ks"] circle.point.drifted');
  await page.screenshot({ path: join(shots, '6-drift.png'), fullPage: true });

  const flow = await fetch(base + '/api/v1/dags/ui_flow/dagRuns', {
    method: 'POST', headers: { Authorization: 'Bearer ' + TOKEN, 'Content-Type': 'application/json' },
    body: JSON.stringify({ dag_run_id: 'flow_run' }) });
  if (!flow.ok) throw new Error('trigger ui_flow: ' + flow.status);
  await until('the flow run', async () =>
    (await apiGet('/dags/ui_flow/dagRuns/flow_run')).state === 'success');
  await page.goto(base + '/#/dag/ui_flow/grid');
  await page.waitForSelector('span.group-cell[data-run="flow_run"][data-group="prep"][data-state="success"]');
  await page.waitForSelector('a[data-run="flow_run"][data-task="prep.scale"][data-state="success"]');
  await page.waitForSelector('a[data-run="flow_run"][data-task="skip_me"][data-state="skipped"]');
  await page.click('tr.group-row[data-group="prep"] button.group-toggle');
  await page.waitForSelector('a[data-task="prep.scale"]', { state: 'detached' });
  await page.screenshot({ path: join(shots, '7-grid-group-folded.png'), fullPage: true });
  await page.goto(base + '/#/dag/ui_flow/graph');
  await page.waitForSelector('g.node.group[data-group="prep"][data-state="success"]');
  if (await page.$('g.node[data-task="prep.clean"]')) throw new Error('a folded group shows its tasks');
  await page.click('g.node.group[data-group="prep"]');
  await page.waitForSelector('g.node[data-task="prep.clean"][data-state="success"]');
  await page.screenshot({ path: join(shots, '8-graph-group-unfolded.png'), fullPage: true });
  await page.goto(base + '/#/dag/ui_flow/run/flow_run');
  await page.waitForSelector(
    'tr[data-task="skip_me"][data-state="skipped"] td.note >> text=skipped: branch \'pick\' chose train');

  // Models: train and register, score over HTTP, and see the alias's live figures.
  const trained = await fetch(base + '/api/v1/dags/credit_default_training/dagRuns', {
    method: 'POST', headers: { Authorization: 'Bearer ' + TOKEN, 'Content-Type': 'application/json' },
    body: JSON.stringify({ dag_run_id: 'train_run' }) });
  if (!trained.ok) throw new Error('trigger training: ' + trained.status);
  await until('the training run', async () =>
    (await apiGet('/dags/credit_default_training/dagRuns/train_run')).state === 'success', 60000);
  const { versions } = await apiGet('/models/credit_default');
  const record = Object.fromEntries(versions[0].features.map((f, i) => [f, i % 3]));
  const score = async (n) => {
    for (let i = 0; i < n; i++) {
      const answer = await fetch(base + '/models/credit_default@production/invocations', {
        method: 'POST', headers: { Authorization: 'Bearer ' + TOKEN, 'Content-Type': 'application/json' },
        body: JSON.stringify({ dataframe_records: [record, record] }) });
      if (answer.status !== 200) throw new Error('prediction: ' + answer.status + await answer.text());
    }
  };
  await score(5);
  await page.click('nav a[href="#/models"]');
  await page.click('tr[data-model="credit_default"] a');
  await page.waitForSelector('tr[data-alias="production"] td.served-total >> text=5');
  await page.waitForSelector('tr[data-version="1"] td >> text=credit_default_training › compare');
  // Traffic between two refreshes shows as a rate and a p99.
  let scoring = true;
  const traffic = (async () => { while (scoring) await score(5); })();
  try {
    await until('a live rate', async () => {
      const rate = await page.textContent('tr[data-alias="production"] td.live-rate');
      return Number(rate) > 0;
    });
    await page.waitForSelector('tr[data-alias="production"] td.live-p99 >> text=/ms$/');
  } finally {
    scoring = false;
    await traffic;
  }
  if ((await page.$$('tr[data-alias="production"] svg.histogram.scores rect')).length !== 10) {
    throw new Error('the score histogram has not 10 bins');
  }
  await page.screenshot({ path: join(shots, '9-model.png'), fullPage: true });

  const run = await apiGet('/dags/ui_demo/dagRuns/from_the_form');
  if (JSON.stringify(run.conf) !== '{"who":"browser"}') throw new Error('conf ' + JSON.stringify(run.conf));
  // The one refused write's 401 is expected: its response and Chromium's console line for it.
  const unexpected = problems.filter((p) => p !== `401 ${base}/api/v1/dags/ui_demo` &&
    !/status of 401 \(Unauthorized\)/.test(p));
  if (unexpected.length) throw new Error('console errors: ' + unexpected.join('\n'));
  console.log('ui test: ok; screenshots in ' + shots);
} catch (error) {
  failed = true;
  console.error('ui test failed:', error);
} finally {
  if (browser) await browser.close();
  serve.kill('SIGTERM');
  rmSync(dir, { recursive: true, force: true });
}
process.exit(failed ? 1 : 0);
