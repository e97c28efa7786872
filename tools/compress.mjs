// Writes a brotli (`.br`, quality 11) and a gzip (`.gz`, level 9) copy next
// to each file named on the command line, so the server sends the smallest
// encoding the browser accepts without compressing on every request.
import { readFileSync, writeFileSync } from "node:fs";
import { brotliCompressSync, constants, gzipSync } from "node:zlib";

for (const path of process.argv.slice(2)) {
  const raw = readFileSync(path);
  const brotli = brotliCompressSync(raw, {
    params: {
      [constants.BROTLI_PARAM_QUALITY]: 11,
      [constants.BROTLI_PARAM_SIZE_HINT]: raw.length,
    },
  });
  writeFileSync(`${path}.br`, brotli);
  writeFileSync(`${path}.gz`, gzipSync(raw, { level: 9 }));
  console.log(`${path}: ${raw.length} B raw, ${brotli.length} B brotli`);
}
