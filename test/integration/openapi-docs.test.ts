import t from 'tap'
import { spawn, spawnSync } from 'node:child_process'
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { chromium } from 'playwright-core'
import { adminHarness, ROOT } from '../helpers/admin-harness'
import { operations, type OpenApiDocument } from '../helpers/openapi-check'

/**
 * The API reference as an operator meets it: /docs rendered by a real browser (headless Chromium)
 * from the admin server alone, and the curl + openssl signing recipe of docs/admin-api.md run as
 * written against a real admin server on port 0.
 */
const CHROMIUM = '/usr/bin/chromium'
const ROOT_DIR = join(__dirname, '../..')
const ARTIFACTS = join(ROOT_DIR, 'test-artifacts/openapi')

function toolsAvailable(t: tap.Test, tools: string[]): boolean {
  const missing = tools.filter((tool) => !(tool.startsWith('/') ? existsSync(tool) : spawnSync('sh', ['-c', `command -v ${tool}`]).status === 0))
  if (missing.length === 0) return true
  const message = `${missing.join(', ')} absent (Debian packages chromium, curl, openssl, jq); this test needs them`
  if (process.env.PORTCULLIS_REQUIRE_SERVICES === '1') {
    t.fail(`${message}, and PORTCULLIS_REQUIRE_SERVICES=1 requires them`)
  } else {
    process.stderr.write(`\n*** SKIPPED: ${message} (set PORTCULLIS_REQUIRE_SERVICES=1 to make this a failure) ***\n`)
    t.pass('needs tools', { skip: message })
  }
  return false
}

t.test('/docs renders every operation and the signing section in Chromium, loading nothing from another origin', async (t) => {
  if (!toolsAvailable(t, [CHROMIUM])) return
  const h = await adminHarness(t)
  await h.app.listen({ host: '127.0.0.1', port: 0 })
  const origin = `http://127.0.0.1:${(h.app.server.address() as { port: number }).port}`
  const doc = (await (await fetch(`${origin}/openapi.json`)).json()) as OpenApiDocument

  const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] })
  t.teardown(() => browser.close())
  const page = await browser.newPage()
  const offsite: string[] = []
  const problems: string[] = []
  await page.route('**/*', async (route) => {
    const url = route.request().url()
    if (url.startsWith(`${origin}/`) || url.startsWith('data:')) return route.continue()
    offsite.push(url)
    return route.abort()
  })
  page.on('console', (message) => {
    if (message.type() === 'error') problems.push(message.text())
  })
  page.on('pageerror', (err) => problems.push(err.message))
  await page.goto(`${origin}/docs/`)
  await page.waitForSelector('.opblock', { timeout: 30_000 })
  const shown = await page.locator('.opblock').count()
  t.equal(shown, operations(doc).length, `${shown} operations shown, as many as the document has`)
  t.equal(await page.title(), 'Portcullis admin API')
  t.ok(await page.getByRole('heading', { name: 'Signing requests' }).isVisible(), 'the signing section is shown')
  t.same(offsite, [], 'no request left the admin server (no CDN, no validator badge)')
  t.same(problems, [], 'no script error, no CSP violation')
  mkdirSync(ARTIFACTS, { recursive: true })
  await page.screenshot({ path: join(ARTIFACTS, 'docs.png'), fullPage: false })
})

t.test("docs/admin-api.md's curl + openssl recipe signs requests the server accepts", async (t) => {
  if (!toolsAvailable(t, ['bash', 'curl', 'openssl', 'jq'])) return
  const h = await adminHarness(t)
  await h.app.listen({ host: '127.0.0.1', port: 0 })
  const origin = `http://127.0.0.1:${(h.app.server.address() as { port: number }).port}`
  const text = readFileSync(join(ROOT_DIR, 'docs/admin-api.md'), 'utf8')
  const block = /<!-- recipe:begin -->\n```sh\n([\s\S]*?)```\n<!-- recipe:end -->/.exec(text)?.[1]
  t.ok(block, 'the recipe is in docs/admin-api.md between its markers')
  if (block === undefined) return
  t.match(block, /^ADMIN=http:\/\/127\.0\.0\.1:9080$/m)
  // As written, but for the address: tests listen on port 0. The key comes from the data directory, as documented.
  const script = block.replace(/^ADMIN=.*$/m, `ADMIN=${origin}`)
  const cwd = mkdtempSync(join(tmpdir(), 'portcullis-recipe-'))
  t.teardown(() => rmSync(cwd, { recursive: true, force: true }))
  mkdirSync(join(cwd, 'data'))
  writeFileSync(join(cwd, 'data/root-access-key.json'), JSON.stringify(ROOT), { mode: 0o600 })
  // Not spawnSync: the server answering the script runs in this very process.
  // stdin /dev/null: a stdin that is a socket makes Debian's bash read /etc/bash.bashrc ("run by a remote shell").
  const run = await new Promise<{ status: number | null; stdout: string; stderr: string }>((resolve) => {
    const child = spawn('bash', ['-euo', 'pipefail', '-c', script], { cwd, env: { PATH: process.env.PATH ?? '/usr/bin:/bin' }, timeout: 30_000, stdio: ['ignore', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (chunk: Buffer) => { stdout += chunk.toString() })
    child.stderr.on('data', (chunk: Buffer) => { stderr += chunk.toString() })
    child.on('close', (status) => resolve({ status, stdout, stderr }))
  })
  t.equal(run.status, 0, `exit ${String(run.status)}: ${run.stderr}`)
  t.notMatch(run.stdout, /"code":"(SIGNATURE_|NONCE_|ACCESS_DENIED|VALIDATION_FAILED)/, `no refusal: ${run.stdout.slice(0, 400)}`)
  t.match(run.stdout, /^\{"items":\[\]\}/, 'GET /v1/instances answered the (empty) list')
  t.match(run.stdout, /"id":"plant-1","protocol":"mqtt","hostnames":\["plant-1\.example\.com"\]/, 'the POST created the instance')
  t.match(run.stdout, /"type":"admin\.instance\.create"/, 'the sorted query was signed right')
  const created = await h.ctx.instances.get('plant-1')
  t.equal(created.id, 'plant-1')
  const events = h.audit.recent({ type: 'admin.instance.create' })
  t.same(events.map((e) => [e.outcome, e.actor.id]), [['success', ROOT.accessKeyId]], 'signed by the root key')
})
