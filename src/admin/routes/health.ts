import type { FastifyPluginAsync } from 'fastify'
import { z } from 'zod'
import { ERROR_CODES } from '../../errors'
import { storeWriteState } from '../../store/open'
import type { AdminContext, Readiness } from '../context'
import { errorBodySchema } from '../openapi/error-docs'
import { publicRoute } from '../openapi/operation'

/** What `/readyz` answers 503 with: the reason this replica should get no traffic now. */
const NOT_READY_CODES = ['STORE_UNAVAILABLE', 'STORE_READ_ONLY', 'STORE_RESYNCING', 'SHUTTING_DOWN'] as const

/**
 * Unsigned probes (DESIGN §3): `/healthz` = the process answers; `/readyz` = it can serve (the
 * store answers and can write, and, on a replica, its view of the store is fresh: DESIGN §4
 * "Admission on stale state"; and the gateway is not shutting down: DESIGN §4 `shutdown`), so a
 * load balancer stops sending traffic to a replica that lost Redis, sits on a full disk, is still
 * catching up or is draining; the 503 body's `code` says which (STORE_UNAVAILABLE,
 * STORE_READ_ONLY, STORE_RESYNCING, SHUTTING_DOWN). `/metrics` = Prometheus text.
 */
export function healthRoutes(ctx: AdminContext): FastifyPluginAsync {
  const ready = ctx.ready ?? (async (): Promise<Readiness> => {
    if (!(await ctx.store.ping())) return { ready: false, code: 'STORE_UNAVAILABLE' }
    return storeWriteState(ctx.store).writable ? { ready: true } : { ready: false, code: 'STORE_READ_ONLY' }
  })
  return async (app) => {
    app.get('/healthz', publicRoute({
      operationId: 'getHealthz', tag: 'Probes', summary: 'Liveness: the process answers',
      responses: { 200: { description: 'Alive', json: z.object({ status: z.literal('ok') }) } },
    }), async () => ({ status: 'ok' }))

    app.get('/readyz', publicRoute({
      operationId: 'getReadyz', tag: 'Probes', summary: 'Readiness: this replica can serve',
      description: 'Ready = not shutting down, the store answers and can write, and this replica has re-read the store since it was last lost. A load balancer should send no traffic while it answers 503.',
      responses: {
        200: { description: 'Ready', json: z.object({ status: z.literal('ready') }) },
        503: { description: `Not ready; \`code\`: ${NOT_READY_CODES.map((c) => `\`${c}\` (${ERROR_CODES[c]})`).join('; ')}`, json: errorBodySchema(NOT_READY_CODES) },
      },
    }), async (req, reply) => {
      let answer: Readiness = { ready: false, code: 'STORE_UNAVAILABLE' }
      try {
        answer = await ready()
      } catch (err) {
        req.log.warn({ err }, 'readiness check failed')
      }
      if (answer.ready) return { status: 'ready' }
      return reply.status(503).send({ code: answer.code, message: ERROR_CODES[answer.code], requestId: req.id })
    })

    app.get('/metrics', publicRoute({
      operationId: 'getMetrics', tag: 'Probes', summary: 'Prometheus metrics (portcullis_* and the Node defaults)',
      description: 'docs/metrics.md lists them.',
      responses: { 200: { description: 'Prometheus text exposition format', media: { 'text/plain': z.string() } } },
    }), async (_req, reply) => {
      const text = await ctx.metrics.render()
      return reply.type(ctx.metrics.contentType).send(text)
    })
  }
}
