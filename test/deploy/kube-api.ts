import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'

/**
 * `kubectl apply --dry-run=client` still asks an API server which resources exist (discovery) and
 * whether each object already exists (a GET), though it never writes. No cluster runs here, so
 * this loopback server answers exactly that: the discovery documents of the core, apps and batch
 * groups as a Kubernetes 1.30 server returns them for the kinds the manifests use, and 404 for
 * every object. Any write would be a dry run gone wrong: it is recorded and refused.
 */

const resource = (name: string, singularName: string, kind: string, namespaced: boolean) => ({
  name,
  singularName,
  namespaced,
  kind,
  verbs: ['create', 'delete', 'get', 'list', 'patch', 'update', 'watch'],
})

const DISCOVERY: Record<string, unknown> = {
  '/version': { major: '1', minor: '30', gitVersion: 'v1.30.0', platform: 'linux/amd64' },
  '/api': { kind: 'APIVersions', versions: ['v1'], serverAddressByClientCIDRs: [{ clientCIDR: '0.0.0.0/0', serverAddress: '127.0.0.1:6443' }] },
  '/apis': {
    kind: 'APIGroupList',
    apiVersion: 'v1',
    groups: ['apps', 'batch'].map((name) => ({ name, versions: [{ groupVersion: `${name}/v1`, version: 'v1' }], preferredVersion: { groupVersion: `${name}/v1`, version: 'v1' } })),
  },
  '/api/v1': {
    kind: 'APIResourceList',
    groupVersion: 'v1',
    resources: [
      resource('namespaces', 'namespace', 'Namespace', false),
      resource('configmaps', 'configmap', 'ConfigMap', true),
      resource('secrets', 'secret', 'Secret', true),
      resource('services', 'service', 'Service', true),
    ],
  },
  '/apis/apps/v1': { kind: 'APIResourceList', apiVersion: 'v1', groupVersion: 'apps/v1', resources: [resource('statefulsets', 'statefulset', 'StatefulSet', true)] },
  '/apis/batch/v1': { kind: 'APIResourceList', apiVersion: 'v1', groupVersion: 'batch/v1', resources: [resource('jobs', 'job', 'Job', true)] },
}

export interface KubeApi {
  readonly url: string
  /** Requests other than GET: a client-side dry run makes none. */
  readonly writes: string[]
  close(): Promise<void>
}

export async function startKubeApi(): Promise<KubeApi> {
  const writes: string[] = []
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0]!
    const reply = (code: number, body: unknown): void => {
      res.writeHead(code, { 'content-type': 'application/json' })
      res.end(JSON.stringify(body))
    }
    if (req.method !== 'GET') {
      writes.push(`${req.method} ${path}`)
      return reply(405, { kind: 'Status', apiVersion: 'v1', status: 'Failure', reason: 'MethodNotAllowed', code: 405 })
    }
    const doc = DISCOVERY[path]
    if (doc !== undefined) return reply(200, doc)
    reply(404, { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message: `${path} not found`, reason: 'NotFound', code: 404 })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  return {
    url: `http://127.0.0.1:${port}`,
    writes,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  }
}
