import { readFileSync } from 'node:fs'
import { parse as parseYaml } from 'yaml'
import { PortcullisError } from '../errors'
import { closest, lookUp, PREFIX, variableNames, variableOf } from './env-names'
import { configSchema, type Config } from './schema'

/**
 * Loads the configuration once: YAML file → PORTCULLIS_* overrides → schema → deep freeze.
 *
 * Overrides: `PORTCULLIS_<PATH>` where `__` separates levels and SNAKE_CASE maps to camelCase,
 * e.g. `PORTCULLIS_ADMIN__PORT=9090`, `PORTCULLIS_STORE__KIND=redis`,
 * `PORTCULLIS_LIMITS__HANDSHAKE_TIMEOUT_MS=5000`. A value is read as JSON when it parses
 * (numbers, booleans, arrays), else as a string. The variables in NOT_CONFIG_VARIABLES are not
 * config keys; they are read by readSecrets() and never end up in the frozen config.
 */
const NOT_CONFIG_VARIABLES = new Set([
  'PORTCULLIS_ROOT_ACCESS_KEY_ID', 'PORTCULLIS_ROOT_ACCESS_KEY_SECRET', 'PORTCULLIS_MASTER_KEY',
  'PORTCULLIS_MASTER_KEY_ID', 'PORTCULLIS_MASTER_KEY_FILE', 'PORTCULLIS_ADMIN_URL',
  'PORTCULLIS_ACCESS_KEY_ID', 'PORTCULLIS_ACCESS_KEY_SECRET', 'PORTCULLIS_REQUIRE_SERVICES',
  'PORTCULLIS_CONFIG', 'PORTCULLIS_WORKER', 'PORTCULLIS_WORKER_PORTS',
  // The default `masterKey.pinEnv` (schema.ts): the PKCS#11 token PIN, read by the key loader.
  'PORTCULLIS_PKCS11_PIN',
])

export interface LoadOptions {
  file?: string
  env?: NodeJS.ProcessEnv
}

export function loadConfig(options: LoadOptions = {}): Config {
  const env = options.env ?? process.env
  const file = options.file ?? env.PORTCULLIS_CONFIG
  const raw = file === undefined ? {} : readYaml(file)
  const { applied, unknown } = applyEnvOverrides(raw, env)
  const result = configSchema.safeParse(raw)
  if (!result.success || unknown.length > 0) {
    const problems = [...unknown, ...(result.success ? [] : result.error.issues.map((issue) => {
      const keys = 'keys' in issue && Array.isArray(issue.keys) ? issue.keys : []
      const path = [...issue.path, ...keys.slice(0, 1)].map(String)
      return `${path.join('.') || '(root)'}: ${issue.message}${fromEnvironment(path, applied)}`
    }))]
    const where = [file !== undefined ? `in ${file}` : '', applied.length > 0 || unknown.length > 0 ? 'with the PORTCULLIS_* environment overrides' : ''].filter((w) => w !== '').join(' ')
    throw new PortcullisError('CONFIG_INVALID', `invalid configuration${where === '' ? '' : ` ${where}`}:\n  ${problems.join('\n  ')}`)
  }
  return deepFreeze(result.data)
}

/** An override applied at `path` (camelCase segments), by the variable `name`. */
interface Override {
  name: string
  path: string[]
}

/**
 * Which overrides a problem concerns: ` (set by environment variable …)` when one set the key at
 * fault or a key above or below it; `(environment variable … sets store.url)` when one set a key
 * next to it (an object made by overrides alone can miss its other keys, e.g. `store.kind`).
 */
function fromEnvironment(path: readonly string[], applied: readonly Override[]): string {
  const direct = applied.filter((o) => isPrefix(o.path, path) || isPrefix(path, o.path))
  if (direct.length > 0) {
    const objectKeys = direct.length === 1 && direct[0]?.path.length === path.length ? keysUnder(path) : []
    const instead = objectKeys.length === 0 ? '' : `; it is an object: set its keys instead, e.g. ${variableOf([...path, objectKeys[0] ?? ''])}`
    return ` (set by environment variable ${direct.map((o) => o.name).join(', ')}${instead})`
  }
  const siblings = applied.filter((o) => o.path.length > 1 && isPrefix(o.path.slice(0, -1), path))
  return siblings.length === 0 ? '' : ` (${siblings.map((o) => `environment variable ${o.name} sets ${o.path.join('.')}`).join('; ')})`
}

/** The keys of the object at `path`, or none when it is no object. */
function keysUnder(path: readonly string[]): string[] {
  const found = lookUp(configSchema, [...path, '\u0000'])
  return found.known || found.at.length !== path.length ? [] : found.keys
}

function isPrefix(prefix: readonly string[], path: readonly string[]): boolean {
  return prefix.length <= path.length && prefix.every((segment, i) => segment === path[i])
}

function readYaml(file: string): Record<string, unknown> {
  let text: string
  try {
    text = readFileSync(file, 'utf8')
  } catch (err) {
    throw new PortcullisError('CONFIG_INVALID', `cannot read configuration file ${file}: ${(err as Error).message}`, { cause: err })
  }
  let doc: unknown
  try {
    doc = parseYaml(text)
  } catch (err) {
    throw new PortcullisError('CONFIG_INVALID', `${file} is not valid YAML: ${(err as Error).message}`, { cause: err })
  }
  if (doc === null || doc === undefined) return {}
  if (typeof doc !== 'object' || Array.isArray(doc)) {
    throw new PortcullisError('CONFIG_INVALID', `${file} must hold a mapping at the top level`)
  }
  return doc as Record<string, unknown>
}

/**
 * Applies every PORTCULLIS_* variable that names a key, and answers those that name none, each
 * problem naming the variable and the closest known one (or the keys where its path stops): a
 * stray variable is refused at start like a typo in the file, but said in the variable's terms.
 * Values are never repeated in a message (an override may carry a password).
 */
function applyEnvOverrides(target: Record<string, unknown>, env: NodeJS.ProcessEnv): { applied: Override[]; unknown: string[] } {
  const applied: Override[] = []
  const unknown: string[] = []
  for (const [name, value] of Object.entries(env)) {
    if (!name.startsWith(PREFIX) || NOT_CONFIG_VARIABLES.has(name) || value === undefined) continue
    const path = name.slice(PREFIX.length).split('__').map(snakeToCamel)
    if (path.some((segment) => segment === '' || segment === '__proto__' || segment === 'constructor')) {
      unknown.push(`environment variable ${name} does not name a configuration key: levels are separated by __ (e.g. PORTCULLIS_ADMIN__PORT)`)
      continue
    }
    const found = lookUp(configSchema, path)
    if (!found.known) {
      unknown.push(`${path.join('.')}: Unrecognized key: environment variable ${name} names no configuration key; ${suggestionFor(name, found)}`)
      continue
    }
    setPath(target, path, parseValue(value))
    applied.push({ name, path })
  }
  return { applied, unknown }
}

let knownVariables: string[] | undefined

/** "did you mean …?" when a known name is close, else the keys that exist where the path stopped. */
function suggestionFor(name: string, found: { at: string[]; keys: string[] }): string {
  knownVariables ??= [...variableNames(configSchema), ...NOT_CONFIG_VARIABLES]
  const near = closest(name, knownVariables)
  if (near !== undefined) return `did you mean ${near}?`
  const where = found.at.length === 0 ? 'the top level' : found.at.join('.')
  const known = found.keys.map((k) => `${variableOf([...found.at, k])}${keysUnder([...found.at, k]).length > 0 ? '__…' : ''}`)
  return `known at ${where}: ${known.join(', ')}${found.at.length === 0 ? `; not config keys: ${[...NOT_CONFIG_VARIABLES].join(', ')}` : ''}`
}

function snakeToCamel(segment: string): string {
  return segment.toLowerCase().replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase())
}

function parseValue(value: string): unknown {
  try {
    return JSON.parse(value)
  } catch {
    return value
  }
}

function setPath(target: Record<string, unknown>, path: string[], value: unknown): void {
  let node: Record<string, unknown> = target
  for (const [i, key] of path.entries()) {
    if (i === path.length - 1) {
      node[key] = value
      return
    }
    const next = node[key]
    if (typeof next !== 'object' || next === null) node[key] = {}
    node = node[key] as Record<string, unknown>
  }
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value)
    for (const child of Object.values(value)) deepFreeze(child)
  }
  return value
}

/** Secrets and client settings that come only from the environment (never from the YAML). */
export interface EnvSecrets {
  rootAccessKeyId?: string
  rootAccessKeySecret?: string
  masterKey?: string
  masterKeyId?: string
  masterKeyFile?: string
  adminUrl?: string
  accessKeyId?: string
  accessKeySecret?: string
  requireServices: boolean
}

/** A variable the config names (e.g. `masterKey.pinEnv`), read here so only this module reads the environment. */
export function readNamedVariable(env: NodeJS.ProcessEnv, name: string): string | undefined {
  const value = env[name]
  return value === undefined || value === '' ? undefined : value
}

export function readSecrets(env: NodeJS.ProcessEnv = process.env): EnvSecrets {
  const out: EnvSecrets = { requireServices: env.PORTCULLIS_REQUIRE_SERVICES === '1' }
  const pick = (key: keyof Omit<EnvSecrets, 'requireServices'>, name: string): void => {
    const v = env[name]
    if (v !== undefined && v !== '') out[key] = v
  }
  pick('rootAccessKeyId', 'PORTCULLIS_ROOT_ACCESS_KEY_ID')
  pick('rootAccessKeySecret', 'PORTCULLIS_ROOT_ACCESS_KEY_SECRET')
  pick('masterKey', 'PORTCULLIS_MASTER_KEY')
  pick('masterKeyId', 'PORTCULLIS_MASTER_KEY_ID')
  pick('masterKeyFile', 'PORTCULLIS_MASTER_KEY_FILE')
  pick('adminUrl', 'PORTCULLIS_ADMIN_URL')
  pick('accessKeyId', 'PORTCULLIS_ACCESS_KEY_ID')
  pick('accessKeySecret', 'PORTCULLIS_ACCESS_KEY_SECRET')
  return out
}
