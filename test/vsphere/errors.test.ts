import { describe, expect, it } from 'vitest';
import {
  AlreadyExistsError,
  AuthenticationError,
  FileAlreadyExistsError,
  FileNotFoundError,
  faultError,
  InsufficientResourcesError,
  InvalidArgumentError,
  InvalidPowerStateError,
  InvalidStateError,
  MethodNotFoundError,
  NotFoundError,
  normalizeThumbprint,
  PermissionDeniedError,
  SessionExpiredError,
  TaskInProgressError,
  ThumbprintMismatchError,
  VSphereError,
  VSphereFaultError,
} from '../../src/vsphere';

const context = { endpoint: 'https://vc/sdk', method: 'PowerOnVM_Task', object: 'VirtualMachine:vm-42' };

describe('fault errors', () => {
  it.each([
    ['ManagedObjectNotFound', NotFoundError],
    ['NotFound', NotFoundError],
    ['FileNotFound', FileNotFoundError],
    ['FileAlreadyExists', FileAlreadyExistsError],
    ['AlreadyExists', AlreadyExistsError],
    ['DuplicateName', AlreadyExistsError],
    ['InvalidLogin', AuthenticationError],
    ['NotAuthenticated', SessionExpiredError],
    ['NoPermission', PermissionDeniedError],
    ['NotAuthorized', PermissionDeniedError],
    ['NoDiskSpace', InsufficientResourcesError],
    ['InsufficientResourcesFault', InsufficientResourcesError],
    ['InvalidPowerState', InvalidPowerStateError],
    ['InvalidState', InvalidStateError],
    ['TaskInProgress', TaskInProgressError],
    ['MethodNotFound', MethodNotFoundError],
    ['InvalidArgument', InvalidArgumentError],
    ['SomethingElse', VSphereFaultError],
  ] as const)('%s becomes %s', (type, Class) => {
    const err = faultError(context, { type, message: 'text', detail: {} });
    expect(err).toBeInstanceOf(Class);
    expect(err).toBeInstanceOf(VSphereFaultError);
    expect(err).toBeInstanceOf(VSphereError);
    expect(err.name).toBe(Class.name);
    expect(err.fault.type).toBe(type);
    expect(err.message).toContain('PowerOnVM_Task on VirtualMachine:vm-42');
    expect(err.message).toContain(type);
    expect(err.message).toContain('https://vc/sdk');
  });

  it('InvalidPowerState carries both states and is an InvalidState', () => {
    const err = faultError(context, {
      type: 'InvalidPowerState',
      message: 'The attempted operation cannot be performed in the current state (Powered on).',
      detail: { requestedState: 'poweredOn', existingState: 'poweredOn' },
    });
    expect(err).toBeInstanceOf(InvalidStateError);
    expect(err).toMatchObject({ requestedState: 'poweredOn', existingState: 'poweredOn' });
    expect(err.message).toMatch(/VM is poweredOn/);
  });

  it('NoPermission names the privilege and the object the server named', () => {
    const err = faultError(context, {
      type: 'NoPermission',
      message: '',
      detail: {
        object: { attributes: { type: 'Datastore' }, $value: 'datastore-29' },
        privilegeId: 'Datastore.Browse',
      },
    });
    expect(err).toMatchObject({ privilegeId: 'Datastore.Browse' });
    expect(err.message).toContain('[needs Datastore.Browse on Datastore:datastore-29; docs/privileges.md]');
  });

  it('keeps the cause', () => {
    const cause = new Error('raw');
    expect(faultError(context, { type: 'X', message: '', detail: {} }, { cause }).cause).toBe(cause);
  });

  it('names both thumbprints on a mismatch', () => {
    const err = new ThumbprintMismatchError(context, 'AA:BB', 'CC:DD');
    expect(err.message).toContain('expected SHA-256 AA:BB');
    expect(err.message).toContain('presented CC:DD');
  });
});

describe('thumbprints', () => {
  it('normalises case and colons', () => {
    const hex = 'ab'.repeat(32);
    expect(normalizeThumbprint(hex)).toBe(Array(32).fill('AB').join(':'));
    expect(normalizeThumbprint(Array(32).fill('ab').join(':'))).toBe(Array(32).fill('AB').join(':'));
  });

  it('rejects anything but 32 bytes of hex', () => {
    expect(() => normalizeThumbprint('AB:CD')).toThrow(/SHA-256/);
    expect(() => normalizeThumbprint('zz'.repeat(32))).toThrow(/SHA-256/);
  });
});
