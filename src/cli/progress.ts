import type { CliOutput } from './io'

/**
 * A progress line on stderr (stdout stays the command's answer, for scripts). On a terminal the
 * line is rewritten in place (CR + erase line, ECMA-48 EL); into a file or pipe each new text is
 * one line, and a text equal to the previous one is not repeated.
 */
export class ProgressLine {
  private last: string | undefined

  constructor(private readonly out: CliOutput) {}

  update(text: string): void {
    if (text === this.last) return
    this.last = text
    if (this.out.isTTY === true) this.out.write(`\r\x1b[2K${text}`)
    else this.out.write(`${text}\n`)
  }

  /** Ends the line on a terminal, so that what follows starts on a fresh one. */
  done(): void {
    if (this.out.isTTY === true && this.last !== undefined) this.out.write('\n')
    this.last = undefined
  }
}
