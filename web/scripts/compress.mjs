// Precompresses the built front-end so nexusd can serve it by content negotiation.
//
// For every file under dist/ larger than 1 KiB whose extension is one of
// .js .css .html .svg .json .txt .map, writes `<file>.br` (brotli, quality 11)
// and `<file>.gz` (gzip, level 9) next to it. Usage: node scripts/compress.mjs [dir]
import { readdir, readFile, writeFile, stat } from 'node:fs/promises';
import { join, extname, relative, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { brotliCompressSync, gzipSync, constants } from 'node:zlib';

const MIN_BYTES = 1024;
const EXTENSIONS = new Set(['.js', '.css', '.html', '.svg', '.json', '.txt', '.map']);

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(process.argv[2] ?? join(here, '..', 'dist'));

async function* walk(dir) {
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) yield* walk(path);
    else if (entry.isFile()) yield path;
  }
}

async function main() {
  try {
    if (!(await stat(root)).isDirectory()) throw new Error('not a directory');
  } catch {
    console.error(`compress: ${root} is not a directory; run "vite build" first`);
    process.exit(1);
  }

  let files = 0;
  let before = 0;
  let afterBr = 0;
  let afterGz = 0;
  for await (const path of walk(root)) {
    if (!EXTENSIONS.has(extname(path).toLowerCase())) continue;
    const data = await readFile(path);
    if (data.length <= MIN_BYTES) continue;

    const br = brotliCompressSync(data, {
      params: {
        [constants.BROTLI_PARAM_QUALITY]: 11,
        [constants.BROTLI_PARAM_MODE]: constants.BROTLI_MODE_TEXT,
        [constants.BROTLI_PARAM_SIZE_HINT]: data.length,
      },
    });
    const gz = gzipSync(data, { level: 9 });
    await writeFile(`${path}.br`, br);
    await writeFile(`${path}.gz`, gz);

    files += 1;
    before += data.length;
    afterBr += br.length;
    afterGz += gz.length;
    console.log(
      `compress: ${relative(root, path)}  ${data.length} B -> br ${br.length} B, gz ${gz.length} B`,
    );
  }
  console.log(
    `compress: ${files} file(s), ${before} B -> br ${afterBr} B, gz ${afterGz} B`,
  );
}

main().catch((err) => {
  console.error(`compress: ${err?.stack ?? err}`);
  process.exit(1);
});
