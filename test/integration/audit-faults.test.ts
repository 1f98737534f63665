/**
 * The audit file sink of a real gateway process (dist/) under faults: its directory removed, the
 * file rotated (rename + SIGHUP, as logrotate does), the disk full (a real tiny tmpfs). Events are
 * produced by admin calls (each is an `admin.instance.create` event).
 */
import t from 'tap'
import { execFile } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, renameSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { randomBytes } from 'node:crypto'
import { startGatewayProcess, type GatewayProcess } from '../helpers/gateway-process'
import { mountTinyDisk } from '../helpers/tiny-disk'
import { writeDevPki } from '../../src/ca/pki'
import type { Test } from '../helpers/services'

const ROOT = join(__dirname, '../..')

async function gateway(t: Test, label: string, auditPath: (dir: string) => string): Promise<{ gw: GatewayProcess; dir: string; path: string }> {
  const dir = mkdtempSync(join(tmpdir(), `portcullis-${label}-`))
  const certsDir = join(dir, 'certs')
  await writeDevPki(certsDir)
  const path = auditPath(dir)
  const gw = await startGatewayProcess({
    name: 'gw', dir, certsDir, redisPrefix: 'unused',
    env: {
      PORTCULLIS_ROOT_ACCESS_KEY_ID: 'PCROOTAUDITFAULTS',
      PORTCULLIS_ROOT_ACCESS_KEY_SECRET: randomBytes(24).toString('base64url'),
      PORTCULLIS_MASTER_KEY: randomBytes(32).toString('base64'),
      PORTCULLIS_MASTER_KEY_ID: 'audit-faults-key',
    },
    config: { store: { kind: 'embedded', dataDir: join(dir, 'data') }, audit: { sinks: [{ kind: 'file', path }] } },
  })
  t.teardown(async () => {
    await gw.stop()
    rmSync(dir, { recursive: true, force: true })
  })
  return { gw, dir, path }
}

let serial = 0
async function adminEvents(gw: GatewayProcess, n: number): Promise<string[]> {
  const ids: string[] = []
  for (let i = 0; i < n; i++) {
    const id = `af-${process.pid}-${serial++}`
    const res = await gw.admin('POST', '/v1/instances', { id, protocol: 'mqtt', hostnames: [`${id}.audit.test`], backend: { kind: 'embedded' } })
    if (res.status !== 201) throw new Error(`create ${id}: ${res.status}`)
    ids.push(id)
  }
  return ids
}

function creates(path: string): string[] {
  if (!existsSync(path)) return []
  return readFileSync(path, 'utf8').split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as { type: string; instanceId?: string })
    .filter((e) => e.type === 'admin.instance.create').map((e) => e.instanceId ?? '')
}

async function until(check: () => boolean, timeoutMs = 5000): Promise<boolean> {
  const deadline = Date.now() + timeoutMs
  while (!check() && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50))
  return check()
}

async function sinkErrors(gw: GatewayProcess): Promise<number> {
  const text = await (await fetch(`${gw.adminUrl}/metrics`)).text()
  const m = /^portcullis_audit_sink_errors_total\{sink="file"\} (\d+)/m.exec(text)
  return m === null ? 0 : Number(m[1])
}

function verify(path: string, partial = false): Promise<{ code: number; out: unknown }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [join(ROOT, 'bin/portcullis.js'), 'audit', 'verify', path, ...(partial ? ['--partial'] : [])], (err, stdout) => {
      resolve({ code: err === null ? 0 : Number((err as { code?: number }).code ?? 1), out: JSON.parse(stdout.trim() || 'null') })
    })
  })
}

t.test('removing the audit directory under a running gateway: the sink recreates it and nothing is lost', async (t) => {
  const { gw, path } = await gateway(t, 'audit-rmdir', (dir) => join(dir, 'audit', 'gw.jsonl'))
  await adminEvents(gw, 2)
  t.ok(await until(() => creates(path).length === 2))
  rmSync(join(path, '..'), { recursive: true, force: true })
  const after = await adminEvents(gw, 3)
  t.ok(await until(() => creates(path).length === 3), 'the recreated file gets the events')
  t.same(creates(path), after)
  t.equal(await sinkErrors(gw), 0, 'no event counted lost')
  t.match(await verify(path, true), { code: 0, out: { ok: true } }, 'the new file verifies (it starts mid-chain: --partial)')
})

t.test('rotation: rename + SIGHUP makes the gateway write a new file at the path', async (t) => {
  const { gw, path } = await gateway(t, 'audit-rotate', (dir) => join(dir, 'gw.jsonl'))
  const before = await adminEvents(gw, 2)
  t.ok(await until(() => creates(path).length === 2))
  renameSync(path, `${path}.1`)
  gw.child.kill('SIGHUP')
  t.ok(await until(() => existsSync(path)), 'SIGHUP reopens the path at once')
  const after = await adminEvents(gw, 2)
  t.ok(await until(() => creates(path).length === 2))
  t.same(creates(`${path}.1`), before, 'the rotated file keeps the events before')
  t.same(creates(path), after, 'the new file gets the events after')
  t.equal(gw.child.exitCode, null, 'SIGHUP does not stop the gateway')
})

t.test('a full disk: no torn line, the loss is counted, an audit.gap is recorded and the file verifies', async (t) => {
  const disk = mountTinyDisk(64)
  if (disk === undefined) return void t.pass('needs a tmpfs', { skip: 'cannot mount a tmpfs here (needs root)' })
  t.teardown(() => disk.unmount())
  const { gw, path } = await gateway(t, 'audit-enospc', () => join(disk.dir, 'gw.jsonl'))
  await adminEvents(gw, 3)
  t.ok(await until(() => creates(path).length === 3))
  disk.fill()
  await adminEvents(gw, 20)
  await new Promise((resolve) => setTimeout(resolve, 300)) // the sink's last batch is attempted
  const lost = await sinkErrors(gw)
  t.ok(lost > 0, `${lost} events counted in portcullis_audit_sink_errors_total`)
  const text = readFileSync(path, 'utf8')
  t.ok(text.endsWith('\n'), 'the file ends on a whole line')
  t.doesNotThrow(() => text.split('\n').filter((l) => l !== '').forEach((l) => JSON.parse(l)), 'every line is a whole event')
  disk.free()
  await adminEvents(gw, 1)
  t.ok(await until(() => readFileSync(path, 'utf8').includes('"audit.gap"')), 'the gap is recorded once the disk has room')
  const lostInAll = await sinkErrors(gw)
  await gw.stop()
  const verified = await verify(path)
  // A small batch may still fit after a bigger one failed, so the loss may come in several runs.
  t.match(verified, { code: 0, out: { ok: true, lost: lostInAll } }, '`audit verify` passes, from genesis, and its gaps account for every lost event')
  t.ok(((verified.out as { gaps?: number }).gaps ?? 0) >= 1, 'at least one gap reported')
})
