#!/usr/bin/env node
// Runs the CLI from dist/, which scripts/build.mjs rebuilds from src/ (esbuild, tens of ms) whenever a
// source changed: a clone works without a build step, and no TypeScript loader runs in the process.
import { builtEntry } from '../scripts/build.mjs';

await import((await builtEntry()).href);
