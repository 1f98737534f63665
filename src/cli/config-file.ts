import { existsSync } from 'node:fs'
import { isAbsolute, join } from 'node:path'
import type { CliIo } from './io'

/** The config file a command reads when none is named: the walk-through and `config check` write it here. */
export const DEFAULT_CONFIG_FILE = 'portcullis.yaml'

/** Which config file a command reads, and why: start says it at start, auth errors name it. */
export type ConfigFileChoice =
  | { file: string; from: '-c' | 'PORTCULLIS_CONFIG' | 'working directory' }
  | { file: undefined; from: 'none' }

/**
 * The one rule every command follows (start, config check, the admin commands), so that the admin
 * commands find the admin API and data directory of the gateway `start` ran in the same place:
 * `-c FILE`, else PORTCULLIS_CONFIG, else ./portcullis.yaml when it exists, else no file (the
 * built-in defaults). An explicit choice beats the file that happens to be in the directory.
 * Relative paths are resolved against the working directory. The PORTCULLIS_* overrides apply
 * on top in every case (src/config/load.ts).
 */
export function chooseConfigFile(io: CliIo, flag: string | undefined): ConfigFileChoice {
  if (flag !== undefined) return { file: absolute(io, flag), from: '-c' }
  const fromEnv = io.env.PORTCULLIS_CONFIG
  if (fromEnv !== undefined) return { file: absolute(io, fromEnv), from: 'PORTCULLIS_CONFIG' }
  const inDirectory = join(io.cwd, DEFAULT_CONFIG_FILE)
  if (existsSync(inDirectory)) return { file: inDirectory, from: 'working directory' }
  return { file: undefined, from: 'none' }
}

/** The line `start` logs: which file it read, and how to read another. */
export function describeConfigChoice(choice: ConfigFileChoice): string {
  switch (choice.from) {
    case '-c':
      return `config ${choice.file} (from -c)`
    case 'PORTCULLIS_CONFIG':
      return `config ${choice.file} (from PORTCULLIS_CONFIG)`
    case 'working directory':
      return `config ${choice.file} (./${DEFAULT_CONFIG_FILE} of the working directory; -c FILE reads another)`
    case 'none':
      return `no config file (no -c, no PORTCULLIS_CONFIG, no ./${DEFAULT_CONFIG_FILE}): the built-in defaults and the PORTCULLIS_* environment`
  }
}

function absolute(io: CliIo, path: string): string {
  return isAbsolute(path) ? path : join(io.cwd, path)
}
