/**
 * What an API server would say about a rendered manifest, without one:
 *  - modelErrors: the kind's model class from npm `kubernetes-models` (Kubernetes' OpenAPI schema,
 *    compiled): required fields, types, enums, formats;
 *  - unknownFieldErrors: those schemas do not refuse unknown fields (the server does, with
 *    `kubectl apply --validate=strict`, the default since 1.25), so every manifest is also
 *    type-checked by TypeScript against the kind's interface (`IDeployment`, …) as an object
 *    literal, whose excess-property check names any field the API does not define;
 *  - crdErrors: ServiceMonitor and PrometheusRule (prometheus-operator's monitoring.coreos.com/v1)
 *    against the part of their CRD schemas the chart uses, with unknown fields refused.
 */
import { join } from 'node:path'
import Ajv, { type ValidateFunction } from 'ajv'
import ts from 'typescript'
import { ROOT, type K8sObject } from './chart'

const CRD_GROUP = 'monitoring.coreos.com/v1'

/** The model class of a built-in kind: kubernetes-models/<group>/<version>/<Kind>. */
function modelClass(obj: K8sObject): (new (data: unknown) => { validate(): void }) | undefined {
  if (!/^([a-z0-9.-]+\/)?v[0-9a-z]+$/.test(obj.apiVersion) || !/^[A-Z][A-Za-z0-9]+$/.test(obj.kind)) return undefined
  try {
    const mod = require(`kubernetes-models/${obj.apiVersion}/${obj.kind}`) as Record<string, unknown>
    return mod[obj.kind] as new (data: unknown) => { validate(): void }
  } catch {
    return undefined
  }
}

export function isBuiltIn(obj: K8sObject): boolean {
  return modelClass(obj) !== undefined
}

/** undefined when valid; the validation message otherwise (or that no model exists). */
export function modelErrors(obj: K8sObject): string | undefined {
  const Model = modelClass(obj)
  if (Model === undefined) return `no kubernetes-models class for ${obj.apiVersion} ${obj.kind}`
  try {
    new Model(obj).validate()
    return undefined
  } catch (err) {
    return (err as Error).message
  }
}

/**
 * Unknown or mistyped fields of every built-in manifest, by index in `objects`: one TypeScript
 * program (one virtual file per manifest) so the kubernetes-models declarations load once.
 */
export function unknownFieldErrors(objects: readonly K8sObject[]): string[][] {
  const dir = join(ROOT, 'test/helm/.virtual')
  const files = new Map<string, string>()
  objects.forEach((obj, i) => {
    files.set(join(dir, `m${i}.ts`), [
      `import type { I${obj.kind} } from 'kubernetes-models/${obj.apiVersion}/${obj.kind}'`,
      `export const manifest: I${obj.kind} = ${JSON.stringify(obj, null, 2)}`,
      '',
    ].join('\n'))
  })
  const options: ts.CompilerOptions = {
    strict: true, noEmit: true, skipLibCheck: true, types: [], lib: ['lib.es2022.d.ts'],
    module: ts.ModuleKind.CommonJS, moduleResolution: ts.ModuleResolutionKind.Node10, target: ts.ScriptTarget.ES2022,
  }
  const host = ts.createCompilerHost(options)
  const readFile = host.readFile.bind(host)
  const fileExists = host.fileExists.bind(host)
  const getSourceFile = host.getSourceFile.bind(host)
  host.readFile = (f) => files.get(f) ?? readFile(f)
  host.fileExists = (f) => files.has(f) || fileExists(f)
  host.getSourceFile = (f, lang, onError, create) => {
    const text = files.get(f)
    return text !== undefined ? ts.createSourceFile(f, text, lang) : getSourceFile(f, lang, onError, create)
  }
  const program = ts.createProgram([...files.keys()], options, host)
  return [...files.keys()].map((f) => {
    const source = program.getSourceFile(f)
    if (source === undefined) return [`${f} not compiled`]
    return [...program.getSyntacticDiagnostics(source), ...program.getSemanticDiagnostics(source)].map((d) => {
      const where = d.start === undefined ? '' : `line ${source.getLineAndCharacterOfPosition(d.start).line + 1}: `
      return `${where}${ts.flattenDiagnosticMessageText(d.messageText, '\n')}`
    })
  })
}

// --- prometheus-operator CRDs (monitoring.coreos.com/v1, operator 0.8x), the part the chart uses.

const durationPattern = '^(0|(([0-9]+)y)?(([0-9]+)w)?(([0-9]+)d)?(([0-9]+)h)?(([0-9]+)m)?(([0-9]+)s)?(([0-9]+)ms)?)$'
const duration = { type: 'string', pattern: durationPattern }
const stringMap = { type: 'object', additionalProperties: { type: 'string' } }
const labelSelector = {
  type: 'object',
  additionalProperties: false,
  properties: {
    matchLabels: stringMap,
    matchExpressions: {
      type: 'array',
      items: {
        type: 'object', additionalProperties: false, required: ['key', 'operator'],
        properties: { key: { type: 'string' }, operator: { type: 'string' }, values: { type: 'array', items: { type: 'string' } } },
      },
    },
  },
}
const metadata = {
  type: 'object',
  required: ['name'],
  properties: { name: { type: 'string', minLength: 1 }, namespace: { type: 'string' }, labels: stringMap, annotations: stringMap },
}
// Endpoint fields of the CRD; the ones the chart sets are typed, the rest only named.
const endpointFields = [
  'authorization', 'basicAuth', 'bearerTokenFile', 'bearerTokenSecret', 'enableHttp2', 'filterRunning', 'followRedirects',
  'honorTimestamps', 'metricRelabelings', 'noProxy', 'oauth2', 'params', 'proxyConnectHeader', 'proxyFromEnvironment',
  'proxyUrl', 'relabelings', 'targetPort', 'tlsConfig', 'trackTimestampsStaleness',
]
const serviceMonitor = {
  type: 'object',
  required: ['apiVersion', 'kind', 'metadata', 'spec'],
  additionalProperties: false,
  properties: {
    apiVersion: { const: CRD_GROUP },
    kind: { const: 'ServiceMonitor' },
    metadata,
    spec: {
      type: 'object',
      additionalProperties: false,
      required: ['endpoints', 'selector'],
      properties: {
        selector: labelSelector,
        namespaceSelector: {
          type: 'object', additionalProperties: false,
          properties: { any: { type: 'boolean' }, matchNames: { type: 'array', items: { type: 'string' } } },
        },
        jobLabel: { type: 'string' },
        targetLabels: { type: 'array', items: { type: 'string' } },
        podTargetLabels: { type: 'array', items: { type: 'string' } },
        sampleLimit: { type: 'integer' },
        endpoints: {
          type: 'array',
          minItems: 1,
          items: {
            type: 'object',
            additionalProperties: false,
            properties: {
              port: { type: 'string' },
              path: { type: 'string' },
              scheme: { enum: ['http', 'https', 'HTTP', 'HTTPS'] },
              interval: duration,
              scrapeTimeout: duration,
              honorLabels: { type: 'boolean' },
              ...Object.fromEntries(endpointFields.map((f) => [f, {}])),
            },
          },
        },
      },
    },
  },
}
const prometheusRule = {
  type: 'object',
  required: ['apiVersion', 'kind', 'metadata', 'spec'],
  additionalProperties: false,
  properties: {
    apiVersion: { const: CRD_GROUP },
    kind: { const: 'PrometheusRule' },
    metadata,
    spec: {
      type: 'object',
      additionalProperties: false,
      properties: {
        groups: {
          type: 'array',
          items: {
            type: 'object',
            additionalProperties: false,
            required: ['name'],
            properties: {
              name: { type: 'string', minLength: 1 },
              interval: duration,
              labels: stringMap,
              limit: { type: 'integer' },
              query_offset: duration,
              partial_response_strategy: { type: 'string' },
              rules: {
                type: 'array',
                items: {
                  type: 'object',
                  additionalProperties: false,
                  required: ['expr'],
                  // A rule is an alert or a recording rule, never both (the operator's admission webhook).
                  oneOf: [{ required: ['alert'], not: { required: ['record'] } }, { required: ['record'], not: { required: ['alert'] } }],
                  properties: {
                    alert: { type: 'string', minLength: 1 },
                    record: { type: 'string', minLength: 1 },
                    expr: { anyOf: [{ type: 'integer' }, { type: 'string', minLength: 1 }] },
                    for: duration,
                    keep_firing_for: duration,
                    labels: stringMap,
                    annotations: stringMap,
                  },
                },
              },
            },
          },
        },
      },
    },
  },
}

let crdValidators: Record<string, ValidateFunction> | undefined

/** undefined when `obj` is no monitoring.coreos.com kind; else the list of schema errors. */
export function crdErrors(obj: K8sObject): string[] | undefined {
  if (obj.apiVersion !== CRD_GROUP) return undefined
  crdValidators ??= (() => {
    const ajv = new Ajv({ allErrors: true, strict: false })
    return { ServiceMonitor: ajv.compile(serviceMonitor), PrometheusRule: ajv.compile(prometheusRule) }
  })()
  const validate = crdValidators[obj.kind]
  if (validate === undefined) return [`no schema for ${obj.apiVersion} ${obj.kind}`]
  if (validate(obj)) return []
  return (validate.errors ?? []).map((e) => `${e.instancePath || '(root)'} ${e.message ?? e.keyword}${e.keyword === 'additionalProperties' ? ` (${String((e.params as { additionalProperty?: string }).additionalProperty)})` : ''}`)
}
