// Proves the browser tool chain works on this machine: playwright-core drives Debian's
// Chromium, renders a page with right-to-left text, and saves a screenshot artifact.
// The page and its checks grow into the buyer/seller/admin journeys with the read servers.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { chromium } from 'playwright-core';

const artifacts = process.env.TAQUILLA_ARTIFACTS || new URL('../../build/artifacts/', import.meta.url).pathname;

export async function launch() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
           '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
}

test('chromium renders an RTL page and takes a screenshot', async () => {
  const browser = await launch();
  try {
    const page = await browser.newPage();
    await page.setContent('<html lang="ar" dir="rtl"><body><h1>تذاكر الحفلات</h1>' +
                          '<button id="b" onclick="this.textContent=\'ok\'">go</button></body></html>');
    assert.equal(await page.getAttribute('html', 'dir'), 'rtl');
    await page.click('#b');
    assert.equal(await page.textContent('#b'), 'ok');
    mkdirSync(artifacts, { recursive: true });
    await page.screenshot({ path: `${artifacts}/browser-smoke.png` });
  } finally {
    await browser.close();
  }
});
