import { flag } from '../args'
import { CliError } from '../cli-error'
import { aligned } from '../output'
import { ProgressLine } from '../progress'
import type { GroupSpec } from '../spec'
import { adminClient, type LeafSpec } from './context'

/**
 * `portcullis keys status` and `keys rotate [--wait]` (DESIGN §4 "Operations and keys") →
 * `GET /v1/keys`, `POST /v1/keys/rotate`: every stored data key re-wrapped under the current master
 * key, after which the old one can be removed. `--wait` follows the rotation, polling
 * `GET /v1/keys` every POLL_MS, with a progress line on stderr (stdout keeps the final answer).
 */
export interface Rotation {
  state: 'running' | 'done' | 'failed'
  targetKeyId: string
  total: number
  done: number
  startedAt: string
  finishedAt?: string
  error?: string
}

export interface KeysStatus {
  currentKeyId: string
  keys: Array<{ keyId: string; loaded: boolean; secrets: number }>
  rotation: Rotation | null
}

export const POLL_MS = 500

/** The progress line of a rotation: `re-wrapped 120/480`. */
export function progressText(r: Pick<Rotation, 'done' | 'total'>): string {
  return `re-wrapped ${r.done}/${r.total}`
}

/**
 * Follows a running rotation until it is done or failed, showing its progress; answers the last
 * state seen. `poll` reads `GET /v1/keys`; a gateway that stops reporting the rotation (restarted
 * meanwhile) is an error, not a success.
 */
export async function waitForRotation(
  first: Rotation, poll: () => Promise<KeysStatus>, progress: Pick<ProgressLine, 'update' | 'done'>,
  sleep: (ms: number) => Promise<void> = (ms) => new Promise((resolve) => setTimeout(resolve, ms)), intervalMs = POLL_MS,
): Promise<Rotation> {
  let rotation = first
  try {
    while (rotation.state === 'running') {
      progress.update(progressText(rotation))
      await sleep(intervalMs)
      const next = (await poll()).rotation
      if (next === null) throw new CliError('ROTATION_FAILED', `the gateway no longer reports the rotation to ${rotation.targetKeyId} (restarted?)`, 'run portcullis keys status, then keys rotate again')
      rotation = next
    }
    progress.update(progressText(rotation))
    return rotation
  } finally {
    progress.done()
  }
}

function statusTable(value: unknown): string {
  const s = value as KeysStatus
  const rows = [['KEY ID', 'CURRENT', 'LOADED', 'SECRETS'], ...s.keys.map((k) => [k.keyId, k.keyId === s.currentKeyId ? 'yes' : '', k.loaded ? 'yes' : 'no', String(k.secrets)])]
  const r = s.rotation
  const rotation = r === null
    ? 'rotation: none'
    : `rotation: ${r.state} to ${r.targetKeyId}, ${progressText(r)}, started ${r.startedAt}${r.finishedAt !== undefined ? `, finished ${r.finishedAt}` : ''}${r.error !== undefined ? `, error: ${r.error}` : ''}`
  return `${aligned(rows)}${rotation}\n`
}

const status: LeafSpec = {
  name: 'status',
  synopsis: '',
  summary: 'the master keys and how many secrets each one wraps; the last rotation',
  async run(ctx) {
    ctx.print(await (await adminClient(ctx)).json('GET', '/v1/keys'), { table: statusTable })
    return 0
  },
}

const rotate: LeafSpec = {
  name: 'rotate',
  synopsis: '[--wait]',
  summary: 're-wrap every stored secret under the current master key (--wait: follow it)',
  details: 'Without --wait it prints the rotation as started and returns; `keys status` shows how far it got. With --wait it polls every 500 ms, prints `re-wrapped N/TOTAL` on stderr, then the finished rotation; a failed rotation exits 1.',
  options: [{ flags: '--wait', description: 'follow the rotation until it is done, with progress on stderr' }],
  async run(ctx, parsed) {
    const client = await adminClient(ctx)
    const started = (await client.json('POST', '/v1/keys/rotate')) as Rotation
    if (!flag(parsed, 'wait')) {
      ctx.print(started)
      return 0
    }
    const final = await waitForRotation(started, async () => (await client.json('GET', '/v1/keys')) as KeysStatus, new ProgressLine(ctx.io.stderr))
    ctx.print(final)
    if (final.state === 'failed') throw new CliError('ROTATION_FAILED', `the rotation to ${final.targetKeyId} failed after ${progressText(final)}: ${final.error ?? 'no reason given'}`, 'see portcullis keys status and the gateway log; the secrets not re-wrapped yet stay under their old key')
    return 0
  },
}

export const keysGroup: GroupSpec = {
  name: 'keys',
  section: 'Master keys',
  summary: 'the master keys that wrap the stored secrets',
  commands: [status, rotate],
}
