import { describe, expect, it } from 'vitest';
import {
  datastoreFileUrl,
  datastorePathBase,
  datastorePathDir,
  formatDatastorePath,
  joinDatastorePath,
  parseDatastorePath,
} from '../../src/vsphere';

describe('datastore paths', () => {
  const cases: [string, string, string][] = [
    ['[datastore1] vm/vm.vmx', 'datastore1', 'vm/vm.vmx'],
    ['[my ds] folder with spaces/a b.vmdk', 'my ds', 'folder with spaces/a b.vmdk'],
    ['[ds[1]] x/y', 'ds[1]', 'x/y'],
    ['[IR-NFS] web (copy)/web (copy).vmx', 'IR-NFS', 'web (copy)/web (copy).vmx'],
    ['[ds] a]b/[c] d.txt', 'ds', 'a]b/[c] d.txt'],
    ['[Speicher Ü] Müller/日本語 ñ.vmdk', 'Speicher Ü', 'Müller/日本語 ñ.vmdk'],
    ['[ds (old)] file', 'ds (old)', 'file'],
    ['[ds]', 'ds', ''],
  ];

  it.each(cases)('parses and formats %s', (text, datastore, path) => {
    const parsed = parseDatastorePath(text);
    expect(parsed).toEqual({ datastore, path });
    expect(formatDatastorePath(parsed)).toBe(text);
  });

  it('drops leading and trailing slashes', () => {
    expect(parseDatastorePath('[ds] /a/b/')).toEqual({ datastore: 'ds', path: 'a/b' });
  });

  it('rejects text that is not a datastore path', () => {
    expect(() => parseDatastorePath('vm/vm.vmx')).toThrow(/not a datastore path/);
    expect(() => parseDatastorePath('[ds')).toThrow(/not a datastore path/);
  });

  it('joins, splits dir and base', () => {
    const p = joinDatastorePath('[my ds] a', 'b c/', '/d.vmdk');
    expect(formatDatastorePath(p)).toBe('[my ds] a/b c/d.vmdk');
    expect(formatDatastorePath(datastorePathDir(p))).toBe('[my ds] a/b c');
    expect(datastorePathBase(p)).toBe('d.vmdk');
    expect(formatDatastorePath(datastorePathDir(parseDatastorePath('[ds] top')))).toBe('[ds]');
  });

  it('builds file API URLs that decode back to the same names', () => {
    const p = parseDatastorePath('[Speicher Ü (2)] Müller [x]/a b#?%.vmdk');
    const url = datastoreFileUrl('https://vc.example.com:8443/sdk', p, 'Europe/DC 1');
    expect(url.origin).toBe('https://vc.example.com:8443');
    expect(url.href).toContain('/folder/M%C3%BCller%20%5Bx%5D/a%20b%23%3F%25.vmdk?');
    expect(url.href).not.toContain('+');
    const segments = url.pathname.split('/').slice(2).map(decodeURIComponent);
    expect(segments.join('/')).toBe(p.path);
    expect(url.searchParams.get('dsName')).toBe('Speicher Ü (2)');
    expect(url.searchParams.get('dcPath')).toBe('Europe/DC 1');
  });
});
