import type { PipelineDeps } from '../deps'
import type { Step } from '../verdict'

/**
 * A stage: one small step of the connection lifecycle. It gets the context of one phase and the
 * deps (each stage's signature names only the part of PipelineDeps it reads), and answers the next
 * phase's context or a refusal. Synchronous stages return the step itself, so a rule check costs
 * no promise hop.
 */
export type StageFn<In, Out> = (ctx: In, deps: PipelineDeps) => Step<Out> | Promise<Step<Out>>

/** A stage as the runner sees it: the types are checked where the chain is built, not here. */
export interface Stage {
  readonly name: string
  /** The phase the stage's context must be in when it continues; the runner checks it. */
  readonly to: string
  readonly run: StageFn<never, { readonly phase: string }>
}

/**
 * An ordered list of stages whose types line up: `then` accepts only a stage that takes what the
 * previous one returns, so an out-of-order pipeline does not compile. The list itself is plain
 * data for the runner.
 */
export class Chain<In, Out> {
  private constructor(readonly stages: readonly Stage[]) {}

  static start<T>(): Chain<T, T> {
    return new Chain<T, T>([])
  }

  then<N extends { readonly phase: string }>(name: string, to: N['phase'], run: StageFn<Out, N>): Chain<In, N> {
    return new Chain<In, N>([...this.stages, { name, to, run: run as Stage['run'] }])
  }

  concat<N>(other: Chain<Out, N>): Chain<In, N> {
    return new Chain<In, N>([...this.stages, ...other.stages])
  }
}
