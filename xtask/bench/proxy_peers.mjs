// The peers of `cargo xtask bench proxy`, on the inputs the xtask wrote:
// pac-resolver (what Node's proxy-agent uses) on the corporate PAC script,
// and proxy-from-env on NO_PROXY-style bypass matching.
//
// usage: node proxy_peers.mjs INPUT.json OUTPUT.json PEERS_DIR
import { readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join, resolve } from 'node:path';

const [, , inputPath, outputPath, peersDir] = process.argv;
const require = createRequire(resolve(peersDir, 'package.json'));
const job = JSON.parse(readFileSync(inputPath, 'utf8'));

const { createPacResolver } = require('pac-resolver');
// pac-resolver 9 runs the script in quickjs-wasi (its peer dependency).
const { QuickJS } = await import(join(resolve(peersDir), 'node_modules', 'quickjs-wasi', 'dist', 'index.js'));
const wasm = readFileSync(join(peersDir, 'node_modules', 'quickjs-wasi', 'quickjs.wasm'));
const qjs = await QuickJS.create(wasm);
const lab = job.labHosts;
const findProxy = createPacResolver(qjs, job.pacScript, {
  sandbox: {
    // The same answers sesh's resolver gives: lab names only, no real DNS.
    dnsResolve: (host) => (host in lab ? lab[host] : null),
    myIpAddress: () => '127.0.0.1',
  },
});

async function timePac(rounds) {
  let best = Infinity;
  let answers = [];
  for (let r = 0; r < rounds; r++) {
    const out = [];
    const start = process.hrtime.bigint();
    for (const c of job.pacCases) out.push(await findProxy(c.url, c.host));
    const ns = Number(process.hrtime.bigint() - start) / job.pacCases.length;
    best = Math.min(best, ns);
    answers = out;
  }
  return { nsPerUrl: best, answers };
}

let proxyFromEnv;
try {
  proxyFromEnv = require('proxy-from-env');
} catch {
  proxyFromEnv = await import(join(peersDir, 'node_modules', 'proxy-from-env', 'index.js'));
}
const getProxyForUrl = proxyFromEnv.getProxyForUrl ?? proxyFromEnv.default?.getProxyForUrl;
process.env.http_proxy = 'http://p1:80';
process.env.https_proxy = 'http://p2:443';
process.env.all_proxy = 'socks5://s:1080';
process.env.no_proxy = job.noProxy;

function timeEnv(rounds) {
  let best = Infinity;
  let answers = [];
  for (let r = 0; r < rounds; r++) {
    const out = [];
    const start = process.hrtime.bigint();
    for (const url of job.urls) out.push(getProxyForUrl(url) === '');
    const ns = Number(process.hrtime.bigint() - start) / job.urls.length;
    best = Math.min(best, ns);
    answers = out;
  }
  return { nsPerUrl: best, bypassed: answers };
}

const pac = await timePac(3);
const env = timeEnv(5);
writeFileSync(outputPath, JSON.stringify({ pacResolver: pac, proxyFromEnv: env }));
