import t from 'tap'
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { main } from '../../src/cli/main'

const cwd = mkdtempSync(join(tmpdir(), 'portcullis-cli-config-'))

async function run(argv: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number; out: string; err: string }> {
  let out = ''
  let err = ''
  const code = await main(argv, { env, cwd, stdout: { write: (s: string) => (out += s) }, stderr: { write: (s: string) => (err += s) } })
  return { code, out, err }
}

const write = (name: string, text: string): string => {
  writeFileSync(join(cwd, name), text)
  return name
}

t.test('config check accepts a valid file (relative to the working directory) and prints ok', async (t) => {
  const file = write('good.yaml', 'admin: {port: 9091}\nlisteners: [{name: m, protocol: mqtt, port: 1883, tls: false}]\n')
  t.same(await run(['config', 'check', '-c', file]), { code: 0, out: 'ok\n', err: '' })
  t.same(await run(['config', 'check', '--config', join(cwd, file)]), { code: 0, out: 'ok\n', err: '' })
})

t.test('config check refuses an invalid file, naming the key, and exits 1', async (t) => {
  const file = write('bad.yaml', 'listeners: [{name: m, protocol: mqtt, port: 70000}]\n')
  const r = await run(['config', 'check', '-c', file])
  t.equal(r.code, 1)
  t.equal(r.out, '')
  t.match(r.err, /^CONFIG_INVALID: .*\n\s+listeners\.0\.port: /s)
  const typo = await run(['config', 'check', '-c', write('typo.yaml', 'tls:\n  proflie: modern\n')])
  t.equal(typo.code, 1)
  t.match(typo.err, /tls\.proflie/)
})

t.test('config check applies the PORTCULLIS_* overrides as start does', async (t) => {
  const file = write('env.yaml', 'admin: {port: 9091}\n')
  const r = await run(['config', 'check', '-c', file], { PORTCULLIS_ADMIN__PORT: '"not a port"' })
  t.equal(r.code, 1)
  t.match(r.err, /CONFIG_INVALID: .*admin\.port/s)
  const viaEnv = await run(['config', 'check'], { PORTCULLIS_CONFIG: join(cwd, 'bad.yaml') })
  t.equal(viaEnv.code, 1, 'without -c the file comes from PORTCULLIS_CONFIG')
  t.same(await run(['config', 'check'], {}), { code: 0, out: 'ok\n', err: '' }, 'the defaults are valid')
})

t.test('config check refuses what start refuses before opening anything', async (t) => {
  const workers = await run(['config', 'check', '-c', write('workers.yaml', 'workers: 2\n')])
  t.equal(workers.code, 1)
  t.match(workers.err, /CONFIG_INVALID: workers > 1 needs store\.kind redis/)
  const tls = await run(['config', 'check', '-c', write('tls.yaml', `tls: {certFile: ${join(cwd, 'missing.pem')}, keyFile: ${join(cwd, 'missing.key')}}\n`)])
  t.equal(tls.code, 1)
  t.match(tls.err, /CONFIG_INVALID: tls\.certFile \/ tls\.keyFile: .*missing\.pem/)
  const garbage = await run(['config', 'check', '-c', write('garbage.yaml', `tls: {certFile: ${join(cwd, 'good.yaml')}, keyFile: ${join(cwd, 'good.yaml')}}\n`)])
  t.equal(garbage.code, 1, 'a file that is no certificate is refused')
})

t.test('config check takes no positional argument; config needs a subcommand', async (t) => {
  t.match(await run(['config', 'check', 'x.yaml']), { code: 1, err: /USAGE: unexpected argument x\.yaml/ })
  t.match(await run(['config']), { code: 1, err: /USAGE: config needs one of: check/ })
})

t.test('--version and version print the package.json version', async (t) => {
  const expected = (JSON.parse(readFileSync(join(__dirname, '../../package.json'), 'utf8')) as { version: string }).version
  t.match(expected, /^\d+\.\d+\.\d+/)
  t.same(await run(['--version']), { code: 0, out: `${expected}\n`, err: '' })
  t.same(await run(['version']), { code: 0, out: `${expected}\n`, err: '' })
})

t.test('help lists the new commands', async (t) => {
  const r = await run(['help'])
  t.match(r.out, /config check \[-c FILE\]/)
  t.match(r.out, /--version/)
})
