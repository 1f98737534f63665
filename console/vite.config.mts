import { fileURLToPath } from 'node:url'
import preact from '@preact/preset-vite'
import { defineConfig } from 'vite'

/**
 * The web console's build (docs/console.md): `npm run build` writes it to dist/console/, which the
 * admin server serves at /console/ (src/admin/console.ts). No source maps: the sources are in the
 * repository, and the output stays small.
 */
const here = fileURLToPath(new URL('.', import.meta.url))
/**
 * `npx vite --config console/vite.config.mts` serves the sources with hot reload; the page talks to
 * its own origin, so the dev server forwards the API to a running gateway. Paths and queries pass
 * unchanged, so the page's signatures verify there (the Host header is not signed).
 */
const adminUrl = process.env.PORTCULLIS_ADMIN_URL ?? 'http://127.0.0.1:9080'

export default defineConfig({
  root: here,
  base: '/console/',
  plugins: [preact({ prerender: { enabled: false } })],
  build: {
    outDir: fileURLToPath(new URL('../dist/console', import.meta.url)),
    emptyOutDir: true,
    sourcemap: false,
    // One small app: a single chunk keeps the request count (and the CSP) simple.
    modulePreload: { polyfill: false },
    reportCompressedSize: false,
  },
  server: { proxy: { '/v1': adminUrl, '/metrics': adminUrl, '/healthz': adminUrl } },
  logLevel: 'warn',
})
