import { existsSync } from 'node:fs'
import { dirname, join } from 'node:path'
import fastifyStatic from '@fastify/static'
import type { FastifyPluginAsync, FastifyReply } from 'fastify'
import { PortcullisError } from '../errors'

/**
 * The web console (DESIGN §4 "Operator interfaces"): the files `npm run build` writes to
 * dist/console/ (console/, Vite + Preact), served unsigned at `/console/`. The files hold no data
 * and no secret: every data call the page makes is a signed `/v1` request (console/src/api/), so
 * serving them needs no authentication, exactly like `/healthz`.
 *
 * Headers: the page holds an AccessKey secret in memory, so it gets a strict Content-Security-Policy
 * (scripts, styles and connections from this origin only, no framing, no inline script) and no
 * Referer leaves it. index.html is revalidated on every load (a rebuilt console takes effect at
 * once); the hashed files under assets/ never change and are cached for a year.
 */
export const CONSOLE_PREFIX = '/console/'

export const CONSOLE_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data: blob:",
  "connect-src 'self'",
  "font-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ')

export interface ConsoleOptions {
  /** The built console (a directory holding index.html); default: consoleDirectory(searchFrom). */
  root?: string
  /** Where consoleDirectory starts looking (default: this file's directory). */
  searchFrom?: string
}

/**
 * dist/console under the package root: the nearest directory above this file that holds a
 * package.json (the checkout when run from src/ by the tests or from dist/src/, /app in the image).
 * Undefined when the console was not built there.
 */
export function consoleDirectory(from: string = __dirname): string | undefined {
  for (let dir = from; ; dir = dirname(dir)) {
    if (existsSync(join(dir, 'package.json'))) {
      const built = join(dir, 'dist', 'console')
      return existsSync(join(built, 'index.html')) ? built : undefined
    }
    if (dirname(dir) === dir) return undefined
  }
}

function securityHeaders(reply: FastifyReply, path: string): void {
  void reply.header('content-security-policy', CONSOLE_CSP)
  void reply.header('x-content-type-options', 'nosniff')
  void reply.header('x-frame-options', 'DENY')
  void reply.header('referrer-policy', 'no-referrer')
  void reply.header('cross-origin-opener-policy', 'same-origin')
  const immutable = /[\\/]assets[\\/][^\\/]+$/.test(path)
  void reply.header('cache-control', immutable ? 'public, max-age=31536000, immutable' : 'no-cache')
}

export function consoleRoutes(opts: ConsoleOptions = {}): FastifyPluginAsync {
  return async (app) => {
    const root = opts.root ?? consoleDirectory(opts.searchFrom)
    if (root === undefined) {
      // Not built (a checkout after `tsc` alone): say how to get it rather than a bare 404.
      const notBuilt = async (): Promise<never> => {
        throw new PortcullisError('NOT_FOUND', 'the web console is not built: run `npm run build` (it writes dist/console/)')
      }
      app.get('/console', notBuilt)
      app.get('/console/*', notBuilt)
      return
    }
    // The bare prefix: the page's URLs are under /console/, so send the browser there.
    app.get('/console', async (_req, reply) => reply.redirect(CONSOLE_PREFIX, 301))
    await app.register(fastifyStatic, {
      root,
      prefix: CONSOLE_PREFIX,
      index: 'index.html',
      // Other plugins (the API reference at /docs) may register @fastify/static too.
      decorateReply: false,
      cacheControl: false,
      dotfiles: 'deny',
      setHeaders: securityHeaders,
    })
  }
}

/** The plugin as src/admin/server.ts registers it (`app.register(import('./console'))`). */
const plugin: FastifyPluginAsync = consoleRoutes()
export default plugin
