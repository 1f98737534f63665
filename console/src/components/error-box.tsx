import { ApiError } from '../api/client'

/**
 * An error as the operator needs it: the API's stable code first (it is what the docs and
 * scripts key on), then its message and the request id to find the server's log line.
 */
export function ErrorBox({ error }: { error: unknown }) {
  if (error === undefined || error === null) return null
  if (error instanceof ApiError) {
    return (
      <div class="error" role="alert" data-code={error.code}>
        <strong class="error-code">{error.code}</strong> <span class="error-status">HTTP {error.status}</span>
        <div class="error-message">{error.message}</div>
        {error.requestId !== undefined && <div class="muted">request {error.requestId}</div>}
      </div>
    )
  }
  const message = error instanceof Error ? error.message : String(error)
  return (
    <div class="error" role="alert" data-code="CLIENT_ERROR">
      <strong class="error-code">Error</strong>
      <div class="error-message">{message}</div>
    </div>
  )
}
