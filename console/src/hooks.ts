import { createContext } from 'preact'
import { useCallback, useContext, useEffect, useRef, useState } from 'preact/hooks'
import type { AdminClient } from './api/client'
import { parseRoute, type Route } from './router'

/** The signed-in client; only pages under the signed-in layout read it. */
export const ApiContext = createContext<AdminClient | undefined>(undefined)

export function useApi(): AdminClient {
  const api = useContext(ApiContext)
  if (api === undefined) throw new Error('useApi outside a signed-in page')
  return api
}

export function useHashRoute(): Route {
  const [route, setRoute] = useState(() => parseRoute(location.hash))
  useEffect(() => {
    const onChange = (): void => setRoute(parseRoute(location.hash))
    addEventListener('hashchange', onChange)
    return () => removeEventListener('hashchange', onChange)
  }, [])
  return route
}

export interface Loaded<T> {
  data: T | undefined
  error: unknown
  loading: boolean
  reload(): void
}

/**
 * Loads data for a page and reloads it on demand. An answer that arrives after a newer load
 * started (or after the page went away) is dropped, so a slow response cannot overwrite a fresh one.
 */
export function useLoad<T>(load: (api: AdminClient) => Promise<T>, deps: readonly unknown[]): Loaded<T> {
  const api = useApi()
  const [state, setState] = useState<{ data: T | undefined; error: unknown; loading: boolean }>({ data: undefined, error: undefined, loading: true })
  const generation = useRef(0)
  const reload = useCallback(() => {
    const mine = ++generation.current
    setState((s) => ({ ...s, loading: true }))
    load(api).then(
      (data) => { if (mine === generation.current) setState({ data, error: undefined, loading: false }) },
      (error: unknown) => { if (mine === generation.current) setState((s) => ({ data: s.data, error, loading: false })) },
    )
  }, [api, ...deps])
  useEffect(() => {
    reload()
    return () => { generation.current++ }
  }, [reload])
  return { ...state, reload }
}

export interface Action {
  busy: boolean
  error: unknown
  /** Runs `fn`; its error is kept for display (an API error keeps its code), success clears it. */
  run(fn: () => Promise<void>): Promise<boolean>
  clear(): void
}

export function useAction(): Action {
  const [busy, setBusy] = useState(false)
  const [error, setError] = useState<unknown>(undefined)
  const run = useCallback(async (fn: () => Promise<void>): Promise<boolean> => {
    setBusy(true)
    try {
      await fn()
      setError(undefined)
      return true
    } catch (err) {
      setError(err)
      return false
    } finally {
      setBusy(false)
    }
  }, [])
  return { busy, error, run, clear: () => setError(undefined) }
}

/** Calls `fn` every `ms` while `enabled` (auto-refresh of live pages). */
export function useInterval(fn: () => void, ms: number, enabled = true): void {
  const saved = useRef(fn)
  saved.current = fn
  useEffect(() => {
    if (!enabled) return undefined
    const timer = setInterval(() => saved.current(), ms)
    return () => clearInterval(timer)
  }, [ms, enabled])
}
