import { z } from 'zod'

/**
 * What the admin API answers about CA and device certificates (ca-registry.ts CaView/CaDetail,
 * device-registry.ts DeviceView/DeviceDetail, registration-codes.ts): the response schemas of the
 * CA and device routes in /openapi.json. src/admin/openapi/view-checks.ts checks at compile time
 * that each describes its view.
 */

/** DESIGN §3: a CA's and a device certificate's id is the lowercase hex SHA-256 of its DER. */
export const certificateIdSchema = z.string().regex(/^[0-9a-f]{64}$/).describe('lowercase hex SHA-256 fingerprint of the certificate DER')

const certificateFacts = {
  id: certificateIdSchema,
  serialNumber: z.string(),
  subject: z.string(),
  notBefore: z.iso.datetime(),
  notAfter: z.iso.datetime(),
}
const pem = z.string().describe('the certificate, PEM')

export const caViewSchema = z.object({
  ...certificateFacts,
  status: z.enum(['ACTIVE', 'INACTIVE']),
  createdAt: z.iso.datetime(),
}).meta({ title: 'CaCertificate' })

export const caDetailSchema = caViewSchema.extend({ pem }).meta({ title: 'CaCertificateDetail' })

export const deviceViewSchema = z.object({
  ...certificateFacts,
  caId: certificateIdSchema.describe('the registered CA that issued it'),
  commonName: z.string().optional(),
  status: z.enum(['ACTIVE', 'INACTIVE', 'REVOKED']),
  registeredBy: z.enum(['auto', 'manual']).describe('auto: on its first connection; manual: POST …/devices'),
  createdAt: z.iso.datetime(),
  updatedAt: z.iso.datetime(),
}).meta({ title: 'DeviceCertificate' })

export const deviceDetailSchema = deviceViewSchema.extend({ pem }).meta({ title: 'DeviceCertificateDetail' })

export const registrationCodeSchema = z.object({
  registrationCode: z.string().regex(/^[0-9a-f]{32}$/).describe('the subject CN the verification certificate must carry; single use'),
  expiresAt: z.iso.datetime(),
}).meta({ title: 'RegistrationCode' })
