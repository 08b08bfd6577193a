// Browser tests: start `huiqian serve --demo` on a fresh database, drive the pages with
// the system Chromium, print `ok - NAME` / `not ok - NAME` per test and, as the last
// line, `browser: N passed, M failed`. Exits non-zero when any test fails.
//
// Environment:
//   HUIQIAN_BIN            the binary (default: target/debug/huiqian)
//   HUIQIAN_E2E_BACKEND    sqlite (default) or postgres
//   HUIQIAN_E2E_PG         PostgreSQL server for the throw-away database
//                          (default: postgres://postgres@127.0.0.1:5432)
//   HUIQIAN_E2E_CHROMIUM   the browser (default: /usr/bin/chromium)
// Arguments: optional words; only tests whose name contains one of them run.

import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '..');
const results = path.join(here, 'test-results');
const backend = process.env.HUIQIAN_E2E_BACKEND || 'sqlite';
const bin = path.resolve(root, process.env.HUIQIAN_BIN || 'target/debug/huiqian');
const pgServer = (process.env.HUIQIAN_E2E_PG || 'postgres://postgres@127.0.0.1:5432').replace(/\/+$/, '');
const browserPath = process.env.HUIQIAN_E2E_CHROMIUM || '/usr/bin/chromium';
const filters = process.argv.slice(2);

const PASSWORD = 'huiqian-demo';
const READY_TIMEOUT_MS = 60_000;
const ACTION_TIMEOUT_MS = 15_000;

// ---------------------------------------------------------------------------------------
// Small helpers

class Failure extends Error {}

function expect(cond, message) {
  if (!cond) throw new Failure(message);
}

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function psql(sql) {
  const u = new URL(pgServer);
  const r = spawnSync(
    'psql',
    [
      '-h', u.hostname, '-p', u.port || '5432', '-U', decodeURIComponent(u.username || 'postgres'),
      '-d', 'postgres', '-v', 'ON_ERROR_STOP=1', '-X', '-q', '-c', sql,
    ],
    { encoding: 'utf8', env: { ...process.env, PGCONNECT_TIMEOUT: '10' } },
  );
  if (r.error) throw r.error;
  if (r.status !== 0) throw new Error(`psql failed (${sql}): ${r.stderr.trim()}`);
}

function slug(s) {
  return s.replace(/[^A-Za-z0-9]+/g, '-').replace(/^-|-$/g, '').toLowerCase();
}

// ---------------------------------------------------------------------------------------
// The server under test

class Server {
  constructor() {
    this.out = '';
    this.child = null;
    this.dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'huiqian-e2e-'));
    this.db = null;
    this.exited = null;
  }

  async start() {
    if (!fs.existsSync(bin)) throw new Error(`HUIQIAN_BIN not found: ${bin} (build with cargo build)`);
    const port = await freePort();
    this.base = `http://127.0.0.1:${port}`;
    const args = ['serve', '--demo', '--listen', `127.0.0.1:${port}`, '--data', this.dataDir];
    if (backend === 'postgres') {
      this.db = `huiqian_e2e_${randomBytes(6).toString('hex')}`;
      psql(`CREATE DATABASE ${this.db}`);
      args.push('--database-url', `${pgServer}/${this.db}`);
    } else if (backend !== 'sqlite') {
      throw new Error(`HUIQIAN_E2E_BACKEND must be sqlite or postgres, not ${backend}`);
    }
    const env = { ...process.env, NO_COLOR: '1', HUIQIAN_LOG: process.env.HUIQIAN_LOG || 'huiqian=info,warn' };
    for (const k of ['HUIQIAN_CONFIG', 'HUIQIAN_DATA', 'HUIQIAN_DATABASE_URL', 'HUIQIAN_LISTEN']) delete env[k];
    this.child = spawn(bin, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    this.child.stdout.on('data', (d) => { this.out += d; });
    this.child.stderr.on('data', (d) => { this.out += d; });
    this.child.on('exit', (code, signal) => { this.exited = { code, signal }; });
    this.child.on('error', (e) => { this.exited = { error: e }; });

    const deadline = Date.now() + READY_TIMEOUT_MS;
    for (;;) {
      if (this.exited) {
        throw new Error(`huiqian exited before it was ready (${JSON.stringify(this.exited)})`);
      }
      try {
        const r = await fetch(`${this.base}/readyz`, { signal: AbortSignal.timeout(2000) });
        if (r.status === 200) return;
      } catch {
        // not listening yet
      }
      if (Date.now() > deadline) throw new Error(`GET /readyz did not answer 200 within ${READY_TIMEOUT_MS / 1000} s`);
      await sleep(250);
    }
  }

  async stop() {
    if (this.child && !this.exited) {
      this.child.kill('SIGTERM');
      for (let i = 0; i < 100 && !this.exited; i++) await sleep(100);
      if (!this.exited) {
        this.child.kill('SIGKILL');
        for (let i = 0; i < 50 && !this.exited; i++) await sleep(100);
      }
    }
    if (this.db) {
      try {
        psql(`DROP DATABASE IF EXISTS ${this.db} WITH (FORCE)`);
      } catch (e) {
        console.log(`# could not drop database ${this.db}: ${e.message}`);
      }
      this.db = null;
    }
    fs.rmSync(this.dataDir, { recursive: true, force: true });
  }

  /** Synchronous last resort when the runner itself is interrupted. */
  killNow() {
    if (this.child && !this.exited) this.child.kill('SIGKILL');
  }
}

// ---------------------------------------------------------------------------------------
// Page helpers

async function newPage(browser, base) {
  // Desk staff run Chinese browsers: the Accept-Language is zh-CN unless a test says so.
  const context = await browser.newContext({ baseURL: base, locale: 'zh-CN', timezoneId: 'Asia/Shanghai' });
  context.setDefaultTimeout(ACTION_TIMEOUT_MS);
  context.setDefaultNavigationTimeout(ACTION_TIMEOUT_MS);
  const page = await context.newPage();
  return { context, page };
}

const pathOf = (page) => new URL(page.url()).pathname;
const bodyText = (page) => page.locator('body').innerText();
const htmlLang = (page) => page.locator('html').getAttribute('lang');

async function signIn(page, username) {
  await page.goto('/login');
  const form = page.locator('#login-form');
  await form.locator('input[name=username]').fill(username);
  await form.locator('input[name=password]').fill(PASSWORD);
  await Promise.all([
    page.waitForNavigation({ waitUntil: 'load' }),
    form.locator('button[type=submit], input[type=submit]').first().click(),
  ]);
  const p = pathOf(page);
  if (p === '/login') {
    const banner = (await bodyText(page)).split('\n').filter(Boolean).slice(0, 8).join(' | ');
    throw new Failure(`sign-in as ${username} refused; page says: ${banner}`);
  }
  expect(p !== '/login/second-factor', `sign-in as ${username} asks for a second factor (demo log-ins should not)`);
  expect(p !== '/account/password', `sign-in as ${username} asks for a new password (demo log-ins should not)`);
}

async function expectText(page, text, what) {
  const body = await bodyText(page);
  expect(body.includes(text), `${what}: expected the page (${pathOf(page)}) to show "${text}"`);
}

async function expectLang(page, lang) {
  const got = await htmlLang(page);
  expect(got === lang, `expected <html lang="${lang}"> on ${pathOf(page)}, got ${JSON.stringify(got)}`);
}

async function mustExist(page, selector, what) {
  const n = await page.locator(selector).count();
  expect(n > 0, `${what}: no element matches ${selector} on ${pathOf(page)}`);
}

// ---------------------------------------------------------------------------------------
// The tests

const IMPORT_CSV = '房号,建筑面积,姓名,手机\n9-1-101,89.5,赵一,13800000001\n9-1-102,abc,钱二,1380000\n';

const tests = [
  {
    name: 'R-ROLE-1 sign-in page is zh-CN',
    async run({ browser, base }) {
      const { context, page } = await newPage(browser, base);
      try {
        await page.goto('/');
        expect(pathOf(page) === '/login', `GET / while signed out should lead to /login, got ${pathOf(page)}`);
        await expectLang(page, 'zh-CN');
        await expectText(page, '登录', 'sign-in page');
        await mustExist(page, '#login-form', 'sign-in form');
      } finally {
        await context.close();
      }
    },
  },
  {
    name: 'sign in and switch language per user',
    async run({ browser, base, shoot }) {
      const first = await newPage(browser, base);
      try {
        const { page } = first;
        await signIn(page, 'hy.desk');
        expect(pathOf(page) === '/', `after sign-in expected /, got ${pathOf(page)}`);
        await expectLang(page, 'zh-CN');
        await expectText(page, '我负责的小区', 'home page in Chinese');
        expect(await page.locator('a', { hasText: '和园' }).count() > 0, 'home page: no link to the community 和园');

        const sw = page.locator('#lang-switch');
        expect(await sw.count() === 1, 'no #lang-switch on the home page');
        const label = (await sw.innerText()).trim();
        expect(label === 'English', `#lang-switch should read "English", reads ${JSON.stringify(label)}`);
        await Promise.all([page.waitForNavigation({ waitUntil: 'load' }), sw.click()]);
        await expectLang(page, 'en');
        await expectText(page, 'My communities', 'home page after switching to English');

        await Promise.all([page.waitForNavigation({ waitUntil: 'load' }), page.locator('#logout').click()]);
        expect(pathOf(page) === '/login', `after sign-out expected /login, got ${pathOf(page)}`);

        await signIn(page, 'hy.desk');
        await expectLang(page, 'en');
        await expectText(page, 'My communities', 'signed in again as hy.desk');
      } catch (e) {
        await shoot(first.page, 'lang-failure');
        throw e;
      } finally {
        await first.context.close();
      }

      // A browser that never saw the switch: the preference belongs to the person.
      const fresh = await newPage(browser, base);
      try {
        await signIn(fresh.page, 'hy.desk');
        await expectLang(fresh.page, 'en');
        await expectText(fresh.page, 'My communities', 'hy.desk in a new browser');
      } finally {
        await fresh.context.close();
      }

      const other = await newPage(browser, base);
      try {
        await signIn(other.page, 'hy.tech');
        await expectLang(other.page, 'zh-CN');
        await expectText(other.page, '我负责的小区', 'hy.tech keeps Chinese');
      } finally {
        await other.context.close();
      }
    },
  },
  {
    name: 'foundation §3 CSV import dry run shows the bad row',
    async run({ browser, base, shoot }) {
      const { context, page } = await newPage(browser, base);
      try {
        await signIn(page, 'hy.cs_manager');
        const probe = '/persons?q=13800000001';
        const countGood = async () => {
          await page.goto(probe);
          return ((await bodyText(page)).match(/138\*{4}0001/g) || []).length;
        };
        const before = await countGood();

        await page.goto('/import');
        expect(pathOf(page) === '/import', `GET /import should show the import page, got ${pathOf(page)}`);
        const form = page.locator('#import-form');
        expect(await form.count() === 1, 'no #import-form on /import');
        const select = form.locator('select[name=community_id]');
        expect(await select.count() === 1, '#import-form has no <select name="community_id">');
        const file = form.locator('input[name=file]');
        expect(await file.count() === 1, '#import-form has no input[name=file]');
        const dry = form.locator('input[name=dry_run]');
        expect(await dry.count() === 1, '#import-form has no input[name=dry_run]');
        expect(await dry.isChecked(), 'the dry-run checkbox should be checked by default');
        const submit = page.locator('#import-submit');
        expect(await submit.count() === 1, 'no #import-submit button');

        const options = await select.locator('option').evaluateAll((os) =>
          os.map((o) => ({ value: o.value, text: o.textContent || '' })),
        );
        const heyuan = options.find((o) => o.text.includes('和园'));
        expect(heyuan, `no community option mentions 和园 (options: ${options.map((o) => o.text.trim()).join(', ')})`);
        await select.selectOption(heyuan.value);
        await file.setInputFiles({ name: '业主名册.csv', mimeType: 'text/csv', buffer: Buffer.from(IMPORT_CSV, 'utf8') });

        await Promise.all([
          page.waitForNavigation({ waitUntil: 'load' }).catch(() => {}), // a plain POST; htmx would swap in place
          submit.click(),
        ]);
        await page.locator('#import-errors').first().waitFor({ state: 'attached' }).catch(() => {});
        await shoot(page, 'import');

        const errors = page.locator('#import-errors');
        expect(await errors.count() === 1, `no table #import-errors after the dry run (on ${pathOf(page)})`);
        const rows = await errors.locator('tr').evaluateAll((trs) => trs.map((tr) => tr.innerText.replace(/\s+/g, ' ').trim()));
        const mentions = (row, n) => new RegExp(`(^|[^0-9])${n}([^0-9]|$)`).test(row);
        const row3 = rows.filter((r) => mentions(r, 3));
        expect(row3.length > 0, `#import-errors has no row for row 3: ${JSON.stringify(rows)}`);
        for (const col of ['建筑面积', '手机']) {
          expect(row3.some((r) => r.includes(col)), `#import-errors does not name the column ${col} for row 3: ${JSON.stringify(rows)}`);
        }
        const row2 = rows.filter((r) => mentions(r, 2) && !mentions(r, 3));
        expect(row2.length === 0, `#import-errors blames the good row 2: ${JSON.stringify(row2)}`);
        expect(await page.locator('#import-summary').first().isVisible(), 'no visible #import-summary');

        const after = await countGood();
        expect(after === before, `the dry run imported data: 138****0001 shown ${before} time(s) before, ${after} after`);
      } catch (e) {
        await shoot(page, 'import-failure');
        throw e;
      } finally {
        await context.close();
      }
    },
  },
  {
    name: 'R-ARC-1 phone numbers are masked',
    async run({ browser, base, shoot }) {
      const { context, page } = await newPage(browser, base);
      try {
        await signIn(page, 'hy.cs_manager');
        await page.goto('/persons?q=');
        expect(pathOf(page) === '/persons', `GET /persons should list people, got ${pathOf(page)}`);
        const table = page.locator('#persons');
        expect(await table.count() === 1, 'no table #persons on /persons');
        const text = await table.innerText();
        const phones = text.match(/(?<![0-9*])1[0-9]{2}[0-9*]{4}[0-9]{4}(?![0-9*])/g) || [];
        expect(phones.length > 0, `#persons shows no mobile numbers to check: ${text.slice(0, 300)}`);
        const plain = phones.filter((p) => !/^1\d\d\*{4}\d{4}$/.test(p));
        expect(plain.length === 0, `#persons shows unmasked phone numbers: ${plain.slice(0, 5).join(', ')}`);
        const anywhere = (await bodyText(page)).match(/(?<!\d)1\d{10}(?!\d)/g) || [];
        expect(anywhere.length === 0, `/persons shows 11 plain digits: ${anywhere.slice(0, 5).join(', ')}`);
        const telLinks = await page.locator('a[href^="tel:"]').evaluateAll((as) => as.map((a) => a.getAttribute('href')));
        const plainTel = telLinks.filter((h) => /1\d{10}/.test(h));
        expect(plainTel.length === 0, `/persons links plain numbers: ${plainTel.slice(0, 5).join(', ')}`);
      } catch (e) {
        await shoot(page, 'persons-failure');
        throw e;
      } finally {
        await context.close();
      }
    },
  },
];

// ---------------------------------------------------------------------------------------
// The runner

async function main() {
  const selected = filters.length ? tests.filter((t) => filters.some((f) => t.name.includes(f))) : tests;
  let passed = 0;
  let failed = 0;
  fs.mkdirSync(results, { recursive: true });

  const server = new Server();
  const interrupt = (sig) => {
    server.killNow();
    console.log(`# interrupted by ${sig}`);
    console.log(`browser: ${passed} passed, ${selected.length - passed} failed`);
    process.exit(130);
  };
  process.on('SIGINT', interrupt);
  process.on('SIGTERM', interrupt);
  process.on('exit', () => server.killNow());

  let browser = null;
  try {
    console.log(`# browser tests on ${backend}: ${bin}`);
    await server.start();
    console.log(`# huiqian ready at ${server.base}`);
    expect(fs.existsSync(browserPath), `no browser at ${browserPath} (Debian: apt-get install chromium)`);
    browser = await chromium.launch({
      executablePath: browserPath,
      headless: true,
      args: [
        '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
        '--disable-background-networking', '--disable-component-update', '--disable-sync',
      ],
    });
  } catch (e) {
    console.log(`not ok - setup (${backend})`);
    console.log(`  ${e.message}`);
    failed = selected.length;
  }

  if (browser) {
    const shoot = async (page, name) => {
      try {
        await page.screenshot({ path: path.join(results, `${name}.png`), fullPage: true });
      } catch {
        // the page may already be gone
      }
    };
    for (const t of selected) {
      const started = Date.now();
      try {
        await t.run({ browser, base: server.base, shoot });
        passed++;
        console.log(`ok - ${t.name} (${((Date.now() - started) / 1000).toFixed(1)} s)`);
      } catch (e) {
        failed++;
        console.log(`not ok - ${t.name}`);
        const msg = e instanceof Failure ? e.message : (e.stack || String(e)).split('\n').slice(0, 6).join('\n');
        for (const line of msg.split('\n')) console.log(`  ${line}`);
      }
    }
    await browser.close().catch(() => {});
  }

  const log = path.join(results, `server-${backend}.log`);
  fs.writeFileSync(log, server.out);
  await server.stop();
  if (failed > 0) {
    const lines = server.out.trimEnd().split('\n');
    console.log(`# server output (${path.relative(root, log)}), last lines:`);
    for (const l of lines.slice(-30)) console.log(`#   ${l}`);
  }
  console.log(`browser: ${passed} passed, ${failed} failed`);
  return failed === 0 ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (e) => {
    console.log(`not ok - runner: ${e.stack || e}`);
    console.log('browser: 0 passed, 1 failed');
    process.exit(1);
  },
);
