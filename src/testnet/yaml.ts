/** Plain data a deployment file holds: what `toYaml` writes. */
export type Yaml = string | number | boolean | null | readonly Yaml[] | { readonly [key: string]: Yaml | undefined }

/** Keys written bare; anything else is quoted like a value. */
const PLAIN_KEY = /^[A-Za-z_][A-Za-z0-9_./-]*$/

/**
 * A block-style YAML writer for the plain data compose files and Kubernetes manifests hold.
 * Every string is written as a JSON string, which is a valid YAML double-quoted scalar: no
 * value can turn into a number, a boolean or a comment by accident. Undefined map values are
 * left out, so optional keys can be written inline.
 */
export function toYaml(value: Yaml, indent = ''): string {
  if (value === null || typeof value !== 'object') return `${JSON.stringify(value)}\n`
  const entries: [string, Yaml][] = Array.isArray(value)
    ? value.map((v) => ['-', v])
    : Object.entries(value as Record<string, Yaml | undefined>).flatMap(([k, v]) => (v === undefined ? [] : [[`${PLAIN_KEY.test(k) ? k : JSON.stringify(k)}:`, v]]))
  if (entries.length === 0) return Array.isArray(value) ? '[]\n' : '{}\n'
  let out = '\n'
  for (const [key, v] of entries) {
    const nested = v !== null && typeof v === 'object' && (Array.isArray(v) ? v.length > 0 : Object.keys(v).length > 0)
    const inner = `${indent}  `
    if (!nested) out += `${indent}${key} ${toYaml(v, indent)}`
    // A map inside a list starts on the dash's line ("- source: …"), as people write these files.
    else if (key === '-' && !Array.isArray(v)) out += `${indent}- ${toYaml(v, inner).slice(1 + inner.length)}`
    else out += `${indent}${key}${toYaml(v, inner)}`
  }
  return out
}

/** A top-level document: `toYaml` without the leading newline it writes before a nested block. */
export const yamlDocument = (value: Yaml): string => toYaml(value).slice(1)
