import { z } from 'zod'

/**
 * What the admin API answers about AccessKeys, security tokens and static accounts
 * (access-keys.ts AccessKeyView, security-tokens.ts IssuedToken, static-accounts.ts
 * StaticAccountView / CreateAccountAnswer): the response schemas of those routes in
 * /openapi.json. Secrets appear in the create answers only (DESIGN §1), which is why those have
 * schemas of their own. src/admin/openapi/view-checks.ts checks at compile time that each
 * describes its view.
 */
export const accessKeyViewSchema = z.object({
  accessKeyId: z.string(),
  status: z.enum(['Active', 'Inactive']),
  description: z.string().optional(),
  accountId: z.string().describe('the account the key belongs to (DESIGN §4)'),
  createdAt: z.iso.datetime(),
  updatedAt: z.iso.datetime(),
}).meta({ title: 'AccessKey' })

export const accessKeyCreatedSchema = accessKeyViewSchema.extend({
  accessKeySecret: z.string().describe('shown in this answer only, never again'),
}).meta({ title: 'AccessKeyWithSecret' })

/** SecurityTokens.issue's answer: the IssuedToken and the key it is for. */
export const issuedTokenSchema = z.object({
  accessKeyId: z.string(),
  securityToken: z.string().describe('the STS token: userName = Base64("0:" + instanceId + ":" + accessKeyId + ":" + securityToken); shown once'),
  expiresAt: z.iso.datetime(),
  tokenId: z.string().describe('the token id recorded in the audit event (not a secret)'),
}).meta({ title: 'SecurityToken' })

export const staticAccountViewSchema = z.object({
  instanceId: z.string(),
  accessKey: z.string().describe('the AccessKey id the static user derives from'),
  userName: z.string(),
  createTimestamp: z.number().int().describe('ms since the epoch, as given to CreateAccount'),
  createdAt: z.iso.datetime(),
}).meta({ title: 'StaticAccount' })

export const createAccountAnswerSchema = z.object({
  userName: z.string(),
  password: z.string().describe('Base64(UPPER_HEX(HMAC-SHA1(createTimestamp, secret)) ":" createTimestamp); shown in this answer only'),
  accessKey: z.string(),
  createTimestamp: z.number().int(),
  instanceId: z.string(),
}).meta({ title: 'CreateAccountAnswer' })
