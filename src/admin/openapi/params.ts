import { z } from 'zod'

/**
 * Path parameters as the document shows them. The router hands each as a non-empty string; what
 * it must name is the service's to check (an id that names nothing is 404 NOT_FOUND), so these
 * describe and do not constrain.
 */
export const instanceId = z.string().min(1).describe('the instance id')
export const certificateId = z.string().min(1).describe('lowercase hex SHA-256 fingerprint of the certificate DER')

export const instanceParams = z.object({ id: instanceId })
export const noQuery = z.strictObject({})
