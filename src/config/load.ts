import { readFileSync } from 'node:fs'
import { parse as parseYaml } from 'yaml'
import { PortcullisError } from '../errors'
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
])
const PREFIX = 'PORTCULLIS_'

export interface LoadOptions {
  file?: string
  env?: NodeJS.ProcessEnv
}

export function loadConfig(options: LoadOptions = {}): Config {
  const env = options.env ?? process.env
  const file = options.file ?? env.PORTCULLIS_CONFIG
  const raw = file === undefined ? {} : readYaml(file)
  applyEnvOverrides(raw, env)
  const result = configSchema.safeParse(raw)
  if (!result.success) {
    const problems = result.error.issues.map((issue) => {
      const keys = 'keys' in issue && Array.isArray(issue.keys) ? issue.keys : []
      const path = [...issue.path, ...keys.slice(0, 1)].join('.') || '(root)'
      return `${path}: ${issue.message}`
    })
    throw new PortcullisError('CONFIG_INVALID', `invalid configuration${file ? ` in ${file}` : ''}:\n  ${problems.join('\n  ')}`)
  }
  return deepFreeze(result.data)
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

function applyEnvOverrides(target: Record<string, unknown>, env: NodeJS.ProcessEnv): void {
  for (const [name, value] of Object.entries(env)) {
    if (!name.startsWith(PREFIX) || NOT_CONFIG_VARIABLES.has(name) || value === undefined) continue
    const path = name.slice(PREFIX.length).split('__').map(snakeToCamel)
    if (path.some((segment) => segment === '' || segment === '__proto__' || segment === 'constructor')) {
      throw new PortcullisError('CONFIG_INVALID', `environment variable ${name} does not name a configuration key`)
    }
    setPath(target, path, parseValue(value))
  }
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
