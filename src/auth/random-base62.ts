import { randomBytes } from 'node:crypto'

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789'
/** 62 * 4 = 248: bytes at or above it are dropped, so every character is equally likely. */
const LIMIT = 248

/** `length` characters from [A-Za-z0-9], uniformly random (rejection sampling, no modulo bias). */
export function randomBase62(length: number): string {
  let out = ''
  while (out.length < length) {
    for (const byte of randomBytes(length * 2)) {
      if (byte >= LIMIT) continue
      out += ALPHABET[byte % 62]
      if (out.length === length) break
    }
  }
  return out
}
