#!/usr/bin/env python3
"""Per-scenario results of compat/run.sh from behave's JSON (or its plain output, when a feature
hit its timeout and the JSON is cut off).

  summarize.py FEATURE_FILE RESULT_PREFIX   -> RESULT_PREFIX.scenarios.txt, one line per scenario:
                                               <status>\t<scenario>\t<first failed step: message>
  summarize.py --total RESULTS_DIR          -> the table and "patroni-compat: N of M scenarios passed"
"""
import glob
import json
import os
import re
import sys

from behave.parser import parse_file


def declared(feature_file):
    names = []
    for s in parse_file(feature_file).scenarios:
        names.extend(x.name for x in s.scenarios) if hasattr(s, 'scenarios') else names.append(s.name)
    return names


def from_json(path):
    out = {}
    with open(path) as f:
        for feat in json.load(f):
            for el in feat.get('elements', []):
                if el.get('type') == 'background':
                    continue
                why = ''
                for st in el.get('steps', []):
                    res = st.get('result') or {}
                    if res.get('status') in ('failed', 'undefined'):
                        msg = res.get('error_message') or ''
                        msg = ' '.join(msg) if isinstance(msg, list) else msg
                        why = '{0} {1}: {2}'.format(st.get('keyword', ''), st.get('name', ''), msg.strip().splitlines()[0] if msg.strip() else '')
                        break
                out[el['name']] = (el.get('status', 'untested'), why)
    return out


def from_plain(path):
    out, current = {}, None
    with open(path, errors='replace') as f:
        for line in f:
            m = re.match(r'\s+Scenario(?: Outline)?: (.*?)\s*$', line)
            if m:
                current = m.group(1)
                out[current] = ('passed', '')
            elif current and re.search(r'\.\.\. (failed|undefined)', line):
                out[current] = ('failed', line.strip())
    return out


def one(feature_file, prefix):
    try:
        got = from_json(prefix + '.json')
    except (OSError, ValueError):
        got = from_plain(prefix + '.out') if os.path.exists(prefix + '.out') else {}
        got = {k: v if v[0] == 'failed' else ('timeout', 'feature timed out') for k, v in got.items()}
    with open(prefix + '.scenarios.txt', 'w') as f:
        for name in declared(feature_file):
            status, why = got.get(name, ('timeout', 'not reached'))
            f.write('{0}\t{1}\t{2}\n'.format(status, name, why))


def total(results):
    n = m = 0
    print('{0:28} {1:>5} {2:>6} {3:>7}'.format('feature', 'scen', 'passed', 'skipped'))
    for path in sorted(glob.glob(os.path.join(results, '*.scenarios.txt'))):
        rows = [line.split('\t') for line in open(path).read().splitlines()]
        passed = sum(1 for r in rows if r[0] == 'passed')
        skipped = sum(1 for r in rows if r[0] == 'skipped')
        print('{0:28} {1:>5} {2:>6} {3:>7}'.format(os.path.basename(path)[:-len('.scenarios.txt')], len(rows), passed, skipped))
        n, m = n + passed, m + len(rows)
    print('patroni-compat: {0} of {1} scenarios passed'.format(n, m))


if __name__ == '__main__':
    if sys.argv[1] == '--total':
        total(sys.argv[2])
    else:
        one(sys.argv[1], sys.argv[2])
