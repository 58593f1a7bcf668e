// Shared helpers for the browser tests: start a real custos binary on a
// fresh data directory (with demo data), and launch Debian's Chromium.
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const here = dirname(fileURLToPath(import.meta.url));
export const repoRoot = join(here, '..');
export const BIN = process.env.CUSTOS_BIN || join(repoRoot, 'bin', 'custos');
export const DEMO_PASSWORD = 'custos-demo-2026';
export const screenshotsDir = join(repoRoot, 'docs', 'screenshots');

export function newDataDir() {
  const dir = mkdtempSync(join(tmpdir(), 'custos-e2e-'));
  const r = spawnSync(BIN, ['demo', '--data', dir], { encoding: 'utf8', timeout: 60000 });
  if (r.status !== 0) throw new Error(`custos demo failed: ${r.stderr}`);
  return dir;
}

// startServer runs `custos serve` (with env added to this process's
// environment) and resolves once it printed its URL.
export function startServer(dataDir, addr = '127.0.0.1:0', env = {}) {
  return new Promise((resolve, reject) => {
    const proc = spawn(BIN, ['serve', '--data', dataDir, '--addr', addr, '--log-level', 'warn'], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
    let out = '';
    let err = '';
    const timer = setTimeout(() => { proc.kill('SIGKILL'); reject(new Error(`server did not start: ${err}`)); }, 20000);
    proc.stdout.on('data', (b) => {
      out += b;
      const m = out.match(/running at (http:\/\/[^\s/]+)\//);
      if (m) { clearTimeout(timer); resolve({ proc, url: m[1], addr: m[1].replace('http://', '') }); }
    });
    proc.stderr.on('data', (b) => { err += b; });
    proc.on('exit', (code) => { clearTimeout(timer); if (!out.includes('running at')) reject(new Error(`server exited ${code}: ${err}`)); });
  });
}

export function stopServer(srv, signal = 'SIGTERM') {
  return new Promise((resolve) => {
    if (srv.proc.exitCode !== null) return resolve();
    const t = setTimeout(() => srv.proc.kill('SIGKILL'), 10000);
    srv.proc.once('exit', () => { clearTimeout(t); resolve(); });
    srv.proc.kill(signal);
  });
}

export async function launchBrowser() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync', '--disable-dev-shm-usage'],
  });
}

export async function loginConsole(page, url, login, password = DEMO_PASSWORD) {
  await page.goto(url + '/');
  await page.getByTestId('login-login').fill(login);
  await page.getByTestId('login-password').fill(password);
  await page.getByTestId('login-submit').click();
  await page.getByTestId('presence-select').waitFor({ timeout: 15000 });
}

export function cleanup(dir) {
  try { rmSync(dir, { recursive: true, force: true }); } catch { /* best effort */ }
}

export function ensureScreenshotsDir() {
  mkdirSync(screenshotsDir, { recursive: true });
}
