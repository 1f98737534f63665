#!/usr/bin/env node
'use strict'
// Thin launcher: the compiled CLI lives in dist/ (built by `npm run build`; `npm start` and
// `npm test` build first). From a checkout: `npm ci && npm run build`, then `npx portcullis …`.
const { existsSync } = require('node:fs')
const { join } = require('node:path')

const entry = join(__dirname, '..', 'dist', 'src', 'cli', 'main.js')
if (!existsSync(entry)) {
  process.stderr.write(`NOT_BUILT: the CLI is not compiled yet (${entry} is missing)\nhint: run \`npm run build\` in ${join(__dirname, '..')}, then run portcullis again\n`)
  process.exitCode = 1
} else {
  require(entry).main(process.argv.slice(2)).then(
    (code) => { if (typeof code === 'number') process.exitCode = code },
    (err) => { process.stderr.write(`INTERNAL: ${err && err.message ? err.message : err}\n`); process.exitCode = 1 }
  )
}
