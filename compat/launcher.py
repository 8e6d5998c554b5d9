#!/usr/bin/env python3
"""Make Patroni's features/environment.py launch pg-ha-agent instead of patroni.py.

  launcher.py PATH/TO/features/environment.py

The only change to Patroni's tree: a block appended to environment.py that replaces
PatroniController._start when PGHA_AGENT_JS is set.  The replacement runs
`node $PGHA_AGENT_JS <generated config>` with the environment, log file and working directory
patroni.py would get, after deleting bootstrap.post_bootstrap from the generated config
(environment.py gives it to every member; pg-ha-agent refuses it; no scenario checks it).
Steps, assertions and patronictl stay Patroni's.  Nothing of Patroni's code is copied here.
"""
import sys

MARK = '# --- pg-ha-agent launcher (pg-ha-agent compat/launcher.py) ---'

BLOCK = MARK + '''
def _pgha_start(self):
    import os as _os
    import shutil as _shutil
    import subprocess as _subprocess
    import yaml as _yaml
    if self.watchdog:
        self.watchdog.start()
    with open(self._config) as f:
        config = _yaml.safe_load(f)
    removed = (config.get('bootstrap') or {}).pop('post_bootstrap', None)
    if removed is not None:
        with open(self._config, 'w') as f:
            _yaml.safe_dump(config, f, default_flow_style=False)
        with open(_os.path.join(self._output_dir, 'pgha_adaptations.log'), 'a') as f:
            f.write('{0}: removed bootstrap.post_bootstrap={1!r}\\n'.format(self._name, removed))
    node = _os.environ.get('PGHA_NODE') or _shutil.which('node') or 'node'
    return _subprocess.Popen([node, _os.environ['PGHA_AGENT_JS'], self._config], env=_os.environ.copy(),
                             stdout=self._log, stderr=_subprocess.STDOUT, cwd=self._work_directory)


if __import__('os').environ.get('PGHA_AGENT_JS'):
    PatroniController._start = _pgha_start
'''


def main():
    path = sys.argv[1]
    with open(path) as f:
        text = f.read()
    if MARK in text:
        return 0
    if 'class PatroniController' not in text or 'def _start(self)' not in text:
        print('PatroniController._start not found in ' + path + ': Patroni changed its test harness', file=sys.stderr)
        return 1
    with open(path, 'a') as f:
        f.write('\n\n' + BLOCK)
    return 0


if __name__ == '__main__':
    sys.exit(main())
