import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import type { Command } from 'commander'
import t from 'tap'
import { COMMANDS } from '../../../src/cli/commands'
import { overview } from '../../../src/cli/help'
import { buildProgram, pathOf } from '../../../src/cli/program'
import { runCli, type CliRun } from '../../helpers/cli-harness'
import { unusedPort } from '../../helpers/services'

/** Offline runs: nothing here needs an admin API. */
const run = (argv: string[], env: NodeJS.ProcessEnv = {}): Promise<CliRun> => runCli(argv, env)

function everyCommand(): Command[] {
  const { program } = buildProgram({ env: {}, stdout: { write: () => true }, stderr: { write: () => true }, cwd: '/' }, COMMANDS, { version: '0', overview })
  const out: Command[] = []
  const walk = (c: Command): void => {
    for (const sub of c.commands) {
      out.push(sub)
      walk(sub)
    }
  }
  walk(program)
  return out
}

t.test('every command and subcommand answers --help with its usage, options and exit 0', async (t) => {
  const commands = everyCommand()
  t.ok(commands.length > 60, `${commands.length} commands in the tree`)
  for (const cmd of commands) {
    const path = pathOf(cmd).split(' ')
    const res = await run([...path, '--help'])
    t.equal(res.code, 0, `${path.join(' ')} --help`)
    t.match(res.out, new RegExp(`^Usage: portcullis ${path.join(' ')} `), `${path.join(' ')} --help shows its usage`)
    t.match(res.out, /Global Options:\n[\s\S]*--output <format>/, 'and the options every command takes')
    t.equal(res.err, '')
  }
})

t.test('help COMMAND and COMMAND help SUBCOMMAND show the same help as --help', async (t) => {
  t.same(await run(['help', 'instance']), await run(['instance', '--help']))
  t.same(await run(['instance', 'help', 'create']), await run(['instance', 'create', '--help']))
  const create = await run(['instance', 'create', '--help'])
  for (const option of ['--id <id>', '--protocol <protocol>', '--hostname <name>', '--backend-host <host>', '--server-cert <file>', '-f, --file <body>']) {
    t.ok(create.out.includes(option), `instance create --help lists ${option}`)
  }
  t.match((await run(['ca', 'delete', '--help'])).out, /-y, --yes +confirm without asking/, 'a destructive command documents --yes')
})

t.test('the overview lists every leaf command under its section, and is what help, --help and no command print', async (t) => {
  const help = await run(['help'])
  t.equal(help.code, 0)
  t.same(await run([]), help)
  t.same(await run(['--help']), help)
  t.same(await run(['-h']), help)
  for (const cmd of everyCommand().filter((c) => c.commands.length === 0)) {
    const [top, sub] = pathOf(cmd).split(' ')
    const listed = sub === undefined
      ? new RegExp(`^  ${top}( |$)`, 'm')
      : new RegExp(`^  ${top} ([a-z-]+\\|)*${sub}(\\|[a-z-]+)*( |$)`, 'm')
    t.match(help.out, listed, `${pathOf(cmd)} is in the overview`)
  }
  for (const section of ['Gateway', 'Instances', 'Connections and admission', 'Master keys', 'Audit']) t.match(help.out, new RegExp(`^${section}`, 'm'))
  t.ok(help.out.split('\n').every((line) => line.length <= 100), 'no line is wider than 100 columns')
})

t.test('--version, -V and version print the package version and exit 0', async (t) => {
  const version = (JSON.parse(readFileSync(join(__dirname, '../../../package.json'), 'utf8')) as { version: string }).version
  for (const argv of [['--version'], ['-V'], ['version']]) t.same(await run(argv), { code: 0, out: `${version}\n`, err: '', json: (await run(argv)).json } as CliRun, argv.join(' '))
})

t.test('an unknown command or option says what is wrong, suggests the closest, and exits 1', async (t) => {
  const typo = await run(['instanse', 'list'])
  t.same([typo.code, typo.out], [1, ''])
  t.equal(typo.err, 'USAGE: unknown command instanse; did you mean instance?\nhint: see portcullis --help\n')
  const sub = await run(['ca', 'regster'])
  t.equal(sub.err, 'USAGE: ca needs one of: code, register, list, show, activate, deactivate, delete (not regster); did you mean register?\nhint: see portcullis ca --help\n')
  const option = await run(['instance', 'list', '--outptu', 'table'])
  t.equal(option.code, 1)
  t.equal(option.err, 'USAGE: unknown option --outptu; did you mean --output?\nhint: see portcullis instance list --help\n')
  const far = await run(['frobnicate'])
  t.equal(far.err, 'USAGE: unknown command frobnicate\nhint: see portcullis --help\n', 'nothing close: no suggestion')
  const choice = await run(['instance', 'list', '--output', 'xml'])
  t.match(choice.err, /^USAGE: option '--output <format>' argument 'xml' is invalid\. Allowed choices are json, table\.\n/)
  const missing = await run(['ca', 'list', '--instance'])
  t.match(missing.err, /^USAGE: option '-i, --instance <id>' argument missing\nhint: see portcullis ca list --help\n$/)
  const extra = await run(['instance', 'show', 'a', 'b'])
  t.equal(extra.err, 'USAGE: unexpected argument b\nhint: see portcullis instance show --help\n')
})

t.test('global options are taken before or after the command', async (t) => {
  const env = { PORTCULLIS_ACCESS_KEY_ID: 'a', PORTCULLIS_ACCESS_KEY_SECRET: 'b', PORTCULLIS_ADMIN_URL: 'http://127.0.0.1:9' }
  const url = `http://127.0.0.1:${await unusedPort()}`
  for (const argv of [['--admin-url', url, 'instance', 'list'], ['instance', 'list', '--admin-url', url, '--output', 'table']]) {
    const res = await run(argv, env)
    t.equal(res.code, 1)
    t.equal(res.err, `ADMIN_UNREACHABLE: cannot reach the admin API at ${url} (ECONNREFUSED): is the gateway running? set --admin-url or PORTCULLIS_ADMIN_URL (the URL is from --admin-url)\n`, argv.join(' '))
  }
})

t.test('an unreachable admin API is named with the system error, where its URL came from, and what to do', async (t) => {
  const url = `http://127.0.0.1:${await unusedPort()}`
  const res = await run(['instance', 'list'], { PORTCULLIS_ADMIN_URL: url, PORTCULLIS_ACCESS_KEY_ID: 'a', PORTCULLIS_ACCESS_KEY_SECRET: 'b' })
  t.equal(res.code, 1)
  t.equal(res.err, `ADMIN_UNREACHABLE: cannot reach the admin API at ${url} (ECONNREFUSED): is the gateway running? set --admin-url or PORTCULLIS_ADMIN_URL (the URL is from PORTCULLIS_ADMIN_URL)\n`)
  const dns = await run(['instance', 'list'], { PORTCULLIS_ADMIN_URL: 'http://no-such-host.invalid:9080', PORTCULLIS_ACCESS_KEY_ID: 'a', PORTCULLIS_ACCESS_KEY_SECRET: 'b' })
  t.match(dns.err, /^ADMIN_UNREACHABLE: cannot reach the admin API at http:\/\/no-such-host\.invalid:9080 \((ENOTFOUND|EAI_AGAIN)\)/)
})
