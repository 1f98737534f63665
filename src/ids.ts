/**
 * Branded ids: a CA id and a device id are both hex SHA-256 strings, and mixing them up is a bug
 * the compiler should catch. Brand at the edge (parsing, store reads), use plainly elsewhere.
 */
export type Brand<T, B extends string> = T & { readonly __brand: B }
export type InstanceId = Brand<string, 'InstanceId'>
export type CaId = Brand<string, 'CaId'>
export type DeviceId = Brand<string, 'DeviceId'>
export type ConnId = Brand<string, 'ConnId'>
export type AccessKeyId = Brand<string, 'AccessKeyId'>

export const asInstanceId = (s: string): InstanceId => s as InstanceId
export const asCaId = (s: string): CaId => s as CaId
export const asDeviceId = (s: string): DeviceId => s as DeviceId
export const asConnId = (s: string): ConnId => s as ConnId
export const asAccessKeyId = (s: string): AccessKeyId => s as AccessKeyId
