import t from 'tap'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { chooseConfigFile, describeConfigChoice } from '../../src/cli/config-file'
import { runCli } from '../helpers/cli-harness'

/**
 * Every command reads the same config file by one rule (issue 14's leftovers: `start` ignored
 * ./portcullis.yaml while the admin commands read it): -c FILE, else PORTCULLIS_CONFIG, else
 * ./portcullis.yaml when present, else none.
 */
function workdir(t: tap.Test): string {
  const dir = mkdtempSync(join(tmpdir(), 'portcullis-cli-config-file-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  return dir
}

const io = (cwd: string, env: NodeJS.ProcessEnv = {}) => ({ env, cwd, stdout: { write: () => true }, stderr: { write: () => true } })

t.test('the file is -c, else PORTCULLIS_CONFIG, else ./portcullis.yaml when present, else none', async (t) => {
  const cwd = workdir(t)
  t.same(chooseConfigFile(io(cwd), undefined), { file: undefined, from: 'none' }, 'no file anywhere: the defaults')
  writeFileSync(join(cwd, 'portcullis.yaml'), 'admin: {port: 9091}\n')
  t.same(chooseConfigFile(io(cwd), undefined), { file: join(cwd, 'portcullis.yaml'), from: 'working directory' })
  t.same(chooseConfigFile(io(cwd, { PORTCULLIS_CONFIG: 'env.yaml' }), undefined), { file: join(cwd, 'env.yaml'), from: 'PORTCULLIS_CONFIG' },
    'the variable is an explicit choice: it beats the file that happens to be here')
  t.same(chooseConfigFile(io(cwd, { PORTCULLIS_CONFIG: '/etc/p.yaml' }), 'mine.yaml'), { file: join(cwd, 'mine.yaml'), from: '-c' }, '-c beats both')
  t.same(chooseConfigFile(io(cwd), '/abs/p.yaml'), { file: '/abs/p.yaml', from: '-c' })
})

t.test('the line start logs names the file and why it was chosen', async (t) => {
  t.equal(describeConfigChoice({ file: '/w/portcullis.yaml', from: 'working directory' }), 'config /w/portcullis.yaml (./portcullis.yaml of the working directory; -c FILE reads another)')
  t.equal(describeConfigChoice({ file: '/w/x.yaml', from: '-c' }), 'config /w/x.yaml (from -c)')
  t.equal(describeConfigChoice({ file: '/etc/x.yaml', from: 'PORTCULLIS_CONFIG' }), 'config /etc/x.yaml (from PORTCULLIS_CONFIG)')
  t.match(describeConfigChoice({ file: undefined, from: 'none' }), /^no config file \(no -c, no PORTCULLIS_CONFIG, no \.\/portcullis\.yaml\): the built-in defaults/)
})

t.test('config check without -c validates ./portcullis.yaml, as start would read it', async (t) => {
  const cwd = workdir(t)
  const none = await runCli(['config', 'check'], {}, cwd)
  t.equal(none.out, 'ok\n', 'no file: the defaults are valid')
  writeFileSync(join(cwd, 'portcullis.yaml'), 'listeners: [{name: m, protocol: mqtt, port: 70000}]\n')
  const bad = await runCli(['config', 'check'], {}, cwd)
  t.equal(bad.code, 1, './portcullis.yaml is read without -c')
  t.match(bad.err, new RegExp(`^CONFIG_INVALID: invalid configuration in ${join(cwd, 'portcullis.yaml').replace(/[.]/g, '\\.')}:\\n\\s+listeners\\.0\\.port: `))
  writeFileSync(join(cwd, 'good.yaml'), 'admin: {port: 9091}\n')
  t.equal((await runCli(['config', 'check'], { PORTCULLIS_CONFIG: 'good.yaml' }, cwd)).code, 0, 'PORTCULLIS_CONFIG beats ./portcullis.yaml')
  t.equal((await runCli(['config', 'check', '-c', 'good.yaml'], {}, cwd)).code, 0, '-c beats ./portcullis.yaml')
})

t.test('admin commands read the config start would read: PORTCULLIS_CONFIG before ./portcullis.yaml', async (t) => {
  const cwd = workdir(t)
  writeFileSync(join(cwd, 'portcullis.yaml'), 'store: {kind: embedded, dataDir: ./here-data}\n')
  writeFileSync(join(cwd, 'env.yaml'), 'store: {kind: embedded, dataDir: ./env-data}\n')
  const here = await runCli(['instance', 'list'], {}, cwd)
  t.equal(here.code, 1)
  t.match(here.err, new RegExp(`^ADMIN_KEY_MISSING: .*${join(cwd, 'here-data')}/root-access-key\\.json`), 'the data directory of ./portcullis.yaml')
  const viaEnv = await runCli(['instance', 'list'], { PORTCULLIS_CONFIG: 'env.yaml' }, cwd)
  t.equal(viaEnv.code, 1)
  t.match(viaEnv.err, new RegExp(`^ADMIN_KEY_MISSING: .*${join(cwd, 'env-data')}/root-access-key\\.json`), 'the data directory of the PORTCULLIS_CONFIG file')
})

t.test('the help of start and config check says which file they read', async (t) => {
  const start = await runCli(['start', '--help'], {})
  t.match(start.out, /-c FILE, else PORTCULLIS_CONFIG, else \.\/portcullis\.yaml/)
  t.match(start.out, /logs which config file it read/)
  const check = await runCli(['config', 'check', '--help'], {})
  t.match(check.out, /the one start would read: -c FILE, else PORTCULLIS_CONFIG, else \.\/portcullis\.yaml/)
})
