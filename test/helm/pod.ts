/**
 * What the kubelet would hand the gateway container of a rendered Deployment, reproduced on this
 * machine: its environment (values, Secret and ConfigMap references, `$(VAR)` expansion) and its
 * volumes as directories (configMap and secret volumes filled from the rendered objects, emptyDirs
 * empty), with the container's absolute paths mapped into them.
 */
import { chmodSync, chownSync, mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { all, podOf, type Rendered } from './chart'

/** Secret data by Secret name then key, as plain strings (what `kubectl create secret` takes). */
export type SecretData = Record<string, Record<string, string>>

/** The rendered Secrets' data, decoded, plus the ones the test creates itself (existingSecret). */
export function secretsOf(rendered: Rendered, extra: SecretData = {}): SecretData {
  const out: SecretData = { ...extra }
  for (const secret of all(rendered, 'Secret')) {
    const name = secret.metadata?.name as string
    const data: Record<string, string> = {}
    for (const [k, v] of Object.entries((secret.data ?? {}) as Record<string, string>)) data[k] = Buffer.from(v, 'base64').toString('utf8')
    for (const [k, v] of Object.entries((secret.stringData ?? {}) as Record<string, string>)) data[k] = v
    out[name] = data
  }
  return out
}

function configMapsOf(rendered: Rendered): Record<string, Record<string, string>> {
  return Object.fromEntries(all(rendered, 'ConfigMap').map((c) => [c.metadata?.name as string, (c.data ?? {}) as Record<string, string>]))
}

/**
 * `$(VAR)` expansion as the kubelet does it (k8s.io/kubernetes/third_party/forked/golang/expansion):
 * a reference to a variable defined earlier in the list is replaced, `$$` is a literal `$`, and an
 * unknown reference stays as written.
 */
export function expandKubeVars(value: string, defined: ReadonlyMap<string, string>): string {
  return value.replace(/\$\$|\$\(([A-Za-z_][A-Za-z0-9_.-]*)\)/g, (whole, name: string | undefined) => {
    if (name === undefined) return '$'
    return defined.get(name) ?? whole
  })
}

/** The container's environment, in order; throws on a reference the kubelet could not resolve. */
export function containerEnv(rendered: Rendered, secrets: SecretData, imageEnv: Record<string, string> = {}): Map<string, string> {
  const { container } = podOf(rendered)
  const configMaps = configMapsOf(rendered)
  const env = new Map<string, string>(Object.entries(imageEnv))
  for (const entry of (container.env ?? []) as Array<Record<string, any>>) {
    const name = entry.name as string
    if (typeof entry.value === 'string') {
      env.set(name, expandKubeVars(entry.value, env))
    } else if (entry.valueFrom?.secretKeyRef !== undefined) {
      const { name: secret, key, optional } = entry.valueFrom.secretKeyRef as { name: string; key: string; optional?: boolean }
      const value = secrets[secret]?.[key]
      if (value === undefined) {
        if (optional === true) continue
        throw new Error(`env ${name}: Secret ${secret} has no key ${key} (the pod would not start: CreateContainerConfigError)`)
      }
      env.set(name, value)
    } else if (entry.valueFrom?.configMapKeyRef !== undefined) {
      const { name: map, key } = entry.valueFrom.configMapKeyRef as { name: string; key: string }
      const value = configMaps[map]?.[key]
      if (value === undefined) throw new Error(`env ${name}: ConfigMap ${map} has no key ${key}`)
      env.set(name, value)
    } else if (entry.value === undefined && entry.valueFrom === undefined) {
      env.set(name, '')
    } else {
      throw new Error(`env ${name}: unsupported source ${JSON.stringify(entry.valueFrom)}`)
    }
  }
  return env
}

export interface PodFilesystem {
  /** Container path → directory on this machine, one per volumeMount. */
  mounts: Array<{ mountPath: string; dir: string; readOnly: boolean; kind: string }>
  /** Maps an absolute container path under a mount into its directory; other paths unchanged. */
  map(path: string): string
}

/**
 * Materialises every volumeMount of the container under `root`: configMap and secret volumes are
 * written from the rendered objects (and `secrets`), emptyDirs are created empty. With `uid`, the
 * writable volumes belong to it (as fsGroup/emptyDir give the pod's user) and the read-only ones
 * do not; the rest of `root` stays root's.
 */
export function materialiseVolumes(rendered: Rendered, secrets: SecretData, root: string, owner?: { uid: number; gid: number }): PodFilesystem {
  const { pod, container } = podOf(rendered)
  const configMaps = configMapsOf(rendered)
  const volumes = new Map(((pod.volumes ?? []) as Array<Record<string, any>>).map((v) => [v.name as string, v]))
  const mounts: PodFilesystem['mounts'] = []
  for (const mount of (container.volumeMounts ?? []) as Array<Record<string, any>>) {
    const volume = volumes.get(mount.name as string)
    if (volume === undefined) throw new Error(`volumeMount ${mount.name} names no volume`)
    const dir = join(root, 'volumes', mount.name as string)
    mkdirSync(dir, { recursive: true })
    let kind: string
    let files: Record<string, string> = {}
    if (volume.configMap !== undefined) {
      kind = 'configMap'
      files = configMaps[volume.configMap.name as string] ?? failWith(`ConfigMap ${volume.configMap.name} is not rendered`)
    } else if (volume.secret !== undefined) {
      kind = 'secret'
      files = secrets[volume.secret.secretName as string] ?? failWith(`Secret ${volume.secret.secretName} does not exist`)
    } else if (volume.emptyDir !== undefined) {
      kind = 'emptyDir'
    } else {
      throw new Error(`volume ${mount.name}: unsupported kind ${Object.keys(volume).join(', ')}`)
    }
    for (const [file, content] of Object.entries(files)) writeFileSync(join(dir, file), content, { mode: kind === 'secret' ? 0o440 : 0o644 })
    const readOnly = mount.readOnly === true || kind !== 'emptyDir'
    if (owner !== undefined) {
      // emptyDir: writable by the pod; configMap/secret: readable through fsGroup, never writable.
      chownSync(dir, readOnly ? 0 : owner.uid, owner.gid)
      chmodSync(dir, readOnly ? 0o750 : 0o770)
      for (const file of Object.keys(files)) chownSync(join(dir, file), 0, owner.gid)
    }
    mounts.push({ mountPath: mount.mountPath as string, dir, readOnly, kind })
  }
  // Longest mount path first, so a nested mount wins over its parent.
  const ordered = [...mounts].sort((a, b) => b.mountPath.length - a.mountPath.length)
  return {
    mounts,
    map(path: string): string {
      const m = ordered.find((x) => path === x.mountPath || path.startsWith(`${x.mountPath}/`))
      return m === undefined ? path : join(m.dir, path.slice(m.mountPath.length))
    },
  }
}

function failWith(message: string): never {
  throw new Error(message)
}

/** Every string in a parsed config that is an absolute path, mapped through `fs.map`. */
export function mapConfigPaths(value: unknown, fs: PodFilesystem): unknown {
  if (typeof value === 'string') return value.startsWith('/') ? fs.map(value) : value
  if (Array.isArray(value)) return value.map((v) => mapConfigPaths(v, fs))
  if (typeof value === 'object' && value !== null) {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, mapConfigPaths(v, fs)]))
  }
  return value
}

