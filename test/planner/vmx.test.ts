import { describe, expect, it } from 'vitest';
import { replaceAll } from '../../src/activities/transfer';
import { editVmx, KEEP_IDENTITY } from '../../src/planner/vmx';

const VMX = [
  '.encoding = "UTF-8"',
  'displayName = "ir-app01"',
  'uuid.bios = "42 1a 2b 3c 4d 5e 6f 70-81 92 a3 b4 c5 d6 e7 f8"',
  'uuid.action = "create"',
  'scsi0:0.fileName = "ir-app01.vmdk"',
  'ide1:0.present = "TRUE"',
  'ide1:0.deviceType = "cdrom-image"',
  'ide1:0.fileName = "/vmfs/volumes/IR-NFS/iso/tools.iso"',
  'ide1:0.startConnected = "TRUE"',
  'sata0:1.present = "TRUE"',
  'sata0:1.deviceType = "cdrom-image"',
  'sata0:1.fileName = "/vmfs/volumes/5f3c-aa01/images/os.iso"',
  'sata0:2.deviceType = "cdrom-image"',
  'sata0:2.fileName = "/vmfs/volumes/library/os.iso"',
  'ethernet0.addressType = "generated"',
  'ethernet0.generatedAddress = "00:50:56:aa:bb:cc"',
  '',
].join('\n');

describe('editVmx', () => {
  it('keeps the identity: uuid.action keep replaces what was there, nothing else changes', () => {
    const { text, disconnected } = editVmx(VMX, { set: KEEP_IDENTITY, disconnectIsoOn: [] });
    expect(text).toBe(VMX.replace('uuid.action = "create"', 'uuid.action = "keep"'));
    expect(disconnected).toEqual([]);
  });

  it('appends a key the file lacks, matching keys without regard to case', () => {
    const bare = 'displayName = "a"\nUUID.Bios = "42 00"\n';
    expect(editVmx(bare, { set: KEEP_IDENTITY, disconnectIsoOn: [] }).text).toBe(
      'displayName = "a"\nUUID.Bios = "42 00"\nuuid.action = "keep"\n',
    );
    expect(editVmx('Uuid.Action = "create"\n', { set: KEEP_IDENTITY, disconnectIsoOn: [] }).text).toBe(
      'Uuid.Action = "keep"\n',
    );
  });

  it('disconnects the ISOs on the named datastores (by name or volume id) and leaves the others', () => {
    const { text, disconnected } = editVmx(VMX, {
      set: KEEP_IDENTITY,
      disconnectIsoOn: ['IR-NFS', '/vmfs/volumes/5f3c-aa01'],
    });
    expect(disconnected).toEqual([
      { device: 'ide1:0', iso: '/vmfs/volumes/IR-NFS/iso/tools.iso' },
      { device: 'sata0:1', iso: '/vmfs/volumes/5f3c-aa01/images/os.iso' },
    ]);
    expect(text).toContain('ide1:0.deviceType = "atapi-cdrom"');
    expect(text).toContain('ide1:0.fileName = ""');
    expect(text).toContain('ide1:0.startConnected = "FALSE"');
    expect(text).toContain('ide1:0.clientDevice = "TRUE"');
    expect(text).toContain('sata0:1.fileName = ""');
    expect(text).not.toContain('IR-NFS');
    // An ISO on a datastore the target may keep using stays attached.
    expect(text).toContain('sata0:2.deviceType = "cdrom-image"');
    expect(text).toContain('sata0:2.fileName = "/vmfs/volumes/library/os.iso"');
  });

  it('keeps CRLF line ends', () => {
    const crlf = 'a = "1"\r\nuuid.action = "create"\r\n';
    expect(editVmx(crlf, { set: KEEP_IDENTITY, disconnectIsoOn: [] }).text).toBe(
      'a = "1"\r\nuuid.action = "keep"\r\n',
    );
  });

  it('runs after the path replacements in the copy transform', () => {
    const apply = replaceAll({
      kind: 'replace',
      pairs: [['"ir-app01.vmdk"', '"/vmfs/volumes/datastore1/ir-app01/ir-app01.vmdk"']],
      vmx: { set: KEEP_IDENTITY, disconnectIsoOn: ['IR-NFS'] },
    });
    const out = apply(VMX);
    expect(out).toContain('scsi0:0.fileName = "/vmfs/volumes/datastore1/ir-app01/ir-app01.vmdk"');
    expect(out).toContain('uuid.action = "keep"');
    expect(out).toContain('ide1:0.startConnected = "FALSE"');
  });
});
