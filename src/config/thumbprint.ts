/** SHA-256 certificate thumbprints, as a worker configuration pins them and the TLS check compares them. */

/**
 * Normalises a SHA-256 thumbprint to colon-separated upper-case hex (`AB:CD:...`, the form vSphere
 * shows); case, colons and white space of the input do not matter. Throws TypeError when it is not 32
 * bytes of hex.
 */
export function normalizeThumbprint(thumbprint: string): string {
  const hex = thumbprint.replace(/[:\s]/g, '').toUpperCase();
  if (!/^[0-9A-F]{64}$/.test(hex)) {
    throw new TypeError(`not a SHA-256 thumbprint (expected 32 colon-separated hex bytes): ${thumbprint}`);
  }
  return hex.match(/../g)?.join(':') ?? hex;
}
