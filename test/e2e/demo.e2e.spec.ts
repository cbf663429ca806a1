/**
 * `npm run demo`: the seed's scripted scenario over real sockets. A newcomer reads its output
 * step by step, so each step's lines must come under that step's header.
 */
import { describe, expect, it } from '@jest/globals';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** The output cut at each `── title` header: title → its lines (colour codes removed). */
function sections(output: string): Map<string, string[]> {
  const result = new Map<string, string[]>();
  let lines: string[] = [];
  for (const raw of output.split('\n')) {
    // eslint-disable-next-line no-control-regex -- the demo's colour codes
    const line = raw.replace(/\x1b\[\d+m/g, '');
    if (line.startsWith('── ')) result.set(line.slice(3), (lines = []));
    else if (line.trim() !== '') lines.push(line);
  }
  return result;
}

describe('npm run demo', () => {
  it('should print every step’s deliveries under its own header', async () => {
    const { stdout } = await run(process.execPath, ['dist/scripts/demo.js'], {
      env: { PATH: process.env.PATH ?? '', NODE_ENV: 'test', STORE: 'memory' },
      timeout: 60_000,
    });
    const steps = sections(stdout);
    const of = (prefix: string): string[] =>
      [...steps].find(([title]) => title.startsWith(prefix))?.[1] ?? [];

    // 4 arrivals, each heard by itself and everyone already there: 1 + 2 + 3 + 4.
    expect(of('everyone connects')).toHaveLength(10);
    expect(of('everyone connects').every((l) => l.endsWith(' connected'))).toBe(true);
    expect(of('a private chat')).toEqual([
      '철수　 ◀ [private] 철수 → 영희: 점심 같이 드실래요?',
      '영희　 ◀ [private] 철수 → 영희: 점심 같이 드실래요?',
    ]);
    const away = of('지영 disconnects');
    expect(away.filter((l) => l.endsWith('지영 disconnected'))).toHaveLength(3);
    expect(away).toContain('철수　 ◀ [memo] 철수 → 지영: 내일 회의 10시입니다.');
    const back = of('지영 comes back');
    expect(back).toContain('지영　 ◀ [memo] 철수 → 지영: 내일 회의 10시입니다.');
    expect(back.filter((l) => l.endsWith('지영 connected'))).toHaveLength(4);
    expect(of('snapshot')[0]).toBe('{');
  }, 60_000);
});
