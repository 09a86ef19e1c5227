#!/usr/bin/env node
// The installed entry point: runs the compiled CLI (built by `npm ci` through the prepare script).
import { main } from '../dist/src/main.js';

const code = await main(process.argv.slice(2));
// stdout/stderr writes are synchronous for files, pipes and terminals on Linux, so nothing printed is lost.
process.exit(code);
