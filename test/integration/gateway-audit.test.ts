import t from 'tap'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { serviceAvailable, unusedPort } from '../helpers/services'
import { startTestGateway } from '../helpers/gateway'
import { mqttFixture } from '../helpers/mqtt-fixture'
import { verifyFile } from '../../src/audit/verify'
import { main } from '../../src/cli/main'

t.test("a test run's audit chain verifies, a tampered line is found, and a dead Redis-Streams sink stops nothing", async (t) => {
  if (!(await serviceAvailable(t, 'mosquitto', 1883))) return
  const port = await unusedPort()
  const dataDir = mkdtempSync(join(tmpdir(), 'portcullis-audit-'))
  t.teardown(() => rmSync(dataDir, { recursive: true, force: true }))
  const tg = await startTestGateway(t, {
    dataDir,
    config: {
      audit: {
        sinks: [
          { kind: 'file', path: join(dataDir, 'audit.jsonl') },
          { kind: 'redis-stream', url: `redis://127.0.0.1:${port}`, key: 'portcullis-test:dead-sink', maxLen: 1000 },
        ],
      },
    },
  })
  const file = join(tg.dataDir, 'audit-under-test.jsonl')
  t.equal(tg.config.audit.sinks[0]?.kind, 'file')

  // Real traffic: refusals, an accepted session, admin changes.
  const fx = await mqttFixture(tg)
  await t.rejects(fx.connect(undefined), 'a device without a certificate is refused')
  const client = await fx.connect(await fx.device())
  t.ok(client.connected, 'devices connect although one audit sink is dead')
  await client.endAsync()
  await tg.waitForEvent((e) => e.type === 'connection.closed')

  // The sink gives each batch a bounded wait for Redis before counting it lost: poll for the count.
  let metrics = ''
  for (let i = 0; i < 50 && !/portcullis_audit_sink_errors_total\{sink="redis-stream"\} [1-9]/.test(metrics); i++) {
    await new Promise((r) => setTimeout(r, 100))
    metrics = await fetch(`${tg.gateway.adminUrl}/metrics`).then((r) => r.text())
  }
  t.match(metrics, /portcullis_audit_sink_errors_total\{sink="redis-stream"\} [1-9]/, 'the dead sink is counted')
  await tg.stop()

  const written = readFileSync(join(tg.dataDir, 'audit.jsonl'), 'utf8')
  writeFileSync(file, written)
  const lines = written.trimEnd().split('\n')
  t.ok(lines.length >= 6, `${lines.length} events in the file`)
  t.same(await verifyFile(file), { ok: true, count: lines.length, chains: 1 }, 'the chain verifies')
  for (const line of lines) {
    t.notMatch(line, /"password"\s*:\s*"[^[]/, 'no password in clear')
  }

  const tamperedAt = Math.floor(lines.length / 2)
  const tampered = [...lines]
  tampered[tamperedAt] = (tampered[tamperedAt] as string).replace('"outcome":"success"', '"outcome":"failure"').replace('"outcome":"failure"', '"outcome":"success"')
  if (tampered[tamperedAt] === lines[tamperedAt]) tampered[tamperedAt] = (lines[tamperedAt] as string).replace('"type":"', '"type":"x')
  writeFileSync(file, `${tampered.join('\n')}\n`)
  const result = await verifyFile(file)
  t.equal(result.ok, false, 'a changed event breaks the chain')
  if (!result.ok) t.equal(result.line, tamperedAt + 1, 'and the first broken line is named')

  const out: string[] = []
  const code = await main(['audit', 'verify', file], { stdout: { write: (s: string) => { out.push(s); return true } } as never, stderr: { write: (s: string) => { out.push(s); return true } } as never })
  t.equal(code, 1, '`portcullis audit verify` exits 1 on a broken chain')
  t.match(out.join(''), String(tamperedAt + 1), 'and names the line')
})
