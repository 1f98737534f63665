import { spawnSync } from 'node:child_process'
import t from 'tap'
import { runCli } from '../../helpers/cli-harness'

/**
 * The completion scripts, generated from the command tree, run in the real shell: bash is asked
 * for completions the way bash-completion asks (COMP_WORDS / COMP_CWORD), and answers from the
 * generated tables.
 */
async function script(shell: string): Promise<string> {
  const res = await runCli(['completion', shell], {})
  if (res.code !== 0) throw new Error(res.err)
  return res.out
}

function bashComplete(source: string, words: string[]): string[] {
  const program = `${source}\nCOMP_WORDS=(${words.map((w) => `'${w}'`).join(' ')}); COMP_CWORD=${words.length - 1}; _portcullis; printf '%s\\n' "\${COMPREPLY[@]}"`
  const res = spawnSync('bash', ['--norc', '--noprofile', '-c', program], { encoding: 'utf8' })
  if (res.status !== 0) throw new Error(`bash: ${res.stderr}`)
  return res.stdout.split('\n').filter((l) => l !== '')
}

t.test('bash completes commands, subcommands, options and choices from the command tree', async (t) => {
  const bash = await script('bash')
  t.match(bash, /complete -o bashdefault -o default -F _portcullis portcullis/)
  t.same(bashComplete(bash, ['portcullis', 'inst']), ['instance'])
  t.same(bashComplete(bash, ['portcullis', 'c']).sort(), ['ca', 'completion', 'config', 'connection'])
  t.same(bashComplete(bash, ['portcullis', 'ca', 're']), ['register'])
  t.same(bashComplete(bash, ['portcullis', 'connection', '']).sort(), ['--admin-url', '--config', '--help', '--output', '--version', '-V', '-c', '-h', 'help', 'kick', 'list'])
  t.same(bashComplete(bash, ['portcullis', 'ca', 'register', '--ver']), ['--verification', '--version'])
  t.same(bashComplete(bash, ['portcullis', 'ca', 'register', '--instance', 'list', '--st']), ['--status'], 'an option value is not taken for a command')
  t.same(bashComplete(bash, ['portcullis', 'instance', 'list', '--output', '']), ['json', 'table'])
  t.same(bashComplete(bash, ['portcullis', '--output', 'table', 'keys', 'r']), ['rotate'], 'global options before the command are skipped')
  t.same(bashComplete(bash, ['portcullis', 'explain', '--cli']), ['--client-id'])
  t.same(bashComplete(bash, ['portcullis', 'ca', 'register', '--ca', '']), [], 'a file value is left to bash (filenames)')
})

t.test('the zsh script describes the same tree; zsh checks its syntax when installed', async (t) => {
  const zsh = await script('zsh')
  t.match(zsh, /^#compdef portcullis\n/)
  t.match(zsh, /\('ca register'\)\n {6}subs=\(\)\n {6}opts=\(.*'--verification:a certificate with CN=<registration code>, signed by the CA key'/)
  t.match(zsh, /\(''\)\n {6}subs=\(.*'instance:brokers behind the gateway\\: protocol, hostnames/, 'a colon in a description is escaped')
  t.match(zsh, /\(--output\) compadd -- 'json' 'table'; return ;;/)
  t.match(zsh, /compdef _portcullis portcullis/)
  const found = spawnSync('zsh', ['--version'], { encoding: 'utf8' })
  if (found.error !== undefined) {
    t.comment('zsh is not installed here: its syntax check is skipped (the script is checked as text above)')
    return
  }
  const res = spawnSync('zsh', ['-n', '-c', zsh], { encoding: 'utf8' })
  t.equal(res.status, 0, res.stderr)
})

t.test('completion needs a shell it knows', async (t) => {
  t.match(await runCli(['completion'], {}), { code: 1, err: /^USAGE: completion needs the shell: bash or zsh/ })
  t.match(await runCli(['completion', 'fish'], {}), { code: 1, err: /^USAGE: no completion for shell fish: use bash or zsh/ })
})
