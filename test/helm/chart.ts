/**
 * The chart under test, rendered the way `helm template` would, without helm (issue 12): the Go
 * renderer in test/helm/render/main.go (text/template + sprig, Helm's value merging and YAML
 * decoding), built once per source version into a temporary directory, and values.schema.json
 * applied to the merged values with ajv before any manifest is looked at, as Helm does.
 *
 * Absent Go toolchain or sprig sources (Debian golang-go, golang-github-masterminds-sprig-dev,
 * golang-gopkg-yaml.v2-dev): goAvailable() skips loudly, or fails under
 * PORTCULLIS_REQUIRE_SERVICES=1 (test/helpers/services.ts shows the pattern).
 */
import { execFileSync } from 'node:child_process'
import { createHash, randomBytes } from 'node:crypto'
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import Ajv, { type ErrorObject, type ValidateFunction } from 'ajv'
import type { Test } from '../helpers/services'

export const ROOT = join(__dirname, '../..')
export const CHART_DIR = join(ROOT, 'helm/portcullis')
export const CI_DIR = join(CHART_DIR, 'ci')
const RENDERER_SOURCE = join(__dirname, 'render/main.go')
const GOPATH = '/usr/share/gocode'
const GO_SOURCES = ['github.com/Masterminds/sprig', 'gopkg.in/yaml.v2']
const GO_ENV = { ...process.env, GO111MODULE: 'off', GOPATH, GOFLAGS: '' }

/** Every ci/*-values.yaml scenario, by name (`minimal`, `sentinel`, …). */
export function ciScenarios(): Array<{ name: string; file: string }> {
  return readdirSync(CI_DIR)
    .filter((f) => f.endsWith('-values.yaml'))
    .sort()
    .map((f) => ({ name: f.slice(0, -'-values.yaml'.length), file: join(CI_DIR, f) }))
}

export type K8sObject = Record<string, any> & {
  apiVersion: string
  kind: string
  metadata?: { name?: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string> }
}

export interface Manifest {
  /** `portcullis/templates/<file>` */
  template: string
  /** The document as rendered. */
  text: string
  /** The document as Kubernetes reads it (YAML 1.1, JSON types). */
  object: K8sObject
}

export interface Rendered {
  values: Record<string, any>
  manifests: Manifest[]
  notes: string
}

/** What `helm template` would refuse: values against the schema, or a template error. */
export class ChartError extends Error {
  constructor(readonly stage: 'schema' | 'template', message: string, readonly schemaErrors: ErrorObject[] = []) {
    super(message)
    this.name = 'ChartError'
  }
}

/** True when the renderer can be built here; otherwise skips `t` loudly (or fails it in CI). */
export function goAvailable(t: Test): boolean {
  const missing = goMissing()
  if (missing === undefined) return true
  const message = `SKIPPED: ${missing}; install golang-go golang-github-masterminds-sprig-dev golang-gopkg-yaml.v2-dev to render the chart (set PORTCULLIS_REQUIRE_SERVICES=1 to make this a failure)`
  if (process.env.PORTCULLIS_REQUIRE_SERVICES === '1') {
    t.fail(`${missing} and PORTCULLIS_REQUIRE_SERVICES=1 requires it`)
  } else {
    process.stderr.write(`\n*** ${message} ***\n`)
    t.pass('needs go', { skip: message })
  }
  return false
}

function goMissing(): string | undefined {
  try {
    execFileSync('go', ['version'], { stdio: 'ignore', env: GO_ENV })
  } catch {
    return 'the go command is not installed'
  }
  const absent = GO_SOURCES.filter((pkg) => !existsSync(join(GOPATH, 'src', pkg)))
  return absent.length > 0 ? `Go sources missing under ${GOPATH}/src: ${absent.join(', ')}` : undefined
}

let renderer: string | undefined

/**
 * The renderer binary, built once per version of main.go and of the Go toolchain into the
 * system temp directory and then reused by every test file (and later runs).
 */
export function rendererBinary(): string {
  if (renderer !== undefined) return renderer
  const goVersion = execFileSync('go', ['version'], { env: GO_ENV, encoding: 'utf8' })
  const hash = createHash('sha256').update(goVersion).update(readFileSync(RENDERER_SOURCE)).digest('hex').slice(0, 16)
  const dir = join(tmpdir(), `portcullis-helm-render-${hash}`)
  const binary = join(dir, 'render')
  if (!existsSync(binary)) {
    const staging = `${dir}.${process.pid}.${randomBytes(4).toString('hex')}`
    mkdirSync(staging, { recursive: true })
    execFileSync('go', ['build', '-o', join(staging, 'render'), RENDERER_SOURCE], { env: GO_ENV, stdio: ['ignore', 'ignore', 'pipe'] })
    try {
      renameSync(staging, dir)
    } catch {
      // Another test file built it at the same time: theirs is as good.
      rmSync(staging, { recursive: true, force: true })
    }
  }
  renderer = binary
  return binary
}

let schemaValidator: ValidateFunction | undefined

/** values.schema.json, compiled strictly (ajv's strict mode also checks the schema itself). */
export function valuesValidator(): ValidateFunction {
  if (schemaValidator === undefined) {
    const ajv = new Ajv({ strict: true, allErrors: true, allowUnionTypes: true })
    schemaValidator = ajv.compile(JSON.parse(readFileSync(join(CHART_DIR, 'values.schema.json'), 'utf8')))
  }
  return schemaValidator
}

export interface RenderOptions {
  /** Values files, in order (`-f a -f b`). */
  files?: string[]
  /** Values given inline, applied after the files, in order (each becomes one more `-f`). */
  values?: Array<Record<string, unknown>>
  name?: string
  namespace?: string
}

/** `helm template <name> helm/portcullis -f …`: throws ChartError where helm would refuse. */
export function renderChart(options: RenderOptions = {}): Rendered {
  const scratch = mkdtempSync(join(tmpdir(), 'portcullis-helm-values-'))
  try {
    const files = [...(options.files ?? [])]
    for (const [i, values] of (options.values ?? []).entries()) {
      // JSON is YAML whose strings are all quoted: Helm's YAML 1.1 would read a bare `off` as false.
      const file = join(scratch, `inline-${i}.yaml`)
      writeFileSync(file, JSON.stringify(values))
      files.push(file)
    }
    const args = ['-chart', CHART_DIR, '-name', options.name ?? 'release', '-namespace', options.namespace ?? 'default']
    for (const f of files) args.push('-f', f)
    const out = JSON.parse(execFileSync(rendererBinary(), args, { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 })) as {
      values: Record<string, any>; manifests?: Manifest[]; notes?: string; error?: string
    }
    const validate = valuesValidator()
    if (!validate(out.values)) {
      const errors = validate.errors ?? []
      throw new ChartError('schema', `values don't meet the specifications of the schema(s):\n${errors.map(describeSchemaError).join('\n')}`, errors)
    }
    if (out.error !== undefined) throw new ChartError('template', out.error)
    return { values: out.values, manifests: out.manifests ?? [], notes: out.notes ?? '' }
  } finally {
    rmSync(scratch, { recursive: true, force: true })
  }
}

export function describeSchemaError(e: ErrorObject): string {
  const extra = e.keyword === 'additionalProperties' ? ` (${String((e.params as { additionalProperty?: string }).additionalProperty)})` : ''
  return `- ${e.instancePath || '(root)'}: ${e.message ?? e.keyword}${extra}`
}

/** The one manifest of `kind` (and `name` when given); throws when there is not exactly one. */
export function one(rendered: Rendered, kind: string, name?: string): K8sObject {
  const found = all(rendered, kind).filter((o) => name === undefined || o.metadata?.name === name)
  if (found.length !== 1) throw new Error(`expected one ${kind}${name === undefined ? '' : ` ${name}`}, rendered ${found.length}`)
  return found[0] as K8sObject
}

export function all(rendered: Rendered, kind: string): K8sObject[] {
  return rendered.manifests.map((m) => m.object).filter((o) => o.kind === kind)
}

/** The Deployment's pod spec and its (only) container. */
export function podOf(rendered: Rendered): { pod: Record<string, any>; container: Record<string, any> } {
  const pod = one(rendered, 'Deployment').spec.template.spec as Record<string, any>
  const containers = pod.containers as Array<Record<string, any>>
  if (containers.length !== 1) throw new Error(`expected one container, got ${containers.length}`)
  return { pod, container: containers[0] as Record<string, any> }
}
