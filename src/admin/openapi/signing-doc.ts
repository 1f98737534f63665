import { AUTH_SCHEME, DATE_HEADER, MAX_CLOCK_SKEW_MS, NONCE_HEADER } from '../signing'

/**
 * How /openapi.json documents request signing (DESIGN §3 "Admin API"; the code is signing.ts). The
 * signature is three headers that only together authenticate, so it is three apiKey schemes in
 * one security requirement (OpenAPI 3.1 §4.8.30: every scheme of a requirement object is
 * required). None is a credential a client could paste: the signature covers the method, path,
 * query, body, date and nonce of the one request it signs.
 */
export const SIGNATURE_SCHEME = 'PortcullisSignature'
export const DATE_SCHEME = 'PortcullisDate'
export const NONCE_SCHEME = 'PortcullisNonce'

/** The `security` of every signed operation. */
export const SIGNED: ReadonlyArray<Record<string, readonly string[]>> = [{ [SIGNATURE_SCHEME]: [], [DATE_SCHEME]: [], [NONCE_SCHEME]: [] }]

const SKEW_MINUTES = MAX_CLOCK_SKEW_MS / 60_000

export const securitySchemes = {
  [SIGNATURE_SCHEME]: {
    type: 'apiKey',
    in: 'header',
    name: 'Authorization',
    description: `\`${AUTH_SCHEME} <AccessKeyId>:<Base64(HMAC-SHA1(AccessKeySecret, canonical request))>\`; see "Signing requests" above.`,
  },
  [DATE_SCHEME]: {
    type: 'apiKey',
    in: 'header',
    name: DATE_HEADER,
    description: `The request time, ISO 8601 UTC (\`2026-11-24T08:00:00Z\`), within ${SKEW_MINUTES} minutes of the server clock; line 5 of the canonical request.`,
  },
  [NONCE_SCHEME]: {
    type: 'apiKey',
    in: 'header',
    name: NONCE_HEADER,
    description: '8 to 128 characters of `[A-Za-z0-9_-]`, never used before by this AccessKey (remembered for the whole signature window, on every replica); line 6 of the canonical request.',
  },
} as const

/** The "Signing requests" section of the document's description (markdown). */
export const SIGNING_DESCRIPTION = `## Signing requests

Every \`/v1\` request is signed with an AccessKey (DESIGN §3). Three headers carry the signature:

    Authorization: ${AUTH_SCHEME} <AccessKeyId>:<signature>
    ${DATE_HEADER}: 2026-11-24T08:00:00Z
    ${NONCE_HEADER}: <8-128 characters of A-Za-z0-9_->

\`signature\` = Base64( HMAC-SHA1( key = AccessKeySecret, message = canonical request ) ), where the
canonical request is six lines joined by \`\\n\` (no trailing newline):

    METHOD                 upper case: GET, POST, PUT, PATCH, DELETE
    PATH                   as sent, without the query: /v1/instances/plant-1/cas
    SORTED_QUERY           see below; an empty line when there is no query
    HEX_SHA256(body)       lowercase hex SHA-256 of the body bytes exactly as sent
                           (of the empty string when there is no body)
    ${DATE_HEADER}     the header's value
    ${NONCE_HEADER}    the header's value

SORTED_QUERY: each query parameter is decoded (\`+\` is a space), then name and value are
percent-encoded again per RFC 3986 (only \`A-Z a-z 0-9 - . _ ~\` stay literal, everything else is
\`%XX\` with upper-case hex), written \`name=value\`, sorted by name (then by value) and joined by
\`&\`. The date must be within ${SKEW_MINUTES} minutes of the server's clock and the nonce must never
have been used by this AccessKey before. JSON bodies are sent with \`content-type: application/json\`.

Refusals: \`401 SIGNATURE_MISSING\` (a header is absent), \`401 SIGNATURE_INVALID\` (malformed
headers, a signature that does not verify, and also an unknown or disabled AccessKey, so that key
ids cannot be probed), \`401 SIGNATURE_EXPIRED\` (the date is out of the window), \`401 NONCE_REUSED\`;
a correctly signed request that the key's policies do not allow is \`403 ACCESS_DENIED\` naming the
action (\`x-portcullis-action\` of each operation) and the resource (\`x-portcullis-resource\`).

A shell recipe (curl and openssl) and the route table are in docs/admin-api.md; the CLI
(\`portcullis\`) and the console (\`/console/\`) sign for you.
`
