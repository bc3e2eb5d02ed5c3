import type { Command } from 'commander'
import { InvalidArgumentError } from 'commander'
import { LIMITS } from '../../core/limits.ts'
import { DEFAULT_ACCOUNTS, DEFAULT_LOAD } from '../../testnet/deploy.ts'
import { K8S_DEFAULTS, writeK8sManifests } from '../../testnet/k8s.ts'
import { integer, number } from '../options.ts'

/** A Kubernetes resource quantity: 2, 500m, 1.5, 2Gi, 512Mi … */
function quantity(raw: string): string {
  if (!/^[0-9]+(\.[0-9]+)?(m|k|M|G|T|Ki|Mi|Gi|Ti)?$/.test(raw)) throw new InvalidArgumentError(`expected a Kubernetes quantity such as 2, 500m, 2Gi or 512Mi, got ${JSON.stringify(raw)}.`)
  return raw
}

/** A DNS-1123 label (namespace) or subdomain (cluster domain, storage class). */
const dnsName = (what: 'label' | 'subdomain') => (raw: string): string => {
  const label = '[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?'
  const ok = what === 'label' ? new RegExp(`^${label}$`).test(raw) : new RegExp(`^${label}(\\.${label})*$`).test(raw) && raw.length <= 253
  if (!ok) throw new InvalidArgumentError(`expected a DNS-1123 ${what} (lower-case letters, digits, '-'${what === 'subdomain' ? ", '.'" : ''}), got ${JSON.stringify(raw)}.`)
  return raw
}

interface K8sFlags {
  validators: number
  out: string
  image: string
  namespace: string
  clusterDomain: string
  cpu: string
  memory: string
  storage: string
  storageClass?: string
  accounts: number
  rate: number
  duration: number
  warmup: number
}

export function registerK8sCommand(program: Command): void {
  program
    .command('k8s')
    .description('write Kubernetes manifests for N validators (StatefulSet, headless Service, keys Secret, genesis ConfigMap) and a load-generator Job')
    .requiredOption('--validators <n>', 'number of validators (StatefulSet replicas)', integer(1, LIMITS.maxValidators))
    .requiredOption('--out <dir>', 'directory to write the manifests to (then: kubectl apply -f <dir>)')
    .option('--image <ref>', 'bftlab image every cluster node can pull (push `docker build -t REGISTRY/bftlab:TAG .` first)', 'bftlab:latest')
    .option('--namespace <ns>', 'namespace of every object', dnsName('label'), K8S_DEFAULTS.namespace)
    .option('--cluster-domain <domain>', "the cluster's DNS domain (peer addresses are /dns4/bftlab-<i>.bftlab-validators.<ns>.svc.<domain>)", dnsName('subdomain'), K8S_DEFAULTS.clusterDomain)
    .option('--cpu <quantity>', 'CPU each validator and the load generator request and are limited to', quantity, K8S_DEFAULTS.cpu)
    .option('--memory <quantity>', 'memory each validator and the load generator request and are limited to', quantity, K8S_DEFAULTS.memory)
    .option('--storage <quantity>', "persistent volume per validator for its LevelDB", quantity, K8S_DEFAULTS.storage)
    .option('--storage-class <name>', "storage class of the validators' volumes (default: the cluster's default class)", dnsName('subdomain'))
    .option('--accounts <k>', 'funded accounts in genesis', integer(1, 10_000_000), DEFAULT_ACCOUNTS)
    .option('--rate <tx/s>', "load Job's offered load", number(0, { exclusive: true }), DEFAULT_LOAD.rate)
    .option('--duration <s>', "load Job's seconds of load, warm-up included", number(0, { exclusive: true }), DEFAULT_LOAD.durationS)
    .option('--warmup <s>', "load Job's seconds excluded from its figures", number(0), DEFAULT_LOAD.warmupS)
    .action(async (flags: K8sFlags, command: Command) => {
      if (flags.warmup >= flags.duration) command.error(`error: --warmup ${flags.warmup} must be shorter than --duration ${flags.duration}`)
      const written = await writeK8sManifests({
        validators: flags.validators,
        out: flags.out,
        image: flags.image,
        namespace: flags.namespace,
        clusterDomain: flags.clusterDomain,
        cpu: flags.cpu,
        memory: flags.memory,
        storage: flags.storage,
        ...(flags.storageClass !== undefined ? { storageClass: flags.storageClass } : {}),
        accounts: flags.accounts,
        load: { rate: flags.rate, durationS: flags.duration, warmupS: flags.warmup },
      })
      for (const path of written) console.log(`wrote ${path}`)
    })
}
