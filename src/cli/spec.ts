import type { Command } from 'commander'
import type { CliIo } from './io'
import type { OutputFormat, PrintOptions } from './output'

/**
 * The command tree as data: every command is declared once here (name, synopsis, options, what it
 * runs), and everything else is generated from the commander tree built from it (program.ts):
 * `--help` of each command, the `portcullis help` overview, shell completion, docs/cli.md.
 */

/** The options every command takes, given before or after the command (program.ts). */
export interface GlobalOptions {
  /** `-c FILE`: the config file (config-file.ts: else PORTCULLIS_CONFIG, else ./portcullis.yaml). */
  config?: string
  /** `--output json|table`. */
  output: OutputFormat
  /** `--admin-url URL`: overrides PORTCULLIS_ADMIN_URL and the config. */
  adminUrl?: string
}

export interface CommandContext {
  io: CliIo
  global: GlobalOptions
  /** The command as typed after `portcullis`, e.g. `ca register`: named in hints. */
  path: string
  /** Prints an API answer in the chosen `--output` format. */
  print(value: unknown, options?: PrintOptions): void
  /** The whole commander tree (completion and docs are generated from it). */
  root: Command
}

/** A command's arguments and options, keyed by the option's long name (`display-name`). */
export interface Parsed {
  values: Record<string, string | boolean | string[] | undefined>
  positionals: string[]
}

export type Run = (ctx: CommandContext, parsed: Parsed) => Promise<number>

export interface OptionSpec {
  /** commander flags: `-i, --instance <id>`, `--force`. */
  flags: string
  description: string
  /** Repeatable; the values are collected into an array. */
  multiple?: boolean
  /** Allowed values, enforced by commander and offered by completion. */
  choices?: readonly string[]
}

export interface LeafSpec {
  name: string
  /** Arguments and options as the overview and docs show them: `--instance ID CA_ID`. */
  synopsis: string
  /** One line for the overview. */
  summary: string
  /** More for `--help` and docs/cli.md. */
  details?: string
  /** Positional arguments (`[id]`; `[files...]` takes any number); more are refused. */
  args?: readonly string[]
  options?: readonly OptionSpec[]
  /**
   * Deletes, revokes or cuts something: `-y, --yes` (and `--force`, unless the command declares
   * its own) confirm it; without them a terminal is asked and a pipe is refused (confirm.ts).
   */
  destructive?: boolean
  run: Run
}

export interface GroupSpec {
  name: string
  summary: string
  /** The overview's heading this group is listed under. */
  section: string
  commands: readonly LeafSpec[]
}

export type TopSpec = ({ kind: 'leaf'; section: string } & LeafSpec) | ({ kind: 'group' } & GroupSpec)

export function top(section: string, spec: LeafSpec): TopSpec {
  return { kind: 'leaf', section, ...spec }
}

export function group(spec: GroupSpec): TopSpec {
  return { kind: 'group', ...spec }
}
