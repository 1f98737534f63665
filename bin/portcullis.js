#!/usr/bin/env node
'use strict'
// Thin launcher: the compiled CLI lives in dist/ (built by `npm run build`, run by prestart).
require('../dist/src/cli/main.js').main(process.argv.slice(2)).then(
  (code) => { if (typeof code === 'number') process.exitCode = code },
  (err) => { process.stderr.write(`portcullis: ${err && err.message ? err.message : err}\n`); process.exitCode = 1 }
)
