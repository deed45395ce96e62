#!/usr/bin/env node
// Runs the CLI from dist/, which scripts/build.mjs rebuilds from src/ whenever a source changed: a clone
// works without a build step, and neither a TypeScript loader nor the workflow bundler runs in the process.
import { builtEntry } from '../scripts/build.mjs';

await import(builtEntry().href);
