/**
 * A URL field that secrets travel to (an authorization server's endpoints, the gateway's
 * public resource URI): https without fragment, plain http only to a loopback host (tests,
 * local development), where nothing crosses a network.
 */
import { z } from 'zod';

export const httpsUrl = (what: string) =>
  z.url({ protocol: /^https?$/ }).refine((u) => {
    const url = new URL(u);
    if (url.hash) return false;
    return url.protocol === 'https:' || /^(localhost|127\.\d+\.\d+\.\d+|\[::1\])$/.test(url.hostname);
  }, `${what}: expected an https URL without fragment (http only for localhost or 127.0.0.1)`);
