// End-to-end: a real `nexusctl up` serving the built web front-end, driven by
// Debian's headless Chromium through playwright-core.
//
//   NEXUSCTL_BIN   path to nexusctl (default: ${CARGO_TARGET_DIR:-~/.cache/nexus/target}/debug/nexusctl)
//   WEB_DIST       built front-end to serve (default: <repo>/web/dist; passed on as NEXUS_WEB_DIR)
//   CHROMIUM_BIN   browser executable (default: /usr/bin/chromium)
//   NEXUS_E2E_KEEP=1  keep the temporary directory (state, logs, screenshots) even on success
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { createHash, createHmac, randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import { connect, createServer as createTcpServer } from 'node:net';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const here = dirname(fileURLToPath(import.meta.url));
const repoRoot = resolve(here, '..', '..');

const READY_RE = /ready at (http\S+)/;
const CREDENTIALS_RE = /Set up the administrator (\S+) within \d+ days at: (\S+)/;
const STARTUP_TIMEOUT_MS = 30_000;
const SHUTDOWN_TIMEOUT_MS = 10_000;
const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
  '--disable-quic',
];

// ---- helpers ----------------------------------------------------------------

function findNexusctl() {
  const targetDir = process.env.CARGO_TARGET_DIR || join(homedir(), '.cache', 'nexus', 'target');
  const bin = process.env.NEXUSCTL_BIN || join(targetDir, 'debug', 'nexusctl');
  if (!existsSync(bin)) {
    throw new Error(
      `nexusctl binary not found at ${bin}.\n` +
        `Build it first (cargo build, with CARGO_TARGET_DIR=${targetDir}) or point NEXUSCTL_BIN at it.`,
    );
  }
  return resolve(bin);
}

function findWebDist() {
  const dist = resolve(process.env.WEB_DIST || join(repoRoot, 'web', 'dist'));
  if (!existsSync(join(dist, 'index.html'))) {
    throw new Error(
      `No built front-end at ${dist} (index.html missing).\n` +
        `Run "npm ci && npm run build" in web/, or point WEB_DIST at a build.`,
    );
  }
  return dist;
}

// eslint-disable-next-line no-control-regex
const stripAnsi = (s) => s.replace(/\x1b\[[0-9;?]*[ -/]*[@-~]/g, '');

/** Runs a command to completion; never rejects on a non-zero exit. */
function run(bin, args, timeoutMs = 20_000) {
  return new Promise((resolveRun) => {
    execFile(bin, args, { timeout: timeoutMs, maxBuffer: 16 << 20 }, (error, stdout, stderr) => {
      const code = error ? (typeof error.code === 'number' ? error.code : null) : 0;
      resolveRun({ code, signal: error?.signal ?? null, stdout, stderr, error });
    });
  });
}

/** A free loopback TCP port (bound, read, released). */
function freePort() {
  return new Promise((resolvePort, reject) => {
    const srv = createTcpServer();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolvePort(port));
    });
  });
}

/**
 * A real OpenLDAP server (Debian's slapd) under dc=example,dc=test with `seed` loaded, on a
 * free loopback port; `proc` is killed by the caller.
 */
async function startSlapd(dir, seed) {
  const data = join(dir, 'data');
  mkdirSync(data, { recursive: true });
  const conf = join(dir, 'slapd.conf');
  writeFileSync(
    conf,
    [
      'include /etc/ldap/schema/core.schema',
      'include /etc/ldap/schema/cosine.schema',
      'include /etc/ldap/schema/inetorgperson.schema',
      'include /etc/ldap/schema/nis.schema',
      'modulepath /usr/lib/ldap',
      'moduleload back_mdb',
      `pidfile ${join(dir, 'slapd.pid')}`,
      'database mdb',
      'maxsize 10485760',
      'suffix "dc=example,dc=test"',
      'rootdn "cn=admin,dc=example,dc=test"',
      'rootpw "e2e slapd admin"',
      `directory ${data}`,
      '',
    ].join('\n'),
  );
  const ldif = join(dir, 'seed.ldif');
  writeFileSync(
    ldif,
    `dn: dc=example,dc=test\nobjectClass: dcObject\nobjectClass: organization\no: Example\ndc: example\n\n${seed}`,
  );
  const added = await run('/usr/sbin/slapadd', ['-f', conf, '-l', ldif]);
  assert.equal(added.code, 0, `slapadd failed (apt-get install slapd ldap-utils): ${added.stderr}`);
  const port = await freePort();
  const proc = spawn('/usr/sbin/slapd', ['-f', conf, '-h', `ldap://127.0.0.1:${port}/`, '-d', '0'], {
    stdio: 'ignore',
  });
  for (let i = 0; i < 200; i++) {
    const up = await new Promise((r) => {
      const sock = connect(port, '127.0.0.1', () => {
        sock.end();
        r(true);
      });
      sock.on('error', () => r(false));
    });
    if (up) return { port, proc };
    await sleep(50);
  }
  proc.kill('SIGKILL');
  throw new Error(`slapd did not listen on port ${port}`);
}

async function statusJson(bin, stateDir) {
  const res = await run(bin, ['status', '--state-dir', stateDir, '--json']);
  let json;
  try {
    json = JSON.parse(res.stdout);
  } catch (err) {
    throw new Error(
      `"nexusctl status --json" did not print JSON (exit ${res.code}): ${err.message}\n` +
        `stdout:\n${res.stdout}\nstderr:\n${res.stderr}`,
    );
  }
  return { ...res, json };
}

function appIds(apps) {
  assert.ok(Array.isArray(apps), `apps should be an array, got ${JSON.stringify(apps)}`);
  return apps.map((a) => (typeof a === 'string' ? a : a?.id));
}

function isAlive(pgid) {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch {
    return false;
  }
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** RFC 4648 base32 (as authenticator apps read the key). */
function base32Decode(text) {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  let bits = 0;
  let value = 0;
  const out = [];
  for (const c of text.replace(/[\s=]/g, '').toUpperCase()) {
    const idx = alphabet.indexOf(c);
    assert.ok(idx >= 0, `not base32: ${c}`);
    value = ((value << 5) | idx) & 0xffff;
    bits += 5;
    if (bits >= 8) {
      out.push((value >>> (bits - 8)) & 0xff);
      bits -= 8;
    }
  }
  return Buffer.from(out);
}

/** The code an authenticator app shows (RFC 6238: HMAC-SHA1, 30 s, 6 digits), written
 *  independently of the server's implementation. */
function totpCode(secretBase32, unixSeconds) {
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(Math.floor(unixSeconds / 30)));
  const mac = createHmac('sha1', base32Decode(secretBase32)).update(counter).digest();
  const offset = mac[mac.length - 1] & 0x0f;
  return String((mac.readUInt32BE(offset) & 0x7fffffff) % 1_000_000).padStart(6, '0');
}

// ---- the running instance ---------------------------------------------------

const ctx = {
  bin: null,
  tmp: null,
  stateDir: null,
  proc: null,
  exit: null, // Promise<{code, signal}>
  exited: null, // {code, signal} once exited
  stdout: '',
  stderr: '',
  url: null,
  email: null,
  password: null,
  browser: null,
  page: null,
  recoveryCode: null,
  failed: false,
};

function output(inst = ctx) {
  return `--- nexusctl up stdout ---\n${inst.stdout}\n--- nexusctl up stderr ---\n${inst.stderr}`;
}

/**
 * Starts `nexusctl up` on a free port with `stateDir` and fills `inst` with the process, its
 * output, the URL it prints and the setup link; resolves once both are printed.
 */
async function startNexus(inst, stateDir, webDist) {
  inst.stdout = '';
  inst.stderr = '';
  inst.exited = null;
  inst.proc = spawn(
    ctx.bin,
    // Port 0: nexusd binds a free port and nexusctl prints the URL it really got,
    // so no other process can take the port between choosing and binding it.
    ['up', '--state-dir', stateDir, '--listen', '127.0.0.1:0'],
    {
      env: { ...process.env, NEXUS_WEB_DIR: webDist, NO_COLOR: '1' },
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true, // own process group, so cleanup can reach every child
    },
  );
  inst.exit = new Promise((resolveExit) => {
    inst.proc.on('exit', (code, signal) => {
      inst.exited = { code, signal };
      resolveExit(inst.exited);
    });
  });
  inst.proc.stderr.setEncoding('utf8');
  inst.proc.stderr.on('data', (chunk) => {
    inst.stderr += chunk;
  });
  inst.proc.stdout.setEncoding('utf8');

  await new Promise((resolveReady, reject) => {
    const timer = setTimeout(() => {
      reject(
        new Error(
          `nexusctl up did not print both "ready at <url>" and the setup link ` +
            `within ${STARTUP_TIMEOUT_MS / 1000} s\n${output(inst)}`,
        ),
      );
    }, STARTUP_TIMEOUT_MS);
    const check = () => {
      const text = stripAnsi(inst.stdout);
      const ready = text.match(READY_RE);
      const creds = text.match(CREDENTIALS_RE);
      if (ready) inst.url = ready[1].replace(/[.,;]+$/, '');
      if (creds) [, inst.email, inst.setupLink] = creds;
      if (ready && creds) {
        clearTimeout(timer);
        resolveReady();
      }
    };
    inst.proc.stdout.on('data', (chunk) => {
      inst.stdout += chunk;
      check();
    });
    inst.proc.on('error', (err) => {
      clearTimeout(timer);
      reject(new Error(`could not start ${ctx.bin}: ${err.message}`));
    });
    inst.exit.then(({ code, signal }) => {
      clearTimeout(timer);
      reject(new Error(`nexusctl up exited early (code ${code}, signal ${signal})\n${output(inst)}`));
    });
  });
}

/** Stops an instance `startNexus` started: SIGTERM, then SIGKILL to its process group. */
async function stopNexus(inst) {
  if (inst.proc && !inst.exited) {
    try {
      process.kill(-inst.proc.pid, 'SIGTERM');
    } catch {
      /* already gone */
    }
    const done = await Promise.race([inst.exit, sleep(5_000).then(() => null)]);
    if (!done) {
      try {
        process.kill(-inst.proc.pid, 'SIGKILL');
      } catch {
        /* already gone */
      }
      await Promise.race([inst.exit, sleep(2_000)]);
    }
  }
  if (inst.proc && isAlive(inst.proc.pid)) {
    try {
      process.kill(-inst.proc.pid, 'SIGKILL');
    } catch {
      /* already gone */
    }
  }
}

/** Wraps a step so that a failure marks the run (later steps skip, temp dir is kept). */
function step(name, fn, { needs = [] } = {}) {
  it(name, async (t) => {
    for (const need of needs) {
      if (!ctx[need]) {
        t.skip(`needs ${need} from an earlier step`);
        return;
      }
    }
    try {
      await fn(t);
    } catch (err) {
      ctx.failed = true;
      throw err;
    }
  });
}

describe('hub: nexusctl up serves the launcher', { timeout: 180_000 }, () => {
  before(async () => {
    try {
      ctx.bin = findNexusctl();
      const webDist = findWebDist();
      ctx.webDist = webDist;
      ctx.tmp = mkdtempSync(join(tmpdir(), 'nexus-e2e-'));
      ctx.stateDir = join(ctx.tmp, 'state');
      mkdirSync(ctx.stateDir);
      await startNexus(ctx, ctx.stateDir, webDist);
    } catch (err) {
      ctx.failed = true;
      throw err;
    }
  });

  after(async () => {
    await ctx.browser?.close().catch(() => {});
    await stopNexus(ctx);
    if (ctx.second) {
      await stopNexus(ctx.second);
      if (ctx.tmp) writeFileSync(join(ctx.tmp, 'nexusctl-up-second.log'), output(ctx.second));
    }
    if (ctx.tmp) {
      writeFileSync(join(ctx.tmp, 'nexusctl-up.log'), output());
      if (ctx.failed || process.env.NEXUS_E2E_KEEP === '1') {
        console.error(`# kept ${ctx.tmp} (state, nexusctl-up.log, screenshots)`);
      } else {
        rmSync(ctx.tmp, { recursive: true, force: true });
      }
    }
  });

  step(
    'sets the administrator up from the printed link and shows the launcher with precompressed, immutable assets',
    async (t) => {
      ctx.browser = await chromium.launch({
        executablePath: process.env.CHROMIUM_BIN || '/usr/bin/chromium',
        args: CHROMIUM_ARGS,
        headless: true,
      });
      const page = await ctx.browser.newPage();
      const responses = [];
      page.on('response', (res) => responses.push(res));
      const consoleErrors = [];
      page.on('console', (msg) => {
        if (msg.type() === 'error') consoleErrors.push(msg.text());
      });
      page.on('pageerror', (err) => consoleErrors.push(String(err)));

      try {
        // Nobody is signed in yet: the address leads to the login page.
        await page.goto(ctx.url, { waitUntil: 'load' });
        await page.waitForURL((u) => u.pathname === '/login', { timeout: 15_000 });

        // The link `nexusctl up` printed sets the administrator's password and signs in.
        assert.ok(ctx.setupLink.startsWith(ctx.url), `${ctx.setupLink} is under ${ctx.url}`);
        await page.goto(ctx.setupLink, { waitUntil: 'load' });
        ctx.password = `e2e-${randomBytes(12).toString('base64url')}-Nx`;
        await page.getByLabel('New password', { exact: true }).fill(ctx.password);
        await page.getByLabel('Repeat new password').fill(ctx.password);
        await page.getByRole('button', { name: 'Set password and sign in' }).click();
        const launcher = page.locator('[data-testid=launcher]');
        await launcher.waitFor({ timeout: 15_000 });
        ctx.page = page;
        await page.getByTestId('app-tile-hub').waitFor();
        await page.getByTestId('app-tile-identity').waitFor();
        assert.equal(new URL(page.url()).pathname, '/');

        await page.screenshot({ path: join(ctx.tmp, 'hub.png'), fullPage: true });
        t.diagnostic(`screenshot: ${join(ctx.tmp, 'hub.png')}`);

        // The entry script index.html loads: served precompressed and immutable.
        const scriptSrc = await page.$eval('script[type=module][src]', (s) => s.src);
        assert.match(new URL(scriptSrc).pathname, /^\/assets\/.+\.js$/, 'main script lives under /assets/');
        const scriptRes = responses.find((r) => r.url() === scriptSrc);
        assert.ok(scriptRes, `no response recorded for ${scriptSrc}`);
        assert.equal(scriptRes.status(), 200, `${scriptSrc} status`);
        const headers = await scriptRes.allHeaders();
        assert.match(
          headers['content-encoding'] ?? '',
          /^(br|gzip)$/,
          `${scriptSrc} content-encoding should be br or gzip; headers: ${JSON.stringify(headers)}`,
        );
        assert.match(
          headers['cache-control'] ?? '',
          /immutable/,
          `${scriptSrc} cache-control should be immutable; headers: ${JSON.stringify(headers)}`,
        );
        assert.match(headers['content-type'] ?? '', /javascript/, `${scriptSrc} content-type`);
        // The 401 from the first session check is expected; anything else is not.
        const unexpected = consoleErrors.filter((m) => !/Failed to load resource.*\b401\b/.test(m));
        assert.deepEqual(unexpected, [], 'the page logged no errors');
      } catch (err) {
        await page.screenshot({ path: join(ctx.tmp, 'failure.png'), fullPage: true }).catch(() => {});
        throw new Error(
          `${err.message}\n(page at ${page.url()}; screenshot ${join(ctx.tmp, 'failure.png')})\n${output()}`,
          { cause: err },
        );
      }
    },
    { needs: ['url', 'email'] },
  );

  step(
    'the account page lists sessions and ends another device, and issues and revokes an access token',
    async (t) => {
      const page = ctx.page;
      // A second device: a fresh browser context signs in with the same account.
      const other = await ctx.browser.newContext();
      try {
        const phone = await other.newPage();
        await phone.goto(new URL('/login', ctx.url).href, { waitUntil: 'load' });
        await phone.getByLabel('E-mail').fill(ctx.email);
        await phone.getByLabel('Password').fill(ctx.password);
        await phone.getByRole('button', { name: 'Log in' }).click();
        await phone.locator('[data-testid=launcher]').waitFor({ timeout: 15_000 });

        await page.goto(new URL('/account', ctx.url).href, { waitUntil: 'load' });
        const sessions = page.getByTestId('sessions');
        await sessions.getByTestId('session').nth(1).waitFor({ timeout: 15_000 });
        assert.equal(await sessions.getByTestId('session').count(), 2, 'this browser and the other one');
        assert.equal(await sessions.locator('[data-testid=session][data-current=true]').count(), 1);
        await sessions.getByTestId('session-sign-out').click();
        await page.getByTestId('session-ended').waitFor({ timeout: 15_000 });
        assert.equal(await sessions.getByTestId('session').count(), 1);
        // The other device is signed out: its next page load lands on the login page.
        await phone.reload({ waitUntil: 'load' });
        await phone.waitForURL((u) => u.pathname === '/login', { timeout: 15_000 });
        t.diagnostic('ended the other session from the account page');
      } finally {
        await other.close();
      }

      // An access token: created in the page, shown once, accepted by the API, revoked.
      const tokens = page.getByTestId('tokens');
      await tokens.getByRole('button', { name: 'New token' }).click();
      const form = page.getByTestId('token-form');
      await form.getByLabel('Token name').fill('e2e script');
      await form.getByRole('checkbox', { name: 'profile', exact: true }).check();
      await form.getByRole('button', { name: 'Create token' }).click();
      const secret = (await page.getByTestId('token-created').getByTestId('one-time-secret').textContent()).trim();
      const whoami = (token) =>
        fetch(new URL('/api/whoami', ctx.url), { headers: { authorization: `Bearer ${token}` } });
      const ok = await whoami(secret);
      assert.equal(ok.status, 200, `the new token works: ${await ok.text()}`);
      await page.getByRole('button', { name: 'I have copied it' }).click();
      await tokens.getByTestId('revoke-token').first().click();
      await page.getByTestId('revoke-token-confirm').click();
      await tokens.getByText('Revoked').first().waitFor({ timeout: 15_000 });
      const refused = await whoami(secret);
      assert.equal(refused.status, 401, 'a revoked token is refused at once');
      t.diagnostic('created, used and revoked a personal access token');
    },
    { needs: ['page'] },
  );

  step(
    'sets up an authenticator app, logs out, and logs back in with a code from it',
    async (t) => {
      const page = ctx.page;
      try {
        await page.goto(new URL('/account', ctx.url).href, { waitUntil: 'load' });
        await page.getByRole('button', { name: 'Set up an authenticator app' }).click();
        await page.getByTestId('totp-qr').waitFor({ timeout: 15_000 });
        const secret = (await page.getByTestId('totp-secret').textContent()).replace(/\s/g, '');
        await page.getByLabel('Code from the app').fill(totpCode(secret, Date.now() / 1000));
        await page.getByRole('button', { name: 'Turn on' }).click();
        const codes = page.getByTestId('recovery-codes').locator('li');
        await codes.first().waitFor({ timeout: 15_000 });
        assert.equal(await codes.count(), 10, 'ten recovery codes');
        ctx.recoveryCode = (await codes.nth(0).textContent()).trim();
        await page.getByRole('button', { name: 'I have saved these codes' }).click();
        await page.getByTestId('mfa-on').waitFor({ timeout: 15_000 });

        await page.getByTestId('user-menu').click();
        await page.getByRole('menuitem', { name: /log out/i }).click();
        await page.waitForURL((u) => u.pathname === '/login', { timeout: 15_000 });
        await page.getByLabel('E-mail').fill(ctx.email);
        await page.getByLabel('Password').fill(ctx.password);
        await page.getByRole('button', { name: 'Log in' }).click();
        await page.getByTestId('mfa-form').waitFor({ timeout: 15_000 });
        // The enrolment code's time step is spent; the app's next code is accepted.
        await page.getByLabel('Code').fill(totpCode(secret, Date.now() / 1000 + 30));
        await page.getByRole('button', { name: 'Verify' }).click();
        await page.locator('[data-testid=launcher]').waitFor({ timeout: 15_000 });
        t.diagnostic('logged in with password + TOTP');
      } catch (err) {
        await page.screenshot({ path: join(ctx.tmp, 'mfa-failure.png'), fullPage: true }).catch(() => {});
        throw new Error(`${err.message}\n(page at ${page.url()})\n${output()}`, { cause: err });
      }
    },
    { needs: ['page'] },
  );

  step(
    'signs in to another app with NEXUS (OpenID Connect) from a fresh browser, via login and two-step',
    async (t) => {
      // The other app's callback: a local server that records where the browser lands.
      const server = createServer((req, res) => {
        res.writeHead(200, { 'Content-Type': 'text/html' });
        res.end('<!doctype html><title>App</title><p>signed in</p>');
      });
      await new Promise((r) => server.listen(0, '127.0.0.1', r));
      const redirect = `http://127.0.0.1:${server.address().port}/callback`;
      const context = await ctx.browser.newContext();
      const page = await context.newPage();
      try {
        const reg = await ctx.page.request.post(new URL('/api/admin/clients', ctx.url).href, {
          data: { name: 'e2e app', scopes: ['openid', 'email'], redirect_uris: [redirect] },
        });
        assert.equal(reg.status(), 201, await reg.text());
        const client = await reg.json();
        const verifier = randomBytes(32).toString('base64url');
        const state = randomBytes(8).toString('hex');
        const nonce = randomBytes(8).toString('hex');
        const authorize = new URL('/oauth/authorize', ctx.url);
        for (const [k, v] of Object.entries({
          response_type: 'code',
          client_id: client.client_id,
          redirect_uri: redirect,
          scope: 'openid email',
          state,
          nonce,
          code_challenge: createHash('sha256').update(verifier).digest('base64url'),
          code_challenge_method: 'S256',
        })) {
          authorize.searchParams.set(k, v);
        }
        await page.goto(authorize.href, { waitUntil: 'load' });
        await page.waitForURL((u) => u.pathname === '/login', { timeout: 15_000 });
        await page.getByLabel('E-mail').fill(ctx.email);
        await page.getByLabel('Password').fill(ctx.password);
        await page.getByRole('button', { name: 'Log in' }).click();
        await page.getByTestId('mfa-form').waitFor({ timeout: 15_000 });
        await page.getByLabel('Code').fill(ctx.recoveryCode);
        await page.getByRole('button', { name: 'Verify' }).click();
        await page.waitForURL((u) => u.href.startsWith(redirect), { timeout: 15_000 });

        const back = new URL(page.url());
        assert.equal(back.searchParams.get('state'), state);
        const code = back.searchParams.get('code');
        assert.ok(code, `no code in ${back.href}`);
        const res = await fetch(new URL('/oauth/token', ctx.url), {
          method: 'POST',
          headers: {
            'Content-Type': 'application/x-www-form-urlencoded',
            Authorization: `Basic ${Buffer.from(`${client.client_id}:${client.client_secret}`).toString('base64')}`,
          },
          body: new URLSearchParams({ grant_type: 'authorization_code', code, redirect_uri: redirect, code_verifier: verifier }),
        });
        const tokens = await res.json();
        assert.equal(res.status, 200, JSON.stringify(tokens));
        const claims = JSON.parse(Buffer.from(tokens.id_token.split('.')[1], 'base64url').toString());
        assert.equal(claims.email, ctx.email);
        assert.equal(claims.nonce, nonce);
        assert.equal(claims.aud, client.client_id);
        t.diagnostic(`signed in to the app as ${claims.sub}`);
      } catch (err) {
        await page.screenshot({ path: join(ctx.tmp, 'oidc-failure.png'), fullPage: true }).catch(() => {});
        throw new Error(`${err.message}\n(page at ${page.url()})\n${output()}`, { cause: err });
      } finally {
        await context.close();
        server.close();
      }
    },
    { needs: ['recoveryCode'] },
  );

  step(
    'an administrator adds a user in the console, who signs in with a passkey (virtual authenticator)',
    async (t) => {
      const admin = ctx.page;
      // Browsers refuse IP addresses as WebAuthn relying parties: the instance serves
      // passkeys for `localhost` when it listens on loopback.
      const local = new URL(ctx.url);
      local.hostname = 'localhost';
      const context = await ctx.browser.newContext();
      const page = await context.newPage();
      try {
        await admin.goto(new URL('/admin/users', ctx.url).href, { waitUntil: 'load' });
        await admin.getByRole('button', { name: 'Add user' }).click();
        const form = admin.getByTestId('add-user-form');
        await form.getByLabel('E-mail').fill('pat@example.test');
        await form.getByLabel('Name').fill('Pat Passkey');
        await form.getByRole('button', { name: 'Add user' }).click();
        const otp = (await admin.getByTestId('one-time-secret').first().textContent()).trim();
        assert.ok(otp.length >= 12, `one-time password shown once: ${otp}`);

        const cdp = await context.newCDPSession(page);
        await cdp.send('WebAuthn.enable');
        const { authenticatorId } = await cdp.send('WebAuthn.addVirtualAuthenticator', {
          options: {
            protocol: 'ctap2',
            transport: 'internal',
            hasResidentKey: true,
            hasUserVerification: true,
            isUserVerified: true,
            automaticPresenceSimulation: true,
          },
        });

        await page.goto(new URL('/login', local).href, { waitUntil: 'load' });
        await page.getByLabel('E-mail').fill('pat@example.test');
        await page.getByLabel('Password').fill(otp);
        await page.getByRole('button', { name: 'Log in' }).click();
        await page.getByTestId('must-change-password').waitFor({ timeout: 15_000 });
        await page.getByLabel('Current password').fill(otp);
        await page.getByLabel('New password', { exact: true }).fill('blue kettles sing at dawn');
        await page.getByLabel('Repeat new password').fill('blue kettles sing at dawn');
        await page.getByRole('button', { name: 'Change password' }).click();
        await page.getByTestId('password-changed').waitFor({ timeout: 15_000 });

        await page.getByLabel('Passkey name').fill('E2E virtual key');
        await page.getByRole('button', { name: 'Add a passkey' }).click();
        await page.getByTestId('passkey-added').waitFor({ timeout: 15_000 });
        assert.match(await page.getByTestId('passkey-list').textContent(), /E2E virtual key/);
        const { credentials } = await cdp.send('WebAuthn.getCredentials', { authenticatorId });
        assert.equal(credentials.length, 1, 'the authenticator holds one credential');

        await page.getByTestId('user-menu').click();
        await page.getByRole('menuitem', { name: /log out/i }).click();
        await page.waitForURL((u) => u.pathname === '/login', { timeout: 15_000 });
        await page.getByLabel('E-mail').fill('pat@example.test');
        await page.getByTestId('passkey-login').click();
        await page.locator('[data-testid=launcher]').waitFor({ timeout: 15_000 });
        const who = await page.evaluate(async () => (await fetch('/api/session')).json());
        assert.equal(who.user.email, 'pat@example.test');
        const after = await cdp.send('WebAuthn.getCredentials', { authenticatorId });
        assert.ok(after.credentials[0].signCount >= 1, 'the passkey signed the login');

        // The administrator sees the sign-in in the audit log, made with the passkey.
        const audit = await admin.evaluate(async () => (await fetch('/api/admin/audit?limit=1000')).json());
        const login = audit.records.filter((r) => r.action === 'session.login' && r.actor.startsWith('pat@')).at(-1);
        assert.ok(login && JSON.parse(login.detail).method === 'passkey', `audit: ${JSON.stringify(login)}`);
        t.diagnostic('signed in with a passkey');
      } catch (err) {
        await page.screenshot({ path: join(ctx.tmp, 'passkey-failure.png'), fullPage: true }).catch(() => {});
        await admin.screenshot({ path: join(ctx.tmp, 'admin-failure.png'), fullPage: true }).catch(() => {});
        throw new Error(`${err.message}\n(page at ${page.url()})\n${output()}`, { cause: err });
      } finally {
        await context.close();
      }
    },
    { needs: ['page'] },
  );

  step(
    'an administrator connects an LDAP directory in the console; its user signs in with the directory password',
    async (t) => {
      const admin = ctx.page;
      const ldapDir = join(ctx.tmp, 'slapd');
      const erinPassword = `erin-${randomBytes(9).toString('base64url')}`;
      const slapd = await startSlapd(
        ldapDir,
        [
          'dn: cn=nexus-sync,dc=example,dc=test',
          'objectClass: organizationalRole',
          'objectClass: simpleSecurityObject',
          'cn: nexus-sync',
          'userPassword: e2e sync secret',
          '',
          'dn: uid=erin,dc=example,dc=test',
          'objectClass: inetOrgPerson',
          'uid: erin',
          'cn: Erin Example',
          'sn: Example',
          'mail: erin@example.test',
          `userPassword: ${erinPassword}`,
          '',
          '',
        ].join('\n'),
      );
      const context = await ctx.browser.newContext();
      try {
        await admin.goto(new URL('/admin/directories', ctx.url).href, { waitUntil: 'load' });
        await admin.getByRole('button', { name: 'Add directory' }).click();
        const form = admin.getByTestId('directory-form');
        await form.getByLabel('Name', { exact: true }).fill('Company LDAP');
        await form.getByLabel('Server URL').fill(`ldap://127.0.0.1:${slapd.port}`);
        await form.getByLabel('Bind DN').fill('cn=nexus-sync,dc=example,dc=test');
        // A wrong password is caught when adding: nothing is saved.
        await form.getByLabel('Bind password').fill('not the secret');
        await form.getByLabel('Users are under (base DN)').fill('dc=example,dc=test');
        await form.getByRole('button', { name: 'Add directory' }).click();
        await admin.getByTestId('directory-unreachable').waitFor({ timeout: 15_000 });
        await form.getByLabel('Bind password').fill('e2e sync secret');
        await form.getByRole('button', { name: 'Add directory' }).click();
        await admin.getByTestId('directory-created').waitFor({ timeout: 15_000 });
        await admin.getByRole('link', { name: 'Company LDAP' }).click();
        await admin.getByRole('button', { name: 'Sync now' }).click();
        const report = admin.getByTestId('sync-report');
        await report.waitFor({ timeout: 15_000 });
        assert.match(await report.textContent(), /1 user added/);
        t.diagnostic(`sync: ${(await report.textContent()).trim()}`);

        // Erin, who exists only in the directory, signs in with its password.
        const page = await context.newPage();
        await page.goto(new URL('/login', ctx.url).href, { waitUntil: 'load' });
        await page.getByLabel('E-mail').fill('erin@example.test');
        await page.getByLabel('Password').fill(erinPassword);
        await page.getByRole('button', { name: 'Log in' }).click();
        await page.locator('[data-testid=launcher]').waitFor({ timeout: 15_000 });
        const who = await page.evaluate(async () => (await fetch('/api/session')).json());
        assert.equal(who.user.email, 'erin@example.test');
        t.diagnostic('a directory user signed in with the directory password');
      } catch (err) {
        await admin.screenshot({ path: join(ctx.tmp, 'ldap-failure.png'), fullPage: true }).catch(() => {});
        throw new Error(`${err.message}\n(page at ${admin.url()})\n${output()}`, { cause: err });
      } finally {
        await context.close();
        slapd.proc.kill('SIGKILL');
      }
    },
    { needs: ['page'] },
  );

  step(
    'a second NEXUS signs its people in through the first (outside OpenID provider, set up in its console)',
    async (t) => {
      const admin = ctx.page;
      // NEXUS B: its own instance, state and owner; NEXUS A (ctx) is its identity provider.
      const b = { failed: false };
      ctx.second = b;
      const stateDir = join(ctx.tmp, 'state-b');
      mkdirSync(stateDir);
      await startNexus(b, stateDir, ctx.webDist);
      const ownerPassword = `b-owner-${randomBytes(9).toString('base64url')}`;
      const token = new URL(b.setupLink).hash.replace(/^#token=/, '');
      const setup = await fetch(new URL('/api/setup', b.url), {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ token, new_password: ownerPassword }),
      });
      assert.equal(setup.status, 200, await setup.text());
      const ownerCookie = setup.headers.getSetCookie().find((c) => c.startsWith('nexus_session='));
      assert.ok(ownerCookie, 'the setup answer signs the owner in');

      // At A: Sam has an account with a password of their own.
      const added = await admin.request.post(new URL('/api/admin/users', ctx.url).href, {
        data: { email: 'sam@example.test', display_name: 'Sam Single', role: 'member' },
      });
      assert.equal(added.status(), 201, await added.text());
      const otp = (await added.json()).one_time_password;
      const samPassword = `single-sign-on-${randomBytes(9).toString('base64url')}`;
      const first = await fetch(new URL('/api/session', ctx.url), {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ email: 'sam@example.test', password: otp }),
      });
      assert.equal(first.status, 200, await first.text());
      const samCookie = first.headers.getSetCookie().find((c) => c.startsWith('nexus_session=')).split(';')[0];
      const changed = await fetch(new URL('/api/session/password', ctx.url), {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', Cookie: samCookie, Origin: new URL(ctx.url).origin },
        body: JSON.stringify({ current_password: otp, new_password: samPassword }),
      });
      assert.equal(changed.status, 204, await changed.text());

      const ownerContext = await ctx.browser.newContext();
      const samContext = await ctx.browser.newContext();
      const ownerPage = await ownerContext.newPage();
      const page = await samContext.newPage();
      try {
        // B's owner adds A in B's console.
        await ownerPage.goto(new URL('/login', b.url).href, { waitUntil: 'load' });
        await ownerPage.getByLabel('E-mail').fill(b.email);
        await ownerPage.getByLabel('Password').fill(ownerPassword);
        await ownerPage.getByRole('button', { name: 'Log in' }).click();
        await ownerPage.locator('[data-testid=launcher]').waitFor({ timeout: 15_000 });
        await ownerPage.goto(new URL('/admin/sso', b.url).href, { waitUntil: 'load' });
        await ownerPage.getByRole('button', { name: 'Add provider' }).click();
        const form = ownerPage.getByTestId('sso-form');
        // The form shows the new provider's redirect URI, to register at A first.
        const callback = await form.getByTestId('sso-redirect-uri').inputValue();
        assert.match(callback, /\/api\/sso\/[0-9a-f-]{36}\/callback$/);
        assert.ok(callback.startsWith(new URL('/api/sso/', b.url).href), callback);
        const reg = await admin.request.post(new URL('/api/admin/clients', ctx.url).href, {
          data: { name: 'NEXUS B', scopes: ['openid', 'profile', 'email'], redirect_uris: [callback] },
        });
        assert.equal(reg.status(), 201, await reg.text());
        const client = await reg.json();
        await form.getByLabel('Name', { exact: true }).fill('NEXUS A');
        await form.getByLabel('Issuer URL').fill(ctx.url);
        await form.getByLabel('Client ID').fill(client.client_id);
        await form.getByLabel('Client secret').fill(client.client_secret);
        await form.getByLabel('Create an account at first sign-in').check();
        await form.getByRole('button', { name: 'Add provider' }).click();
        await ownerPage.getByRole('link', { name: 'NEXUS A' }).waitFor({ timeout: 15_000 });

        // Sam, signed in nowhere, presses the button on B's login page and signs in at A.
        await page.goto(new URL('/login', b.url).href, { waitUntil: 'load' });
        await page.getByRole('button', { name: 'Sign in with NEXUS A' }).click();
        await page.waitForURL((u) => u.href.startsWith(ctx.url) && u.pathname === '/login', { timeout: 15_000 });
        await page.getByLabel('E-mail').fill('sam@example.test');
        await page.getByLabel('Password').fill(samPassword);
        await page.getByRole('button', { name: 'Log in' }).click();
        await page.waitForURL((u) => u.href.startsWith(b.url) && u.pathname === '/', { timeout: 15_000 });
        await page.locator('[data-testid=launcher]').waitFor({ timeout: 15_000 });
        const who = await page.evaluate(async () => (await fetch('/api/session')).json());
        assert.equal(who.user.email, 'sam@example.test');
        assert.equal(who.user.display_name, 'Sam Single');
        assert.equal(who.user.role, 'member');
        assert.equal(who.user.org.name, (await (await fetch(new URL('/api/session', b.url), { headers: { Cookie: ownerCookie.split(';')[0] } })).json()).user.org.name);
        t.diagnostic('signed in to NEXUS B through NEXUS A');
      } catch (err) {
        await page.screenshot({ path: join(ctx.tmp, 'sso-failure.png'), fullPage: true }).catch(() => {});
        await ownerPage.screenshot({ path: join(ctx.tmp, 'sso-admin-failure.png'), fullPage: true }).catch(() => {});
        throw new Error(`${err.message}\n(page at ${page.url()})\n${output(b)}`, { cause: err });
      } finally {
        await ownerContext.close();
        await samContext.close();
        await stopNexus(b);
      }
    },
    { needs: ['page'] },
  );

  step(
    'nexusctl status --json reports a healthy, running web daemon',
    async () => {
      const { json, code, stdout } = await statusJson(ctx.bin, ctx.stateDir);
      assert.equal(code, 0, `nexusctl status exit code; stdout:\n${stdout}`);
      assert.equal(json.healthy, true, `healthy; status: ${stdout}`);
      assert.ok(Array.isArray(json.daemons), `daemons should be an array; status: ${stdout}`);
      const web = json.daemons.find((d) => d?.name === 'web');
      assert.ok(web, `no daemon named "web"; status: ${stdout}`);
      assert.equal(web.state, 'running');
      assert.equal(web.ready, true);
      assert.equal(typeof web.version, 'string');
      assert.ok(web.version.length > 0, 'version is not empty');
      assert.equal(typeof web.uptime_secs, 'number');
      assert.ok(Number.isFinite(web.uptime_secs) && web.uptime_secs >= 0, 'uptime_secs >= 0');
      const ids = appIds(web.apps ?? json.apps);
      assert.ok(ids.includes('hub'), `apps include hub: ${JSON.stringify(ids)}`);
      assert.ok(ids.includes('identity'), `apps include identity: ${JSON.stringify(ids)}`);
    },
    { needs: ['url'] },
  );

  step(
    'SIGTERM stops nexusctl up cleanly and status then reports the web daemon stopped',
    async () => {
      assert.equal(ctx.exited, null, `nexusctl up had already exited: ${JSON.stringify(ctx.exited)}`);
      ctx.proc.kill('SIGTERM');
      const result = await Promise.race([ctx.exit, sleep(SHUTDOWN_TIMEOUT_MS).then(() => null)]);
      assert.ok(result, `nexusctl up did not exit within ${SHUTDOWN_TIMEOUT_MS / 1000} s of SIGTERM\n${output()}`);
      assert.deepEqual(result, { code: 0, signal: null }, `exit status after SIGTERM\n${output()}`);

      // Nothing it started may outlive it in its process group.
      for (let i = 0; i < 50 && isAlive(ctx.proc.pid); i++) await sleep(100);
      assert.equal(isAlive(ctx.proc.pid), false, 'processes left in the nexusctl up process group');

      const { json, stdout } = await statusJson(ctx.bin, ctx.stateDir);
      assert.ok(Array.isArray(json.daemons), `daemons should be an array; status: ${stdout}`);
      const web = json.daemons.find((d) => d?.name === 'web');
      assert.ok(web, `no daemon named "web" after shutdown; status: ${stdout}`);
      assert.equal(web.state, 'stopped', `web state after shutdown; status: ${stdout}`);
    },
    { needs: ['proc'] },
  );
});
