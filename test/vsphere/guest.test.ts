import { describe, expect, it } from 'vitest';
import { cancelChoice, isUuidQuestion, movedChoice, parseQuestion } from '../../src/vsphere';

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
});
