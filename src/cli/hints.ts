import type { ErrorCode } from '../errors'

/**
 * What to do about an API error, printed under `CODE: message`. Only where the CLI knows better
 * than the message: errors about the request's content already say what is wrong with it.
 */
export function hintFor(code: ErrorCode, message: string): string | undefined {
  switch (code) {
    case 'SIGNATURE_INVALID':
    case 'ACCESS_KEY_UNKNOWN':
      return 'the gateway does not know this AccessKey or its secret differs: check PORTCULLIS_ACCESS_KEY_ID/_SECRET, or that -c FILE names this gateway\'s config (its data directory holds the root key)'
    case 'ACCESS_KEY_INACTIVE':
      return 'the AccessKey is disabled: enable it (portcullis access-key enable AK) with another key, or use another key'
    case 'SIGNATURE_EXPIRED':
      return 'this machine\'s clock is more than 15 minutes away from the gateway\'s: fix the clock (NTP)'
    case 'NONCE_REUSED':
      return 'run the command again: every call needs a fresh nonce'
    case 'ACCESS_DENIED': {
      const action = /may not (\S+)/.exec(message)?.[1] ?? 'the action'
      return `attach a policy that allows ${action} to the key or its account (portcullis policy put NAME -f DOC.json; portcullis policy attach NAME account:ID), or use a key of the root account`
    }
    case 'INSTANCE_IN_USE':
      return 'revoke or deactivate what it holds first, or delete it with them: portcullis instance delete ID --force'
    case 'CA_HAS_ACTIVE_DEVICES':
      return 'revoke or deactivate its ACTIVE devices first (portcullis device list --instance ID --ca CA_ID --status active)'
    case 'POLICY_ATTACHED':
      return 'detach it first: portcullis policy attachments NAME, then portcullis policy detach NAME PRINCIPAL'
    case 'CONFIG_INVALID':
      return 'fix the key named above; portcullis config check -c FILE checks a file without starting'
    case 'STORE_UNAVAILABLE':
    case 'STORE_RESYNCING':
      return 'the gateway cannot use its store right now (Redis down, or re-reading it after an outage): retry shortly; GET /readyz says when it is ready'
    case 'STORE_READ_ONLY':
      return 'the gateway\'s data directory is full or read-only: free space; reads still work'
    default:
      return undefined
  }
}
