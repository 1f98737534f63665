import type { FastifyPluginAsync } from 'fastify'
import { z } from 'zod'
import type { ReloadOutcome, ReloadTrigger } from '../../config/reload'
import { RESTART_MESSAGE } from '../../config/reload-plan'
import { PortcullisError } from '../../errors'
import { withAction } from '../authorization/route-action'
import { HTTP_STATUS } from '../errors'
import { parseBody, requestSource } from '../request'

/** What the route needs of the gateway: its reload (src/config/reload.ts, wired in src/gateway.ts). */
export interface ConfigReload {
  reload(trigger: ReloadTrigger): Promise<ReloadOutcome>
}

const noBody = z.strictObject({})

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
    app.post('/config/reload', withAction('admin:ReloadConfig'), async (req, reply) => {
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
      const status = outcome.code === 'CONFIG_INVALID' ? 400 : HTTP_STATUS[outcome.code]
      return reply.status(status).send({ code: outcome.code, message: outcome.message, requestId: req.id, applied: outcome.applied })
    })
  }
}
