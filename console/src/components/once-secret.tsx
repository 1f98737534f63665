import { Fragment } from 'preact'
import { useState } from 'preact/hooks'

/**
 * A secret the API answers once (an AccessKey secret, a static user's password). It lives in this
 * component's state until dismissed, and nowhere else: the gateway keeps no copy to show again.
 */
export function OnceSecret({ title, values, onDismiss }: { title: string; values: Array<[string, string]>; onDismiss(): void }) {
  const [copied, setCopied] = useState<string | undefined>()
  return (
    <div class="once-secret" role="status">
      <h3>{title}</h3>
      <p class="warn">Shown once: copy it now. It is held only in this panel until you dismiss it, and the gateway will not show it again.</p>
      <dl>
        {values.map(([name, value]) => (
          <Fragment key={name}>
            <dt>{name}</dt>
            <dd>
              <code class="secret-value" data-name={name}>{value}</code>{' '}
              <button type="button" class="small" onClick={() => void navigator.clipboard?.writeText(value).then(() => setCopied(name))}>
                {copied === name ? 'Copied' : 'Copy'}
              </button>
            </dd>
          </Fragment>
        ))}
      </dl>
      <button type="button" onClick={onDismiss}>I have stored it — dismiss</button>
    </div>
  )
}
