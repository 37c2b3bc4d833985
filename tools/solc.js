#!/usr/bin/env node
// Presents the pinned solc-js (npm `solc`) with native solc's command line, so that
// py-solc-x (`solc_binary=`), slither (`--solc`) and other tools can drive it offline.
// Supported: --version, and --standard-json (input on stdin, output on stdout), with
// --base-path, --include-path and --allow-paths honoured for import resolution.
'use strict';
const fs = require('fs');
const path = require('path');

const projectRoot = path.resolve(__dirname, '..');
const solc = require(path.join(projectRoot, 'node_modules', 'solc'));

function nativeVersion() {
  // solc-js reports e.g. "0.8.30+commit.73712a01.Emscripten.clang"; tools parse the native form.
  return solc.version().replace(/\.Emscripten\.clang$/, '.Linux.g++');
}

function parseArgs(argv) {
  const opts = { standardJson: false, version: false, basePath: null, includePaths: [], allowPaths: [] };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--version') opts.version = true;
    else if (a === '--standard-json') opts.standardJson = true;
    else if (a === '--base-path') opts.basePath = argv[++i];
    else if (a === '--include-path') opts.includePaths.push(argv[++i]);
    else if (a === '--allow-paths') opts.allowPaths.push(...argv[++i].split(','));
    else if (a.startsWith('--base-path=')) opts.basePath = a.slice(12);
    else if (a.startsWith('--include-path=')) opts.includePaths.push(a.slice(15));
    else if (a.startsWith('--allow-paths=')) opts.allowPaths.push(...a.slice(14).split(','));
    else {
      process.stderr.write(`solc.js: unsupported argument ${a}; this shim supports --version and --standard-json only\n`);
      process.exit(2);
    }
  }
  return opts;
}

function makeImportCallback(opts) {
  const roots = [process.cwd()];
  if (opts.basePath) roots.push(path.resolve(opts.basePath));
  for (const p of opts.includePaths) roots.push(path.resolve(p));
  for (const p of opts.allowPaths) if (p) roots.push(path.resolve(p));
  roots.push(path.join(projectRoot, 'node_modules'), projectRoot);
  return function findImports(importPath) {
    const candidates = path.isAbsolute(importPath) ? [importPath] : roots.map((r) => path.join(r, importPath));
    for (const c of candidates) {
      if (fs.existsSync(c) && fs.statSync(c).isFile()) return { contents: fs.readFileSync(c, 'utf8') };
    }
    return { error: `File not found: ${importPath} (looked in ${roots.join(', ')})` };
  };
}

function main() {
  const opts = parseArgs(process.argv.slice(2));
  if (opts.version) {
    process.stdout.write(`solc, the solidity compiler commandline interface\nVersion: ${nativeVersion()}\n`);
    return;
  }
  if (!opts.standardJson) {
    process.stderr.write('solc.js: pass --standard-json (input on stdin) or --version\n');
    process.exit(2);
  }
  const input = fs.readFileSync(0, 'utf8');
  const output = solc.compile(input, { import: makeImportCallback(opts) });
  // Write synchronously in full: a piped write cut short by process exit loses output past 64 KiB.
  const buf = Buffer.from(output, 'utf8');
  let off = 0;
  while (off < buf.length) {
    try {
      off += fs.writeSync(1, buf, off, buf.length - off);
    } catch (e) {
      if (e.code !== 'EAGAIN') throw e;
    }
  }
}

main();
