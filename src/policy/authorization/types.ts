/**
 * The authorization model (DESIGN §4 "Accounts and authorization"), as plain data: policy
 * documents of Allow/Deny statements over actions and resources, and what a decision answers.
 * Everything under src/policy/authorization/ is pure: no I/O, no clock, no store.
 */

export type Effect = 'Allow' | 'Deny'

export interface Statement {
  readonly effect: Effect
  /** Action names or patterns: `mqtt:Publish`, `mqtt:*`, `admin:List*`, `*`. */
  readonly actions: readonly string[]
  /** Resource patterns: `*` (any run of characters), `${variable}`, and in MQTT topic resources `+` and `#`. */
  readonly resources: readonly string[]
}

export interface PolicyDocument {
  readonly name: string
  readonly statements: readonly Statement[]
}

/**
 * What the variables of resource patterns stand for in one session or request. A variable the
 * session lacks (undefined or empty) makes the pattern that uses it match nothing.
 */
export interface PolicyVariables {
  readonly clientId?: string
  readonly username?: string
  readonly certCommonName?: string
  readonly deviceId?: string
  readonly accessKeyId?: string
}

export const POLICY_VARIABLES = ['clientId', 'username', 'certCommonName', 'deviceId', 'accessKeyId'] as const
export type PolicyVariable = (typeof POLICY_VARIABLES)[number]

/** Which statement decided: the explicit Deny that matched, else the Allow that matched. */
export interface DecidingStatement {
  readonly policy: string
  /** Index into the policy's `statements`. */
  readonly statement: number
}

export type Decision =
  | { readonly allowed: true; readonly by: DecidingStatement }
  /** `by` absent: no statement matched, so the implicit deny decided. */
  | { readonly allowed: false; readonly by?: DecidingStatement }

/** Data-path actions and the resource form each one is decided on. */
export const MQTT_ACTIONS = ['mqtt:Connect', 'mqtt:Publish', 'mqtt:Subscribe', 'mqtt:Receive'] as const
export type MqttAction = (typeof MQTT_ACTIONS)[number]
/** `mqtt:<instanceId>:topic/<topic or filter>`: the actions whose resources are MQTT topics. */
export type MqttTopicAction = Exclude<MqttAction, 'mqtt:Connect'>

export const AMQP_ACTIONS = ['amqp:Connect', 'amqp:Publish', 'amqp:Consume', 'amqp:Purge', 'amqp:Declare', 'amqp:Delete', 'amqp:Bind'] as const
export type AmqpAction = (typeof AMQP_ACTIONS)[number]

/**
 * One action per admin route (src/admin/routes/*): `admin:<Verb><Resource>`. A route without an
 * action here cannot be registered (src/admin/authorization/).
 */
export const ADMIN_ACTIONS = [
  'admin:CreateInstance', 'admin:ListInstances', 'admin:GetInstance', 'admin:UpdateInstance', 'admin:DeleteInstance',
  'admin:CreateRegistrationCode', 'admin:RegisterCa', 'admin:ListCas', 'admin:GetCa', 'admin:ActivateCa', 'admin:DeactivateCa', 'admin:DeleteCa',
  'admin:ListDevices', 'admin:GetDevice', 'admin:RegisterDevice', 'admin:ActivateDevice', 'admin:DeactivateDevice', 'admin:RevokeDevice',
  'admin:ListConnections', 'admin:KickConnection',
  'admin:CreateAccessKey', 'admin:ListAccessKeys', 'admin:GetAccessKey', 'admin:UpdateAccessKey', 'admin:DeleteAccessKey', 'admin:IssueSecurityToken',
  'admin:CreateStaticAccount', 'admin:ListStaticAccounts', 'admin:DeleteStaticAccount',
  'admin:AddBlacklistEntry', 'admin:ListBlacklist', 'admin:GetBlacklistEntry', 'admin:RemoveBlacklistEntry',
  'admin:ListAudit', 'admin:StreamAudit',
  'admin:CreateAccount', 'admin:ListAccounts', 'admin:GetAccount', 'admin:DeleteAccount',
  'admin:PutPolicy', 'admin:ListPolicies', 'admin:GetPolicy', 'admin:DeletePolicy',
  'admin:AttachPolicy', 'admin:ListPolicyAttachments', 'admin:DetachPolicy',
  'admin:ReloadConfig', 'admin:GetKeyStatus', 'admin:RotateKeys', 'admin:RotateBackendPassword',
  'admin:Explain',
] as const
export type AdminAction = (typeof ADMIN_ACTIONS)[number]

export type Action = MqttAction | AmqpAction | AdminAction
export const ACTIONS: readonly Action[] = [...MQTT_ACTIONS, ...AMQP_ACTIONS, ...ADMIN_ACTIONS]

/**
 * Who a policy is attached to (DESIGN §4): `account:<id>`, `accessKey:<id>`, `instance:<id>`,
 * `ca:<instanceId>/<caId>`, `device:<instanceId>/<deviceId>`.
 */
export type Principal = `account:${string}` | `accessKey:${string}` | `instance:${string}` | `ca:${string}/${string}` | `device:${string}/${string}`

/**
 * The compiled form of a set of policies, for the hot path. Same answers as `decide()` (the
 * reference, decide.ts) for every action, resource and variables; property tests hold the two
 * together.
 */
export interface CompiledPolicies {
  decide(action: Action, resource: string, vars: PolicyVariables): Decision
  /**
   * The decision on `mqtt:<instanceId>:topic/<topic>` for one topic action, without building the
   * resource string: a walk of a topic trie. `topic` is a topic name (Publish, Receive) or a
   * filter (Subscribe).
   */
  topics(action: MqttTopicAction, instanceId: string): TopicDecider
}

export interface TopicDecider {
  decide(topic: string, vars: PolicyVariables): Decision
  /** `decide(…).allowed`, without building a Decision: the call on every PUBLISH. */
  allows(topic: string, vars: PolicyVariables): boolean
}
