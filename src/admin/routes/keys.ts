import type { FastifyPluginAsync } from 'fastify'
import { z } from 'zod'
import { PortcullisError } from '../../errors'
import type { KeyRotation } from '../../keys/key-rotation'
import { keyRotationSchema, keyStatusSchema } from '../../keys/key-status-schema'
import type { AdminContext } from '../context'
import { signedRoute } from '../openapi/operation'
import { auditedChange, parseBody, parseQuery } from '../request'

const noBody = z.strictObject({})
const noQuery = z.strictObject({})

/** What the routes need of the gateway's rotation (src/keys/key-rotation.ts). */
export type KeyControl = Pick<KeyRotation, 'status' | 'start'>

/**
 * `GET /v1/keys` and `POST /v1/keys/rotate` (DESIGN §4 "Operations and keys"; `portcullis keys
 * status|rotate`):
 *
 *   GET   200 {currentKeyId, keys: [{keyId, loaded, current, provider?, secrets}], rotation}
 *         secrets per master key id: a key with 0 secrets (and not current) can be removed
 *   POST  202 the job record {state: running, targetKeyId, total, done, …}; progress is read with
 *         GET. 409 CONFLICT while another job's heartbeat is fresh.
 *
 * Key material never appears: ids, providers and counts only.
 */
export function keyRoutes(ctx: AdminContext): FastifyPluginAsync {
  return async (app) => {
    app.get('/keys', signedRoute('GET', 'admin:GetKeyStatus', {
      tag: 'Operations', summary: 'Master keys and the secrets wrapped under each',
      description: 'A key with 0 secrets that is not current can be removed. Without a gateway behind the admin server: NOT_FOUND.',
      query: noQuery, responses: { 200: { description: 'The keys and the last rotation job', json: keyStatusSchema } }, errors: ['NOT_FOUND'],
    }), async (req) => {
      parseQuery(noQuery, req)
      return keysOf(ctx).status()
    })

    app.post('/keys/rotate', signedRoute('POST', 'admin:RotateKeys', {
      tag: 'Operations', summary: 'Re-wrap every stored data key under the current master key',
      description: 'Starts the job and answers at once; GET /v1/keys shows its progress. CONFLICT while another job\'s heartbeat is fresh.',
      body: noBody, responses: { 202: { description: 'The job, started', json: keyRotationSchema } }, errors: ['NOT_FOUND', 'SHUTTING_DOWN'],
    }), async (req, reply) => {
      parseBody(noBody, req)
      const keys = keysOf(ctx)
      const job = await auditedChange(ctx, req, { type: 'admin.keys.rotate' }, async () => {
        const started = await keys.start(req.accessKeyId)
        return { result: started, details: { targetKeyId: started.targetKeyId } }
      })
      return reply.status(202).send(job)
    })
  }
}

function keysOf(ctx: AdminContext): KeyControl {
  if (ctx.keys === undefined) throw new PortcullisError('NOT_FOUND', 'this admin server runs without a gateway: there are no master keys to manage')
  return ctx.keys
}
