import type { z } from 'zod'
import type { AccountView } from '../../accounts/account-service'
import type { AttachmentView, PolicyView } from '../../accounts/policy-service'
import { accountViewSchema, attachmentViewSchema, policyViewSchema } from '../../accounts/view-schemas'
import type { AuditEvent } from '../../audit/event'
import { auditEventSchema, auditQueryResultSchema } from '../../audit/event-schema'
import type { AuditQueryResult } from '../../audit/query'
import type { AccessKeyView } from '../../auth/access-keys'
import type { IssuedToken } from '../../auth/security-tokens'
import type { CreateAccountAnswer, StaticAccountView } from '../../auth/static-accounts'
import { accessKeyCreatedSchema, accessKeyViewSchema, createAccountAnswerSchema, issuedTokenSchema, staticAccountViewSchema } from '../../auth/view-schemas'
import type { BlacklistEntryView } from '../../blacklist/blacklist-entry'
import { blacklistEntryViewSchema } from '../../blacklist/entry-view-schema'
import type { CaDetail, CaView } from '../../ca/ca-registry'
import type { DeviceDetail, DeviceView } from '../../ca/device-registry'
import type { IssuedRegistrationCode } from '../../ca/registration-codes'
import { caDetailSchema, caViewSchema, deviceDetailSchema, deviceViewSchema, registrationCodeSchema } from '../../ca/view-schemas'
import type { ConfigChange } from '../../config/diff'
import { configChangeSchema } from '../../config/reload-outcome-schema'
import type { InstanceView } from '../../instances/instance-view'
import type { KeyStatus } from '../../keys/key-rotation'
import { keyRotationSchema, keyStatusSchema } from '../../keys/key-status-schema'
import { instanceViewSchema } from '../../instances/instance-view-schema'
import type { SessionView } from '../../proxy/session-registry'
import type { KeyRotationRecord } from '../../store/records'
import { sessionViewSchema } from '../../proxy/session-view-schema'

/**
 * Compile-time checks that each response schema (the `*-schema.ts` files next to the views)
 * describes its view: the same top-level fields, and every value of the view type is a valid
 * answer. A field added to a view and not to its schema (or the other way round) fails
 * `npm run typecheck` here; the conformance test checks the nested parts on real answers.
 */
type SameKeys<A, B> = [Exclude<keyof A, keyof B> | Exclude<keyof B, keyof A>] extends [never] ? true : { missingOrExtra: Exclude<keyof A, keyof B> | Exclude<keyof B, keyof A> }

/** The schema's output with readonly arrays and members: a view may be readonly where zod's output is not. */
type Readonlyish<T> = T extends readonly (infer U)[] ? readonly Readonlyish<U>[] : T extends object ? { readonly [K in keyof T]: Readonlyish<T[K]> } : T

/** `describes<View>()(schema, same, id)` compiles only when `schema` describes `View`. */
function describes<View>() {
  return <S extends z.ZodType>(_schema: S, _sameKeys: SameKeys<View, z.output<S>>, _fits: (view: View) => Readonlyish<z.output<S>>): void => undefined
}
const same = true as const
const id = <T>(value: T): T => value

describes<InstanceView>()(instanceViewSchema, same, id)
describes<CaView>()(caViewSchema, same, id)
describes<CaDetail>()(caDetailSchema, same, id)
describes<DeviceView>()(deviceViewSchema, same, id)
describes<DeviceDetail>()(deviceDetailSchema, same, id)
describes<IssuedRegistrationCode>()(registrationCodeSchema, same, id)
describes<AccessKeyView>()(accessKeyViewSchema, same, id)
describes<AccessKeyView & { accessKeySecret: string }>()(accessKeyCreatedSchema, same, id)
describes<IssuedToken & { accessKeyId: string }>()(issuedTokenSchema, same, id)
describes<StaticAccountView>()(staticAccountViewSchema, same, id)
describes<CreateAccountAnswer>()(createAccountAnswerSchema, same, id)
describes<BlacklistEntryView>()(blacklistEntryViewSchema, same, id)
describes<AccountView>()(accountViewSchema, same, id)
describes<PolicyView>()(policyViewSchema, same, id)
describes<AttachmentView>()(attachmentViewSchema, same, id)
describes<SessionView>()(sessionViewSchema, same, id)
describes<AuditEvent>()(auditEventSchema, same, id)
describes<AuditQueryResult>()(auditQueryResultSchema, same, id)
describes<ConfigChange>()(configChangeSchema, same, id)
describes<KeyStatus>()(keyStatusSchema, same, id)
describes<KeyRotationRecord>()(keyRotationSchema, same, id)
