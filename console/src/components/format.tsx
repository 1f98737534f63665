/** Small display helpers shared by the pages. */
export function Status({ value }: { value: string | undefined }) {
  const v = value ?? '—'
  return <span class={`status status-${v.toLowerCase()}`}>{v}</span>
}

/** An ISO 8601 time in local time (the time of day alone when it is today), the exact UTC value in the tooltip. */
export function Time({ iso }: { iso: string | undefined }) {
  if (iso === undefined) return <span class="muted">—</span>
  const d = new Date(iso)
  if (Number.isNaN(d.getTime())) return <time dateTime={iso}>{iso}</time>
  const today = d.toDateString() === new Date().toDateString()
  return <time dateTime={iso} title={iso}>{today ? d.toLocaleTimeString() : d.toLocaleString()}</time>
}

/** A fingerprint id (64 hex digits) shortened for tables; the whole id is in the tooltip and data attribute. */
export function ShortId({ id }: { id: string }) {
  return <code class="id" title={id} data-id={id}>{id.length > 16 ? `${id.slice(0, 12)}…` : id}</code>
}

export function Empty({ what }: { what: string }) {
  return <p class="muted empty">No {what}.</p>
}
