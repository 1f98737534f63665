import type { InstanceRecord } from '../store/records'

/**
 * The VPC access type of an instance (MQ security white paper, DESIGN §1): Any Tunnel admits every
 * network; Single Tunnel only the one bound VPC — a connection with no VPC identity (public) or
 * another VPC is refused. Pure: the data path asks at the earliest point the instance is known, and
 * the revocation watcher asks again for each live session when the rule changes.
 */
export function tunnelAdmits(instance: Pick<InstanceRecord, 'accessType' | 'vpcId'>, vpcId: string | undefined): boolean {
  switch (instance.accessType) {
    case 'ANY_TUNNEL':
      return true
    case 'SINGLE_TUNNEL':
      return instance.vpcId !== undefined && vpcId === instance.vpcId
  }
}
