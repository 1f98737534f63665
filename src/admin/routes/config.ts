import type { FastifyPluginAsync } from 'fastify'
import { z } from 'zod'
import type { ReloadOutcome, ReloadTrigger } from '../../config/reload'
import { reloadSuccessSchema } from '../../config/reload-outcome-schema'
import { RESTART_MESSAGE } from '../../config/reload-plan'
import { PortcullisError, type ErrorCode } from '../../errors'
import { HTTP_STATUS } from '../errors'
import { signedRoute } from '../openapi/operation'
import { parseBody, requestSource } from '../request'

/** What the route needs of the gateway: its reload (src/config/reload.ts, wired in src/gateway.ts). */
export interface ConfigReload {
  reload(trigger: ReloadTrigger): Promise<ReloadOutcome>
}

const noBody = z.strictObject({})
/** A refused file is the caller's request failing (400), not the server failing (HTTP_STATUS: 500 at start). */
const RELOAD_STATUS = { CONFIG_INVALID: 400 } as const satisfies Partial<Record<ErrorCode, number>>

/** A refused or failed reload says what it had applied before it stopped (empty when refused). */
const reloadErrorFields = { applied: z.array(z.string()).optional().describe('config paths applied before the reload stopped (CONFIG_INVALID: none)') }

/**
 * `POST /v1/config/reload` (DESIGN §4 "Operations and keys"): the same reload as SIGHUP, signed
 * and decided as `admin:ReloadConfig` on `admin:config/reload`. Answers
 *
 *   200 {applied, restartNeeded, message?, changes, listeners}  what is in force now, what waits
 *                                                               for a restart, the diff (no secret values)
 *   400 {code: CONFIG_INVALID, message, requestId}              the file was refused, the running
 *                                                               config kept; message names the key
 *   other {code, message, requestId, applied}                   a step failed (e.g. ADDRESS_IN_USE
 *                                                               for an added listener) after `applied`
 *
 * The CONFIG_INVALID message is given in full here (the generic error mapping hides it, for a
 * start-up failure seen by anyone): the caller is allowed to reload the config and needs the key.
 * The audit event `admin.config.reload` is the reloader's, with this request's id.
 */
export function configRoutes(reloader: ConfigReload | undefined): FastifyPluginAsync {
  return async (app) => {
    app.post('/config/reload', signedRoute('POST', 'admin:ReloadConfig', {
      tag: 'Operations', summary: 'Reload the config file, as SIGHUP does',
      description: 'Re-reads the file the gateway started with (never one the caller names) and applies what changed without touching sessions it does not concern; keys read only at start are listed in `restartNeeded`. A file that fails validation is CONFIG_INVALID (400) with the key in the message, the running config kept. An admin server without a gateway behind it answers NOT_FOUND.',
      body: noBody, responses: { 200: { description: 'Applied', json: reloadSuccessSchema } },
      errors: ['CONFIG_INVALID', 'NOT_FOUND', 'ADDRESS_IN_USE', 'LISTEN_FAILED', 'SHUTTING_DOWN'],
      errorFields: reloadErrorFields, errorStatus: RELOAD_STATUS,
    }), async (req, reply) => {
      parseBody(noBody, req)
      // An admin server built without a gateway (tests, tools) has no config file to re-read.
      if (reloader === undefined) throw new PortcullisError('NOT_FOUND', 'this admin server runs without a gateway: there is no config to reload')
      const outcome = await reloader.reload({
        kind: 'admin', source: requestSource(req), requestId: req.id,
        ...(req.accessKeyId !== undefined ? { accessKeyId: req.accessKeyId } : {}),
      })
      if (outcome.result === 'success') {
        return {
          applied: outcome.applied,
          restartNeeded: outcome.restartNeeded,
          ...(outcome.restartNeeded.length > 0 ? { message: `not applied, ${RESTART_MESSAGE}: ${outcome.restartNeeded.join(', ')}` } : {}),
          changes: outcome.changes,
          listeners: outcome.listeners,
        }
      }
      const status = outcome.code === 'CONFIG_INVALID' ? RELOAD_STATUS.CONFIG_INVALID : HTTP_STATUS[outcome.code]
      return reply.status(status).send({ code: outcome.code, message: outcome.message, requestId: req.id, applied: outcome.applied })
    })
  }
}
