import assert from 'node:assert/strict'
import { access, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { COMPOSE_VARIANTS, writeComposeProject } from '../../src/testnet/compose.ts'
import { useTestnet, waitForHeight } from '../testnet/helpers.ts'
import { run, toolSkip } from './helpers.ts'

/**
 * The monitoring stack is checked without running Prometheus or Grafana (no image registry
 * here): the generated scrape configs pass promtool, every metric a dashboard panel queries is
 * one a real validator exports, and the dashboard, its provisioning files and the compose
 * file's mounts point at each other.
 */

const REPO = new URL('../../', import.meta.url).pathname
const DASHBOARD = join(REPO, 'configs', 'grafana', 'dashboards', 'bftlab.json')

const promtoolSkip = await toolSkip('promtool', ['--version'], 'prometheus')

// ---------------------------------------------------------------- PromQL

const PROMQL_KEYWORDS = new Set(['and', 'or', 'unless', 'bool', 'offset', 'by', 'without', 'on', 'ignoring', 'group_left', 'group_right', 'inf', 'nan'])

/**
 * Metric names a PromQL expression selects: its identifiers, less function and aggregation
 * names (followed by "("), grouping labels (`by (…)`, `on (…)` …), label matchers ({…}), range
 * durations ([…]), strings, numbers and durations (`offset 1m`), and Grafana variables
 * ($__rate_interval).
 */
function promqlMetricNames(expr: string): string[] {
  const stripped = expr
    .replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'/g, ' ')
    .replace(/\{[^}]*\}/g, ' ')
    .replace(/\[[^\]]*\]/g, ' ')
    .replace(/\$\{?[A-Za-z_][A-Za-z0-9_]*\}?/g, ' ')
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ' ')
  const names = new Set<string>()
  for (const m of stripped.matchAll(/(?<![A-Za-z0-9_:.])[A-Za-z_:][A-Za-z0-9_:]*(?=\s*(\(?))/g)) {
    if (m[1] === '(' || PROMQL_KEYWORDS.has(m[0].toLowerCase())) continue
    names.add(m[0])
  }
  return [...names]
}

interface Panel {
  title: string
  datasource?: { uid?: string }
  targets?: { expr?: string }[]
  panels?: Panel[]
}
interface Dashboard {
  uid: string
  title: string
  panels: Panel[]
  templating?: { list?: { query?: string | { query?: string }; datasource?: { uid?: string } }[] }
}

/** Every query in the dashboard, with where it is: panel targets (rows nested too) and template variables. */
function dashboardQueries(d: Dashboard): { where: string; expr: string; datasource: string | undefined }[] {
  const out: { where: string; expr: string; datasource: string | undefined }[] = []
  const visit = (panels: readonly Panel[]): void => {
    for (const p of panels) {
      for (const t of p.targets ?? []) if (t.expr !== undefined) out.push({ where: `panel "${p.title}"`, expr: t.expr, datasource: p.datasource?.uid })
      visit(p.panels ?? [])
    }
  }
  visit(d.panels)
  for (const v of d.templating?.list ?? []) {
    const q = typeof v.query === 'string' ? v.query : v.query?.query
    if (q !== undefined && q !== '') out.push({ where: 'template variable', expr: q.replace(/^label_values\((.*)\)$/, '$1'), datasource: v.datasource?.uid })
  }
  return out
}

/** Names of the samples in a Prometheus text exposition (histograms as their _bucket/_sum/_count series). */
function exposedNames(text: string): Set<string> {
  const names = new Set<string>()
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue
    names.add(line.match(/^[A-Za-z_:][A-Za-z0-9_:]*/)![0])
  }
  return names
}

/** The panels' metric names a node does not export, each with its panel. */
function missingMetrics(d: Dashboard, exported: ReadonlySet<string>): string[] {
  return dashboardQueries(d).flatMap((q) => promqlMetricNames(q.expr).filter((name) => !exported.has(name)).map((name) => `${name} (${q.where}: ${q.expr})`))
}

test('promqlMetricNames finds the metrics and nothing else', () => {
  assert.deepEqual(promqlMetricNames('histogram_quantile(0.99, sum by (le, instance) (rate(bftlab_commit_duration_seconds_bucket{job="bftlab"}[$__rate_interval])))'), ['bftlab_commit_duration_seconds_bucket'])
  assert.deepEqual(promqlMetricNames('rate(bftlab_timeouts_total[5m] offset 1m) * 60 + on(instance) group_left bftlab_peers'), ['bftlab_timeouts_total', 'bftlab_peers'])
  assert.deepEqual(promqlMetricNames('up{job=~"bftlab|node"} == bool 1'), ['up'])
})

describe("the dashboard's queries against a running validator's /metrics", () => {
  const net = useTestnet({ validators: 1, accounts: 4 })
  let exported = new Set<string>()
  before(async () => {
    const url = net.testnet().urls[0]!
    await waitForHeight([url], 2, 60_000)
    const res = await fetch(`${url}/metrics`)
    assert.equal(res.status, 200)
    exported = exposedNames(await res.text())
  })

  test('every metric a Grafana panel queries is one a real validator exports', async () => {
    const dashboard = JSON.parse(await readFile(DASHBOARD, 'utf8')) as Dashboard
    const queries = dashboardQueries(dashboard)
    assert.ok(queries.length >= 10, `${queries.length} queries found`)
    assert.ok(exported.has('bftlab_committed_height'), 'the exposition was read')
    assert.deepEqual(missingMetrics(dashboard, exported), [])
  })

  test('a panel querying a metric no validator exports is caught (the check can fail)', async () => {
    const dashboard = JSON.parse(await readFile(DASHBOARD, 'utf8')) as Dashboard
    dashboard.panels[0]!.targets![0]!.expr = 'sum(rate(bftlab_commited_txs_total[1m]))'
    assert.deepEqual(missingMetrics(dashboard, exported), [`bftlab_commited_txs_total (panel "${dashboard.panels[0]!.title}": sum(rate(bftlab_commited_txs_total[1m])))`])
  })
})

describe('generated Prometheus and Grafana files', () => {
  let dir = ''
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'bftlab-monitoring-'))
    for (const variant of COMPOSE_VARIANTS) await writeComposeProject({ validators: 7, variant, out: join(dir, variant, 'docker-compose.yml') })
  })
  after(async () => rm(dir, { recursive: true, force: true }))

  test('promtool check config accepts the committed and every generated prometheus.yml', { skip: promtoolSkip }, async () => {
    for (const file of [join(REPO, 'configs', 'prometheus.yml'), ...COMPOSE_VARIANTS.map((v) => join(dir, v, 'configs', 'prometheus.yml'))]) {
      const { stdout } = await run('promtool', ['check', 'config', file])
      assert.match(stdout, /SUCCESS/, file)
    }
  })

  test('promtool check config refuses a broken prometheus.yml (the check can fail)', { skip: promtoolSkip }, async () => {
    const broken = join(dir, 'broken.yml')
    await writeFile(broken, (await readFile(join(dir, 'host', 'configs', 'prometheus.yml'), 'utf8')).replace('scrape_interval: "2s"', 'scrape_interval: "2 seconds"'))
    await assert.rejects(run('promtool', ['check', 'config', broken]), /FAILED|not a valid duration/)
  })

  test("the dashboard loads from the provisioning file's path, with the provisioned datasource, in every variant", async () => {
    const dashboard = JSON.parse(await readFile(DASHBOARD, 'utf8')) as Dashboard
    assert.ok(dashboard.uid !== '' && dashboard.title !== '')
    const provider = await readFile(join(REPO, 'configs', 'grafana', 'provisioning', 'dashboards', 'bftlab.yml'), 'utf8')
    const providerPath = provider.match(/^\s+path:\s*(\S+)\s*$/m)![1]!
    const datasource = await readFile(join(REPO, 'configs', 'grafana', 'provisioning', 'datasources', 'prometheus.yml'), 'utf8')
    const datasourceUid = datasource.match(/^\s+uid:\s*(\S+)\s*$/m)![1]!
    const urlVariable = datasource.match(/^\s+url:\s*\$\{([A-Z_]+)\}\s*$/m)![1]!
    for (const q of dashboardQueries(dashboard)) assert.equal(q.datasource, datasourceUid, `${q.where} uses the provisioned datasource`)
    for (const variant of COMPOSE_VARIANTS) {
      const project = join(dir, variant)
      const compose = await readFile(join(project, 'docker-compose.yml'), 'utf8')
      // Every file the compose file mounts exists beside it.
      for (const [, source] of compose.matchAll(/"(\.\/configs\/[^":]+):/g)) await access(join(project, source!))
      for (const [, file] of compose.matchAll(/file: "(\.\/configs\/[^"]+)"/g)) await access(join(project, file!))
      const target = compose.match(/\.\/configs\/grafana\/dashboards\/bftlab\.json:([^":]+)|source: "grafana_dashboard_bftlab"\n\s+target: "([^"]+)"/)!
      assert.equal(dirname(target[1] ?? target[2]!), providerPath, `${variant}: the dashboard is mounted where the provider looks`)
      assert.match(compose, new RegExp(`${urlVariable}: "http://(prometheus|127\\.0\\.0\\.1):9090"`), `${variant}: the datasource URL is set`)
    }
  })
})
