import { existsSync, readFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import type { SwaggerOptions } from '@fastify/swagger'
import { adminResource } from '../authorization/resource'
import type { Tag } from './operation'
import { isPageRoute } from './route-inventory'
import { securitySchemes, SIGNING_DESCRIPTION } from './signing-doc'

/**
 * The @fastify/swagger options of the admin server: an OpenAPI 3.1 document built from the route
 * schemas (operation.ts), with the request signing as security schemes (signing-doc.ts), and two
 * touches on what the plugin produces:
 * - each signed operation gets `x-portcullis-resource`, the resource its action is decided on,
 *   computed by the authorization's own adminResource from the route pattern, so the document
 *   says exactly what a policy must name;
 * - a body the route accepts absent (`x-portcullis-body-optional`, set where the schema accepts
 *   `{}`) is `requestBody.required: false`; the plugin marks every body required.
 */
const TAG_TEXT: Readonly<Record<Tag, string>> = {
  'Instances': 'MQTT clusters and AMQP instances: hostnames (SNI), backend, tunnel type, server certificate',
  'CA certificates': 'Registration codes and the CA certificates of an MQTT instance (at most 32)',
  'Device certificates': 'Device (client) certificates under the registered CAs',
  'Connections': 'Live sessions on every replica, and kicking them',
  'AccessKeys': 'AccessKeys (secrets shown once) and STS security tokens',
  'Static accounts': 'Static AMQP username/password (CreateAccount)',
  'Blacklist': 'Refused accounts, keys, clients, certificates and addresses',
  'Audit': 'The hash-chained audit log: query and live stream (server-sent events)',
  'Accounts': 'Accounts and sub-accounts that AccessKeys belong to',
  'Policies': 'Allow/Deny policies and their attachments to principals',
  'Operations': 'Configuration reload and other operations on the running gateway',
  'Probes': 'Unsigned health, readiness and metrics endpoints',
  'Reference': 'This document, its rendering at /docs, and the index at /',
}

const DESCRIPTION = `The admin API of Portcullis, the security gateway for MQTT and AMQP 0-9-1 brokers.
This document is generated from the schemas the server validates requests with; /docs renders it.

Conventions (DESIGN §3): JSON bodies; errors are \`{code, message, requestId}\` with the HTTP status
of the code (each operation lists the codes it can give); list calls answer \`{items, nextToken?}\`
(pass \`nextToken\` back for the next page, \`limit\` up to 1000); a CA's and a device
certificate's id is the lowercase hex SHA-256 of its DER; times are ISO 8601 UTC. Every answer
carries \`x-request-id\`. Each signed operation names its admin action (\`x-portcullis-action\`)
and the resource it is decided on (\`x-portcullis-resource\`) for policies (docs/authorization.md).

${SIGNING_DESCRIPTION}`

/** What a path parameter stands for in `x-portcullis-resource`: `{id}`, as in the path. */
function placeholders(url: string): Record<string, string> {
  return Object.fromEntries([...url.matchAll(/:([A-Za-z0-9_]+)/g)].map(([, name]) => [name, `{${name}}`]))
}

type Operation = { requestBody?: { required?: boolean }; 'x-portcullis-body-optional'?: boolean }

export function swaggerOptions(): SwaggerOptions {
  return {
    openapi: {
      openapi: '3.1.0',
      info: { title: 'Portcullis admin API', version: packageVersion(), description: DESCRIPTION, license: { name: 'Apache-2.0', identifier: 'Apache-2.0' } },
      components: { securitySchemes },
      tags: Object.entries(TAG_TEXT).map(([name, description]) => ({ name, description })),
    },
    transform: ({ schema, url }) => {
      // The pages (the console's files, this reference's UI) are not API operations.
      if (isPageRoute(url)) return { schema: { ...schema, hide: true }, url }
      const action = (schema as Record<string, unknown> | undefined)?.['x-portcullis-action']
      if (action === undefined) return { schema, url }
      return { schema: { ...schema, 'x-portcullis-resource': adminResource(url, placeholders(url)) }, url }
    },
    transformObject: (documentObject) => {
      const doc = 'openapiObject' in documentObject ? documentObject.openapiObject : documentObject.swaggerObject
      for (const item of Object.values(doc.paths ?? {})) {
        for (const operation of Object.values(item ?? {}) as Operation[]) {
          if (typeof operation !== 'object' || operation === null || !('x-portcullis-body-optional' in operation)) continue
          if (operation.requestBody !== undefined) operation.requestBody.required = false
          delete operation['x-portcullis-body-optional']
        }
      }
      return doc
    },
  }
}

/** The version in portcullis's package.json, the nearest one above this file (src/ or dist/src/). */
function packageVersion(from: string = __dirname): string {
  for (let dir = from; dirname(dir) !== dir; dir = dirname(dir)) {
    const file = join(dir, 'package.json')
    if (!existsSync(file)) continue
    const pkg = JSON.parse(readFileSync(file, 'utf8')) as { name?: unknown; version?: unknown }
    if (pkg.name === 'portcullis' && typeof pkg.version === 'string') return pkg.version
  }
  return '0.0.0'
}
