import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readConfig, tokenLanguage } from '../src/config';
import { pickLang, strings } from '../src/i18n';

const script = (src: string, attrs: Record<string, string>) => ({ src, getAttribute: (n: string) => attrs[n] ?? null });

test('config from the script tag', () => {
  const c = readConfig({
    script: script('https://desk.example.com/widget.js', { 'data-site-key': 'demo', 'data-language': 'th' }),
    htmlLang: 'en',
    pageOrigin: 'https://exchange.example',
  })!;
  assert.equal(c.siteKey, 'demo');
  assert.equal(c.origin, 'https://desk.example.com');
  assert.equal(c.wsUrl, 'wss://desk.example.com/chat/v1/ws');
  assert.equal(c.language, 'th');
  assert.equal(c.identity, undefined);
});

test('config from window.CustosSettings, html lang, http origin', () => {
  const c = readConfig({
    script: script('http://localhost:8080/widget.js', {}),
    settings: { siteKey: 'k', identity: 'jwt' },
    htmlLang: 'ja-JP',
    navigatorLanguage: 'ko',
    pageOrigin: 'http://localhost:8080',
  })!;
  assert.equal(c.siteKey, 'k');
  assert.equal(c.identity, 'jwt');
  assert.equal(c.language, 'ja-JP');
  assert.equal(c.wsUrl, 'ws://localhost:8080/chat/v1/ws');
  assert.equal(readConfig({ script: null, pageOrigin: 'https://x' }), null);
});

test('languages', () => {
  assert.equal(pickLang('zh-Hans-CN'), 'zh-CN');
  assert.equal(pickLang('zh_TW'), 'zh-CN');
  assert.equal(pickLang('ko-KR'), 'ko');
  assert.equal(pickLang('th'), 'th');
  assert.equal(pickLang('ja'), 'ja');
  assert.equal(pickLang('de'), 'en');
  assert.equal(pickLang(undefined), 'en');
  assert.equal(strings('en')('queue', { n: 3 }), 'You are #3 in the queue');
  assert.equal(strings('ko')('typing', { name: 'Alice' }), 'Alice 님이 입력 중…');
});

test('language from the identity token when the page does not set one explicitly', () => {
  const payload = Buffer.from(JSON.stringify({ sub: 'UID-1', lang: 'th', exp: 1 })).toString('base64url');
  const token = `eyJhbGciOiJIUzI1NiJ9.${payload}.sig`;
  assert.equal(tokenLanguage(token), 'th');
  assert.equal(tokenLanguage('garbage'), '');
  assert.equal(tokenLanguage(`a.${Buffer.from('{"lang":"<script>"}').toString('base64url')}.c`), '');
  const cfg = readConfig({ script: null, settings: { siteKey: 'demo', identity: token }, htmlLang: 'en', pageOrigin: 'https://x.example' });
  assert.equal(cfg?.language, 'th');
  const explicit = readConfig({ script: null, settings: { siteKey: 'demo', identity: token, language: 'ko' }, htmlLang: 'en', pageOrigin: 'https://x.example' });
  assert.equal(explicit?.language, 'ko');
});
