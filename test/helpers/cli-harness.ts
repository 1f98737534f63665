import { mkdtemp, rm } from 'node:fs/promises'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Readable } from 'node:stream'
import type { CliInput } from '../../src/cli/io'
import { main } from '../../src/cli/main'
import { adminHarness, ROOT, type AdminHarness } from './admin-harness'
// tap declares its Test type in a global `tap` namespace; this import loads it.
import type {} from 'tap'

/** What one in-process `main(argv)` call printed and returned. */
export interface CliRun {
  code: number
  out: string
  err: string
  /** The output parsed as JSON; `any` keeps the assertions on its shape short. */
  json: () => any
}

export interface CliHarness {
  h: AdminHarness
  url: string
  /** A temp directory the CLI runs in (files named by relative path resolve here). */
  cwd: string
  /** The environment `run` signs with (the root key, the server's URL). */
  env: NodeJS.ProcessEnv
  /** Runs `main(argv)` signed with the root key; `env` replaces that environment for one call. */
  run: (argv: string[], env?: NodeJS.ProcessEnv, opts?: RunOptions) => Promise<CliRun>
}

export interface CliHarnessOptions {
  /** Prefix of the temp working directory, so a leftover names the test file that made it. */
  tmpPrefix?: string
}

export interface RunOptions {
  /** What the CLI reads a confirmation from (default: none, as in a script: --yes is needed). */
  stdin?: CliInput
  /** Pretend stderr is a terminal (progress lines are then rewritten in place). */
  stderrIsTTY?: boolean
}

/** Runs `main(argv)` in-process, capturing stdout and stderr instead of touching the console. */
export async function runCli(argv: string[], env: NodeJS.ProcessEnv, cwd?: string, opts: RunOptions = {}): Promise<CliRun> {
  let out = ''
  let err = ''
  const io = {
    env,
    stdout: { write: (s: string) => (out += s) },
    stderr: { write: (s: string) => (err += s), ...(opts.stderrIsTTY === true ? { isTTY: true } : {}) },
    stdin: opts.stdin,
  }
  const code = await main(argv, cwd === undefined ? io : { ...io, cwd })
  return { code, out, err, json: () => JSON.parse(out) }
}

/** A terminal that types `answer` and Enter when asked. */
export function terminalTyping(answer: string): CliInput {
  const input = Readable.from([`${answer}\n`]) as Readable & { isTTY?: boolean }
  input.isTTY = true
  return input
}

/** A real admin server on port 0 and a runner for `main(argv)` in-process against it. */
export async function cliHarness(t: tap.Test, opts: CliHarnessOptions = {}): Promise<CliHarness> {
  const h = await adminHarness(t)
  await h.app.listen({ host: '127.0.0.1', port: 0 })
  const url = `http://127.0.0.1:${(h.app.server.address() as AddressInfo).port}`
  const cwd = await mkdtemp(join(tmpdir(), opts.tmpPrefix ?? 'portcullis-cli-'))
  t.teardown(() => rm(cwd, { recursive: true, force: true }))
  const env = { PORTCULLIS_ADMIN_URL: url, PORTCULLIS_ACCESS_KEY_ID: ROOT.accessKeyId, PORTCULLIS_ACCESS_KEY_SECRET: ROOT.accessKeySecret }
  const run = (argv: string[], runEnv: NodeJS.ProcessEnv = env, runOpts: RunOptions = {}): Promise<CliRun> => runCli(argv, runEnv, cwd, runOpts)
  return { h, url, cwd, run, env }
}
