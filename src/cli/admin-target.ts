import { isAbsolute, join } from 'node:path'
import { loadConfig, readSecrets } from '../config/load'
import { readRootKeyFile, rootKeyPath } from '../admin/root-key'
import type { AdminTarget } from './admin-client'
import { CliError } from './cli-error'
import { chooseConfigFile } from './config-file'
import type { CliIo } from './io'

/**
 * Where admin commands send their calls and which key signs them (DESIGN §3): `--admin-url`, then
 * the environment (PORTCULLIS_ADMIN_URL, PORTCULLIS_ACCESS_KEY_ID / _SECRET); else the config file
 * `start` would read here (config-file.ts: `-c FILE`, else PORTCULLIS_CONFIG, else ./portcullis.yaml
 * when present, else the defaults: admin 127.0.0.1:9080, dataDir ./data) and the root key the
 * gateway wrote to `<dataDir>/root-access-key.json`.
 * The target says where its endpoint and key came from, so an auth failure can name them.
 */
export async function resolveAdminTarget(io: CliIo, configFile: string | undefined, adminUrl?: string): Promise<AdminTarget> {
  const secrets = readSecrets(io.env)
  let url = adminUrl ?? secrets.adminUrl
  let urlSource = adminUrl !== undefined ? '--admin-url' : 'PORTCULLIS_ADMIN_URL'
  let id = secrets.accessKeyId ?? secrets.rootAccessKeyId
  let secret = secrets.accessKeyId !== undefined ? secrets.accessKeySecret : secrets.rootAccessKeySecret
  let keySource = secrets.accessKeyId !== undefined
    ? 'PORTCULLIS_ACCESS_KEY_ID/PORTCULLIS_ACCESS_KEY_SECRET'
    : 'PORTCULLIS_ROOT_ACCESS_KEY_ID/PORTCULLIS_ROOT_ACCESS_KEY_SECRET'
  if (url === undefined || id === undefined || secret === undefined) {
    const { file } = chooseConfigFile(io, configFile)
    const config = loadConfig({ ...(file !== undefined ? { file } : {}), env: io.env })
    if (url === undefined) {
      url = `http://${connectHost(config.admin.host)}:${config.admin.port}`
      urlSource = file !== undefined ? `admin in ${file}` : 'the default admin address'
    }
    if (id === undefined || secret === undefined) {
      const keyFile = rootKeyPath(absolute(io, config.store.dataDir))
      const root = await readRootKeyFile(keyFile)
      if (root === undefined) {
        throw new CliError('ADMIN_KEY_MISSING', `no AccessKey: set PORTCULLIS_ACCESS_KEY_ID and PORTCULLIS_ACCESS_KEY_SECRET, or run where ${keyFile} exists`,
          'the gateway writes the root AccessKey there on its first start; point -c FILE at its config, or export a key made with `portcullis access-key create`')
      }
      id = root.accessKeyId
      secret = root.accessKeySecret
      keySource = keyFile
    }
  }
  return { url: url.replace(/\/+$/, ''), accessKeyId: id, accessKeySecret: secret, urlSource, keySource }
}

function absolute(io: CliIo, path: string): string {
  return isAbsolute(path) ? path : join(io.cwd, path)
}

/** A listener bound to every address is reached on loopback; IPv6 literals need brackets. */
function connectHost(host: string): string {
  if (host === '0.0.0.0' || host === '') return '127.0.0.1'
  if (host === '::') return '[::1]'
  return host.includes(':') ? `[${host}]` : host
}
