// The agent console on its own: login with a TOTP second factor or a
// recovery code, enrolment showing the recovery codes, a new chat
// appearing live in the inbox, and what a read-only role may not do.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import {
  newDataDir, startServer, stopServer, launchBrowser, loginConsole, cleanup, DEMO_PASSWORD,
} from '../lib.mjs';

let dataDir, server, browser;

before(async () => {
  dataDir = newDataDir();
  server = await startServer(dataDir);
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  if (server) await stopServer(server);
  cleanup(dataDir);
});

// RFC 6238 TOTP (SHA-1, 30 s, 6 digits) from a base32 secret.
function totp(secret, at = Date.now()) {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  let bits = '';
  for (const c of secret.replace(/=+$/, '').toUpperCase()) bits += alphabet.indexOf(c).toString(2).padStart(5, '0');
  const key = Buffer.from(bits.match(/.{8}/g).map((b) => parseInt(b, 2)));
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(Math.floor(at / 30000)));
  const h = createHmac('sha1', key).update(counter).digest();
  const o = h[h.length - 1] & 0xf;
  const n = ((h[o] & 0x7f) << 24) | (h[o + 1] << 16) | (h[o + 2] << 8) | h[o + 3];
  return String(n % 1e6).padStart(6, '0');
}

async function api(path, { method = 'GET', body, cookie, csrf } = {}) {
  const headers = { 'Content-Type': 'application/json' };
  if (cookie) headers.Cookie = cookie;
  if (csrf) headers['X-CSRF-Token'] = csrf;
  const r = await fetch(server.url + path, { method, headers, body: body ? JSON.stringify(body) : undefined });
  const text = await r.text();
  return { status: r.status, json: text ? JSON.parse(text) : null, cookie: r.headers.get('set-cookie')?.split(';')[0] };
}

test('TOTP-protected agent signs in with the authenticator code', async () => {
  const login = await api('/api/v1/auth/login', { method: 'POST', body: { login: 'minji', password: DEMO_PASSWORD } });
  assert.equal(login.status, 200);
  const auth = { cookie: login.cookie, csrf: login.json.csrf_token };
  const setup = await api('/api/v1/auth/totp/setup', { method: 'POST', ...auth });
  assert.equal(setup.status, 200);
  // Enrol with the previous 30-second step's code (still accepted for clock
  // drift): a code is single-use, so the login below needs a later one.
  const enable = await api('/api/v1/auth/totp/enable', { method: 'POST', body: { secret: setup.json.secret, code: totp(setup.json.secret, Date.now() - 30000) }, ...auth });
  assert.equal(enable.status, 200, JSON.stringify(enable.json));
  const codes = enable.json.recovery_codes;
  assert.equal(codes.length, 10);
  for (const c of codes) assert.match(c, /^[0-9a-hjkmnp-tv-z]{5}-[0-9a-hjkmnp-tv-z]{5}$/);

  const ctx = await browser.newContext();
  const page = await ctx.newPage();
  await page.goto(server.url + '/');
  await page.getByTestId('login-login').fill('minji');
  await page.getByTestId('login-password').fill(DEMO_PASSWORD);
  await page.getByTestId('login-submit').click();
  // Password accepted, second factor asked for.
  await page.getByTestId('login-totp').waitFor({ timeout: 15000 });
  await page.getByTestId('login-totp').fill('000000');
  await page.getByTestId('login-submit').click();
  await page.getByTestId('login-error').waitFor();
  await page.getByTestId('login-totp').fill(totp(setup.json.secret));
  await page.getByTestId('login-submit').click();
  await page.getByTestId('presence-select').waitFor({ timeout: 15000 });
  await ctx.close();

  // The phone is lost: a recovery code from the enable response, typed the
  // way people type, opens a second session...
  const lost = await browser.newContext();
  const page2 = await lost.newPage();
  await page2.goto(server.url + '/');
  await page2.getByTestId('login-login').fill('minji');
  await page2.getByTestId('login-password').fill(DEMO_PASSWORD);
  await page2.getByTestId('login-submit').click();
  await page2.getByTestId('login-totp').waitFor({ timeout: 15000 });
  assert.match(await page2.getByTestId('login-totp').getAttribute('placeholder'), /xxxxx-xxxxx/);
  await page2.getByTestId('login-totp').fill(codes[0].toUpperCase().replace('-', ' '));
  await page2.getByTestId('login-submit').click();
  await page2.getByTestId('presence-select').waitFor({ timeout: 15000 });
  await lost.close();
  // ...once.
  const again = await api('/api/v1/auth/login', { method: 'POST', body: { login: 'minji', password: DEMO_PASSWORD, totp: codes[0] } });
  assert.equal(again.status, 401);
  assert.equal(again.json.error.code, 'mfa_required');
});

test('enrolling in the console shows the recovery codes once, and one signs in', async () => {
  // A second server that makes every agent enrol an authenticator.
  const dir = newDataDir();
  const strict = await startServer(dir, '127.0.0.1:0', { CUSTOS_REQUIRE_TOTP: 'true' });
  const ctx = await browser.newContext();
  try {
    const page = await ctx.newPage();
    await page.goto(strict.url + '/');
    await page.getByTestId('login-login').fill('lead');
    await page.getByTestId('login-password').fill(DEMO_PASSWORD);
    await page.getByTestId('login-submit').click();
    await page.getByTestId('totp-enroll').waitFor({ timeout: 15000 });
    const secret = await page.getByTestId('totp-secret').textContent();
    await page.getByTestId('totp-code').fill(totp(secret, Date.now() - 30000));
    await page.getByTestId('totp-enable').click();
    await page.getByTestId('recovery-codes').waitFor({ timeout: 15000 });
    const shown = await page.getByTestId('recovery-code').allTextContents();
    assert.equal(shown.length, 10);
    assert.equal(new Set(shown).size, 10);
    // Nothing else until the agent confirms.
    assert.equal(await page.getByTestId('presence-select').count(), 0);
    await page.getByTestId('recovery-codes-done').click();
    await page.getByTestId('presence-select').waitFor({ timeout: 15000 });

    const me = await page.evaluate(async () => (await fetch('/api/v1/auth/me')).json());
    assert.equal(me.recovery_codes_left, 10);
    const other = await browser.newContext();
    const p2 = await other.newPage();
    await p2.goto(strict.url + '/');
    await p2.getByTestId('login-login').fill('lead');
    await p2.getByTestId('login-password').fill(DEMO_PASSWORD);
    await p2.getByTestId('login-submit').click();
    await p2.getByTestId('login-totp').fill(shown[9]);
    await p2.getByTestId('login-submit').click();
    await p2.getByTestId('presence-select').waitFor({ timeout: 15000 });
    await other.close();
  } finally {
    await ctx.close();
    await stopServer(strict);
    cleanup(dir);
  }
});

test('a new chat appears live in the inbox, and read-only roles cannot reply', async () => {
  const ctx = await browser.newContext();
  const agent = await ctx.newPage();
  await loginConsole(agent, server.url, 'lead');
  await agent.getByTestId('inbox-view-unassigned').click();
  await agent.getByTestId('ws-status').and(agent.locator('[data-state="connected"]')).waitFor({ timeout: 15000 });
  const before = await agent.getByTestId('ticket-row').count();

  const cust = await browser.newContext();
  const page = await cust.newPage();
  await page.goto(server.url + '/demo/');
  await page.getByTestId('custos-launcher').click();
  await page.locator('[data-testid="custos-status"][data-status="online"]').waitFor({ timeout: 15000 });
  await page.getByTestId('custos-input').fill('ฝากเงินแล้วยอดไม่เข้า (deposit not credited)');
  await page.getByTestId('custos-send').click();

  // No reload: the row arrives over the agent WebSocket.
  await agent.getByTestId('ticket-row').filter({ hasText: 'deposit not credited' }).waitFor({ timeout: 15000 });
  assert.equal(await agent.getByTestId('ticket-row').count(), before + 1);
  await ctx.close();

  // The auditor may read everything but write nothing.
  const actx = await browser.newContext();
  const auditor = await actx.newPage();
  await loginConsole(auditor, server.url, 'auditor');
  await auditor.getByTestId('inbox-view-all').click();
  await auditor.getByTestId('ticket-row').filter({ hasText: 'deposit not credited' }).click({ timeout: 15000 });
  await auditor.getByTestId('composer-text').fill('auditors cannot write').catch(() => {});
  await auditor.getByTestId('composer-send').click({ timeout: 3000 }).catch(() => {});
  await auditor.waitForTimeout(1000);
  assert.equal(await page.locator('[data-testid="custos-message"]', { hasText: 'auditors cannot write' }).count(), 0);
  await actx.close();
  await cust.close();
});

test('an agent works a ticket: assign, priority, tags, solve with the keyboard', async () => {
  const ctx = await browser.newContext();
  const page = await ctx.newPage();
  await loginConsole(page, server.url, 'lead');
  await page.getByTestId('inbox-view-all').click();
  const row = page.getByTestId('ticket-row').filter({ hasText: 'Withdrawal stuck for 3 hours' }).first();
  await row.click({ timeout: 15000 });
  const ticketId = await row.getAttribute('data-ticket-id');

  await page.getByTestId('assign-me').click();
  await page.getByTestId('priority-select').selectOption('urgent');
  await page.getByTestId('tags-input').fill('btc');
  await page.getByTestId('tags-input').press('Enter');
  await page.locator('[data-testid="tag-chip"][data-tag="btc"]').waitFor({ timeout: 10000 });
  // The timeline shows the changes as events.
  await page.getByTestId('timeline-event').filter({ hasText: /priority/i }).first().waitFor({ timeout: 10000 });

  // "s" solves the open ticket (outside any input).
  await page.locator('body').click({ position: { x: 5, y: 400 } });
  await page.keyboard.press('s');
  await page.locator('[data-testid="status-select"]').and(page.locator(':has(option[value="solved"]:checked)')).waitFor({ timeout: 10000 });

  // Everything persisted on the server.
  const t = await page.evaluate(async (id) => (await fetch(`/api/v1/tickets/${id}`)).json(), ticketId);
  const me = await page.evaluate(async () => (await fetch('/api/v1/auth/me')).json());
  assert.equal(t.ticket.status, 'solved');
  assert.equal(t.ticket.priority, 'urgent');
  assert.ok(t.ticket.tags.includes('btc'));
  assert.equal(t.ticket.assignee_id, me.agent.id);
  assert.ok(t.ticket.solved_at);
  await ctx.close();
});

test('a console whose agent is disabled by an admin drops back to the login page', async () => {
  const ctx = await browser.newContext();
  const page = await ctx.newPage();
  await loginConsole(page, server.url, 'somchai');
  await page.getByTestId('ws-status').and(page.locator('[data-state="connected"]')).waitFor({ timeout: 15000 });

  const admin = await api('/api/v1/auth/login', { method: 'POST', body: { login: 'admin', password: DEMO_PASSWORD } });
  const auth = { cookie: admin.cookie, csrf: admin.json.csrf_token };
  const agents = await api('/api/v1/agents', auth);
  const somchai = (agents.json.items ?? agents.json).find((a) => a.login === 'somchai');
  const off = await api(`/api/v1/agents/${somchai.id}`, { method: 'PATCH', body: { disabled: true }, ...auth });
  assert.equal(off.status, 200, JSON.stringify(off.json));

  // The console socket re-checks its session every 15 s: no click needed.
  await page.getByTestId('login-login').waitFor({ timeout: 30000 });
  const on = await api(`/api/v1/agents/${somchai.id}`, { method: 'PATCH', body: { disabled: false }, ...auth });
  assert.equal(on.status, 200);
  await ctx.close();
});
