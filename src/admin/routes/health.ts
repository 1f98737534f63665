import type { FastifyPluginAsync } from 'fastify'
import type { AdminContext } from '../context'

/**
 * Unsigned probes (DESIGN §3): `/healthz` = the process answers; `/readyz` = it can serve (the
 * store answers), so a load balancer stops sending traffic to a replica that lost Redis;
 * `/metrics` = Prometheus text.
 */
export function healthRoutes(ctx: AdminContext): FastifyPluginAsync {
  return async (app) => {
    app.get('/healthz', async () => ({ status: 'ok' }))

    app.get('/readyz', async (req, reply) => {
      let ready = false
      try {
        ready = await (ctx.ready ?? (() => ctx.store.ping()))()
      } catch (err) {
        req.log.warn({ err }, 'readiness check failed')
      }
      if (ready) return { status: 'ready' }
      return reply.status(503).send({ code: 'STORE_UNAVAILABLE', message: 'the store could not be reached', requestId: req.id })
    })

    app.get('/metrics', async (_req, reply) => {
      const text = await ctx.metrics.render()
      return reply.type(ctx.metrics.contentType).send(text)
    })
  }
}
