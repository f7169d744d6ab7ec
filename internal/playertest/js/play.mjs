// play.mjs drives one headless Debian Chromium through playwright-core for
// the runs of one Go test process (internal/playertest): each run opens the
// player test page that the harness serves in a fresh browser context (its
// own cookies, storage and media keys, as a fresh profile would have), waits
// for the page to report its verdict, and answers with one JSON line. Runs
// may overlap: each has its own context and page in the one browser, which
// costs far less than a browser launch per run.
//
// Usage: node play.mjs '<json config>'
//   config: {"chromium": "/usr/bin/chromium"}
// stdin, one request a line:
//   {"id": 1, "pageURL": "...", "timeoutMs": 90000,    run a page (in a browser
//    "args": ["--extra-switch"]}                       launched with those extra switches)
//   {"cancel": 1}                                      give up run 1 (its context is closed)
// stdout, one answer a line per run:
//   {"id": 1, "result": <what page/play.js reported or null>, "console": [...], "harnessError": "..."}
// When stdin ends (the Go process is gone), the browsers are closed and the
// process exits.
//
// Background networking is disabled: this machine has no network, and
// Chromium would otherwise keep trying to reach Google's services.
import { chromium } from 'playwright-core';
import { createInterface } from 'node:readline';

const cfg = JSON.parse(process.argv[2] || '{}');

// One browser per set of extra switches (most runs have none; WebRTC pages
// ask for a fake camera), each launched on first use.
const browsers = new Map(); // JSON of the extra switches → Promise<Browser>
function browser(extra) {
  const key = JSON.stringify(extra || []);
  let p = browsers.get(key);
  if (!p) {
    p = chromium.launch({
      executablePath: cfg.chromium || '/usr/bin/chromium',
      headless: true,
      args: [
        '--headless=new', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
        '--disable-background-networking', '--disable-component-update', '--disable-sync',
        '--autoplay-policy=no-user-gesture-required',
        ...(extra || []),
      ],
      timeout: 60000,
    });
    browsers.set(key, p);
    // A crashed or failed browser is launched again by the next run.
    const forget = () => { if (browsers.get(key) === p) { browsers.delete(key); } };
    p.then((b) => b.on('disconnected', forget), forget);
  }
  return p;
}

const contexts = new Map(); // run id → its browser context, for cancel

async function run(req) {
  const consoleLines = [];
  const started = Date.now();
  const stamp = () => ((Date.now() - started) / 1000).toFixed(2).padStart(6) + 's ';
  const log = (line) => { if (consoleLines.length < 2000) consoleLines.push(stamp() + line); };
  const out = { id: req.id, result: null, console: consoleLines, harnessError: '' };
  let context;
  let page;
  try {
    context = await (await browser(req.args)).newContext();
    contexts.set(req.id, context);
    page = await context.newPage();
    page.on('console', (m) => log('console.' + m.type() + ': ' + m.text()));
    page.on('pageerror', (e) => log('pageerror: ' + (e && e.stack ? e.stack : String(e))));
    page.on('requestfailed', (r) => log('requestfailed: ' + r.method() + ' ' + r.url() + ' ' + (r.failure() ? r.failure().errorText : '')));
    page.on('response', (r) => { if (r.status() >= 400) log('http ' + r.status() + ': ' + r.request().method() + ' ' + r.url()); });
    page.on('crash', () => log('page crashed'));

    const timeout = req.timeoutMs || 90000;
    await page.goto(req.pageURL, { waitUntil: 'load', timeout });
    const handle = await page.waitForFunction(() => window.__ptResult, null, { timeout, polling: 200 });
    out.result = await handle.jsonValue();
  } catch (err) {
    out.harnessError = String(err && err.message ? err.message : err);
    if (page) {
      // Report how far the page got (a timeout is usually a stalled player).
      out.result = await page.evaluate(() => window.__ptResult || window.__ptState || null).catch(() => null);
    }
  } finally {
    contexts.delete(req.id);
    if (context) {
      await context.close().catch((e) => log('close: ' + e));
    }
  }
  process.stdout.write(JSON.stringify(out) + '\n');
}

const running = new Set();
const lines = createInterface({ input: process.stdin });
lines.on('line', (line) => {
  if (!line.trim()) { return; }
  const req = JSON.parse(line);
  if (req.cancel !== undefined) {
    const c = contexts.get(req.cancel);
    if (c) { c.close().catch(() => {}); }
    return;
  }
  const p = run(req);
  running.add(p);
  p.finally(() => running.delete(p));
});
lines.on('close', async () => {
  for (const c of contexts.values()) { c.close().catch(() => {}); }
  await Promise.allSettled([...running]);
  for (const p of browsers.values()) {
    const b = await p.catch(() => null);
    if (b) { await b.close().catch(() => {}); }
  }
  process.exit(0);
});
