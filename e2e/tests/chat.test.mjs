// A customer writes in the widget on a test page, the agent sees it in the
// console, replies, and the customer sees the reply; then an attachment
// goes both ways; then the server is killed and restarted and both sides
// carry on without losing anything.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { join } from 'node:path';
import {
  newDataDir, startServer, stopServer, launchBrowser, loginConsole, cleanup,
  ensureScreenshotsDir, screenshotsDir, repoRoot,
} from '../lib.mjs';

// A real 1x1 PNG.
const PNG = Buffer.from('89504e470d0a1a0a0000000d4948445200000001000000010806000000' +
  '1f15c4890000000d49444154789c6360f8cfc0f01f0005000201a5f4cb7f0000000049454e44ae426082', 'hex');

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

async function openWidget(url, viewport = { width: 1280, height: 800 }, pageUrl = url + '/demo/') {
  const ctx = await browser.newContext({ viewport, locale: 'en-US' });
  const page = await ctx.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  await page.goto(pageUrl);
  await page.getByTestId('custos-launcher').click();
  await page.getByTestId('custos-window').waitFor();
  await page.locator('[data-testid="custos-status"][data-status="online"]').waitFor({ timeout: 15000 });
  return { ctx, page, errors };
}

async function widgetSend(page, text) {
  await page.getByTestId('custos-input').fill(text);
  await page.getByTestId('custos-send').click();
}

test('customer chats with an agent in real time', async () => {
  const customer = await openWidget(server.url);
  const question = 'My USDT withdrawal is stuck — 출금이 안 돼요';
  await widgetSend(customer.page, question);
  // Acknowledged only after a durable commit: the message turns "delivered".
  await customer.page.locator('[data-testid="custos-message"][data-author-kind="contact"][data-state="delivered"], [data-testid="custos-message"][data-author-kind="contact"][data-state="read"]')
    .first().waitFor({ timeout: 15000 });

  const agentCtx = await browser.newContext({ viewport: { width: 1440, height: 900 } });
  const agent = await agentCtx.newPage();
  await loginConsole(agent, server.url, 'alice');
  // Going online is a presence change the server keeps.
  await agent.getByTestId('presence-select').selectOption('online');
  await agent.locator('[data-testid="presence-select"]').filter({ has: agent.locator('option[value="online"]:checked') }).waitFor();
  await agent.getByTestId('inbox-view-unassigned').click();
  const row = agent.getByTestId('ticket-row').filter({ hasText: 'My USDT withdrawal is stuck' });
  await row.first().waitFor({ timeout: 15000 });
  await row.first().click();
  await agent.locator('[data-testid="timeline-message"][data-author-kind="contact"]', { hasText: question }).waitFor();

  // The list is live: a second message appears in the open conversation.
  await widgetSend(customer.page, 'TxID: 0x9f3c…a1');
  await agent.locator('[data-testid="timeline-message"][data-author-kind="contact"]', { hasText: 'TxID: 0x9f3c' }).waitFor({ timeout: 15000 });

  await agent.getByTestId('composer-text').fill('Hello! I am checking the transaction now.');
  await agent.getByTestId('composer-send').click();
  await agent.locator('[data-testid="timeline-message"][data-author-kind="agent"]:not([data-pending="true"])', { hasText: 'checking the transaction' }).waitFor({ timeout: 15000 });

  await customer.page.locator('[data-testid="custos-message"][data-author-kind="agent"]', { hasText: 'checking the transaction' }).waitFor({ timeout: 15000 });
  // Replying took the chat: the agent now carries 1 of their 5 chats.
  await agent.getByTestId('chat-load').filter({ hasText: '1/5' }).waitFor({ timeout: 15000 });

  // An internal note never reaches the customer.
  await agent.getByTestId('composer-mode-note').click();
  await agent.getByTestId('composer-text').fill('Internal: VIP escalation candidate');
  await agent.getByTestId('composer-send').click();
  await agent.locator('[data-testid="timeline-message"][data-internal="true"]', { hasText: 'VIP escalation' }).waitFor({ timeout: 15000 });
  await agent.getByTestId('composer-mode-reply').click();

  const me = await agent.evaluate(async () => (await fetch('/api/v1/auth/me')).json());
  assert.equal(me.agent.presence, 'online');
  ensureScreenshotsDir();
  await agent.screenshot({ path: join(screenshotsDir, 'console.png') });
  await customer.page.screenshot({ path: join(screenshotsDir, 'widget.png') });
  assert.equal(await customer.page.locator('[data-testid="custos-message"]', { hasText: 'VIP escalation' }).count(), 0);
  assert.deepEqual(customer.errors, []);
  await agentCtx.close();
  await customer.ctx.close();
});

// An exchange's page on another site (localhost vs 127.0.0.1: another
// origin and another site) embedding the widget with one script tag, as in
// production: uploads need CORS, images need a cross-origin resource policy.
function startHostPage(custosUrl) {
  const html = `<!doctype html><html><head><meta charset="utf-8"><title>Exchange</title></head>
<body><h1>Another exchange</h1><script src="${custosUrl}/widget.js" data-site-key="demo" async></script></body></html>`;
  const srv = createServer((req, res) => {
    res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8' });
    res.end(html);
  });
  return new Promise((resolve) => srv.listen(0, '127.0.0.1', () => resolve(srv)));
}

test('attachments go both ways with sniffed types, from a page on another site', async () => {
  const host = await startHostPage(server.url);
  const hostUrl = `http://localhost:${host.address().port}/`;
  const customer = await openWidget(server.url, undefined, hostUrl);
  assert.notEqual(new URL(customer.page.url()).host, new URL(server.url).host);
  const pngPath = join(dataDir, 'screenshot.png');
  writeFileSync(pngPath, PNG);
  await widgetSend(customer.page, 'Here is my screenshot');
  await customer.page.getByTestId('custos-file-input').setInputFiles(pngPath);
  await customer.page.locator('[data-testid="custos-staged-file"][data-state="done"]').waitFor({ timeout: 15000 });
  await customer.page.getByTestId('custos-send').click();
  const img = customer.page.locator('[data-testid="custos-message"] [data-testid="custos-attachment-image"]').first();
  await img.waitFor({ timeout: 15000 });
  // Actually loaded and decoded, not only an <img> element: the browser
  // would block a same-site-only resource on this page.
  await customer.page.waitForFunction((el) => el.complete && el.naturalWidth === 1, await img.elementHandle(), { timeout: 15000 });

  const agentCtx = await browser.newContext();
  const agent = await agentCtx.newPage();
  await loginConsole(agent, server.url, 'alice');
  await agent.getByTestId('inbox-view-unassigned').click();
  const row = agent.getByTestId('ticket-row').filter({ hasText: 'Here is my screenshot' });
  await row.first().click({ timeout: 15000 });
  const att = agent.locator('[data-testid="timeline-message"] [data-testid="attachment"]').first();
  await att.waitFor({ timeout: 15000 });

  // The agent replies with a text file.
  const txtPath = join(dataDir, 'steps.txt');
  writeFileSync(txtPath, 'Step 1: open Assets > Deposit history.\n');
  await agent.getByTestId('composer-file').setInputFiles(txtPath);
  await agent.getByTestId('composer-text').fill('Please follow these steps');
  await agent.getByTestId('composer-send').click();
  const link = customer.page.locator('[data-testid="custos-message"][data-author-kind="agent"] [data-testid="custos-attachment"]').first();
  await link.waitFor({ timeout: 15000 });
  // The customer gets the agent's bytes, with the safe headers, across origins.
  const got = await link.evaluate(async (a) => {
    const r = await fetch(a.href);
    return { status: r.status, type: r.headers.get('content-type'), body: await r.text() };
  });
  assert.equal(got.status, 200);
  assert.match(got.type, /^text\/plain/);
  assert.equal(got.body, 'Step 1: open Assets > Deposit history.\n');

  // An HTML file disguised as a PNG is refused by the server.
  const fake = join(dataDir, 'evil.png');
  writeFileSync(fake, '<html><script>alert(1)</script></html>');
  await customer.page.getByTestId('custos-file-input').setInputFiles(fake);
  await customer.page.locator('[data-testid="custos-staged-file"][data-state="error"]').waitFor({ timeout: 15000 });
  assert.deepEqual(customer.errors, []);
  await agentCtx.close();
  await customer.ctx.close();
  await new Promise((resolve) => host.close(resolve));
});

test('both sides recover after the server is killed and restarted', async () => {
  const customer = await openWidget(server.url, { width: 390, height: 780 });
  await widgetSend(customer.page, 'Before the restart');
  await customer.page.locator('[data-testid="custos-message"][data-author-kind="contact"]:is([data-state="delivered"], [data-state="read"])', { hasText: 'Before the restart' }).waitFor({ timeout: 15000 });

  const agentCtx = await browser.newContext();
  const agent = await agentCtx.newPage();
  await loginConsole(agent, server.url, 'alice');
  await agent.getByTestId('inbox-view-unassigned').click();
  await agent.getByTestId('ticket-row').filter({ hasText: 'Before the restart' }).first().click({ timeout: 15000 });

  // Kill -9: no graceful shutdown. The acknowledged message must survive.
  await stopServer(server, 'SIGKILL');
  await customer.page.locator('[data-testid="custos-status"]:not([data-status="online"])').waitFor({ timeout: 15000 });
  await agent.locator('[data-testid="ws-status"]:not([data-state="connected"])').waitFor({ timeout: 15000 });
  // Typed while offline: kept in the outbox, sent after reconnect.
  await widgetSend(customer.page, 'Typed while offline');
  server = await startServer(dataDir, server.addr);

  await customer.page.locator('[data-testid="custos-status"][data-status="online"]').waitFor({ timeout: 40000 });
  await customer.page.locator('[data-testid="custos-message"][data-author-kind="contact"]:is([data-state="delivered"], [data-state="read"])', { hasText: 'Typed while offline' }).waitFor({ timeout: 20000 });
  await agent.locator('[data-testid="ws-status"][data-state="connected"]').waitFor({ timeout: 40000 });
  await agent.locator('[data-testid="timeline-message"]', { hasText: 'Typed while offline' }).waitFor({ timeout: 20000 });
  await agent.getByTestId('composer-text').fill('Still here after the restart');
  await agent.getByTestId('composer-send').click();
  await customer.page.locator('[data-testid="custos-message"][data-author-kind="agent"]', { hasText: 'Still here after the restart' }).waitFor({ timeout: 20000 });
  // Nothing duplicated.
  assert.equal(await customer.page.locator('[data-testid="custos-message"]', { hasText: 'Typed while offline' }).count(), 1);
  assert.equal(await customer.page.locator('[data-testid="custos-message"]', { hasText: 'Before the restart' }).count(), 1);
  ensureScreenshotsDir();
  await customer.page.screenshot({ path: join(screenshotsDir, 'widget-mobile.png') });
  await agentCtx.close();
  await customer.ctx.close();
});

void repoRoot;
