import t from 'tap'
import { spawnSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { join } from 'node:path'

const DIST = join(__dirname, '../../dist/src')

t.test('an unhandled rejection is logged and counted, and the process carries on', async (t) => {
  if (!existsSync(join(DIST, 'observability/rejection-guard.js'))) throw new Error('dist/ is missing: run `npm run build` (npm test does)')
  // A real process, because the point is what Node does by default: end it (exit code 1).
  const script = `
    const { guardUnhandledRejections } = require(${JSON.stringify(join(DIST, 'observability/rejection-guard.js'))})
    const { Metrics } = require(${JSON.stringify(join(DIST, 'observability/metrics.js'))})
    const metrics = new Metrics()
    const logged = []
    guardUnhandledRejections({ error: (obj, msg) => logged.push(msg + ': ' + obj.err.message) }, metrics)
    Promise.reject(new Error('a forgotten catch'))
    setTimeout(async () => {
      const text = await metrics.render()
      console.log(JSON.stringify({ logged, counted: /portcullis_unhandled_rejections_total (\\d+)/.exec(text)[1], alive: true }))
    }, 50)
  `
  const run = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8', timeout: 10_000 })
  t.equal(run.status, 0, `exit code (stderr: ${run.stderr})`)
  t.same(JSON.parse(run.stdout), {
    logged: ['unhandled promise rejection; the process carries on: a forgotten catch'], counted: '1', alive: true,
  })
  const unguarded = spawnSync(process.execPath, ['-e', 'Promise.reject(new Error("x")); setTimeout(() => console.log("alive"), 50)'], { encoding: 'utf8' })
  t.not(unguarded.status, 0, 'without the guard Node ends the process (what the guard prevents)')
})
