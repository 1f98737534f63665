import { setFlagsFromString } from 'node:v8'

/**
 * How soon V8 optimises the gateway's per-connection code (issue 15).
 *
 * V8 moves a function from its interpreter and baseline tiers to TurboFan after it has spent a
 * number of "interrupt budgets" (bytecode executed, 67,584 bytes each by default on Node 20). The
 * code a connection runs — Node's own `net`/`tls` and the stages — runs about once per connection,
 * so with the default much of it still runs unoptimised a thousand connections after a start: in
 * `bench/connect-profile.ts` the second thousand MQTT mTLS connections after start cost about
 * 1.15× the warm ones, the first thousand 1.4–1.6×, and a reconnect storm after a deploy is made
 * of exactly those. The warm-up (src/warmup/) covers only the pure functions; this covers
 * everything, Node's own socket code included, at the price of optimising some code that did not
 * need it (compiled on V8's background threads) and about 0.4 s more to start. Measured in
 * docs/benchmarks.md "V8 tiering and a CPU profile…": about 8 % less CPU per warm connection on
 * average, and 8–14 % more in the first few hundred after a start, while V8 compiles.
 *
 * A quarter, an eighth and a sixteenth of the default measured alike within the noise; an eighth
 * is the middle of them.
 */
export const CONNECTION_INTERRUPT_BUDGET = 8448

const FLAG = '--interrupt-budget'

export type TieringChoice =
  | { readonly applied: true; readonly budget: number }
  | { readonly applied: false; readonly reason: 'operator-flag' }

/**
 * Lowers V8's interrupt budget for this process, unless the operator already chose one with
 * `node --interrupt-budget=N` (then theirs stands). Call it first thing in the process that serves
 * connections, before the code it is meant for has run much: a function's current budget is only
 * replaced once it runs out.
 */
export function applyConnectionTiering(execArgv: readonly string[] = process.execArgv): TieringChoice {
  // V8 reads `_` and `-` in flag names alike.
  const operatorChose = execArgv.some((arg) => {
    const name = arg.replace(/_/g, '-').split('=')[0]
    return name === FLAG
  })
  if (operatorChose) choice = { applied: false, reason: 'operator-flag' }
  else {
    setFlagsFromString(`${FLAG}=${CONNECTION_INTERRUPT_BUDGET}`)
    choice = { applied: true, budget: CONNECTION_INTERRUPT_BUDGET }
  }
  return choice
}

let choice: TieringChoice | undefined

/** What `applyConnectionTiering` did in this process, for the start-up log; undefined if not called. */
export function connectionTiering(): TieringChoice | undefined {
  return choice
}
