import t from 'tap'
import { spawn } from 'node:child_process'
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

/**
 * `portcullis start` without -c runs ./portcullis.yaml when it is there, as the admin commands and
 * `config check` read it, and says so in its log (issue 14's leftovers: it ran the built-in
 * defaults instead). The built CLI in its own process, in a directory holding only that file.
 */
const ROOT = join(__dirname, '..', '..')

t.test('start without -c runs ./portcullis.yaml of its working directory and logs that it did', async (t) => {
  if (!existsSync(join(ROOT, 'dist', 'src', 'cli', 'main.js'))) {
    t.fail('dist/ is not built: run `npm run build` first')
    return
  }
  const dir = mkdtempSync(join(tmpdir(), 'portcullis-cli-start-config-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  // A listener name the defaults do not have: announced only if the file was read.
  writeFileSync(join(dir, 'portcullis.yaml'), [
    'listeners: [{name: from-the-file, protocol: mqtt, host: 127.0.0.1, port: 0}]',
    'admin: {host: 127.0.0.1, port: 0}',
    'store: {kind: embedded, dataDir: ./data}',
    'log: {level: warn}',
    '',
  ].join('\n'))
  const env: NodeJS.ProcessEnv = {}
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('PORTCULLIS_')) env[k] = v
  const child = spawn(process.execPath, [join(ROOT, 'bin', 'portcullis.js'), 'start'], { cwd: dir, env, stdio: ['ignore', 'ignore', 'pipe'] })
  let stderr = ''
  child.stderr.on('data', (d: Buffer) => { stderr += d.toString() })
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)))
  t.teardown(() => { if (child.exitCode === null) child.kill('SIGKILL') })

  const started = await Promise.race([
    new Promise<boolean>((resolve) => {
      const check = (): void => { if (/listener from-the-file on /.test(stderr)) resolve(true) }
      child.stderr.on('data', check)
    }),
    exited.then(() => false),
    new Promise<boolean>((resolve) => setTimeout(() => resolve(false), 30_000).unref()),
  ])
  t.ok(started, 'the gateway announced the listener of ./portcullis.yaml', { stderr })
  t.match(stderr, `portcullis: config ${join(dir, 'portcullis.yaml')} (./portcullis.yaml of the working directory; -c FILE reads another)\n`, 'the log says which file it read')
  t.notMatch(stderr, /listener mqtts on /, 'not the defaults')
  child.kill('SIGTERM')
  t.equal(await exited, 0, 'and it stops cleanly')
})
