/** Where an OpenAPI backend's credentials may go (origin.ts) and which addresses a foreign $ref may reach (public-address.ts). */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { credentialsFor, httpOrigin } from '../../../../src/backends/openapi/origin.js';
import { isPublicAddress, publicDispatcher } from '../../../../src/backends/openapi/public-address.js';
import { isRoutingHeader } from '../../../../src/backends/rest/routing-headers.js';

const creds = { headers: { authorization: 'Bearer t' }, query: { key: 'k' } };

describe('credentialsFor', () => {
  const api = httpOrigin('https://api.example.com/v1');
  it('gives them to the same origin, however the URL is spelled', () => {
    for (const u of ['https://api.example.com/x', 'HTTPS://API.EXAMPLE.COM:443/y?q', 'https://user:pw@api.example.com/z']) assert.equal(credentialsFor(u, api, creds), creds, u);
  });
  it('withholds them from any other origin', () => {
    for (const u of [
      'http://api.example.com/x',
      'https://api.example.com:8443/x',
      'https://api.example.com.evil.example/x',
      'https://evil.example/api.example.com',
      'file:///etc/passwd',
      'data:text/plain,x',
    ]) {
      assert.deepEqual(credentialsFor(u, api, creds), { headers: {}, query: {} }, u);
    }
  });
  it('withholds them when the API origin is unknown', () => {
    assert.deepEqual(credentialsFor('https://api.example.com/x', undefined, creds), { headers: {}, query: {} });
  });
});

describe('isPublicAddress', () => {
  it('refuses loopback, private, link-local, CGNAT, documentation, multicast and mapped addresses', () => {
    for (const a of [
      '127.0.0.1',
      '10.1.2.3',
      '172.16.0.1',
      '192.168.1.1',
      '169.254.169.254',
      '100.64.0.1',
      '0.0.0.0',
      '192.0.2.1',
      '224.0.0.1',
      '255.255.255.255',
      '::1',
      '::',
      'fe80::1',
      'fd00::1',
      '::ffff:127.0.0.1',
      '::ffff:7f00:1',
      '::ffff:a9fe:a9fe',
      '64:ff9b::a00:1',
      '2002:a00:1::',
      'not-an-ip',
    ]) {
      assert.equal(isPublicAddress(a), false, a);
    }
  });
  it('accepts public addresses', () => {
    for (const a of ['8.8.8.8', '1.1.1.1', '93.184.216.34', '2606:4700:4700::1111', '::ffff:8.8.8.8']) assert.equal(isPublicAddress(a), true, a);
  });
  it('publicDispatcher refuses a literal private host before connecting', async () => {
    await assert.rejects(publicDispatcher(new URL('http://[::1]:9/x'), '$ref x'), /::1 is not a public address/);
    await assert.rejects(publicDispatcher(new URL('http://169.254.169.254/latest'), '$ref x'), /169\.254\.169\.254 is not a public address/);
  });
});

describe('isRoutingHeader', () => {
  it('names the headers an argument may not fill', () => {
    for (const h of ['Host', 'host ', 'Content-Length', 'Transfer-Encoding', 'Connection', 'Proxy-Authorization', 'TE', 'Upgrade']) assert.equal(isRoutingHeader(h), true, h);
    for (const h of ['X-Trace', 'Accept', 'Authorization', 'Content-Type']) assert.equal(isRoutingHeader(h), false, h);
  });
});
