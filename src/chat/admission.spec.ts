import { describe, expect, it } from '@jest/globals';
import { AppConfig } from '../config/app-config.js';
import { Admission } from './admission.js';

function admission(env: Record<string, string> = {}): Admission {
  return new Admission(AppConfig.fromEnv({ NODE_ENV: 'test', STORE: 'memory', ...env }));
}

describe(Admission.name, () => {
  describe('admitPending', () => {
    it('should default to 2000 pending sessions per address', () => {
      const gate = admission();
      for (let n = 0; n < 2000; n++) expect(gate.admitPending('10.0.0.1')).toBeUndefined();
      expect(gate.admitPending('10.0.0.1')).toBe('RATE_LIMITED');
    });

    it('should refuse past the bound with RATE_LIMITED, for that address only', () => {
      const gate = admission({ MAX_PENDING_HANDSHAKES_PER_IP: '3' });
      for (let n = 0; n < 3; n++) expect(gate.admitPending('10.0.0.1')).toBeUndefined();
      expect(gate.admitPending('10.0.0.1')).toBe('RATE_LIMITED');
      expect(gate.admitPending('10.0.0.1')).toBe('RATE_LIMITED');
      expect(gate.admitPending('10.0.0.2')).toBeUndefined();
    });

    it('should give one slot back per release, and count no refusal', () => {
      const gate = admission({ MAX_PENDING_HANDSHAKES_PER_IP: '2' });
      gate.admitPending('10.0.0.1');
      gate.admitPending('10.0.0.1');
      expect(gate.admitPending('10.0.0.1')).toBe('RATE_LIMITED');
      gate.releasePending('10.0.0.1');
      expect(gate.admitPending('10.0.0.1')).toBeUndefined();
      expect(gate.admitPending('10.0.0.1')).toBe('RATE_LIMITED');
    });

    it('should not go below zero when an unknown address is released', () => {
      const gate = admission({ MAX_PENDING_HANDSHAKES_PER_IP: '1' });
      gate.releasePending('10.0.0.1');
      gate.releasePending('10.0.0.1');
      expect(gate.admitPending('10.0.0.1')).toBeUndefined();
      expect(gate.admitPending('10.0.0.1')).toBe('RATE_LIMITED');
      gate.releasePending('10.0.0.1');
      gate.releasePending('10.0.0.1');
      expect(gate.admitPending('10.0.0.1')).toBeUndefined();
      expect(gate.admitPending('10.0.0.1')).toBe('RATE_LIMITED');
    });

    it('should have no bound with 0', () => {
      const gate = admission({ MAX_PENDING_HANDSHAKES_PER_IP: '0' });
      for (let n = 0; n < 10_000; n++) expect(gate.admitPending('10.0.0.1')).toBeUndefined();
    });
  });
});
