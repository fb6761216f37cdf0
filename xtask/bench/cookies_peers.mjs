// The npm peer of `cargo xtask bench cookies`: tough-cookie on the same
// workload (store every Set-Cookie, then the Cookie header of each request).
//
// usage: node cookies_peers.mjs WORKLOAD.json OUTPUT.json PEERS_DIR
import { readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { resolve } from 'node:path';

const [, , workloadPath, outputPath, peersDir] = process.argv;
const require = createRequire(resolve(peersDir, 'package.json'));
const { CookieJar } = require('tough-cookie');
const { sets, requests } = JSON.parse(readFileSync(workloadPath, 'utf8'));

function fill() {
  const jar = new CookieJar();
  for (const [url, line] of sets) {
    try { jar.setCookieSync(line, url); } catch { /* refused, as a browser would */ }
  }
  return jar;
}

let storeNs = Infinity;
for (let r = 0; r < 5; r++) {
  const t = process.hrtime.bigint();
  fill();
  storeNs = Math.min(storeNs, Number(process.hrtime.bigint() - t) / sets.length);
}
const jar = fill();
let headerNs = Infinity;
let pairs = 0;
let bytes = 0;
for (let r = 0; r < 3; r++) {
  let p = 0;
  let b = 0;
  const t = process.hrtime.bigint();
  for (const url of requests) {
    const h = jar.getCookieStringSync(url);
    if (h) p += h.split('; ').length;
    b += Buffer.byteLength(h);
  }
  headerNs = Math.min(headerNs, Number(process.hrtime.bigint() - t) / requests.length);
  pairs = p;
  bytes = b;
}
writeFileSync(outputPath, JSON.stringify({ storeNs, headerNs, pairs, bytes }));
