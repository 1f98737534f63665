import { group, top, type TopSpec } from '../spec'
import { accessKeyGroup } from './access-key'
import { accountGroup } from './account'
import { auditGroup } from './audit'
import { blacklistGroup } from './blacklist'
import { caGroup } from './ca'
import { completionCommand } from './completion'
import { configGroup } from './config'
import { connectionGroup } from './connection'
import { deriveCredentialsCommand } from './derive-credentials'
import { devPkiCommand } from './dev-pki'
import { deviceGroup } from './device'
import { explainCommand } from './explain'
import { instanceGroup } from './instance'
import { keysGroup } from './keys'
import { policyGroup } from './policy'
import { startCommand } from './start'
import { staticAccountGroup } from './static-account'
import { versionCommand } from './version'

/** Every command, in the order the overview lists them (its sections follow the first use). */
export const COMMANDS: readonly TopSpec[] = [
  top('Gateway', startCommand),
  group(configGroup),
  top('Gateway', versionCommand),
  top('Gateway', completionCommand),
  top('Gateway', devPkiCommand),
  top('Gateway', deriveCredentialsCommand),
  group(instanceGroup),
  group(caGroup),
  group(deviceGroup),
  group(connectionGroup),
  top('Connections and admission', explainCommand),
  group(accessKeyGroup),
  group(staticAccountGroup),
  group(accountGroup),
  group(policyGroup),
  group(blacklistGroup),
  group(auditGroup),
  group(keysGroup),
]
