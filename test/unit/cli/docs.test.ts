import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import type { Command } from 'commander'
import t from 'tap'
import { COMMANDS } from '../../../src/cli/commands'
import { cliDocs } from '../../../src/cli/docs'
import { overview } from '../../../src/cli/help'
import { buildProgram, pathOf } from '../../../src/cli/program'

/** docs/cli.md is generated from the command tree; these fail when it was not regenerated. */
const file = readFileSync(join(__dirname, '../../../docs/cli.md'), 'utf8')

t.test('docs/cli.md is what `npm run docs:cli` generates from the command tree', async (t) => {
  t.ok(file === cliDocs(), 'docs/cli.md is stale: run `npm run docs:cli`')
})

t.test('docs/cli.md documents every command and each of its options', async (t) => {
  const { program } = buildProgram({ env: {}, stdout: { write: () => true }, stderr: { write: () => true }, cwd: '/' }, COMMANDS, { version: '0', overview })
  const leaves: Command[] = []
  const walk = (c: Command): void => {
    for (const sub of c.commands) {
      if (sub.commands.length === 0) leaves.push(sub)
      walk(sub)
    }
  }
  walk(program)
  t.ok(leaves.length > 50, `${leaves.length} commands`)
  for (const leaf of leaves) {
    const heading = `### \`portcullis ${pathOf(leaf)}\``
    const at = file.indexOf(`${heading}\n`)
    t.ok(at >= 0, heading)
    const end = file.indexOf('\n### ', at + 1)
    const section = file.slice(at, end < 0 ? undefined : end)
    for (const option of leaf.options) t.ok(section.includes(`| \`${option.flags}\` |`), `${pathOf(leaf)} ${option.flags}`)
  }
})
