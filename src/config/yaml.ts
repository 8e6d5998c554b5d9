// YAML as Patroni reads it: PyYAML's YAML 1.1 (on/off/yes/no are booleans, merge keys work),
// except that y/n stay strings as they do in PyYAML. Error messages carry line and column but
// never the source snippet (it could hold a password).
import { parseDocument, type Tags } from 'yaml';
import type { ProblemSink } from './errors.js';

const BOOL_TAG = 'tag:yaml.org,2002:bool';

const pyTrue = {
  identify: (v: unknown) => v === true,
  default: true,
  tag: BOOL_TAG,
  test: /^(?:yes|Yes|YES|true|True|TRUE|on|On|ON)$/,
  resolve: () => true,
};
const pyFalse = {
  identify: (v: unknown) => v === false,
  default: true,
  tag: BOOL_TAG,
  test: /^(?:no|No|NO|false|False|FALSE|off|Off|OFF)$/,
  resolve: () => false,
};

function pyYamlTags(tags: Tags): Tags {
  return [...tags.filter((t) => typeof t === 'string' || t.tag !== BOOL_TAG), pyTrue, pyFalse];
}

/** Parses YAML text; syntax errors become problems and the result is then undefined. */
export function parseYaml(text: string, sink: ProblemSink): unknown {
  const doc = parseDocument(text, { version: '1.1', customTags: pyYamlTags, merge: true, prettyErrors: true });
  if (doc.errors.length > 0) {
    for (const e of doc.errors) {
      const first = e.message.split('\n')[0] ?? e.message;
      const reason = first.replace(/ at line \d+, column \d+:?$/, '');
      const pos = e.linePos?.[0];
      const where = pos === undefined ? '' : ` at line ${pos.line}, column ${pos.col}`;
      sink.problem('', `YAML syntax error${where}: ${reason}`);
    }
    return undefined;
  }
  try {
    return doc.toJS();
  } catch (err) {
    sink.problem('', `YAML error: ${(err as Error).message.split('\n')[0] ?? ''}`);
    return undefined;
  }
}

/** One environment value written as YAML (for list/any-typed keys such as PGHA_ETCD3_HOSTS). */
export function parseYamlValue(text: string): { ok: true; value: unknown } | { ok: false } {
  const doc = parseDocument(text, { version: '1.1', customTags: pyYamlTags });
  if (doc.errors.length > 0) return { ok: false };
  return { ok: true, value: doc.toJS() };
}
