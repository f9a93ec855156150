import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { statusLine, StatusLine, summary } from '../../src/cli/status.js';
import { PipelineStats, StageStats } from '../../src/pipeline/stats.js';

function stats(): PipelineStats {
  const upper = Object.assign(new StageStats('upper'), { in: 10, out: 8, dropped: 2 });
  const audit = Object.assign(new StageStats('audit'), { in: 8, out: 7, failed: 1, emitted: 7 });
  audit.count({ refusedEmits: 1, replacedInstances: 0 });
  return Object.assign(new PipelineStats([upper, audit]), { received: 10, published: 7, deadLettered: 1, acked: 9, termed: 1 });
}

describe('status line and summary', () => {
  it('show messages in, out, dropped and failed per stage, and the rate', () => {
    expect(statusLine(stats(), 1234.4)).toBe('in 10 | upper 10>8 drop 2 fail 0 | audit 8>7 drop 0 fail 1 | out 7 | dlq 1 | 1234 msg/s');
    const text = summary(stats(), { acks: true, failed: 'dead-lettered' });
    expect(text).toMatch(/^summary: 10 in, 7 out, 1 dead-lettered in \d+\.\d s \(acked 9, nak'ed 0, terminated 1\)/);
    // no acks where the input has none; failures named for where they went
    expect(summary(stats(), { acks: false, failed: 'logged' })).toMatch(/^summary: 10 in, 7 out, 1 failed \(logged: no deadLetter\) in \d+\.\d s\n/);
    expect(summary(stats(), { acks: false, failed: 'discarded' })).toMatch(/^summary: 10 in, 7 out, 1 failed \(discarded\) in \d+\.\d s\n/);
    expect(text).toMatch(/audit +in +8 +out +7 +dropped +0 +failed +1 +emitted +7 +refused emits 1/);
  });

  it('draws only on a terminal', async () => {
    const pipe = Object.assign(new PassThrough(), { isTTY: false });
    const line = new StatusLine(pipe, stats());
    line.start();
    line.stop();
    expect(pipe.read()).toBeNull();
  });
});
