import { randomUUID } from 'node:crypto'
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance, type FastifyPluginAsync } from 'fastify'
import { PortcullisError } from '../errors'
import { signatureHook } from './auth-hook'
import { authorizationHook } from './authorization/hook'
import { requireAdminAction } from './authorization/route-action'
import type { AdminContext } from './context'
import { toErrorResponse } from './errors'
import { errorLogFields } from './error-log'
import { installOpenApi } from './openapi/install'
import { RefusalAudit } from './refusal-audit'
import { accessKeyRoutes } from './routes/access-keys'
import { accountRoutes } from './routes/accounts'
import { auditRoutes } from './routes/audit'
import { blacklistRoutes } from './routes/blacklist'
import { caRoutes } from './routes/cas'
import { configRoutes, type ConfigReload } from './routes/config'
import { connectionRoutes } from './routes/connections'
import { deviceRoutes } from './routes/devices'
import { explainRoutes } from './routes/explain'
import { healthRoutes } from './routes/health'
import { instanceRoutes } from './routes/instances'
import { keyRoutes } from './routes/keys'
import { backendPasswordRoutes } from './routes/backend-password'
import { policyRoutes } from './routes/policies'
import { staticAccountRoutes } from './routes/static-accounts'

/**
 * The admin HTTP API (DESIGN §3 "Admin API"). Lifecycle of a /v1 request:
 *
 *   onRequest (child logger with requestId) → content-type parser (keeps the raw bytes, capped at
 *   limits.maxAdminBodyBytes → 413 BODY_TOO_LARGE) → preHandler: signature check (401/403 +
 *   aggregated audit) → preHandler: authorization of the route's action on its resource (403
 *   ACCESS_DENIED + aggregated audit; DESIGN §4) →
 *   handler (changes audited with before/after) → error handler ({code, message, requestId}) →
 *   onResponse (one log line: method, path, status, time; never the body or Authorization).
 *
 * Every /v1 route declares its admin action in its route `config`; one without fails to register
 * (the onRoute hook below), so there is no route the authorization step does not decide.
 *
 * `/healthz`, `/readyz`, `/metrics` are unsigned, for probes and scrapers; so are the API reference
 * (`/openapi.json`, rendered at `/docs`) and the index at `/` (openapi/install.ts).
 *
 * Route schemas document, they do not validate or filter (openapi/operation.ts): every route
 * declares its request and answers as the zod schemas its handler parses with, and fastify is
 * told to accept every request (zod decides, in the handler, after the signature) and to answer
 * with JSON.stringify (a response schema never drops a field silently).
 */
export interface AdminServerOptions {
  /** The /v1 route plugins (default: v1Routes(ctx)); each route must declare its admin action. */
  routes?: readonly FastifyPluginAsync[]
  /** What `POST /v1/config/reload` reloads (routes/config.ts): the gateway's; absent, the route answers NOT_FOUND. */
  configReload?: ConfigReload
}

/** The /v1 API, in registration order. */
export function v1Routes(ctx: AdminContext, configReload?: ConfigReload): FastifyPluginAsync[] {
  return [
    instanceRoutes(ctx), caRoutes(ctx), deviceRoutes(ctx), connectionRoutes(ctx), accessKeyRoutes(ctx),
    staticAccountRoutes(ctx), blacklistRoutes(ctx), auditRoutes(ctx), accountRoutes(ctx), policyRoutes(ctx),
    configRoutes(configReload), keyRoutes(ctx), backendPasswordRoutes(ctx), explainRoutes(ctx),
  ]
}

export function createAdminServer(ctx: AdminContext, opts: AdminServerOptions = {}): FastifyInstance {
  const app = Fastify({
    loggerInstance: ctx.logger.child({ component: 'admin' }) as FastifyBaseLogger,
    // Our own one-line-per-request log below; fastify's default would log the URL with its query.
    logController: new LogController({ disableRequestLogging: true, requestIdLogLabel: 'requestId' }),
    genReqId: () => randomUUID(),
    bodyLimit: ctx.limits.maxAdminBodyBytes,
    // A stop must not wait on idle keep-alive sockets of admin clients.
    forceCloseConnections: true,
  })

  app.setValidatorCompiler(() => () => true)
  app.setSerializerCompiler(() => (data) => JSON.stringify(data))
  installOpenApi(app)

  app.removeAllContentTypeParsers()
  app.addContentTypeParser('application/json', { parseAs: 'buffer' }, (req, body, done) => {
    const raw = body as Buffer
    req.rawBody = raw
    if (raw.length === 0) return done(null, undefined)
    try {
      done(null, JSON.parse(raw.toString('utf8')) as unknown)
    } catch {
      done(new PortcullisError('VALIDATION_FAILED', 'the request body is not valid JSON'), undefined)
    }
  })

  app.addHook('onSend', async (req, reply) => {
    void reply.header('x-request-id', req.id)
  })
  app.addHook('onResponse', async (req, reply) => {
    req.log.info({ method: req.method, path: req.url.split('?')[0], statusCode: reply.statusCode, ms: Math.round(reply.elapsedTime) }, 'admin request')
  })

  app.setErrorHandler((err, req, reply) => {
    const { status, body } = toErrorResponse(err, req.id)
    if (status >= 500) req.log.error(errorLogFields(err), 'admin request failed')
    void reply.status(status).type('application/json').send(body)
  })
  app.setNotFoundHandler((req, reply) => {
    void reply.status(404).send({ code: 'NOT_FOUND', message: `no route ${req.method} ${req.url.split('?')[0]}`, requestId: req.id })
  })

  // Refused requests are audited in aggregate; what is still counted is recorded when the server closes.
  const refusals = new RefusalAudit((input) => ctx.audit.record(input), ctx.refusedRequestAudit)
  app.addHook('onClose', async () => refusals.close())

  app.register(healthRoutes(ctx))
  app.register(import('./console')) // the web console at /console/: static files, unsigned (src/admin/console.ts)
  app.register(
    async (v1) => {
      v1.addHook('onRoute', requireAdminAction)
      v1.addHook('preHandler', signatureHook(ctx, refusals))
      v1.addHook('preHandler', authorizationHook(ctx, refusals))
      for (const routes of opts.routes ?? v1Routes(ctx, opts.configReload)) await v1.register(routes)
    },
    { prefix: '/v1' },
  )
  return app
}
