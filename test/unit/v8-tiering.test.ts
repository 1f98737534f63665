import t from 'tap'
import { execFileSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { applyConnectionTiering, CONNECTION_INTERRUPT_BUDGET } from '../../src/runtime/v8-tiering'

const COMPILED = join(__dirname, '../../dist/src/runtime/v8-tiering.js')

/**
 * How many calls a small per-connection-like function takes to be optimised by TurboFan in a
 * fresh Node, with or without the connection tiering. --no-concurrent-recompilation makes the
 * count exact (the optimisation happens at the call that asks for it, not on a background thread
 * some time later); %GetOptimizationStatus bit 16 is "optimised by TurboFan".
 */
function callsUntilOptimised(opts: { apply: boolean; nodeFlags?: string[] }): number {
  const script = `
    ${opts.apply ? `require(${JSON.stringify(COMPILED)}).applyConnectionTiering()` : ''}
    function perConnection(o) { let s = 0; for (const k in o) s += String(o[k]).length; return s + (o.a ? 1 : 0) }
    let n = 0
    for (; n < 20000; n++) { perConnection({ a: n, b: 'x' + n, c: true }); if ((%GetOptimizationStatus(perConnection) & 16) !== 0) break }
    process.stdout.write(String(n + 1))`
  const out = execFileSync(process.execPath, ['--allow-natives-syntax', '--no-concurrent-recompilation', ...(opts.nodeFlags ?? []), '-e', script], { encoding: 'utf8' })
  return Number(out)
}

t.test('per-connection code is optimised after fewer calls with the connection tiering', { skip: existsSync(COMPILED) ? false : 'dist/ is missing: run `npm run build` (npm test does)' }, async (t) => {
  const stock = callsUntilOptimised({ apply: false })
  const tiered = callsUntilOptimised({ apply: true })
  t.ok(stock < 20000, `optimised at all without it (${stock} calls)`)
  t.ok(tiered < stock, `${tiered} calls with the tiering, ${stock} without`)
})

t.test("an operator's own --interrupt-budget stands", { skip: existsSync(COMPILED) ? false : 'dist/ is missing' }, async (t) => {
  const stock = callsUntilOptimised({ apply: false })
  t.equal(callsUntilOptimised({ apply: true, nodeFlags: ['--interrupt-budget=67584'] }), stock, 'the default budget, named by the operator, is kept')
  t.equal(callsUntilOptimised({ apply: true, nodeFlags: ['--interrupt_budget=67584'] }), stock, 'in either spelling')
})

t.test('says what it did', async (t) => {
  t.same(applyConnectionTiering(['--interrupt-budget=1000']), { applied: false, reason: 'operator-flag' })
  t.same(applyConnectionTiering(['--max-old-space-size=512']), { applied: true, budget: CONNECTION_INTERRUPT_BUDGET })
})
