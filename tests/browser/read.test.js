// The public read pages behind HAProxy in a real browser: `taquilla up` with demo data in a
// temporary directory on free ports (one stack for the whole file), then
//   1. a Spanish buyer searches, opens an event, holds two tickets, logs in and pays;
//   2. a seller lists tickets and the event's read page shows them within 1 s;
//   3. an admin adds a language to a site in one click and the site answers in it within 10 s;
//   4. bad input (unknown site or language, script in the query or the path, bad page number);
//   5. a right-to-left site.
// Each test saves screenshots to the artifacts directory. Nothing waits with fixed sleeps:
// every wait is a poll with a deadline.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { artifacts, launch, password, root, startStack, waitFor } from './stack.js';

const catalog = (lang) => JSON.parse(readFileSync(join(root, `data/messages/${lang}.json`), 'utf8'));
const es = catalog('es');

let stack;
let endpoints;
let pub;
let browser;

async function getJson(path) {
  const res = await fetch(`${pub}${path}`);
  assert.equal(res.status, 200, `GET ${path}`);
  return res.json();
}

async function fetchText(url) {
  const res = await fetch(url, { redirect: 'manual' }).catch(() => null);
  return res ? { status: res.status, text: await res.text() } : { status: 0, text: '' };
}

before(async () => {
  stack = await startStack('read');
  endpoints = stack.endpoints;
  pub = endpoints.public;
  assert.ok(pub, 'endpoints.json names the public (HAProxy) URL');
  const ready = async (url) => (await fetch(url).catch(() => null))?.ok;
  for (const r of endpoints.read || []) await waitFor(() => ready(`${r}/readyz`), `read server ${r}`);
  await waitFor(() => ready(`${pub}/es/es/`), 'the public home page through HAProxy');
  browser = await launch();
});

after(async () => {
  if (browser) await browser.close();
  if (stack) await stack.stop();
});

// Logs in through the /login form the page is on (after a redirect), as `email`.
async function submitLogin(page, email) {
  await page.fill('#email', email);
  await page.fill('#password', password);
  await page.click('form[action="/login"] button[type="submit"]');
}

// A new browser context on the public origin, logged in as `email` through /login.
async function logIn(email, options = {}) {
  const context = await browser.newContext(options);
  const page = await context.newPage();
  await page.goto(`${pub}/login`);
  await Promise.all([page.waitForURL(`${pub}/account`), submitLogin(page, email)]);
  return { context, page };
}

// Can a buyer take exactly 2 tickets of this listing?
function allowsTwo(l) {
  const q = l.quantity_available;
  if (q < 2) return false;
  switch (l.split) {
    case 'any': case 'pairs': return true;
    case 'all': return q === 2;
    case 'no_single': return q !== 3;
    default: return false;
  }
}

test('a Spanish buyer searches, opens an event, holds two tickets, logs in and pays', async () => {
  // An event with a listing that sells two tickets, which the search for its title finds.
  const { items } = await getJson('/api/v1/sites/es/events?sort=price&per_page=50');
  let event;
  let listing;
  for (const summary of items) {
    if (summary.status !== 'scheduled' || summary.tickets_available < 2) continue;
    const e = await getJson(`/api/v1/sites/es/events/${summary.id}?lang=es`);
    const l = e.listings.find(allowsTwo);
    if (!l) continue;
    const found = await getJson(`/api/v1/sites/es/search?lang=es&q=${encodeURIComponent(e.title)}`);
    if (!found.items.some((i) => i.id === e.id)) continue;
    event = e;
    listing = l;
    break;
  }
  assert.ok(event, 'an es event with a listing for 2 that the search finds by title');

  const context = await browser.newContext({ locale: 'es-ES' });
  try {
    const page = await context.newPage();
    await page.goto(`${pub}/es/es/`);
    assert.equal(await page.getAttribute('html', 'lang'), 'es');
    assert.equal(await page.getAttribute('html', 'dir'), 'ltr');
    assert.equal(await page.textContent('h1'), es['home.title']);

    // Search from the header box.
    await page.fill('#q', event.title);
    await Promise.all([page.waitForURL(/\/es\/es\/search\?/), page.press('#q', 'Enter')]);
    assert.equal(await page.getAttribute('html', 'lang'), 'es');
    const result = page.locator(`ul.events li.event-card a[href="${event.url}"]`);
    await result.waitFor();
    await page.screenshot({ path: join(artifacts, 'read-buyer-search.png'), fullPage: true });

    // The event page, in Spanish.
    await Promise.all([page.waitForURL(`${pub}${event.url}`), result.click()]);
    assert.equal(await page.getAttribute('html', 'lang'), 'es');
    assert.equal(await page.textContent('h1'), event.title);
    assert.equal(await page.textContent('#tickets-h'), es['event.tickets']);
    const buy = page.locator(`button[data-listing="${listing.id}"]`);
    assert.equal((await buy.textContent()).trim(), es['event.buy']);
    await page.selectOption(`#qty-${listing.id}`, '2');
    await page.screenshot({ path: join(artifacts, 'read-buyer-event.png'), fullPage: true });

    // Buy: not logged in yet, so /hold sends the buyer to /login and back.
    await Promise.all([page.waitForURL(/\/login\?/), buy.click()]);
    assert.equal(await page.getAttribute('html', 'lang'), 'es');  // Accept-Language: es-ES
    assert.equal(await page.textContent('h1'), es['login.title']);
    await page.screenshot({ path: join(artifacts, 'read-buyer-login.png'), fullPage: true });
    await Promise.all([page.waitForURL(/\/hold\?/), submitLogin(page, 'buyer@example.test')]);
    const url = new URL(page.url());
    assert.equal(url.searchParams.get('listing_id'), String(listing.id));
    assert.equal(url.searchParams.get('quantity'), '2');
    assert.equal(await page.inputValue('#quantity'), '2');
    await page.screenshot({ path: join(artifacts, 'read-buyer-hold.png'), fullPage: true });

    // Confirm the hold, pay with the test card, see the paid order.
    await Promise.all([page.waitForURL(/\/checkout\/\d+$/),
                       page.click('form[action="/hold"] button[type="submit"]')]);
    await page.fill('#card_number', '4242424242424242');
    await page.screenshot({ path: join(artifacts, 'read-buyer-checkout.png'), fullPage: true });
    await Promise.all([page.waitForURL(/\/account\/orders\/\d+$/),
                       page.click('form[action^="/checkout/"]:not([action$="/release"]) button[type="submit"]')]);
    assert.equal(await page.locator('.status-paid').count(), 1, 'the order page shows the paid status');
    // The secure pages speak the buyer's account language; the numbers are what matter.
    assert.match(await page.textContent('.facts dd:nth-of-type(2)'), /^\s*2\s*$/);
    await page.screenshot({ path: join(artifacts, 'read-buyer-order.png'), fullPage: true });
  } finally {
    await context.close();
  }
});

test('a seller lists tickets and the event read page shows them within 1 s', async () => {
  const { items } = await getJson('/api/v1/sites/es/events?sort=date&per_page=50');
  const event = items.find((e) => e.status === 'scheduled' && Date.parse(e.starts_at) > Date.now());
  assert.ok(event, 'an upcoming scheduled event on site es');
  const section = `Sector prueba ${process.pid}-${Date.now().toString(36)}`;

  const seller = await logIn('seller@example.test', { locale: 'es-ES' });
  try {
    const page = seller.page;
    await page.goto(`${pub}/sell?event_id=${event.id}`);
    // The upcoming-events menu preselects the event when it offers it; else type its number.
    if (await page.inputValue('#event') !== String(event.id)) await page.fill('#event_id', String(event.id));
    await page.fill('#quantity', '3');
    await page.fill('#price', '37.50');
    await page.fill('#currency', 'EUR');
    await page.fill('#section', section);
    await page.fill('#row', '12');
    await page.selectOption('#split', 'any');
    await page.screenshot({ path: join(artifacts, 'read-seller-sell.png'), fullPage: true });
    const [response] = await Promise.all([
      page.waitForResponse((r) => r.request().method() === 'POST' && new URL(r.url()).pathname === '/sell'),
      page.click('form[action="/sell"] button[type="submit"]'),
    ]);
    const created = Date.now();  // the listing is committed once /sell has answered
    assert.equal(response.status(), 303, `POST /sell answers ${response.status()}`);
    await page.waitForURL(/\/account\?notice=listed$/);

    // Poll the event's read page through HAProxy and on each read server: 1 s deadline.
    const shows = async (base) => (await fetchText(`${base}${event.url}`)).text.includes(`<td>${section}</td>`);
    const delays = {};
    await Promise.all([pub, ...(endpoints.read || [])].map(async (base) => {
      await waitFor(() => shows(base), `the new listing on ${base}${event.url}`, 1000, 20);
      delays[base] = Date.now() - created;
    }));
    console.log(`listing visible after ${JSON.stringify(delays)} ms (public ${pub}, read servers ${endpoints.read})`);
    for (const [base, ms] of Object.entries(delays)) assert.ok(ms <= 1000, `${base}: ${ms} ms`);

    // And in the browser.
    const view = await seller.context.newPage();
    await view.goto(`${pub}${event.url}`);
    const row = view.locator('table.listings tr', { hasText: section });
    assert.equal(await row.count(), 1);
    assert.match(await row.textContent(), /37,50/);
    await row.scrollIntoViewIfNeeded();
    await view.screenshot({ path: join(artifacts, 'read-seller-event.png'), fullPage: true });
  } finally {
    await seller.context.close();
  }
});

test('an admin adds a language to a site in one click and the site answers in it within 10 s', async () => {
  // A site and language pair the data does not have yet: fr + eu, or another one.
  const { sites } = await getJson('/api/v1/sites');
  const has = (site, lang) => sites.find((s) => s.code === site)?.languages.some((l) => l.code === lang);
  const candidates = [['fr', 'eu'], ['de', 'eu'], ['it', 'ca'], ['gb', 'eu'], ['pt', 'eu']];
  const pair = candidates.find(([s, l]) => sites.some((x) => x.code === s) && !has(s, l));
  assert.ok(pair, 'a site without one of the candidate languages');
  const [site, lang] = pair;

  const admin = await logIn('admin@example.test');
  try {
    const page = admin.page;
    await page.goto(`${pub}/admin/sites`);
    const form = page.locator(`form[action="/admin/sites/${site}/languages"]`);
    await page.selectOption(`#add-${site}`, lang);
    await form.scrollIntoViewIfNeeded();
    await page.screenshot({ path: join(artifacts, 'read-admin-sites.png') });
    const [response] = await Promise.all([
      page.waitForResponse((r) => r.request().method() === 'POST' &&
                                  new URL(r.url()).pathname === `/admin/sites/${site}/languages`),
      form.locator('button[type="submit"]').click(),
    ]);
    const added = Date.now();
    assert.ok([200, 303].includes(response.status()), `POST /admin/sites/${site}/languages answers ${response.status()}`);
    await page.waitForLoadState();

    // The home page in the new language, then the search API in it.
    await waitFor(async () => {
      const r = await fetchText(`${pub}/${site}/${lang}/`);
      return r.status === 200 && r.text.includes(`<html lang="${lang}"`);
    }, `${pub}/${site}/${lang}/ answering 200 in ${lang}`, 10_000, 50);
    const pageDelay = Date.now() - added;
    const found = await waitFor(async () => {
      const r = await fetch(`${pub}/api/v1/sites/${site}/search?lang=${lang}&q=`).catch(() => null);
      if (!r || r.status !== 200) return false;
      const body = await r.json();
      return body.items?.length > 0 && body;
    }, `the search API answering items for ${site}/${lang}`, Math.max(1, 10_000 - pageDelay), 50);
    const searchDelay = Date.now() - added;
    console.log(`new language ${site}/${lang}: page after ${pageDelay} ms, search after ${searchDelay} ms ` +
                `(${found.items.length} items, total ${found.total})`);

    const view = await admin.context.newPage();
    const res = await view.goto(`${pub}/${site}/${lang}/`);
    assert.equal(res.status(), 200);
    assert.equal(await view.getAttribute('html', 'lang'), lang);
    assert.equal(await view.textContent('h1'), catalog(lang)['home.title']);
    await view.screenshot({ path: join(artifacts, `read-admin-${site}-${lang}.png`), fullPage: true });
    const { sites: after } = await getJson('/api/v1/sites');
    assert.ok(after.find((s) => s.code === site).languages.some((l) => l.code === lang));
  } finally {
    await admin.context.close();
  }
});

test('bad input: unknown site or language, script in the query or path, bad page number', async () => {
  const context = await browser.newContext({ locale: 'es-ES' });
  const dialogs = [];
  try {
    const page = await context.newPage();
    page.on('dialog', (d) => { dialogs.push(d.message()); d.dismiss().catch(() => {}); });

    // An unknown site.
    let res = await page.goto(`${pub}/zz/es/`);
    assert.equal(res.status(), 404, '/zz/es/');
    assert.ok((await page.textContent('h1')).length > 0);
    await page.screenshot({ path: join(artifacts, 'read-bad-site.png'), fullPage: true });

    // A language the site does not offer: 404 in the site's language.
    res = await page.goto(`${pub}/es/xx/`);
    assert.equal(res.status(), 404, '/es/xx/');
    assert.equal(await page.getAttribute('html', 'lang'), 'es');
    assert.equal(await page.textContent('h1'), es['error.404']);
    await page.screenshot({ path: join(artifacts, 'read-bad-language.png'), fullPage: true });

    // A script in the search query is shown, escaped, and never runs.
    const payload = '<script>alert(1)</script>';
    res = await page.goto(`${pub}/es/es/search?q=${encodeURIComponent(payload)}`);
    assert.equal(res.status(), 200);
    const html = await res.text();
    assert.ok(!html.includes(payload), 'the raw payload is not in the HTML');
    assert.ok(html.includes('&lt;script&gt;alert(1)&lt;/script&gt;'), 'the query is shown escaped');
    assert.equal(await page.inputValue('#q'), payload);
    assert.equal(await page.textContent('h1'), es['search.results_for'].replace('{}', payload));
    await page.screenshot({ path: join(artifacts, 'read-bad-search-script.png'), fullPage: true });

    // A script as the event id: 404, not reflected.
    res = await page.goto(`${pub}/es/es/events/<script>`);
    assert.equal(res.status(), 404, '/es/es/events/<script>');
    const notFound = await res.text();
    for (const reflected of ['<script>', '&lt;script', '%3Cscript', '%3cscript']) {
      assert.ok(!notFound.includes(reflected), `the 404 page does not reflect ${reflected}`);
    }
    await page.screenshot({ path: join(artifacts, 'read-bad-event.png'), fullPage: true });

    // A page number that is not a number.
    res = await page.goto(`${pub}/es/es/search?page=abc`);
    assert.ok([400, 422].includes(res.status()), `/es/es/search?page=abc answers ${res.status()}`);
    assert.equal(await page.getAttribute('html', 'lang'), 'es');
    await page.screenshot({ path: join(artifacts, 'read-bad-page.png'), fullPage: true });

    assert.deepEqual(dialogs, [], 'no dialog opened');
  } finally {
    await context.close();
  }
});

test('the Arabic site is right to left', async () => {
  const context = await browser.newContext({ locale: 'ar-AE' });
  try {
    const page = await context.newPage();
    const res = await page.goto(`${pub}/ae/ar/`);
    assert.equal(res.status(), 200);
    assert.equal(await page.getAttribute('html', 'lang'), 'ar');
    assert.equal(await page.getAttribute('html', 'dir'), 'rtl');
    assert.equal(await page.textContent('h1'), catalog('ar')['home.title']);
    assert.equal(await page.evaluate(() => getComputedStyle(document.body).direction), 'rtl');
    await page.screenshot({ path: join(artifacts, 'read-rtl-ae-ar.png'), fullPage: true });
  } finally {
    await context.close();
  }
});
