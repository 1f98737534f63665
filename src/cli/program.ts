import { Command, Help, Option } from 'commander'
import { CliError } from './cli-error'
import type { CliIo } from './io'
import { OUTPUT_FORMATS, render, type OutputFormat } from './output'
import type { CommandContext, GlobalOptions, LeafSpec, OptionSpec, Parsed, TopSpec } from './spec'

/**
 * Builds the commander tree from the declared commands (spec.ts). commander parses, validates the
 * options it knows, prints each command's `--help`, `--version`, and suggests the closest command
 * or option on a typo; the actions are the declared `run`s. The tree is what the overview
 * (help.ts), shell completion (completion.ts) and docs/cli.md (docs.ts) are generated from, with
 * the few facts commander has no field for kept in `metaOf`.
 */
export interface CommandMeta {
  /** The overview heading (top-level commands). */
  section?: string
  synopsis: string
  summary: string
  destructive: boolean
}

const META = new WeakMap<Command, CommandMeta>()

export function metaOf(cmd: Command): CommandMeta | undefined {
  return META.get(cmd)
}

/** Filled in as commander dispatches, for the exit code and for hints that name the command. */
export interface Outcome {
  code: number
  /** The deepest command reached, e.g. `ca register` (empty at the top). */
  path: string
}

export interface BuildOptions {
  version: string
  /** The overview printed by `portcullis`, `portcullis help` and `--help` at the top (help.ts). */
  overview: (program: Command) => string
}

export function buildProgram(io: CliIo, specs: readonly TopSpec[], options: BuildOptions): { program: Command; outcome: Outcome } {
  const outcome: Outcome = { code: 0, path: '' }
  const program = new Command('portcullis')
  program
    .description('Security gateway for MQTT and AMQP 0-9-1 brokers: run it, and administer it through its signed admin API.')
    .version(options.version, '-V, --version', 'print the version')
    .option('-c, --config <file>', 'the config file: what start runs and config check validates; where admin commands find the admin API and the data directory holding the root AccessKey (default: PORTCULLIS_CONFIG, else ./portcullis.yaml when present)')
    .addOption(new Option('--output <format>', 'json: the API answer as is, for scripts; table: aligned columns for people').choices(OUTPUT_FORMATS).default('json'))
    .option('--admin-url <url>', 'the admin API to call (default: PORTCULLIS_ADMIN_URL, else the config)')
    .exitOverride()
    .configureOutput({
      writeOut: (s) => io.stdout.write(s),
      writeErr: (s) => io.stderr.write(s),
      // main.ts prints every error itself, as `CODE: message` with a hint.
      outputError: () => undefined,
      getOutHelpWidth: () => 100,
      getErrHelpWidth: () => 100,
    })
    .configureHelp({
      showGlobalOptions: true,
      formatHelp: (cmd, helper) => (cmd.parent === null ? options.overview(cmd) : Help.prototype.formatHelp.call(helper, cmd, helper)),
    })
    .helpCommand('help [command]', 'show the help of a command')
    .allowExcessArguments()
    .action((_opts: unknown, cmd: Command) => {
      if (cmd.args.length === 0) {
        io.stdout.write(options.overview(program))
        return
      }
      unknownCommand(cmd, () => `unknown command ${cmd.args[0] ?? ''}`, 'see portcullis --help')
    })
  track(program, outcome)

  for (const spec of specs) {
    if (spec.kind === 'leaf') {
      addLeaf(program, spec, io, outcome, spec.section)
      continue
    }
    const groupCmd = program.command(spec.name)
      .summary(spec.summary)
      .description(spec.summary)
      .usage('<command> [options]')
      .helpCommand('help [command]', 'show the help of a command')
      .allowExcessArguments()
    META.set(groupCmd, { section: spec.section, synopsis: '<command> [options]', summary: spec.summary, destructive: false })
    groupCmd.action((_opts: unknown, cmd: Command) => {
      const names = cmd.commands.map((c) => c.name()).join(', ')
      const sub = cmd.args[0]
      if (sub === undefined) throw new CliError('USAGE', `${spec.name} needs one of: ${names}`, `see portcullis ${spec.name} --help`)
      unknownCommand(cmd, () => `${spec.name} needs one of: ${names} (not ${sub})`, `see portcullis ${spec.name} --help`)
    })
    track(groupCmd, outcome)
    for (const leaf of spec.commands) addLeaf(groupCmd, leaf, io, outcome)
  }
  return { program, outcome }
}

/** Records the subcommand commander is about to run, so errors can name it. */
function track(cmd: Command, outcome: Outcome): void {
  cmd.hook('preSubcommand', (_parent, sub) => {
    outcome.path = pathOf(sub)
  })
}

/**
 * commander's own unknown-command error, for its suggestion of the closest name (it computes it
 * from the visible commands); rethrown as a USAGE error in our words.
 */
function unknownCommand(cmd: Command, message: () => string, hint: string): never {
  try {
    // Not in commander's typings, but the method its own dispatch calls (commander 14); the tests
    // of the suggestion fail if it goes.
    (cmd as unknown as { unknownCommand(): void }).unknownCommand()
  } catch (err) {
    const suggestion = suggestionIn((err as Error).message)
    throw new CliError('USAGE', `${message()}${suggestion === undefined ? '' : `; did you mean ${suggestion}?`}`, hint)
  }
  throw new CliError('USAGE', message(), hint)
}

/** commander's "(Did you mean X?)" line. */
export function suggestionIn(message: string): string | undefined {
  return /\(Did you mean (.+?)\?\)/.exec(message)?.[1]
}

export function pathOf(cmd: Command): string {
  const names: string[] = []
  for (let c: Command | null = cmd; c !== null && c.parent !== null; c = c.parent) names.unshift(c.name())
  return names.join(' ')
}

function addLeaf(parent: Command, spec: LeafSpec, io: CliIo, outcome: Outcome, section?: string): void {
  const cmd = parent.command(spec.name)
    .summary(spec.summary)
    .description(spec.details === undefined ? spec.summary : `${spec.summary}\n\n${spec.details}`)
    .usage(spec.synopsis === '' ? '[options]' : spec.synopsis)
    .allowExcessArguments()
  META.set(cmd, { ...(section !== undefined ? { section } : {}), synopsis: spec.synopsis, summary: spec.summary, destructive: spec.destructive === true })
  for (const arg of spec.args ?? []) cmd.argument(arg)
  for (const option of spec.options ?? []) cmd.addOption(optionOf(option))
  if (spec.destructive === true) {
    cmd.option('-y, --yes', 'confirm without asking (required when stdin is not a terminal)')
    if (!cmd.options.some((o) => o.long === '--force')) cmd.option('--force', 'the same as --yes')
  }
  const maxArgs = (spec.args ?? []).some((a) => a.includes('...')) ? Infinity : (spec.args ?? []).length
  cmd.action(async (...actionArgs: unknown[]) => {
    const command = actionArgs[actionArgs.length - 1] as Command
    outcome.path = pathOf(command)
    const extra = command.args[maxArgs]
    if (extra !== undefined) throw new CliError('USAGE', `unexpected argument ${extra}`, `see portcullis ${outcome.path} --help`)
    const ctx = contextFor(io, command, outcome.path)
    outcome.code = await spec.run(ctx, parsedOf(command))
  })
}

function optionOf(spec: OptionSpec): Option {
  const option = new Option(spec.flags, spec.description)
  if (spec.choices !== undefined) option.choices(spec.choices)
  if (spec.multiple === true) option.argParser((value: string, previous: string[] | undefined) => [...(previous ?? []), value])
  return option
}

/** The command's own options by long name (what the handlers read), and its arguments. */
function parsedOf(command: Command): Parsed {
  const values: Parsed['values'] = {}
  for (const option of command.options) {
    const name = (option.long ?? option.short ?? '').replace(/^-+/, '')
    values[name] = command.getOptionValue(option.attributeName()) as Parsed['values'][string]
  }
  return { values, positionals: [...command.args] }
}

function contextFor(io: CliIo, command: Command, path: string): CommandContext {
  const all = command.optsWithGlobals<{ config?: string; output?: OutputFormat; adminUrl?: string }>()
  const global: GlobalOptions = {
    output: all.output ?? 'json',
    ...(all.config !== undefined ? { config: all.config } : {}),
    ...(all.adminUrl !== undefined ? { adminUrl: all.adminUrl } : {}),
  }
  let root = command
  while (root.parent !== null) root = root.parent
  return { io, global, path, root, print: (value, options) => io.stdout.write(render(value, global.output, options)) }
}
