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

async function newPage(browser, base, options = {}) {
  // Desk staff run Chinese browsers: the Accept-Language is zh-CN unless a test says so.
  const context = await browser.newContext({ baseURL: base, locale: 'zh-CN', timezoneId: 'Asia/Shanghai', ...options });
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

/** The preference is per person and another test may have left it on English. */
async function useChinese(page) {
  if ((await htmlLang(page)) === 'zh-CN') return;
  await Promise.all([page.waitForNavigation({ waitUntil: 'load' }), page.locator('#lang-switch').click()]);
  await expectLang(page, 'zh-CN');
}

/** Press a button that posts a form and wait for the page that answers. */
async function submitAndWait(page, button, how = 'click') {
  await Promise.all([page.waitForNavigation({ waitUntil: 'load' }), button[how]()]);
}

/** What an error banner or field error on the page says, for failure messages. */
async function complaints(page) {
  const msgs = await page.locator('.banner.error, small.error').allInnerTexts();
  return msgs.length ? ` (the page says: ${msgs.join(' | ')})` : '';
}

/** Sign on a signature pad with the pointer, as a resident would with a finger or mouse. */
async function drawSignature(page, canvas) {
  await canvas.scrollIntoViewIfNeeded();
  const box = await canvas.boundingBox();
  expect(box && box.width > 50 && box.height > 20, `the signature pad is not visible (box ${JSON.stringify(box)})`);
  const at = (fx, fy) => [box.x + box.width * fx, box.y + box.height * fy];
  await page.mouse.move(...at(0.15, 0.6));
  await page.mouse.down();
  for (const [fx, fy] of [[0.25, 0.3], [0.35, 0.7], [0.45, 0.35], [0.55, 0.65], [0.7, 0.4], [0.85, 0.55]]) {
    await page.mouse.move(...at(fx, fy), { steps: 6 });
  }
  await page.mouse.up();
}

async function expectState(page, label, what) {
  const state = (await page.locator('#sheet-state').innerText()).trim();
  expect(state === label, `${what}: #sheet-state should read ${label}, reads ${JSON.stringify(state)}${await complaints(page)}`);
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
  {
    name: 'R-SHEET everyday journey: visit with drawn signature → engineering → collected and archived; printed form renders',
    async run({ browser, base, shoot }) {
      const REASON = '卫生间漏水到楼下';
      const desk = await newPage(browser, base, { viewport: { width: 1280, height: 900 } });
      let phone = null;
      try {
        const { page } = desk;
        await signIn(page, 'hy.desk');
        await useChinese(page);

        // 1. A resident comes to the desk: find the unit, write down the reason, let them sign.
        await page.goto('/sheets/new');
        expect(pathOf(page) === '/sheets/new', `GET /sheets/new should show the registration form, got ${pathOf(page)}`);
        const form = page.locator('#sheet-form');
        const community = form.locator('#community_id');
        const communityText = (await community.locator('option:checked').innerText()).trim();
        expect(communityText.includes('和园'), `the registration form should default to 和园, shows ${JSON.stringify(communityText)}`);
        const communityId = await community.inputValue();

        await page.locator('#finder').fill('3-2-15');
        const candidates = page.locator('#finder-results button.candidate');
        await candidates.first().waitFor({ state: 'visible' });
        const first = candidates.first();
        const label = (await first.innerText()).replace(/\s+/g, ' ').trim();
        expect(label.startsWith('3-2-15'), `the first finder result should be a unit on 3-2-15…, reads ${JSON.stringify(label)}`);
        await first.click();
        const room = await form.locator('input[name=room_no]').inputValue();
        const requester = await form.locator('input[name=requester_name]').inputValue();
        expect(/^3-2-15\d\d$/.test(room), `picking ${JSON.stringify(label)} should fill 房号 with the unit, got ${JSON.stringify(room)}`);
        expect(requester.trim() !== '' && label.includes(requester), `picking ${JSON.stringify(label)} should fill the requester's name, got ${JSON.stringify(requester)}`);
        expect(await form.locator('select[name=channel]').inputValue() === 'visit', 'the channel should default to visit');
        expect(await form.locator('select[name=kind]').inputValue() === 'repair', 'the kind should default to repair');
        await form.locator('textarea[name=reason]').fill(REASON);

        const pad = form.locator('canvas.signature-pad[data-target=signature]');
        expect(await pad.isVisible(), 'a visit should show the signature pad');
        await drawSignature(page, pad);
        const drawn = await form.locator('input[name=signature]').inputValue();
        expect(drawn.startsWith('data:image/png;base64,'), `drawing on the pad should fill the signature, got ${JSON.stringify(drawn.slice(0, 40))}`);

        // An impatient double click registers one sheet, not two, even on a slow line where
        // the second press lands after the first request has left (the first answer is held
        // back for a moment here).
        let posts = 0;
        const slowLine = async (route) => {
          if (route.request().method() !== 'POST') return route.continue().catch(() => {});
          const first = ++posts === 1;
          try {
            const response = await route.fetch({ maxRedirects: 0 });
            if (first) await sleep(1500);
            await route.fulfill({ response });
          } catch {
            await route.abort().catch(() => {}); // the browser gave it up for the next press
          }
        };
        await page.route(/\/sheets\/new(\?|$)/, slowLine);
        const submit = page.locator('#sheet-submit');
        await submit.scrollIntoViewIfNeeded();
        const sb = await submit.boundingBox();
        const [sx, sy] = [sb.x + sb.width / 2, sb.y + sb.height / 2];
        await page.mouse.dblclick(sx, sy);
        for (let i = 0; posts === 0 && i < 250; i++) await sleep(20);
        expect(posts > 0, 'pressing #sheet-submit sent nothing');
        await page.mouse.click(sx, sy);
        await page.waitForURL(/\/sheets\/\d+$/, { waitUntil: 'load' }).catch(() => {});
        await page.unroute(/\/sheets\/new(\?|$)/, slowLine);
        const m = pathOf(page).match(/^\/sheets\/(\d+)$/);
        expect(m, `registering should lead to the new sheet, got ${pathOf(page)}${await complaints(page)}`);
        const sheetPath = pathOf(page);
        const number = ((await page.locator('#sheet-number').innerText()).match(/KF-\d{4}-\d{6}/) || [])[0];
        expect(number, `#sheet-number shows no number like KF-2026-000001: ${JSON.stringify(await page.locator('#sheet-number').innerText())}`);
        await expectState(page, '已登记', 'a new sheet');
        await expectText(page, REASON, 'the new sheet');
        await expectText(page, room, 'the new sheet');
        const signature = page.locator('section:has(#timeline) .signatures:not(#attachments) img');
        expect(await signature.count() === 1, `the sheet should show one signature under the timeline, shows ${await signature.count()}`);
        await signature.scrollIntoViewIfNeeded();
        const sigLoaded = await signature.evaluate((img) => img.complete && img.naturalWidth > 0);
        expect(sigLoaded, `the signature image ${await signature.getAttribute('src')} does not load`);

        await page.goto(`/sheets?community_id=${communityId}&q=${encodeURIComponent(REASON)}`);
        const found = await page.locator('#sheet-list tr').evaluateAll((trs) => trs.slice(1).map((tr) => tr.innerText.replace(/\s+/g, ' ').trim()));
        const withReason = found.filter((r) => r.includes(REASON));
        expect(withReason.length === 1 && withReason[0].includes(number),
          `after a double click the archive should list one sheet ${number} for ${REASON}, lists: ${JSON.stringify(found)}`);

        // 2. The desk sends it to engineering.
        await page.goto(sheetPath);
        const dispatch = page.locator('#dispatch-form');
        expect(await dispatch.count() === 1, `no #dispatch-form on a registered sheet${await complaints(page)}`);
        const departments = await dispatch.locator('select[name=department_id] option').evaluateAll((os) =>
          os.map((o) => ({ value: o.value, text: (o.textContent || '').trim() })),
        );
        const engineering = departments.find((o) => o.text === '工程部');
        expect(engineering, `no department 工程部 to send to (options: ${departments.map((o) => o.text).join(', ')})`);
        await dispatch.locator('select[name=department_id]').selectOption(engineering.value);
        await dispatch.locator('textarea[name=opinion]').fill('请尽快上门查看三角阀');
        await submitAndWait(page, dispatch.locator('button'));
        expect(pathOf(page) === sheetPath, `sending should come back to ${sheetPath}, got ${pathOf(page)}`);
        await expectState(page, '部门办理中', 'after sending to 工程部');

        // 3. The technician, on a phone, finds it in the department's queue and reports back.
        phone = await newPage(browser, base, { viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true });
        const tech = phone.page;
        await signIn(tech, 'hy.tech');
        await useChinese(tech);
        await tech.goto('/queues?q=department');
        const link = tech.locator('#sheet-list a', { hasText: number });
        expect(await link.count() === 1, `the department queue of hy.tech should list ${number}${await complaints(tech)}`);
        await submitAndWait(tech, link, 'tap');
        expect(pathOf(tech) === sheetPath, `the queue's link should open ${sheetPath}, got ${pathOf(tech)}`);
        const ack = tech.locator('#acknowledge-1');
        expect(await ack.count() === 1, `no #acknowledge-1 for hy.tech on ${sheetPath}`);
        await submitAndWait(tech, ack, 'tap');
        const ret = tech.locator('#return-form-1');
        expect(await ret.count() === 1, `after 签收 hy.tech should see #return-form-1${await complaints(tech)}`);
        await ret.locator('textarea[name=result]').fill('已更换三角阀');
        await ret.locator('input[name=signer]').fill('李师傅');
        await submitAndWait(tech, ret.locator('button'), 'tap');
        await expectState(tech, '待收回验收', 'after the department reports back');
        await expectText(tech, '已更换三角阀', 'the returned handover');

        // 4. The desk collects the resident's acceptance and signature, then archives.
        await page.goto(sheetPath);
        await expectState(page, '待收回验收', 'the desk sees the returned sheet');
        const collect = page.locator('#collect-form');
        expect(await collect.count() === 1, `no #collect-form on a returned sheet${await complaints(page)}`);
        await collect.locator('textarea[name=opinion]').fill('维修及时，满意');
        expect(await collect.locator('input[name=confirm][value=signature]').isChecked(), 'confirmation by signature should be the default');
        await drawSignature(page, collect.locator('canvas[data-target=sig-collect]'));
        const collectSig = await collect.locator('#sig-collect').inputValue();
        expect(collectSig.startsWith('data:image/png;base64,'), 'drawing on the collect pad should fill its signature');
        await submitAndWait(page, page.locator('#collect-submit'));
        await expectState(page, '已收回', 'after collecting');
        await submitAndWait(page, page.locator('#archive-submit'));
        await expectState(page, '已归档', 'after archiving');
        const clock = (await page.locator('#collection-clock').innerText()).replace(/\s+/g, ' ');
        expect(clock.includes('按时收回'), `#collection-clock should say 按时收回, says ${JSON.stringify(clock)}`);
        const events = await page.locator('#timeline > li strong').allInnerTexts();
        const wanted = ['登记', '发送部门', '部门签收', '部门交回', '收回验收', '归档'];
        let at = 0;
        for (const e of events) if (at < wanted.length && e.trim() === wanted[at]) at++;
        expect(at === wanted.length, `#timeline should list ${wanted.join(' → ')} in order, lists ${events.join(' → ')}`);
        const sigs = page.locator('section:has(#timeline) .signatures:not(#attachments) img');
        expect(await sigs.count() === 2, `the archived sheet should show both signatures, shows ${await sigs.count()}`);
        await shoot(page, 'sheet');

        // 5. The printed four-part form.
        await page.goto(`${sheetPath}/print`);
        const parts = page.locator('article.four-part');
        expect(await parts.count() === 4, `the printed form should have 4 parts, has ${await parts.count()}`);
        for (let i = 0; i < 4; i++) {
          const part = parts.nth(i);
          expect(await part.locator('svg').count() > 0, `part ${i + 1} of the printed form has no QR code (svg)`);
          expect((await part.innerText()).includes(number), `part ${i + 1} of the printed form does not show ${number}`);
        }
        await expectText(page, '维修及时，满意', 'the printed form');
        await shoot(page, 'sheet-print');
      } catch (e) {
        await shoot(desk.page, 'sheet-failure');
        if (phone) await shoot(phone.page, 'sheet-phone-failure');
        throw e;
      } finally {
        if (phone) await phone.context.close();
        await desk.context.close();
      }
    },
  },
  {
    name: 'R-REP repair journey: desk registers a leak → dispatcher assigns on the board → technician on a phone arrives and completes with the resident\'s signature → desk receives the slip and collects',
    async run({ browser, base, shoot }) {
      const REASON = '厨房水管爆裂，水漫到客厅';
      const desk = await newPage(browser, base, { viewport: { width: 1280, height: 900 } });
      let disp = null;
      let phone = null;
      try {
        const { page } = desk;
        await signIn(page, 'hy.desk');
        await useChinese(page);
        await page.goto('/sheets/new');
        const form = page.locator('#sheet-form');
        await form.locator('select[name=channel]').selectOption('phone');
        await form.locator('select[name=kind]').selectOption('repair');
        expect(await page.locator('#repair-fields').isVisible(), 'a repair should show the repair fields');
        expect(!(await page.locator('#complaint-fields').isVisible()), 'a repair should hide the complaint fields');
        await page.locator('#finder').fill('3-2-15');
        const candidate = page.locator('#finder-results button.candidate').first();
        await candidate.waitFor({ state: 'visible' });
        await candidate.click();
        await form.locator('input[name=requester_phone]').fill('13912345678');
        const category = form.locator('select[name="repair.category"]');
        const water = await category.locator('option', { hasText: '漏水/爆管' }).getAttribute('value');
        await category.selectOption(water);
        const suggested = (await page.locator('#suggested-class').innerText()).trim();
        expect(suggested === '紧急', `漏水/爆管 should suggest 紧急, shows ${JSON.stringify(suggested)}`);
        await form.locator('textarea[name=reason]').fill(REASON);
        await submitAndWait(page, page.locator('#sheet-submit'));
        const m = pathOf(page).match(/^\/sheets\/(\d+)$/);
        expect(m, `registering the repair should lead to the sheet, got ${pathOf(page)}${await complaints(page)}`);
        const id = m[1];
        const sheetPath = pathOf(page);
        const number = ((await page.locator('#sheet-number').innerText()).match(/KF-\d{4}-\d{6}/) || [])[0];
        const panel = (await page.locator('#flow-panel').innerText()).replace(/\s+/g, ' ');
        expect(panel.includes('紧急') && panel.includes('漏水/爆管'), `#flow-panel should show 紧急 and 漏水/爆管: ${panel.slice(0, 300)}`);

        // The dispatcher assigns from the board, in a browser of their own.
        disp = await newPage(browser, base, { viewport: { width: 1280, height: 900 } });
        await signIn(disp.page, 'hy.dispatcher');
        await useChinese(disp.page);
        await disp.page.goto('/repairs/board');
        const assign = disp.page.locator(`#assign-${id}`);
        expect(await assign.count() === 1, `the board should offer #assign-${id} for ${number}${await complaints(disp.page)}`);
        const techs = await assign.locator('select[name=technician_id] option').evaluateAll((os) => os.map((o) => ({ value: o.value, text: o.textContent || '' })));
        expect(techs.length > 0, 'the assign form lists no technician');
        await submitAndWait(disp.page, assign.locator('button'));
        expect(pathOf(disp.page) === '/repairs/board', `assigning should come back to the board, got ${pathOf(disp.page)}${await complaints(disp.page)}`);
        expect(await disp.page.locator(`#assign-${id}`).count() === 0, `${number} should leave the unassigned list`);

        // The technician, on a phone.
        phone = await newPage(browser, base, { viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true });
        const tech = phone.page;
        await signIn(tech, 'hy.tech');
        await useChinese(tech);
        await tech.goto('/repairs/day');
        const head = await tech.locator('header.top').boundingBox();
        expect(head && head.height <= 120, `on a 390px phone the header should stay compact so the jobs start near the top; it is ${head && Math.round(head.height)}px tall`);
        const job = tech.locator(`#job-${id}`);
        expect(await job.count() === 1, `hy.tech's day should list ${number} (assigned to ${techs[0].text.trim()})${await complaints(tech)}`);
        const call = job.locator('button.call');
        expect((await call.innerText()).includes('****'), 'the call button shows the masked number');
        await submitAndWait(tech, tech.locator(`#arrive-${id}`), 'tap');
        expect(pathOf(tech) === '/repairs/day', `arriving should come back to the day, got ${pathOf(tech)}${await complaints(tech)}`);
        const done = tech.locator(`#complete-${id}`);
        const details = tech.locator(`#job-${id} details.complete`);
        if (!(await details.evaluate((d) => d.open))) await details.locator('summary').tap();
        await done.locator('textarea[name=work_done]').fill('更换爆裂的进水管');
        await done.locator('input[name=materials]').fill('PPR 管 1 米，弯头 2 个');
        await drawSignature(tech, done.locator(`canvas[data-target=sig-${id}]`));
        const sig = await done.locator(`#sig-${id}`).inputValue();
        expect(sig.startsWith('data:image/png;base64,'), 'the resident\'s drawing should fill the signature');
        await submitAndWait(tech, done.locator('button.primary'), 'tap');
        expect(pathOf(tech) === '/repairs/day', `completing should come back to the day, got ${pathOf(tech)}${await complaints(tech)}`);
        const doneToday = await tech.locator('#day-done').innerText();
        expect(doneToday.includes(number), `#day-done should list ${number}: ${doneToday}`);
        await shoot(tech, 'repair-day');

        // The desk receives the signed slip and collects.
        await page.goto(sheetPath);
        await submitAndWait(page, page.locator('#receive-slip-submit'));
        await expectState(page, '待收回验收', 'after the slip is back');
        const collect = page.locator('#collect-form');
        await collect.locator('textarea[name=opinion]').fill('维修及时，满意');
        await collect.locator('input[name=confirm][value=phone]').check();
        await collect.locator('input[name=phone_note]').fill('电话回访住户，满意');
        await submitAndWait(page, page.locator('#collect-submit'));
        await expectState(page, '已收回', 'after collecting the repair');
        await expectText(page, '更换爆裂的进水管', 'the collected repair');
      } catch (e) {
        await shoot(desk.page, 'repair-failure');
        if (disp) await shoot(disp.page, 'repair-board-failure');
        if (phone) await shoot(phone.page, 'repair-phone-failure');
        throw e;
      } finally {
        if (phone) await phone.context.close();
        if (disp) await disp.context.close();
        await desk.context.close();
      }
    },
  },
  {
    name: 'R-CMP-3 a complaint about a receptionist is judged by the CS manager and lands with the director',
    async run({ browser, base, shoot }) {
      const desk = await newPage(browser, base);
      let mgr = null;
      let dir = null;
      try {
        const { page } = desk;
        await signIn(page, 'hy.desk');
        await useChinese(page);
        await page.goto('/sheets/new');
        const form = page.locator('#sheet-form');
        await form.locator('select[name=channel]').selectOption('phone');
        await form.locator('select[name=kind]').selectOption('complaint');
        expect(await page.locator('#apology').isVisible(), 'a complaint should show the apology to read out');
        expect(!(await page.locator('#repair-fields').isVisible()), 'a complaint should hide the repair fields');
        await form.locator('input[name=requester_name]').fill('陈先生');
        await form.locator('textarea[name=reason]').fill('投诉前台接待员服务态度');
        await form.locator('input[name="complaint.category"]').fill('服务态度');
        await form.locator('input[name="complaint.place"]').fill('客服中心前台');
        await form.locator('textarea[name="complaint.cause"]').fill('接待员态度生硬');
        await form.locator('textarea[name="complaint.course"]').fill('上午十点办理门禁卡时被催促');
        await form.locator('select[name="complaint.against"]').selectOption('customer_service_staff');
        await submitAndWait(page, page.locator('#sheet-submit'));
        const m = pathOf(page).match(/^\/sheets\/(\d+)$/);
        expect(m, `registering the complaint should lead to the sheet, got ${pathOf(page)}${await complaints(page)}`);
        const sheetPath = pathOf(page);
        const number = ((await page.locator('#sheet-number').innerText()).match(/KF-\d{4}-\d{6}/) || [])[0];

        mgr = await newPage(browser, base);
        await signIn(mgr.page, 'hy.cs_manager');
        await useChinese(mgr.page);
        await mgr.page.goto(sheetPath);
        const judge = mgr.page.locator('#judge-form');
        expect(await judge.count() === 1, `the CS manager should see #judge-form${await complaints(mgr.page)}`);
        const deps = await judge.locator('select[name=department_id] option').evaluateAll((os) => os.map((o) => ({ value: o.value, text: o.textContent || '' })));
        const cs = deps.find((o) => o.text.includes('客服部'));
        const office = deps.find((o) => o.text.includes('中心主任办公室'));
        expect(cs && office, `the route should offer 客服部 and 中心主任办公室: ${deps.map((o) => o.text).join(', ')}`);
        const deadline = new Date(Date.now() + 7 * 86400000).toISOString().slice(0, 10);
        const fill = async (dep) => {
          const f = mgr.page.locator('#judge-form');
          await f.locator('input[name=valid][value="1"]').check();
          await f.locator('textarea[name=explanation]').fill('投诉客服人员，交中心主任处理');
          await f.locator('select[name=department_id]').selectOption(dep);
          await f.locator('input[name=deadline_date]').fill(deadline);
          await submitAndWait(mgr.page, f.locator('#judge-submit'));
        };
        await fill(cs.value);
        const refusal = (await mgr.page.locator('.banner.error').allInnerTexts()).join(' ');
        expect(/中心主任|被投诉的部门/.test(refusal), `routing to 客服部 should be refused with a reason, banner: ${JSON.stringify(refusal)}`);
        await fill(office.value);
        const after = await mgr.page.locator('.banner.error').count();
        expect(after === 0, `routing to 中心主任办公室 should be accepted${await complaints(mgr.page)}`);
        await expectText(mgr.page, '中心主任办公室', 'the judged complaint names the director\'s office');

        dir = await newPage(browser, base);
        await signIn(dir.page, 'hy.director');
        await useChinese(dir.page);
        await dir.page.goto('/inbox');
        await expectText(dir.page, number, 'the director\'s notices');
        await dir.page.goto('/queues?q=department');
        const link = dir.page.locator('#sheet-list a', { hasText: number });
        expect(await link.count() === 1, `the director's department queue should list ${number}`);
      } catch (e) {
        await shoot(desk.page, 'complaint-failure');
        if (mgr) await shoot(mgr.page, 'complaint-manager-failure');
        if (dir) await shoot(dir.page, 'complaint-director-failure');
        throw e;
      } finally {
        if (dir) await dir.context.close();
        if (mgr) await mgr.context.close();
        await desk.context.close();
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
