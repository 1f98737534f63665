import { ProxyHeaderReader, type ProxyHeaderResult } from '../../tunnel/proxy-protocol'
import type { PipelineDeps } from '../deps'
import type { Accepted, Proxied, Source } from '../lifecycle/context'
import { readFrom } from '../read-client'
import { next, reject, type Step } from '../verdict'

type Deps = Pick<PipelineDeps, 'networks' | 'proxyTrust'>

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
export function proxyHeader(ctx: Accepted, deps: Deps): Step<Proxied> | Promise<Step<Proxied>> {
  const { mode } = ctx.listener.proxyProtocol
  // Without PROXY protocol nothing is read: answered at once, no promise for the runner to await.
  if (mode === 'off') return withNetworkVpc(next({ ...ctx, phase: 'proxied' }), deps)
  return readProxyHeader(ctx, deps, mode).then((proxied) => withNetworkVpc(proxied, deps))
}

/** No VPC from the header: `networks` may still name one for the source address. */
function withNetworkVpc(proxied: Step<Proxied>, deps: Deps): Step<Proxied> {
  if (proxied.kind !== 'next' || proxied.ctx.source.vpcId !== undefined) return proxied
  const vpcId = deps.networks.vpcOf(proxied.ctx.source.ip)
  return vpcId === undefined ? proxied : next({ ...proxied.ctx, source: { ...proxied.ctx.source, vpcId } })
}

async function readProxyHeader(ctx: Accepted, deps: Deps, mode: 'optional' | 'required'): Promise<Step<Proxied>> {
  const reader = new ProxyHeaderReader()
  const result = await readFrom<Exclude<ProxyHeaderResult, { kind: 'need-more' }>>(ctx.socket, ctx.signal, (chunk) => {
    const r = reader.push(chunk)
    return r.kind === 'need-more' ? undefined : r
  })
  // Whatever followed the header (the start of the ClientHello) goes back to be read by TLS.
  if (result.kind === 'none' || result.kind === 'header') {
    if (result.rest.length > 0) ctx.socket.unshift(result.rest)
  }
  const trusted = deps.proxyTrust(ctx.listener.name).has(ctx.source.ip)
  switch (result.kind) {
    case 'error':
      return reject(trusted ? 'PROXY_HEADER_INVALID' : 'PROXY_HEADER_UNTRUSTED', result.detail)
    case 'none':
      return mode === 'required' ? reject('PROXY_HEADER_INVALID', 'no PROXY protocol header') : next({ ...ctx, phase: 'proxied' })
    case 'header': {
      if (!trusted) return reject('PROXY_HEADER_UNTRUSTED', `PROXY header from ${ctx.source.ip}, which is not in trustedCidrs`)
      const { header } = result
      // LOCAL is the balancer's own connection (a health check): it keeps the real endpoints.
      let source: Source = header.command === 'PROXY' && header.source !== undefined
        ? { ip: header.source.ip, port: header.source.port }
        : ctx.source
      if (header.vpc !== undefined) source = { ...source, vpcId: header.vpc.id }
      return next({
        ...ctx, phase: 'proxied', source,
        proxiedBy: { ip: ctx.source.ip, port: ctx.source.port },
        ...(header.vpc !== undefined ? { vpc: header.vpc } : {}),
      })
    }
  }
}
