/**
 * src/admin/console.ts: the built console served unsigned at /console/ with its security headers,
 * found under the package root from src/ and from dist/src/, and a clear answer when not built.
 */
import t from 'tap'
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import Fastify from 'fastify'
import { CONSOLE_CSP, consoleDirectory, consoleRoutes } from '../../src/admin/console'
import { adminHarness } from '../helpers/admin-harness'

function packageDir(t: tap.Test, built: boolean): string {
  const dir = mkdtempSync(join(tmpdir(), 'portcullis-console-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  writeFileSync(join(dir, 'package.json'), '{}')
  mkdirSync(join(dir, 'dist/src/admin'), { recursive: true })
  mkdirSync(join(dir, 'src/admin'), { recursive: true })
  if (built) {
    mkdirSync(join(dir, 'dist/console/assets'), { recursive: true })
    writeFileSync(join(dir, 'dist/console/index.html'), '<!doctype html><title>c</title>')
    writeFileSync(join(dir, 'dist/console/assets/index-abc.js'), 'console.log(1)')
    writeFileSync(join(dir, 'dist/console/.secret'), 'no')
    writeFileSync(join(dir, 'dist/outside.txt'), 'OUTSIDE-THE-CONSOLE')
  }
  return dir
}

t.test('the build is found under the package root, from src/ and from dist/src/', async (t) => {
  const dir = packageDir(t, true)
  t.equal(consoleDirectory(join(dir, 'src/admin')), join(dir, 'dist/console'))
  t.equal(consoleDirectory(join(dir, 'dist/src/admin')), join(dir, 'dist/console'))
  t.equal(consoleDirectory(join(packageDir(t, false), 'dist/src/admin')), undefined, 'not built: none')
})

t.test('serves the files with a strict CSP; index revalidated, hashed assets cached', async (t) => {
  const app = Fastify()
  t.teardown(() => app.close())
  await app.register(consoleRoutes({ searchFrom: join(packageDir(t, true), 'dist/src/admin') }))
  const bare = await app.inject('/console')
  t.equal(bare.statusCode, 301)
  t.equal(bare.headers.location, '/console/')
  const index = await app.inject('/console/')
  t.equal(index.statusCode, 200)
  t.match(index.headers['content-type'], /text\/html/)
  t.equal(index.headers['content-security-policy'], CONSOLE_CSP)
  t.match(CONSOLE_CSP, /script-src 'self'/)
  t.notMatch(CONSOLE_CSP, /unsafe-inline|unsafe-eval/, 'no inline script or eval')
  t.equal(index.headers['x-frame-options'], 'DENY')
  t.equal(index.headers['referrer-policy'], 'no-referrer')
  t.equal(index.headers['cache-control'], 'no-cache')
  const asset = await app.inject('/console/assets/index-abc.js')
  t.equal(asset.statusCode, 200)
  t.equal(asset.headers['cache-control'], 'public, max-age=31536000, immutable')
  const dot = await app.inject('/console/.secret')
  t.ok(dot.statusCode === 403 || dot.statusCode === 404, `dot files are not served (${dot.statusCode})`)
  t.notMatch(dot.body, /^no$/)
  t.equal((await app.inject('/console/missing.js')).statusCode, 404, 'a missing file is 404')
  for (const url of ['/console/../outside.txt', '/console/%2e%2e/outside.txt', '/console/..%2foutside.txt', '/console/assets/..%2f..%2foutside.txt']) {
    const res = await app.inject(url)
    t.ok(res.statusCode >= 400 && !res.body.includes('OUTSIDE-THE-CONSOLE'), `${url} does not leave the build directory (${res.statusCode})`)
  }
})

t.test('a gateway whose console is not built says how to build it', async (t) => {
  const h = await adminHarness(t)
  const app = Fastify()
  t.teardown(() => app.close())
  app.setErrorHandler(h.app.errorHandler)
  await app.register(consoleRoutes({ searchFrom: join(packageDir(t, false), 'dist/src/admin') }))
  const res = await app.inject('/console/')
  t.equal(res.statusCode, 404)
  t.match(res.json(), { code: 'NOT_FOUND', message: /npm run build/ })
})

t.test('the admin server serves the console unsigned next to the signed API', async (t) => {
  const h = await adminHarness(t)
  const page = await h.app.inject('/console/')
  const built = consoleDirectory() !== undefined
  t.equal(page.statusCode, built ? 200 : 404, built ? 'the built console' : 'not built here: the explanation')
  t.equal((await h.app.inject('/v1/instances')).statusCode, 401, 'while /v1 still requires a signature')
})
