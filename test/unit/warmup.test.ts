import t from 'tap'
import { DEFAULT_WARMUP_ROUNDS, warmConnectionPath } from '../../src/warmup/connection-path'

t.test('the warm-up runs the rounds it is asked for', async (t) => {
  const result = warmConnectionPath(20, 60_000)
  t.equal(result.rounds, 20)
  t.ok(result.ms >= 0)
})

t.test('the warm-up stops at its time budget rather than holding the start', async (t) => {
  const result = warmConnectionPath(10_000_000, 50)
  t.ok(result.rounds < 10_000_000, `stopped after ${result.rounds} rounds`)
  t.ok(result.rounds >= 64, 'the budget is checked every 64 rounds')
})

t.test('the start runs a bounded warm-up by default', async (t) => {
  t.ok(DEFAULT_WARMUP_ROUNDS > 0 && DEFAULT_WARMUP_ROUNDS <= 10_000)
})

t.test('the warm-up writes nothing to stdout or stderr', async (t) => {
  const writes: string[] = []
  const out = process.stdout.write.bind(process.stdout)
  const err = process.stderr.write.bind(process.stderr)
  process.stdout.write = ((chunk: string | Uint8Array) => { writes.push(String(chunk)); return true }) as typeof process.stdout.write
  process.stderr.write = ((chunk: string | Uint8Array) => { writes.push(String(chunk)); return true }) as typeof process.stderr.write
  try {
    warmConnectionPath(50, 60_000)
  } finally {
    process.stdout.write = out
    process.stderr.write = err
  }
  t.same(writes, [])
})
