import type { FastifyPluginAsync } from 'fastify'
import { z } from 'zod'
import { randomBase62 } from '../../auth/random-base62'
import { PortcullisError } from '../../errors'
import type { AdminContext } from '../context'
import { signedRoute } from '../openapi/operation'
import { instanceParams } from '../openapi/params'
import { auditedChange, parseBody } from '../request'

/** Printable, no control characters: what a broker's user database takes and a terminal shows. */
const body = z.strictObject({
  password: z.string().min(1).max(1024).regex(/^[^\u0000-\u001f\u007f]+$/, 'no control characters').optional(),
})
const GENERATED_CHARS = 32
const answer = z.object({
  instanceId: z.string(),
  generated: z.boolean(),
  password: z.string().optional().describe('the generated password, in this answer only: set it on the broker'),
})

/**
 * `POST /v1/instances/{id}/backend-password` (issue 13, `portcullis instance
 * rotate-backend-password ID`): the instance's broker password, as a managed secret.
 *
 *   {password}   the operator set it on the broker already: stored sealed, answered {generated: false}
 *   {}           a 32-character password is generated and answered ONCE in {password}; the operator
 *                sets it on the broker (the audit event never holds it)
 *
 * New backend logins use the new password as soon as the instance change reaches the replica's
 * instance directory; sessions already connected keep their broker connection (nothing re-logs).
 * An instance on the embedded broker has no backend password to rotate (VALIDATION_FAILED).
 */
export function backendPasswordRoutes(ctx: AdminContext): FastifyPluginAsync {
  return async (app) => {
    app.post<{ Params: { id: string } }>('/instances/:id/backend-password', signedRoute('POST', 'admin:RotateBackendPassword', {
      tag: 'Instances', summary: 'Set or generate the instance\'s backend (broker) password',
      description: '`{password}`: stored sealed. `{}`: a 32-character password is generated and answered once. New backend logins use it; live sessions keep their broker connection. An instance on the embedded broker has none (VALIDATION_FAILED).',
      params: instanceParams, body, responses: { 200: { description: 'Stored', json: answer } }, errors: ['NOT_FOUND'],
    }), async (req) => {
      const { id } = req.params
      const { password: given } = parseBody(body, req)
      const password = given ?? randomBase62(GENERATED_CHARS)
      await auditedChange(ctx, req, { type: 'admin.instance.rotateBackendPassword', instanceId: id, target: { instanceId: id } }, async () => {
        const current = await ctx.instances.get(id)
        if (current.backend.kind === 'embedded') {
          throw new PortcullisError('VALIDATION_FAILED', `instance ${id} uses the embedded broker, which has no backend password`)
        }
        const { before, after } = await ctx.instances.patch(id, { backend: { password } })
        return { result: undefined, before, after, details: { generated: given === undefined } }
      })
      return { instanceId: id, generated: given === undefined, ...(given === undefined ? { password } : {}) }
    })
  }
}
