// @vitest-environment node
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { brotliDecompressSync, gunzipSync } from 'node:zlib';
import { afterAll, describe, expect, it } from 'vitest';

const script = join(dirname(fileURLToPath(import.meta.url)), 'compress.mjs');
const dir = mkdtempSync(join(tmpdir(), 'nexus-compress-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('compress.mjs', () => {
  it('writes .br and .gz for large text assets only', () => {
    const big = 'console.log("hello nexus");\n'.repeat(100);
    mkdirSync(join(dir, 'assets'));
    writeFileSync(join(dir, 'assets', 'app.js'), big);
    writeFileSync(join(dir, 'index.html'), '<!doctype html><p>small</p>');
    writeFileSync(join(dir, 'logo.png'), Buffer.alloc(4096, 1));
    writeFileSync(join(dir, 'data.JSON'), JSON.stringify({ x: 'y'.repeat(2000) }));

    execFileSync(process.execPath, [script, dir], { stdio: 'pipe' });

    const js = join(dir, 'assets', 'app.js');
    expect(brotliDecompressSync(readFileSync(`${js}.br`)).toString()).toBe(big);
    expect(gunzipSync(readFileSync(`${js}.gz`)).toString()).toBe(big);
    expect(existsSync(join(dir, 'data.JSON.br'))).toBe(true);
    expect(existsSync(join(dir, 'index.html.br'))).toBe(false); // under 1 KiB
    expect(existsSync(join(dir, 'logo.png.gz'))).toBe(false); // not a text type
  });
});
