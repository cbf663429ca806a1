// jest globalSetup: tests that run the service as a real process need a fresh build.
import { execFileSync } from 'node:child_process';

export default function buildDist() {
  execFileSync(process.execPath, ['node_modules/typescript/bin/tsc', '-p', 'tsconfig.build.json'], {
    stdio: 'inherit',
  });
}
