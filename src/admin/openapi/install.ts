import swagger from '@fastify/swagger'
import swaggerUi from '@fastify/swagger-ui'
import type { FastifyInstance } from 'fastify'
import { swaggerOptions } from './document'
import { referenceRoutes } from './reference-routes'
import { recordRoutes } from './route-inventory'

/**
 * The content security policy of /docs: everything from this server, nothing from anywhere else
 * (the swagger-ui assets are served from the package, no CDN). swagger-ui sets style attributes,
 * hence 'unsafe-inline' for styles only; no script runs inline.
 */
const DOCS_CSP = "default-src 'self'; base-uri 'self'; frame-ancestors 'self'; object-src 'none'; script-src 'self'; script-src-attr 'none'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; font-src 'self' data:; connect-src 'self'"

/**
 * The API reference on the admin server (DESIGN §4 "Operator interfaces"), unsigned: the document
 * at `/openapi.json`, swagger-ui at `/docs` (its own copy at `/docs/json`), and `/` pointing to
 * both and to the console. Call before any route is registered: the plugin and the route
 * inventory (route-inventory.ts) see only the routes registered after them.
 */
export function installOpenApi(app: FastifyInstance): void {
  recordRoutes(app)
  void app.register(swagger, swaggerOptions())
  void app.register(swaggerUi, {
    routePrefix: '/docs',
    staticCSP: DOCS_CSP,
    theme: { title: 'Portcullis admin API' },
    // No call to validator.swagger.io (swagger-ui's default badge); "Try it out" cannot sign requests.
    uiConfig: { validatorUrl: null, deepLinking: true, docExpansion: 'list', supportedSubmitMethods: ['get'] },
  })
  void app.register(referenceRoutes())
}
