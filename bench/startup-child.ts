/**
 * Child process of the startup figure (bench/startup.ts): in a fresh Node process, times the WSDL load
 * alone and a whole `VSphereClient.connect` (version negotiation, WSDL load, RetrieveServiceContent,
 * Login), cold and then warm. Reads the endpoint from argv[2] (JSON); prints one JSON line.
 */
import { fileURLToPath } from 'node:url';
import { createClientAsync } from 'soap';
import type { LabEndpoint } from '../src/lab/lab';
import { connectTo } from './lab';

const WSDL = fileURLToPath(new URL('../src/vsphere/wsdl/vim25-subset.wsdl', import.meta.url));
const ep = JSON.parse(process.argv[2] ?? '{}') as LabEndpoint;
const time = async (fn: () => Promise<unknown>) => {
  const t = performance.now();
  await fn();
  return performance.now() - t;
};
const coldConnectMs = await time(async () => (await connectTo(ep)).close());
const warmWsdlMs = await time(() => createClientAsync(WSDL));
const warmConnectMs = await time(async () => (await connectTo(ep)).close());
console.log(JSON.stringify({ coldConnectMs, warmWsdlMs, warmConnectMs }));
