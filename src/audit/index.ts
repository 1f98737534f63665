/** The audit subsystem's public surface (DESIGN §3 "Audit events"). */
export { AuditLog, type AuditLogOptions } from './audit-log'
export { canonicalJson } from './canonical-json'
export {
  GENESIS_PREV,
  type AuditActor, type AuditEvent, type AuditEventType, type AuditInput, type AuditReason, type AuditSource,
} from './event'
export { computeEventHash } from './hash-chain'
export type { AuditFilter } from './filter'
export {
  createAuditQuery, followAudit, LocalAuditQuery, DEFAULT_QUERY_LIMIT, MAX_QUERY_LIMIT,
  type AuditQuery, type AuditQueryResult, type AuditQueryWiring, type LiveFilter,
} from './query'
export { RedisAuditQuery, type RedisAuditQueryOptions } from './redis-query'
export type { RecentFilter } from './recent-ring'
export { REDACTED, toRedactedJson } from './redact'
export { createAuditSinks, FileSink, RedisStreamSink, StdoutSink, type AuditSink, type AuditSinkSpec } from './sinks'
export { verifyChain, verifyFile, type VerifyOptions, type VerifyResult } from './verify'
