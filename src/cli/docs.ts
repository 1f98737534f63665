import { existsSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import type { Command, Option } from 'commander'
import { COMMANDS } from './commands'
import { packageVersion } from './commands/version'
import { overview } from './help'
import { buildProgram, metaOf } from './program'

/**
 * docs/cli.md, generated from the commander tree: every command with its synopsis, description
 * and options, under the overview's sections. `npm run docs:cli` writes it; test/unit/cli/docs.test.ts
 * fails when the file is not what this generates, so it cannot go stale.
 */
export function cliDocs(): string {
  const { program } = buildProgram({ env: {}, stdout: { write: () => true }, stderr: { write: () => true }, cwd: '/' }, COMMANDS, { version: packageVersion(), overview })
  const out: string[] = [
    '# The `portcullis` command line',
    '',
    '<!-- Generated from the command tree (src/cli/commands/) by `npm run docs:cli`; do not edit by hand. -->',
    '',
    ...INTRO,
    '',
    '## Every command at a glance',
    '',
    '```text',
    ...overview(program).trimEnd().split('\n'),
    '```',
    '',
    '## Options of every command',
    '',
    ...optionTable(program.options),
  ]
  let section: string | undefined
  for (const top of program.commands) {
    const meta = metaOf(top)
    if (meta?.section !== undefined && meta.section !== section) {
      section = meta.section
      out.push('', `## ${section}`)
    }
    if (top.commands.length > 0) out.push('', `\`portcullis ${top.name()}\`: ${top.summary()}.`)
    for (const leaf of top.commands.length === 0 ? [top] : top.commands) out.push('', ...commandDoc(leaf))
  }
  return `${out.join('\n')}\n`
}

function commandDoc(cmd: Command): string[] {
  const meta = metaOf(cmd)
  const path = fullName(cmd)
  const lines = [`### \`${path}\``, '', `${capital(meta?.summary ?? cmd.summary())}.`]
  const details = cmd.description().split('\n\n').slice(1).join('\n\n')
  if (details !== '') lines.push('', details)
  lines.push('', '```sh', `${path}${meta?.synopsis === undefined || meta.synopsis === '' ? '' : ` ${meta.synopsis}`}`, '```')
  if (cmd.options.length > 0) lines.push('', ...optionTable(cmd.options))
  return lines
}

function optionTable(options: readonly Option[]): string[] {
  return [
    '| option | |',
    '|---|---|',
    ...options.map((o) => `| \`${o.flags.replace(/\|/g, '\\|')}\` | ${o.description.replace(/\|/g, '\\|')}${o.argChoices !== undefined ? ` (${o.argChoices.join(', ')})` : ''} |`),
  ]
}

function fullName(cmd: Command): string {
  const names: string[] = []
  for (let c: Command | null = cmd; c !== null; c = c.parent) names.unshift(c.name())
  return names.join(' ')
}

function capital(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1)
}

const INTRO = [
  'Every operation of the gateway has a command. Admin commands sign their calls to the admin API',
  '(`PORTCULLIS-HMAC-SHA1`); they find the endpoint in `--admin-url`, else `PORTCULLIS_ADMIN_URL`,',
  'else the config file\'s `admin` address, and the key in `PORTCULLIS_ACCESS_KEY_ID` /',
  '`PORTCULLIS_ACCESS_KEY_SECRET`, else the root AccessKey the gateway wrote to',
  '`<dataDir>/root-access-key.json`. From a checkout, run it as `npx portcullis …` after',
  '`npm ci && npm run build`.',
  '',
  '- **Config file**: every command reads the same one: `-c FILE`, else the file named by',
  '  `PORTCULLIS_CONFIG`, else `./portcullis.yaml` when it exists, else none (the built-in defaults);',
  '  the `PORTCULLIS_*` overrides apply on top. `start` logs which file it read, `config check`',
  '  validates that file, and the admin commands find the admin API and data directory in it.',
  '  (`npm start` runs `start -c portcullis.dev.yaml`.)',
  '- **Files from stdin**: `-` as the file of `-f`/`--file` (and of any other option that reads a',
  '  file: `--ca`, `--cert`, `--server-cert`…) reads it from stdin, once per command:',
  '  `portcullis instance create -f - <<\'YAML\' … YAML`.',
  '- **Help**: `portcullis <command> --help`, `portcullis <command> <subcommand> --help` or',
  '  `portcullis help <command>`; `portcullis --version` (`-V`, `version`).',
  '- **Output**: `--output json` (the default) prints the API\'s answer as it is, for scripts and `jq`;',
  '  `--output table` prints lists as aligned columns and single objects as `key  value` lines.',
  '- **Confirmation**: commands that delete, revoke or cut something ask `Continue? [y/N]` on a',
  '  terminal; when stdin is not a terminal they are refused (`CONFIRMATION_REQUIRED`) unless given',
  '  `--yes` (or `--force`; `instance delete --force` also deletes an instance still in use).',
  '- **Errors** go to stderr as `CODE: message`, then `hint: what to do`; codes are the admin API\'s',
  '  (README "Admin API errors") or the CLI\'s own: `USAGE`, `ADMIN_UNREACHABLE`, `ADMIN_KEY_MISSING`,',
  '  `FILE_UNREADABLE`, `BAD_RESPONSE`, `CONFIRMATION_REQUIRED`, `NOT_CONFIRMED`, `ROTATION_FAILED`.',
  '  A typo in a command or option is answered with the closest one.',
  '- **Exit codes**: 0 on success; 1 on any error, and when the answer is negative: `audit verify` on a',
  '  broken chain, `explain` for a client that would be refused.',
  '- **Completion**: `source <(portcullis completion bash)` (or `zsh`), generated from the same',
  '  command tree as this page.',
]

/** `npm run docs:cli`: writes docs/cli.md next to the package.json of this checkout. */
if (require.main === module) {
  let root = __dirname
  while (!existsSync(join(root, 'package.json'))) root = dirname(root)
  writeFileSync(join(root, 'docs', 'cli.md'), cliDocs())
}
