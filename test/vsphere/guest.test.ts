import { describe, expect, it } from 'vitest';
import { cancelChoice, isUuidQuestion, movedChoice, parseQuestion, VmQuestionError } from '../../src/vsphere';

/** runtime.question as RetrievePropertiesEx gives it (one message, three choices, as ESXi asks). */
const uuidQuestion = {
  id: 'vm-42-1',
  text: 'msg.uuid.altered:This virtual machine might have been moved or copied.',
  choice: {
    choiceInfo: [
      { label: 'button.uuid.cancel', summary: 'Cancel', key: '0' },
      { label: 'button.uuid.movedTheVM', summary: 'I Moved It', key: '1' },
      { label: 'button.uuid.copiedTheVM', summary: 'I Copied It', key: '2' },
    ],
    defaultIndex: 2,
  },
  message: { id: 'msg.uuid.altered', text: 'This virtual machine might have been moved or copied.' },
};

describe('VM questions', () => {
  it('parses runtime.question, a single message as an object', () => {
    const q = parseQuestion(uuidQuestion);
    expect(q).toEqual({
      id: 'vm-42-1',
      text: 'msg.uuid.altered:This virtual machine might have been moved or copied.',
      messageIds: ['msg.uuid.altered'],
      choices: [
        { key: '0', label: 'button.uuid.cancel', summary: 'Cancel' },
        { key: '1', label: 'button.uuid.movedTheVM', summary: 'I Moved It' },
        { key: '2', label: 'button.uuid.copiedTheVM', summary: 'I Copied It' },
      ],
    });
    expect(parseQuestion(undefined)).toBeUndefined();
  });

  it('recognises the moved-or-copied question and finds its "moved" and "cancel" answers', () => {
    const q = parseQuestion(uuidQuestion);
    if (!q) throw new Error('no question');
    expect(isUuidQuestion(q)).toBe(true);
    expect(movedChoice(q)).toBe('1');
    expect(cancelChoice(q)).toBe('0');
    // A client that shows only the summaries (labels "I Moved It") is answered the same.
    const plain = { ...q, messageIds: [], choices: q.choices.map((c) => ({ ...c, label: c.summary })) };
    expect(movedChoice(plain)).toBe('1');
  });

  it('another question is not the uuid one and has no "moved" answer', () => {
    const q = parseQuestion({
      id: 'vm-42-2',
      text: 'There is no more space for virtual disk. Retry or cancel?',
      choice: {
        choiceInfo: [
          { label: 'button.retry', summary: 'Retry', key: '0' },
          { label: 'button.cancel', summary: 'Cancel', key: '1' },
        ],
      },
      message: [{ id: 'msg.hbacommon.outofspace' }],
    });
    if (!q) throw new Error('no question');
    expect(isUuidQuestion(q)).toBe(false);
    expect(movedChoice(q)).toBeUndefined();
    expect(cancelChoice(q)).toBe('1');
  });

  it('refuses with Cancel or Abort only, never Retry or OK; the error says what became of the question', () => {
    const ask = (labels: string[]) => {
      const q = parseQuestion({
        id: 'vm-42-3',
        text: 'msg.hbacommon.outofspace:There is no more space for virtual disk.',
        choice: { choiceInfo: labels.map((label, i) => ({ label, summary: label, key: String(i) })) },
        message: [{ id: 'msg.hbacommon.outofspace' }],
      });
      if (!q) throw new Error('no question');
      return q;
    };
    expect(cancelChoice(ask(['button.retry', 'button.abort']))).toBe('1');
    expect(cancelChoice(ask(['Retry', 'OK']))).toBeUndefined();
    const context = { endpoint: 'esx-b', method: 'PowerOnVM_Task', object: 'vm-42' };
    const cancelled = new VmQuestionError(context, ask(['Retry', 'Cancel']), 'Cancel');
    expect(cancelled.message).toContain('msg.hbacommon.outofspace');
    expect(cancelled.message).toContain('There is no more space for virtual disk.');
    expect(cancelled.message).toContain('answered Cancel so the power-on ends without starting the VM');
    const pending = new VmQuestionError(context, ask(['Retry', 'OK']));
    expect(pending.message).toContain('offers no Cancel or Abort');
    expect(pending.cancelledWith).toBeUndefined();
  });
});
