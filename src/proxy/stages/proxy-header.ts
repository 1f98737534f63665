import { ProxyHeaderReader, type ProxyHeaderResult } from '../../tunnel/proxy-protocol'
import type { Connection } from '../connection'
import type { PipelineDeps } from '../deps'
import { readFrom } from '../read-client'
import { CONTINUE, reject, type Verdict } from '../verdict'

/**
 * The PROXY protocol header (v1 or v2) from a trusted load balancer: the real client address and
 * its VPC identity (TLVs of AWS, Azure, GCP, Aliyun) replace the socket's everywhere after this
 * stage — audit, blacklist, tunnel rule. Per listener `proxyProtocol.mode`:
 *   off       no header is read (one from a client is then just bad TLS);
 *   optional  a header is used when present, from a trusted source only;
 *   required  every connection must start with one, from a trusted source.
 * A header from a source outside `trustedCidrs` is refused (PROXY_HEADER_UNTRUSTED): anyone could
 * otherwise claim any address or VPC. Without a header, `networks` may still name the VPC.
 */
export async function proxyHeader(conn: Connection, deps: PipelineDeps): Promise<Verdict> {
  const { mode } = conn.listener.proxyProtocol
  if (mode !== 'off') {
    const verdict = await readProxyHeader(conn, deps, mode)
    if (verdict.kind !== 'continue') return verdict
  }
  if (conn.source.vpcId === undefined) {
    const vpcId = deps.networks.vpcOf(conn.source.ip)
    if (vpcId !== undefined) conn.source.vpcId = vpcId
  }
  return CONTINUE
}

async function readProxyHeader(conn: Connection, deps: PipelineDeps, mode: 'optional' | 'required'): Promise<Verdict> {
  const reader = new ProxyHeaderReader()
  const result = await readFrom<Exclude<ProxyHeaderResult, { kind: 'need-more' }>>(conn.socket, conn.signal, (chunk) => {
    const r = reader.push(chunk)
    return r.kind === 'need-more' ? undefined : r
  })
  // Whatever followed the header (the start of the ClientHello) goes back to be read by TLS.
  if (result.kind === 'none' || result.kind === 'header') {
    if (result.rest.length > 0) conn.socket.unshift(result.rest)
  }
  const trusted = deps.proxyTrust(conn.listener.name).has(conn.source.ip)
  switch (result.kind) {
    case 'error':
      return reject(trusted ? 'PROXY_HEADER_INVALID' : 'PROXY_HEADER_UNTRUSTED', result.detail)
    case 'none':
      return mode === 'required' ? reject('PROXY_HEADER_INVALID', 'no PROXY protocol header') : CONTINUE
    case 'header': {
      if (!trusted) return reject('PROXY_HEADER_UNTRUSTED', `PROXY header from ${conn.source.ip}, which is not in trustedCidrs`)
      const { header } = result
      conn.proxiedBy = { ip: conn.source.ip, port: conn.source.port }
      // LOCAL is the balancer's own connection (a health check): it keeps the real endpoints.
      if (header.command === 'PROXY' && header.source !== undefined) {
        conn.source = { ip: header.source.ip, port: header.source.port }
      }
      if (header.vpc !== undefined) {
        conn.source.vpcId = header.vpc.id
        conn.vpc = header.vpc
      }
      return CONTINUE
    }
  }
}
