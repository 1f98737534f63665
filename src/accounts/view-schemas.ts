import { z } from 'zod'
import { policyDocumentSchema } from '../policy/authorization/document'

/**
 * What the admin API answers about accounts, policies and attachments (account-service.ts
 * AccountView, policy-service.ts PolicyView / AttachmentView): the response schemas of those
 * routes in /openapi.json. A policy's statements are described by the very schema a PUT is
 * validated with. src/admin/openapi/view-checks.ts checks at compile time that each describes
 * its view.
 */
export const accountViewSchema = z.object({
  id: z.string(),
  displayName: z.string().optional(),
  parentId: z.string().optional().describe('absent: directly under root'),
  createdAt: z.iso.datetime(),
  updatedAt: z.iso.datetime(),
}).meta({ title: 'Account' })

export const policyViewSchema = z.object({
  name: z.string(),
  statements: policyDocumentSchema.shape.statements,
  version: z.number().int().min(1).describe('counts the PUTs that wrote the policy'),
  createdAt: z.iso.datetime(),
  updatedAt: z.iso.datetime(),
}).meta({ title: 'Policy' })

export const attachmentViewSchema = z.object({
  policy: z.string(),
  principal: z.string().describe('account:<id>, accessKey:<id>, instance:<id>, ca:<instanceId>/<caId> or device:<instanceId>/<deviceId>'),
  createdAt: z.iso.datetime(),
}).meta({ title: 'PolicyAttachment' })
