/**
 * Readiness probes for the lab's servers: a vSphere endpoint answers `/sdk/vimServiceVersions.xml` and
 * accepts a login; the Temporal frontend answers and knows the search attributes; the UI serves a page.
 */
import { readFileSync } from 'node:fs';
import { request } from 'node:https';
import { Connection } from '@temporalio/client';

interface HttpsResult {
  status: number;
  body: string;
}

function httpsRequest(
  url: string,
  caFile: string,
  init: { method: string; body?: string; headers?: Record<string, string> },
): Promise<HttpsResult> {
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      { method: init.method, headers: init.headers, ca: readFileSync(caFile), timeout: 5000, agent: false },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          body += chunk;
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      },
    );
    req.on('timeout', () => req.destroy(new Error(`timeout: ${url}`)));
    req.on('error', reject);
    req.end(init.body);
  });
}

const xmlEscape = (s: string) =>
  s.replace(
    /[<>&"']/g,
    (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;', "'": '&apos;' })[c] as string,
  );

function soapCall(url: string, caFile: string, body: string): Promise<HttpsResult> {
  const envelope = `<?xml version="1.0" encoding="UTF-8"?><soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns:vim25="urn:vim25"><soapenv:Body>${body}</soapenv:Body></soapenv:Envelope>`;
  return httpsRequest(url, caFile, {
    method: 'POST',
    body: envelope,
    headers: { 'Content-Type': 'text/xml; charset=utf-8', SOAPAction: 'urn:vim25/8.0.2.0' },
  });
}

/**
 * Checks a vSphere endpoint the way a client first meets it: the versions document, then a login and a
 * logout. The endpoint's certificate is trusted through its own PEM file, so TLS is verified.
 */
export async function probeVsphere(
  url: string,
  caFile: string,
  username: string,
  password: string,
): Promise<void> {
  const versions = await httpsRequest(new URL('/sdk/vimServiceVersions.xml', url).href, caFile, {
    method: 'GET',
  });
  if (versions.status !== 200 || !versions.body.includes('urn:vim25')) {
    throw new Error(`${url}: /sdk/vimServiceVersions.xml answered ${versions.status}`);
  }
  const content = await soapCall(
    url,
    caFile,
    '<vim25:RetrieveServiceContent><vim25:_this type="ServiceInstance">ServiceInstance</vim25:_this></vim25:RetrieveServiceContent>',
  );
  const sessionManager = /<sessionManager type="SessionManager">([^<]+)</.exec(content.body)?.[1];
  if (!sessionManager)
    throw new Error(`${url}: RetrieveServiceContent answered ${content.status} without a session manager`);
  const login = await soapCall(
    url,
    caFile,
    `<vim25:Login><vim25:_this type="SessionManager">${sessionManager}</vim25:_this><vim25:userName>${xmlEscape(username)}</vim25:userName><vim25:password>${xmlEscape(password)}</vim25:password></vim25:Login>`,
  );
  if (login.status !== 200 || !login.body.includes('LoginResponse')) {
    throw new Error(`${url}: Login as ${username} failed (HTTP ${login.status})`);
  }
}

/** Checks that the Temporal frontend answers and has every search attribute registered. */
export async function probeTemporal(
  address: string,
  namespace: string,
  searchAttributes: string[],
): Promise<void> {
  const connection = await Connection.connect({ address, connectTimeout: 2000 });
  try {
    const { customAttributes } = await connection.operatorService.listSearchAttributes({ namespace });
    const known = new Set(Object.keys(customAttributes ?? {}));
    const missing = searchAttributes.filter((name) => !known.has(name));
    if (missing.length > 0) throw new Error(`search attributes not registered yet: ${missing.join(', ')}`);
  } finally {
    await connection.close();
  }
}

/** Checks that the Temporal Web UI serves its page. */
export async function probeHttpPage(url: string): Promise<void> {
  const response = await fetch(url, { signal: AbortSignal.timeout(5000) });
  const text = await response.text();
  if (response.status !== 200 || !/<html/i.test(text)) throw new Error(`${url} answered ${response.status}`);
}
