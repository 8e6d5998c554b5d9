// The docker image, built with testcontainers when a Docker engine is reachable. This machine
// class has only the docker client (no engine): then the test is skipped and says why.
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { GenericContainer } from 'testcontainers';
import { describe, expect, it } from 'vitest';

const root = join(import.meta.dirname, '../..');
const probe = spawnSync('docker', ['info', '--format', '{{.ServerVersion}}'], { encoding: 'utf8', timeout: 10_000 });
const engine = probe.status === 0 && probe.stdout.trim() !== '';
const why = engine ? '' : ` (skipped: no Docker engine reachable: ${(probe.stderr || probe.error?.message || 'docker info failed').trim().split('\n')[0]})`;

describe.skipIf(!engine)(`docker image${why}`, () => {
  it('builds from docker/Dockerfile and runs the agent as postgres', async () => {
    const image = await GenericContainer.fromDockerfile(root, 'docker/Dockerfile').build('pg-ha-agent:test', { deleteOnExit: true });
    const container = await image.withCommand(['sleep', 'infinity']).start();
    try {
      const version = await container.exec(['pg-ha-agent', '--version']);
      expect(version.exitCode).toBe(0);
      expect(version.output).toMatch(/\d+\.\d+\.\d+/);
      const whoami = await container.exec(['id', '-un']);
      expect(whoami.output.trim()).toBe('postgres');
      const check = await container.exec(['pg-ha-agent', '--validate-config', '/etc/pg-ha-agent/pg-ha-agent.yml'],
        { env: { PGHA_NAME: 'n1', PGHA_RESTAPI_CONNECT_ADDRESS: 'n1:8008', PGHA_POSTGRESQL_CONNECT_ADDRESS: 'n1:5432' } });
      expect(check.output.trim()).toBe('ok');
    } finally {
      await container.stop();
    }
  }, 900_000);
});
