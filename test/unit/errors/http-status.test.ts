/**
 * src/errors/http-status.ts: no error code is ever answered with a success status on the
 * admin API (codes travelling in-band in JSON-RPC answers are client errors there).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ERRORS, type ErrorCode } from '../../../src/errors/catalog.js';
import { adminStatusOf, initializeStatusOf } from '../../../src/errors/http-status.js';
import { GatewayError } from '../../../src/errors/catalog.js';

describe('HTTP statuses of error codes', () => {
  it('the admin API answers every code with an error status, keeping the catalogue status where it is one', () => {
    for (const code of Object.keys(ERRORS) as ErrorCode[]) {
      const status = adminStatusOf(code);
      assert.ok(status >= 400 && status < 600, `${code} → ${status}`);
      if (ERRORS[code].http >= 400 && code !== 'MCPEG_ERR_CONFIG_INVALID') assert.equal(status, ERRORS[code].http, code);
    }
    assert.equal(adminStatusOf('MCPEG_ERR_UNKNOWN_TOOL'), 400);
    assert.equal(adminStatusOf('MCPEG_ERR_CONFIG_INVALID'), 400);
  });

  it('a failed initialize is never a 200', () => {
    for (const code of Object.keys(ERRORS) as ErrorCode[]) assert.ok(initializeStatusOf(new GatewayError(code, 'x')) >= 400, code);
  });
});
