/**
 * What a CLI run reads and writes, passed in rather than taken from globals so that tests run
 * `main()` in-process with their own environment, input and captured output.
 */
export interface CliOutput {
  write(text: string): unknown
  /** A terminal: progress lines are rewritten in place; absent means a pipe or a file. */
  isTTY?: boolean
}

/** Where a confirmation is read from; only a terminal is asked (a pipe must say --yes). */
export interface CliInput extends AsyncIterable<string | Buffer> {
  isTTY?: boolean
}

export interface CliIo {
  env: NodeJS.ProcessEnv
  stdout: CliOutput
  stderr: CliOutput
  /** Absent: nothing to ask (destructive commands then need --yes). */
  stdin?: CliInput | undefined
  /** Directory that relative defaults (./portcullis.yaml, ./data) are resolved against. */
  cwd: string
}

export function defaultIo(): CliIo {
  return { env: process.env, stdout: process.stdout, stderr: process.stderr, stdin: process.stdin, cwd: process.cwd() }
}
