import { useState } from 'preact/hooks'
import { AdminClient, ApiError, measureClockOffset } from '../api/client'
import { ErrorBox } from '../components/error-box'
import { Field } from '../components/fields'

/**
 * Sign-in: an AccessKey id and secret, checked with one signed call. The admin URL is the page's
 * own origin (the console is served by the admin server it talks to). A 403 ACCESS_DENIED still
 * signs in: the signature verified, the key just may not list instances (its pages will say what
 * else it may not do).
 */
export function SignInPage({ onSignedIn }: { onSignedIn(client: AdminClient): void }) {
  const [accessKeyId, setId] = useState('')
  const [secret, setSecret] = useState('')
  const [busy, setBusy] = useState(false)
  const [error, setError] = useState<unknown>(undefined)

  const submit = async (e: Event): Promise<void> => {
    e.preventDefault()
    setBusy(true)
    setError(undefined)
    try {
      const baseUrl = location.origin
      const clockOffsetMs = await measureClockOffset(baseUrl)
      const client = new AdminClient({ baseUrl, key: { accessKeyId: accessKeyId.trim(), accessKeySecret: secret }, clockOffsetMs })
      try {
        await client.get('/v1/instances', { limit: 1 })
      } catch (err) {
        if (!(err instanceof ApiError && err.code === 'ACCESS_DENIED')) throw err
      }
      setSecret('')
      onSignedIn(client)
    } catch (err) {
      setError(err)
    } finally {
      setBusy(false)
    }
  }

  return (
    <div class="sign-in">
      <form class="card" onSubmit={(e) => void submit(e)} autocomplete="off">
        <h1>Portcullis console</h1>
        <p class="muted">Admin API: <code>{location.origin}</code></p>
        <Field label="AccessKey id">
          <input name="accessKeyId" value={accessKeyId} onInput={(e) => setId((e.currentTarget as HTMLInputElement).value)} required autocomplete="off" spellcheck={false} />
        </Field>
        <Field label="AccessKey secret" hint="Kept in this page's memory only; every request is signed here (HMAC-SHA1) and the secret is never sent.">
          <input name="accessKeySecret" type="password" value={secret} onInput={(e) => setSecret((e.currentTarget as HTMLInputElement).value)} required autocomplete="off" />
        </Field>
        <ErrorBox error={error} />
        <button type="submit" class="primary" disabled={busy}>{busy ? 'Signing in…' : 'Sign in'}</button>
      </form>
    </div>
  )
}
