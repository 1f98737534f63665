import type { ComponentChildren } from 'preact'

export function Field({ label, children, hint }: { label: string; children: ComponentChildren; hint?: ComponentChildren }) {
  return (
    <label class="field">
      <span class="field-label">{label}</span>
      {children}
      {hint !== undefined && <span class="hint">{hint}</span>}
    </label>
  )
}

/** A PEM: pasted, or read from a chosen file (read in the page; nothing is uploaded until submit). */
export function PemInput({ label, name, value, onChange, hint }: { label: string; name: string; value: string; onChange(v: string): void; hint?: ComponentChildren }) {
  return (
    <Field label={label} hint={hint}>
      <input
        type="file"
        name={`${name}-file`}
        accept=".pem,.crt,.cer,.key,text/plain"
        onChange={(e) => {
          const file = (e.currentTarget as HTMLInputElement).files?.[0]
          if (file !== undefined) void file.text().then(onChange)
        }}
      />
      <textarea name={name} rows={5} spellcheck={false} placeholder="-----BEGIN …-----" value={value} onInput={(e) => onChange((e.currentTarget as HTMLTextAreaElement).value)} />
    </Field>
  )
}
