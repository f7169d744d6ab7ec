// page.mjs drives one headless Debian Chromium through playwright-core: it
// opens the player test page that internal/playertest (Go) serves, waits for
// the page to report its verdict, and prints one JSON line to stdout:
//
//   {"result": <what page/play.js reported or null>, "console": [...], "harnessError": "..."}
//
// Usage: node page.mjs '<json config>'
//   config: {"pageURL": "...", "chromium": "/usr/bin/chromium", "timeoutMs": 90000,
//            "args": ["--extra-switch"]}
//
// A fresh temporary profile is used for every run (Playwright refuses
// --user-data-dir in args, so launchPersistentContext gets it instead), and
// background networking is disabled: this machine has no network, and Chromium
// would otherwise keep trying to reach Google's services.
import { chromium } from 'playwright-core';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const cfg = JSON.parse(process.argv[2] || '{}');
const consoleLines = [];
const started = Date.now();
const stamp = () => ((Date.now() - started) / 1000).toFixed(2).padStart(6) + 's ';
const log = (line) => { if (consoleLines.length < 2000) consoleLines.push(stamp() + line); };

let out = { result: null, console: consoleLines, harnessError: '' };
const profile = mkdtempSync(join(tmpdir(), 'cmafkit-playertest-'));
let context;
let page;
try {
  context = await chromium.launchPersistentContext(profile, {
    executablePath: cfg.chromium || '/usr/bin/chromium',
    headless: true,
    args: [
      '--headless=new', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync',
      '--autoplay-policy=no-user-gesture-required',
      ...(cfg.args || []),
    ],
    timeout: 60000,
  });
  page = context.pages()[0] || await context.newPage();
  page.on('console', (m) => log('console.' + m.type() + ': ' + m.text()));
  page.on('pageerror', (e) => log('pageerror: ' + (e && e.stack ? e.stack : String(e))));
  page.on('requestfailed', (r) => log('requestfailed: ' + r.method() + ' ' + r.url() + ' ' + (r.failure() ? r.failure().errorText : '')));
  page.on('response', (r) => { if (r.status() >= 400) log('http ' + r.status() + ': ' + r.request().method() + ' ' + r.url()); });
  page.on('crash', () => log('page crashed'));

  const timeout = cfg.timeoutMs || 90000;
  await page.goto(cfg.pageURL, { waitUntil: 'load', timeout });
  const handle = await page.waitForFunction(() => window.__ptResult, null, { timeout, polling: 200 });
  out.result = await handle.jsonValue();
} catch (err) {
  out.harnessError = String(err && err.message ? err.message : err);
  if (page) {
    // Report how far the page got (a timeout is usually a stalled player).
    out.result = await page.evaluate(() => window.__ptResult || window.__ptState || null).catch(() => null);
  }
} finally {
  if (context) {
    await context.close().catch((e) => log('close: ' + e));
  }
  rmSync(profile, { recursive: true, force: true });
}
process.stdout.write(JSON.stringify(out) + '\n');
