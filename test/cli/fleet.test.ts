// The fleet commands as a user meets them: deploy refusing what cannot run, ls, rollback,
// undeploy, a worker that drains on SIGTERM, and a clear exit when no server answers.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnWasp, wasp } from '../helpers/cli.js';
import { freePort, NatsServer } from '../helpers/nats-server.js';
import { textPlugin, writeConfig } from '../helpers/pipelines.js';
import { root } from '../helpers/plugins.js';

const pipeline = (fn: string) => `
name: words
plugins:
  text: { path: ${textPlugin} }
input: { subject: words.in }
stages:
  - { name: only, plugin: text, function: ${fn} }
output: { subject: words.out }
`;

describe('wasp deploy, ls, undeploy, worker', () => {
  let server: NatsServer;
  beforeAll(async () => {
    server = await NatsServer.start();
  });
  afterAll(async () => {
    await server?.dispose();
  });

  it('refuses a file wasp validate refuses, and one a worker cannot run, before touching NATS', async () => {
    const bad = await writeConfig(pipeline('no_such_function'));
    const refused = await wasp(['deploy', bad, '--nats', server.url]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/stages\[0\]\.function: plugin text exports no function no_such_function/);
    const stdin = await wasp(['deploy', `${root}pipelines/text/stdin.yaml`, '--nats', 'nats://127.0.0.1:1']);
    expect(stdin.code).toBe(1);
    expect(stdin.stderr).toMatch(/input: stdin cannot be deployed/);
    expect(stdin.stderr).toMatch(/output: stdout cannot be deployed/);
  });

  it('deploys, lists, rolls back and undeploys', async () => {
    const one = await wasp(['deploy', await writeConfig(pipeline('identity')), '--nats', server.url]);
    expect(one.code, one.stderr).toBe(0);
    expect(one.stdout).toMatch(/deployed words revision 1 \(1 module\(s\): 1 uploaded, 0 already stored\)/);
    expect(one.stdout).toMatch(/note: input words.in: queue group wasp-words/);
    const two = await wasp(['deploy', await writeConfig(pipeline('upper')), '--nats', server.url]);
    expect(two.stdout).toMatch(/revision 2 \(1 module\(s\): 0 uploaded, 1 already stored\)/);
    const ls = await wasp(['ls', '--nats', server.url]);
    expect(ls.code).toBe(0);
    expect(ls.stdout).toMatch(/^PIPELINE\s+REVISION\s+DEPLOYED\s+PLUGINS\s+WORKERS$/m);
    expect(ls.stdout).toMatch(/^words\s+2\s+.*text=sha256:[0-9a-f]{12}\s+-$/m);
    const back = await wasp(['deploy', '--rollback', 'words', '--nats', server.url]);
    expect(back.stdout).toMatch(/revision 3 is revision 1 again/);
    expect((await wasp(['deploy', '--rollback', 'words', '--to', '7', '--nats', server.url])).stderr).toMatch(/has no revision 7 \(kept: 1, 2, 3\)/);
    expect((await wasp(['undeploy', 'words', '--nats', server.url])).stdout).toMatch(/undeployed words/);
    const again = await wasp(['undeploy', 'words', '--nats', server.url]);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/pipeline words is not deployed/);
    expect((await wasp(['ls', '--nats', server.url])).stdout).toBe('no pipelines deployed\n');
  });

  it('a worker runs what is deployed, shows in ls and status, and exits 0 on SIGTERM', async () => {
    const worker = spawnWasp(['worker', '--nats', server.url, '--pipelines', 'wor*']);
    try {
      await worker.waitFor('taking pipelines wor*');
      const deployed = await wasp(['deploy', await writeConfig(pipeline('upper')), '--nats', server.url, '--wait']);
      expect(deployed.code, deployed.stderr).toBe(0);
      expect(deployed.stdout).toMatch(/running on 1 worker\(s\)/);
      expect((await wasp(['ls', '--nats', server.url])).stdout).toMatch(new RegExp(`words\\s+\\d+\\s+.*:${worker.child.pid}@\\d+`));
      const status = await wasp(['status', '--nats', server.url]);
      expect(status.stdout).toMatch(/^words\s+\d+\s+1\s+0\s+0\s+0\s+0\s+0\s+-$/m);
      worker.child.kill('SIGTERM');
      expect((await worker.exited).code).toBe(0);
      expect(worker.stderr()).toMatch(/SIGTERM: draining/);
    } finally {
      if (worker.child.exitCode === null) worker.child.kill('SIGKILL');
      await wasp(['undeploy', 'words', '--nats', server.url]);
    }
  });

  it('says where it looked when no server answers, and exits 1', async () => {
    const port = await freePort();
    const result = await wasp(['ls', '--nats', `nats://127.0.0.1:${port}`]);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(new RegExp(`no NATS server answered at nats://127.0.0.1:${port} within 5 s`));
  });

  it('exits 2 on a usage mistake', async () => {
    expect((await wasp(['deploy'])).code).toBe(2);
    expect((await wasp(['deploy', 'a.yaml', '--to', '3'])).stderr).toMatch(/--to goes with --rollback/);
    expect((await wasp(['worker', '--bogus'])).code).toBe(2);
    // a name no pipeline can have never reaches the store (a wildcard was looked up as a key)
    for (const args of [['deploy', '--rollback', '*'], ['undeploy', 'a.b']]) {
      const result = await wasp(args);
      expect(result.code, args.join(' ')).toBe(2);
      expect(result.stderr).toMatch(/is not a pipeline name \(letters, digits, - and _ only\)/);
    }
  });
});
