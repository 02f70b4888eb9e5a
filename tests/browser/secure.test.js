// The secure app's pages in a real browser with JavaScript turned off: `taquilla up`
// with demo data in a temporary directory on free ports, a seller lists tickets through
// /sell, a buyer holds them with the hold page's POST form, pays at /checkout and sees the
// paid order. Screenshots go to the artifacts directory.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { artifacts, launch, password, startStack, waitFor } from './stack.js';

let stack;
let secure;
let browser;

before(async () => {
  stack = await startStack('browser');
  secure = stack.endpoints.secure;
  browser = await launch();
});

after(async () => {
  if (browser) await browser.close();
  if (stack) await stack.stop();
});

// A browser context without JavaScript, logged in as `email` through the login form.
async function logIn(email) {
  const context = await browser.newContext({ javaScriptEnabled: false });
  const page = await context.newPage();
  await page.goto(`${secure}/login`);
  assert.equal(await page.getAttribute('html', 'lang'), 'en');
  assert.equal(await page.getAttribute('html', 'dir'), 'ltr');
  await page.getByLabel('Email').fill(email);
  await page.getByLabel('Password').fill(password);
  await Promise.all([page.waitForURL(`${secure}/account`), page.getByRole('button', { name: 'Log in' }).click()]);
  return { context, page };
}

test('a seller lists tickets and a buyer holds, pays and sees the order, without JavaScript', async () => {
  // The seller puts two tickets of the first upcoming event on sale.
  const seller = await logIn('seller@example.test');
  await seller.page.goto(`${secure}/sell`);
  const options = await seller.page.$$eval('#event option', (os) => os.map((o) => o.value).filter(Boolean));
  assert.ok(options.length > 0, 'the sell page offers upcoming events');
  await seller.page.selectOption('#event', options[0]);
  await seller.page.getByLabel('Number of tickets').fill('2');
  await seller.page.getByLabel('Price per ticket').fill('45.00');
  await seller.page.getByLabel('Currency').fill('EUR');
  await seller.page.getByLabel('Section').fill('Pista');
  await seller.page.screenshot({ path: join(artifacts, 'secure-sell.png'), fullPage: true });
  await Promise.all([seller.page.waitForURL(/\/account\?notice=listed$/),
                     seller.page.getByRole('button', { name: 'Put on sale' }).click()]);
  assert.match(await seller.page.textContent('.notice'), /on sale/);
  const edit = await seller.page.getAttribute('a[href^="/listings/"]', 'href');
  const listing = edit.match(/\/listings\/(\d+)\/edit/)[1];
  await seller.page.screenshot({ path: join(artifacts, 'secure-account-seller.png'), fullPage: true });

  // The buyer holds them with the hold page's POST form and pays.
  const buyer = await logIn('buyer@example.test');
  await buyer.page.goto(`${secure}/hold?listing_id=${listing}&quantity=2`);
  await Promise.all([buyer.page.waitForURL(/\/checkout\/\d+$/),
                     buyer.page.getByRole('button', { name: /Hold tickets/ }).click()]);
  const body = await buyer.page.textContent('main');
  assert.match(body, /Service fee/);
  assert.match(body, /99[.,]00/);  // 2 × 45.00 + 10 % fee
  await buyer.page.getByLabel('Card number').fill('4242 4242 4242 4242');
  await buyer.page.screenshot({ path: join(artifacts, 'secure-checkout.png'), fullPage: true });
  await Promise.all([buyer.page.waitForURL(/\/account\/orders\/\d+$/),
                     buyer.page.getByRole('button', { name: /^Pay/ }).click()]);
  assert.match(await buyer.page.textContent('main'), /Paid \(paid\)/);
  await buyer.page.screenshot({ path: join(artifacts, 'secure-order.png'), fullPage: true });

  // The order is on the buyer's account page, and the sale on the seller's.
  await buyer.page.goto(`${secure}/account`);
  assert.ok(await buyer.page.$('a[href^="/account/orders/"]'));
  await seller.page.goto(`${secure}/account`);
  assert.match(await seller.page.textContent(`tr:has(a[href="${edit}"])`), /0 \/ 2/);
  await seller.context.close();
  await buyer.context.close();
});
