/**
 * Where JSON text is malformed, as a line and column a person can go to. JSON.parse's own messages
 * differ between Node versions and some carry no position at all, so the position is found here. Used by
 * the request and the plan parsers.
 */

/**
 * @internal The first syntax error of JSON text (without a byte-order mark) with its line and column,
 * or null when the text is valid JSON.
 */
export function jsonSyntaxError(
  body: string,
): { detail: string; position: number; line: number; column: number } | null {
  const syntax = findJsonSyntaxError(body);
  if (!syntax) return null;
  const before = body.slice(0, syntax.position).split('\n');
  return { ...syntax, line: before.length, column: (before.at(-1)?.length ?? 0) + 1 };
}

const WS = /[ \t\n\r]*/y;
// biome-ignore lint/suspicious/noControlCharactersInRegex: JSON forbids raw control characters in strings.
const STRING = /"(?:[^"\\\u0000-\u001f]|\\(?:["\\/bfnrt]|u[0-9a-fA-F]{4}))*"/y;
const NUMBER = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/y;
const LITERAL = /true|false|null/y;
const BAD_STRING = 'invalid string (unterminated, bad escape or raw control character)';

/** The first syntax error in JSON text, or null when it is valid. */
function findJsonSyntaxError(text: string): { position: number; detail: string } | null {
  let i = 0;
  const fail = (detail: string): never => {
    throw {
      position: i,
      detail: `${i >= text.length ? 'unexpected end of text' : `unexpected ${JSON.stringify(text[i])}`}, ${detail}`,
    };
  };
  const eat = (re: RegExp): boolean => {
    re.lastIndex = i;
    const m = re.exec(text);
    if (m) i += m[0].length;
    return m !== null;
  };
  const ws = (): void => {
    eat(WS);
  };
  // An object or an array: `item`s separated by commas up to `close`; `i` is at the opening bracket.
  const sequence = (close: '}' | ']', item: () => void): void => {
    i++;
    ws();
    if (text[i] === close) return void i++;
    for (;;) {
      item();
      ws();
      if (text[i] === ',') i++;
      else if (text[i] === close) return void i++;
      else fail(`expected ',' or '${close}'`);
    }
  };
  const member = (): void => {
    ws();
    if (text[i] !== '"') fail('expected a double-quoted property name');
    if (!eat(STRING)) fail(BAD_STRING);
    ws();
    if (text[i] !== ':') fail("expected ':' after the property name");
    i++;
    value();
  };
  const value = (): void => {
    ws();
    const c = text[i];
    if (c === '{') sequence('}', member);
    else if (c === '[') sequence(']', value);
    else if (c === '"') {
      if (!eat(STRING)) fail(BAD_STRING);
    } else if (!eat(NUMBER) && !eat(LITERAL)) fail('expected a value');
  };
  try {
    value();
    ws();
    if (i < text.length) fail('expected end of text after the JSON value');
    return null;
  } catch (error) {
    return error as { position: number; detail: string };
  }
}
