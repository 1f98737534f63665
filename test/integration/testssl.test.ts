import t from 'tap'
import { execFile } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { startTestGateway } from '../helpers/gateway'
import type { Test } from '../helpers/services'

/**
 * An outside scanner against a real listener: Debian's testssl.sh (package `testssl.sh`, command
 * `testssl`; upstream calls it `testssl.sh`). Absent, the test is skipped loudly, or fails when
 * PORTCULLIS_REQUIRE_SERVICES=1 (CI installs it, .ci/run).
 */
const CANDIDATES = ['testssl', 'testssl.sh']

interface Finding { id: string; severity: string; finding: string }

function which(command: string): Promise<boolean> {
  return new Promise((resolve) => {
    execFile(command, ['--version'], { timeout: 20_000 }, (err) => resolve(err === null || typeof (err as { code?: unknown }).code === 'number'))
      .on('error', () => resolve(false))
  })
}

async function findTestssl(t: Test): Promise<string | undefined> {
  for (const command of CANDIDATES) if (await which(command)) return command
  const message = 'testssl.sh is not installed (Debian package testssl.sh)'
  if (process.env.PORTCULLIS_REQUIRE_SERVICES === '1') t.fail(`${message} and PORTCULLIS_REQUIRE_SERVICES=1 requires it`)
  else {
    process.stderr.write(`\n*** SKIPPED: ${message}; install it to run this test (set PORTCULLIS_REQUIRE_SERVICES=1 to make this a failure) ***\n`)
    t.pass('needs testssl.sh', { skip: message })
  }
  return undefined
}

/**
 * Runs testssl.sh with `checks` against 127.0.0.1:port and answers its JSON findings by id.
 * `-n none`: no DNS lookups; `--warnings off`: no interactive questions.
 */
async function scan(t: Test, command: string, port: number, checks: string[]): Promise<Map<string, Finding>> {
  const dir = mkdtempSync(join(tmpdir(), 'portcullis-testssl-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const jsonFile = join(dir, 'scan.json')
  const args = ['--quiet', '--color', '0', '--warnings', 'off', '-n', 'none', '--jsonfile', jsonFile, ...checks, `127.0.0.1:${port}`]
  const output = await new Promise<string>((resolve) => {
    execFile(command, args, { timeout: 120_000, maxBuffer: 4 * 1024 * 1024 }, (err, stdout, stderr) => resolve(`${stdout}\n${stderr}\n${err === null ? '' : String(err)}`))
  })
  let findings: Finding[]
  try {
    findings = JSON.parse(readFileSync(jsonFile, 'utf8')) as Finding[]
  } catch (err) {
    throw new Error(`testssl.sh wrote no JSON (${(err as Error).message}):\n${output.slice(-2000)}`)
  }
  return new Map(findings.map((f) => [f.id, f]))
}

function finding(t: Test, findings: Map<string, Finding>, id: string, expected: RegExp, what: string): void {
  const f = findings.get(id)
  t.ok(f, `testssl.sh reported ${id}`)
  t.match(f?.finding, expected, `${what} (${id}: ${f?.finding ?? 'missing'})`)
}

t.test('testssl.sh against a real listener, intermediate and modern profiles', async (t) => {
  const command = await findTestssl(t)
  if (command === undefined) return
  const certsDir = mkdtempSync(join(tmpdir(), 'portcullis-certs-'))
  t.teardown(() => rmSync(certsDir, { recursive: true, force: true }))
  const intermediate = await startTestGateway(t)
  const modern = await startTestGateway(t, { config: { tls: { devCertsDir: certsDir, profile: 'modern' } } })
  const started = Date.now()
  // Both scans at once, to keep the file well under a minute. Intermediate: -p protocols,
  // -s cipher categories, -E every offered cipher per protocol, -R renegotiation; modern: -p.
  const [full, modernOnly] = await Promise.all([
    scan(t, command, intermediate.mqttPort, ['-p', '-s', '-E', '-R']),
    scan(t, command, modern.mqttPort, ['-p']),
  ])
  t.comment(`testssl.sh took ${Date.now() - started} ms`)

  t.test('intermediate (default): only TLS 1.2/1.3, no CBC or other weak suite, no client-initiated renegotiation', async (t) => {
    for (const id of ['SSLv2', 'SSLv3', 'TLS1', 'TLS1_1']) finding(t, full, id, /^not offered/, `${id} is not offered`)
    finding(t, full, 'TLS1_2', /^offered/, 'TLS 1.2 is offered')
    finding(t, full, 'TLS1_3', /^offered/, 'TLS 1.3 is offered')
    for (const id of ['cipherlist_NULL', 'cipherlist_aNULL', 'cipherlist_EXPORT', 'cipherlist_LOW', 'cipherlist_3DES_IDEA']) {
      finding(t, full, id, /^not offered/, `${id} is not offered`)
    }
    finding(t, full, 'cipherlist_AVERAGE', /^not offered/, 'no obsolete CBC cipher is offered')
    finding(t, full, 'cipherlist_STRONG', /^offered/, 'AEAD ciphers are offered')
    finding(t, full, 'secure_client_renego', /^not vulnerable/, 'client-initiated renegotiation is refused')

    const offered = [...full.values()].filter((f) => f.id.startsWith('cipher-tls'))
    t.ok(offered.length > 0, `testssl.sh listed the offered suites (${offered.length})`)
    for (const f of offered) {
      t.notMatch(f.finding, /CBC|CCM|TLS_RSA_WITH|TLS_DHE_|SHA1?\s*$/, `${f.id} is an AEAD suite: ${f.finding.replace(/\s+/g, ' ')}`)
      if (f.id.startsWith('cipher-tls1_2_')) t.match(f.finding, /TLS_ECDHE_(ECDSA|RSA)_WITH_(AES_(128|256)_GCM|CHACHA20_POLY1305)/, `${f.id} is ECDHE with AES-GCM or ChaCha20-Poly1305`)
      else t.match(f.id, /^cipher-tls1_3_/, `${f.id} is TLS 1.2 or 1.3`)
    }
  })

  t.test('modern: TLS 1.3 only', async (t) => {
    for (const id of ['SSLv2', 'SSLv3', 'TLS1', 'TLS1_1', 'TLS1_2']) finding(t, modernOnly, id, /^not offered/, `${id} is not offered`)
    finding(t, modernOnly, 'TLS1_3', /^offered/, 'TLS 1.3 is offered')
  })
})
