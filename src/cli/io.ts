/**
 * What a CLI run reads and writes, passed in rather than taken from globals so that tests run
 * `main()` in-process with their own environment and capture the output.
 */
export interface CliIo {
  env: NodeJS.ProcessEnv
  stdout: { write(text: string): unknown }
  stderr: { write(text: string): unknown }
  /** Directory that relative defaults (./portcullis.yaml, ./data) are resolved against. */
  cwd: string
}

export function defaultIo(): CliIo {
  return { env: process.env, stdout: process.stdout, stderr: process.stderr, cwd: process.cwd() }
}

export function printJson(io: CliIo, value: unknown): void {
  io.stdout.write(`${JSON.stringify(value, null, 2)}\n`)
}
