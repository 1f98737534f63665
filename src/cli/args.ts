import { readFile } from 'node:fs/promises'
import { isAbsolute, join } from 'node:path'
import { parse as parseYaml } from 'yaml'
import { CliError } from './cli-error'
import type { CliIo } from './io'
import type { Parsed } from './spec'
import { readStdin } from './stdin'

export type { Parsed } from './spec'

export function str(parsed: Parsed, name: string): string | undefined {
  const v = parsed.values[name]
  return typeof v === 'string' ? v : undefined
}

export function flag(parsed: Parsed, name: string): boolean {
  return parsed.values[name] === true
}

export function strings(parsed: Parsed, name: string): string[] | undefined {
  const v = parsed.values[name]
  return Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : undefined
}

export function required(value: string | undefined, what: string): string {
  if (value === undefined || value === '') throw new CliError('USAGE', `${what} is required`)
  return value
}

/** The one positional id a command acts on (`ca show --instance I CAID`), or `--id`. */
export function oneId(positionals: readonly string[], flag: string | undefined, what: string): string {
  const id = flag ?? positionals[0]
  if (id === undefined) throw new CliError('USAGE', `${what} is required`)
  if (positionals.length > (flag === undefined ? 1 : 0)) throw new CliError('USAGE', `unexpected argument ${positionals[flag === undefined ? 1 : 0] ?? ''}`)
  return id
}

/** The file name that means stdin, as in most command-line tools (`instance create -f -`). */
export const STDIN_FILE = '-'

/** A file's text; `-` reads stdin (stdin.ts). */
export async function readText(io: CliIo, file: string): Promise<string> {
  if (file === STDIN_FILE) return readStdin(io)
  try {
    return await readFile(isAbsolute(file) ? file : join(io.cwd, file), 'utf8')
  } catch (err) {
    throw new CliError('FILE_UNREADABLE', `cannot read ${file}: ${(err as Error).message}`)
  }
}

/** A request body from a JSON or YAML file (YAML is a superset of JSON); `-` reads stdin. */
export async function readDocument(io: CliIo, file: string): Promise<Record<string, unknown>> {
  const text = await readText(io, file)
  const name = file === STDIN_FILE ? 'stdin' : file
  let doc: unknown
  try {
    doc = parseYaml(text)
  } catch (err) {
    throw new CliError('USAGE', `${name} is neither JSON nor YAML: ${(err as Error).message}`)
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) throw new CliError('USAGE', `${name} must hold an object`)
  return doc as Record<string, unknown>
}

export function toPort(value: string | undefined, what: string): number | undefined {
  if (value === undefined) return undefined
  const n = Number(value)
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new CliError('USAGE', `${what} must be a port number`)
  return n
}
