import t from 'tap'
import { progressText, waitForRotation, type KeysStatus, type Rotation } from '../../../src/cli/commands/keys'
import { ProgressLine } from '../../../src/cli/progress'
import { cliHarness, runCli } from '../../helpers/cli-harness'

const rotation = (done: number, state: Rotation['state'] = 'running', extra: Partial<Rotation> = {}): Rotation => ({
  state, targetKeyId: 'k2', total: 480, done, startedAt: '2026-01-01T00:00:00.000Z', ...extra,
})
const status = (r: Rotation | null): KeysStatus => ({ currentKeyId: 'k2', keys: [{ keyId: 'k1', loaded: true, secrets: 480 - (r?.done ?? 0) }, { keyId: 'k2', loaded: true, secrets: r?.done ?? 0 }], rotation: r })

t.test('keys rotate --wait polls until the rotation is done, printing re-wrapped N/TOTAL', async (t) => {
  const answers = [status(rotation(120)), status(rotation(120)), status(rotation(480, 'done', { finishedAt: '2026-01-01T00:00:03.000Z' }))]
  const sleeps: number[] = []
  let tty = ''
  const final = await waitForRotation(rotation(0), async () => answers.shift() ?? status(null), new ProgressLine({ isTTY: true, write: (s: string) => (tty += s) }), async (ms) => { sleeps.push(ms) })
  t.match(final, { state: 'done', done: 480 })
  t.same(sleeps, [500, 500, 500], 'one poll every 500 ms')
  t.equal(tty, '\r\x1b[2Kre-wrapped 0/480\r\x1b[2Kre-wrapped 120/480\r\x1b[2Kre-wrapped 480/480\n', 'the line is rewritten in place on a terminal')
  t.equal(progressText({ done: 120, total: 480 }), 're-wrapped 120/480')
})

t.test('a failed rotation is answered as failed; a rotation the gateway forgot is an error', async (t) => {
  const failed = await waitForRotation(rotation(10), async () => status(rotation(12, 'failed', { error: 'store unavailable' })), { update: () => undefined, done: () => undefined }, async () => undefined)
  t.match(failed, { state: 'failed', done: 12, error: 'store unavailable' })
  await t.rejects(waitForRotation(rotation(10), async () => status(null), { update: () => undefined, done: () => undefined }, async () => undefined), { code: 'ROTATION_FAILED', message: /no longer reports the rotation to k2/ })
})

t.test('keys and rotate-backend-password refuse bad arguments before calling anything', async (t) => {
  const offline = { PORTCULLIS_ADMIN_URL: 'http://127.0.0.1:9', PORTCULLIS_ACCESS_KEY_ID: 'a', PORTCULLIS_ACCESS_KEY_SECRET: 'b' }
  t.match(await runCli(['keys', 'rotate', 'now'], offline), { code: 1, err: /^USAGE: unexpected argument now/ })
  t.match(await runCli(['keys', 'rotate', '--wiat'], offline), { code: 1, err: /^USAGE: unknown option --wiat; did you mean --wait\?/ })
  t.match(await runCli(['keys', 'status', '--all'], offline), { code: 1, err: /^USAGE: unknown option --all/ })
  t.match(await runCli(['keys'], offline), { code: 1, err: /^USAGE: keys needs one of: status, rotate/ })
  t.match(await runCli(['instance', 'rotate-backend-password'], offline), { code: 1, err: /^USAGE: an instance id is required/ })
  t.match(await runCli(['instance', 'rotate-backend-password', 'mq', '--password', 'p', '--generate'], offline), { code: 1, err: /^USAGE: give --password P or --generate, not both/ })
  t.match(await runCli(['instance', 'rotate-backend-password', 'mq', '--password'], offline), { code: 1, err: /^USAGE: option '--password <password>' argument missing/ })
})

t.test('instance rotate-backend-password prints a generated password once and says to set it on the broker', async (t) => {
  const { run, h } = await cliHarness(t, { tmpPrefix: 'portcullis-cli-backend-password-' })
  t.equal((await run(['instance', 'create', '--id', 'rabbit', '--protocol', 'amqp', '--backend-host', '127.0.0.1', '--backend-port', '5672', '--backend-username', 'gw'])).code, 0)
  const generated = await run(['instance', 'rotate-backend-password', 'rabbit'])
  t.equal(generated.code, 0, generated.err)
  const answer = generated.json()
  t.match(answer, { instanceId: 'rabbit', generated: true, password: /^[A-Za-z0-9]{32}$/ })
  t.equal(generated.err, 'portcullis: the generated password above is shown this once: set it on the broker for the backend user of instance rabbit now; new broker connections use it from now on\n')
  t.notOk(JSON.stringify(h.audit.recent({ limit: 1000 })).includes(answer.password), 'the audit log never holds it')
  t.notOk((await run(['instance', 'show', 'rabbit'])).out.includes(answer.password), 'nor does the instance')
  const given = await run(['instance', 'rotate-backend-password', 'rabbit', '--password', 'chosen-by-operator'])
  t.same(given.json(), { instanceId: 'rabbit', generated: false })
  t.equal(given.err, '', 'a password the operator chose is not repeated')
  const table = await run(['instance', 'rotate-backend-password', '--id', 'rabbit', '--generate', '--output', 'table'])
  t.match(table.out, /^password +[A-Za-z0-9]{32}$/m)
})

t.test('keys status without a gateway behind the admin API says so', async (t) => {
  const { run } = await cliHarness(t, { tmpPrefix: 'portcullis-cli-keys-' })
  const res = await run(['keys', 'status'])
  t.equal(res.code, 1)
  t.match(res.err, /^NOT_FOUND: this admin server runs without a gateway/)
})
