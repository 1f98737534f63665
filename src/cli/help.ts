import type { Command } from 'commander'
import { metaOf } from './program'

/**
 * The overview printed by `portcullis`, `portcullis help` and `portcullis --help`: every command
 * with its synopsis, under its section, generated from the commander tree (program.ts) so that it
 * cannot leave a command out. Siblings with the same synopsis and summary share a line
 * (`policy attach|detach NAME PRINCIPAL`). `portcullis <command> --help` is commander's own help.
 */
const WIDTH = 100
const COLUMN = 40

export interface OverviewEntry {
  section: string
  /** `ca register`, or `policy attach|detach`. */
  names: string
  synopsis: string
  summary: string
}

/** The leaf commands in tree order, under their sections, merged as the overview shows them. */
export function overviewEntries(program: Command): OverviewEntry[] {
  const entries: OverviewEntry[] = []
  for (const top of program.commands) {
    const meta = metaOf(top)
    if (meta === undefined) continue
    const section = meta.section ?? ''
    const leaves = top.commands.length === 0 ? [top] : top.commands
    for (const leaf of leaves) {
      const m = metaOf(leaf)
      if (m === undefined) continue
      const names = leaf === top ? top.name() : `${top.name()} ${leaf.name()}`
      const last = entries[entries.length - 1]
      if (last !== undefined && leaf !== top && last.section === section && last.synopsis === m.synopsis && last.summary === m.summary && last.names.startsWith(`${top.name()} `)) {
        last.names += `|${leaf.name()}`
        continue
      }
      entries.push({ section, names, synopsis: m.synopsis, summary: m.summary })
    }
  }
  return entries
}

export function overview(program: Command): string {
  const out: string[] = ['Usage: portcullis <command> [options]', '']
  let section: string | undefined
  for (const entry of overviewEntries(program)) {
    if (entry.section !== section) {
      if (section !== undefined) out.push('')
      section = entry.section
      out.push(section)
    }
    out.push(...entryLines(entry))
  }
  out.push('', ...FOOTER)
  return `${out.join('\n')}\n`
}

function entryLines(entry: OverviewEntry): string[] {
  const usage = wrap(`${entry.names}${entry.synopsis === '' ? '' : ` ${entry.synopsis}`}`, WIDTH - 2, ' '.repeat(entry.names.length + 1))
  const lines = usage.map((l) => `  ${l}`)
  const summary = wrap(entry.summary, WIDTH - COLUMN, '', false)
  const first = lines[0] ?? ''
  const under = (l: string): string => `${' '.repeat(COLUMN)}${l}`
  if (lines.length === 1 && first.length < COLUMN - 1) return [`${first.padEnd(COLUMN)}${summary[0] ?? ''}`, ...summary.slice(1).map(under)]
  return [...lines, ...summary.map(under)]
}

/**
 * Greedy wrap on spaces; a synopsis (`grouped`) is not broken inside brackets, so that
 * `[--expires ISO | --ttl SECONDS]` stays whole.
 */
export function wrap(text: string, width: number, indent: string, grouped = true): string[] {
  const lines: string[] = []
  let line = ''
  for (const token of grouped ? tokens(text) : text.split(' ').filter((t) => t !== '')) {
    if (line !== '' && line.length + 1 + token.length > width) {
      lines.push(line)
      line = `${indent}${token}`
    } else {
      line = line === '' ? token : `${line} ${token}`
    }
  }
  if (line !== '') lines.push(line)
  return lines
}

function tokens(text: string): string[] {
  const out: string[] = []
  let depth = 0
  let current = ''
  for (const ch of text) {
    if (ch === '[' || ch === '(') depth++
    if (ch === ']' || ch === ')') depth = Math.max(0, depth - 1)
    if (ch === ' ' && depth === 0) {
      if (current !== '') out.push(current)
      current = ''
    } else {
      current += ch
    }
  }
  if (current !== '') out.push(current)
  return out
}

const FOOTER = [
  'Options of every command',
  '  -c, --config FILE                     the config file (else PORTCULLIS_CONFIG, ./portcullis.yaml)',
  '  --output json|table                   json (default): the API answer as is; table: for people',
  '  --admin-url URL                       the admin API (else PORTCULLIS_ADMIN_URL, else the config)',
  '  -V, --version                         print the version',
  '',
  'portcullis <command> --help (or portcullis help <command>) shows the options of a command;',
  'portcullis completion bash|zsh prints a completion script; docs/cli.md documents every command.',
  'Destructive commands ask first on a terminal; in scripts pass --yes.',
  '',
  'Every command reads the same config file: -c FILE, else PORTCULLIS_CONFIG, else ./portcullis.yaml',
  'when present, else none (the defaults); start logs which. Admin commands sign their calls.',
  'Endpoint and key: --admin-url or PORTCULLIS_ADMIN_URL, PORTCULLIS_ACCESS_KEY_ID,',
  'PORTCULLIS_ACCESS_KEY_SECRET; else that config\'s admin address and the root AccessKey in',
  '<dataDir>/root-access-key.json.',
]
