/** The transfer's pure parts (no server): the target check, the resume rule and the rate meter. */
import { describe, expect, it } from 'vitest';
import type { CopyFileResult } from '../../src/vsphere';
import { checkTarget, isComplete, RateMeter, VerificationError, VSphereError } from '../../src/vsphere';

const context = {
  endpoint: 'https://esx-b.lab/sdk',
  method: 'verify sha256',
  object: '[ds2] vm/vm-flat.vmdk',
};
const A = 'a'.repeat(64);
const B = 'b'.repeat(64);

describe('checkTarget', () => {
  it('accepts a target with the size and hash sent', () => {
    expect(() =>
      checkTarget(
        context,
        '[ds1] vm/vm-flat.vmdk',
        '[ds2] vm/vm-flat.vmdk',
        { size: 10, sha256: A },
        { size: 10, sha256: A },
      ),
    ).not.toThrow();
  });

  it('reports different bytes as a VerificationError naming the file and both hashes', () => {
    let error: unknown;
    try {
      checkTarget(
        context,
        '[ds1] vm/vm-flat.vmdk',
        '[ds2] vm/vm-flat.vmdk',
        { size: 10, sha256: A },
        { size: 10, sha256: B },
      );
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(VerificationError);
    expect(error).toBeInstanceOf(VSphereError);
    const e = error as VerificationError;
    expect(e).toMatchObject({
      name: 'VerificationError',
      check: 'sha256',
      expected: A,
      actual: B,
      source: '[ds1] vm/vm-flat.vmdk',
      target: '[ds2] vm/vm-flat.vmdk',
      endpoint: context.endpoint,
    });
    expect(e.message).toContain('[ds2] vm/vm-flat.vmdk');
    expect(e.message).toContain(A);
    expect(e.message).toContain(B);
  });

  it('reports a short target by its size, before comparing hashes', () => {
    expect(() =>
      checkTarget(context, '[ds1] f', '[ds2] f', { size: 10, sha256: A }, { size: 9, sha256: B }),
    ).toThrow(expect.objectContaining({ check: 'size', expected: '10', actual: '9' }));
    // verify 'size': no hash to compare
    expect(() =>
      checkTarget(context, '[ds1] f', '[ds2] f', { size: 10, sha256: A }, { size: 10 }),
    ).not.toThrow();
  });
});

describe('isComplete (resume rule)', () => {
  const result = (sha256Target: string | null): CopyFileResult => ({
    source: '[ds1] f',
    target: '[ds2] f',
    size: 1,
    sha256Source: A,
    sha256Target,
    skipped: false,
  });

  it('at sha256 keeps only files whose read-back matched', () => {
    expect(isComplete(result(A), 'sha256')).toBe(true);
    expect(isComplete(result(B), 'sha256')).toBe(false);
    expect(isComplete(result(null), 'sha256')).toBe(false);
  });

  it('at size or none keeps any completed file (the target size is re-checked by copyFiles)', () => {
    expect(isComplete(result(null), 'size')).toBe(true);
    expect(isComplete(result(null), 'none')).toBe(true);
  });
});

describe('RateMeter', () => {
  it('measures over the sliding window only', () => {
    const meter = new RateMeter(1_000);
    expect(meter.rate()).toBe(0);
    meter.record(0, 0);
    meter.record(1_000_000, 500); // 2 MB/s during the first half second
    expect(meter.rate()).toBeCloseTo(2_000_000);
    for (let t = 600; t <= 3_000; t += 100) meter.record(1_000_000 + (t - 500) * 100, t); // then 100 kB/s
    expect(meter.rate()).toBeGreaterThan(90_000);
    expect(meter.rate()).toBeLessThan(120_000);
  });
});
