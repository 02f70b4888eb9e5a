// What the browser tests share: where things are, a private `taquilla up` stack on free
// ports in a temporary directory, polling with a deadline, and Debian's Chromium.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';

export const root = new URL('../../', import.meta.url).pathname;
export const artifacts = process.env.TAQUILLA_ARTIFACTS || join(root, 'build/artifacts');
export const bin = process.env.TAQUILLA_BIN || join(root, 'build/taquilla');
export const password = 'taquilla-demo';

function portFree(port) {
  return new Promise((resolve) => {
    const s = createServer();
    s.once('error', () => resolve(false));
    s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
  });
}

// A port base whose 24 ports are free right now.
async function freePortBase() {
  for (let attempt = 0; attempt < 200; attempt++) {
    const base = 20000 + Math.floor(Math.random() * 400) * 100;
    let free = true;
    for (let i = 0; i < 24 && free; i++) free = await portFree(base + i);
    if (free) return base;
  }
  throw new Error('no free port range');
}

// Polls `check` until it returns something truthy, or throws after `timeoutMs`.
export async function waitFor(check, what, timeoutMs = 180_000, intervalMs = 200) {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

export function launch() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
           '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
}

// `taquilla up` (demo data) in a new temporary directory `taquilla-<name>-*`; resolves to
// { endpoints, stop } once endpoints.json is written and the secure app is ready.
export async function startStack(name) {
  assert.ok(existsSync(bin), `${bin} is missing: build it first (or set TAQUILLA_BIN)`);
  const dir = mkdtempSync(join(tmpdir(), `taquilla-${name}-`));
  const base = await freePortBase();
  // taquilla reads TAQUILLA_* variables as configuration and refuses unknown ones: the
  // test's own stay out of its environment.
  const env = Object.fromEntries(Object.entries(process.env).filter(
      ([k]) => !['TAQUILLA_ARTIFACTS', 'TAQUILLA_BIN'].includes(k) && !k.startsWith('TAQUILLA_TEST_')));
  const up = spawn(bin, ['up', '--data-dir', dir, '--port-base', String(base)],
                   { stdio: ['ignore', 'ignore', 'inherit'], env });
  const exited = new Promise((resolve) => up.once('exit', resolve));
  const stop = async () => {
    if (up.exitCode === null) {
      up.kill('SIGINT');
      await exited;
    }
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    const endpoints = await waitFor(() => {
      if (up.exitCode !== null) throw new Error(`taquilla up exited with ${up.exitCode}`);
      const file = join(dir, 'endpoints.json');
      return existsSync(file) && JSON.parse(readFileSync(file, 'utf8'));
    }, 'endpoints.json');
    await waitFor(async () => (await fetch(`${endpoints.secure}/readyz`).catch(() => null))?.ok,
                  'the secure app');
    mkdirSync(artifacts, { recursive: true });
    return { endpoints, stop };
  } catch (e) {
    await stop();
    throw e;
  }
}
