#!/usr/bin/env node
// Idempotent set-up behind the README's commands: installs the npm dependencies when the lock file
// changed, builds (or finds in the cache) the lab's tools, then dist/ when src/ changed. Plain Node on
// purpose: it runs before node_modules exists.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const [major, minor] = process.versions.node.split('.').map(Number);
if (major < 20 || (major === 20 && minor < 3)) {
  console.error(
    `quickmig needs Node.js 20.3 or newer; this is ${process.version}. Install a current Node.js 20 LTS.`,
  );
  process.exit(1);
}

function run(cmd, args, options = {}) {
  const result = spawnSync(cmd, args, { cwd: root, stdio: 'inherit', ...options });
  if (result.error) throw result.error;
  if (result.status !== 0) process.exit(result.status ?? 1);
}

// npm ci only when package-lock.json differs from the one node_modules was installed from.
const lockHash = createHash('sha256')
  .update(readFileSync(join(root, 'package-lock.json')))
  .digest('hex');
const stamp = join(root, 'node_modules', '.quickmig-lock-sha256');
if (!existsSync(stamp) || readFileSync(stamp, 'utf8') !== lockHash) {
  console.error('quickmig: installing npm dependencies (npm ci)...');
  run('npm', ['ci', '--no-audit', '--no-fund', '--loglevel=error']);
  writeFileSync(stamp, lockHash);
}

// The tool builds live in TypeScript (src/lab/tools.ts) so the lab and this script share one definition.
run(process.execPath, ['--import', 'tsx', join(root, 'src/lab/tools.ts')], {
  stdio: ['ignore', 'ignore', 'inherit'],
});

// dist/ (scripts/build.mjs), when src/ changed since the last build: what bin/quickmig.js would otherwise
// build on its first run, done once here so that processes started together do not all build it.
const { builtEntry } = await import('./build.mjs');
builtEntry();
