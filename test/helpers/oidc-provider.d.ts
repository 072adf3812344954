/** The little of oidc-provider's API the test helper uses (the package ships no types). */
declare module 'oidc-provider' {
  import type { IncomingMessage, ServerResponse } from 'node:http';
  export type Configuration = Record<string, unknown> & { clients?: Array<Record<string, unknown>>; features?: Record<string, unknown> };
  export default class Provider {
    constructor(issuer: string, configuration?: Configuration);
    callback(): (req: IncomingMessage, res: ServerResponse) => void;
    on(event: string, listener: (...args: unknown[]) => void): this;
    use(middleware: (ctx: { path: string }, next: () => Promise<void>) => Promise<void>): void;
    registerGrantType(
      name: string,
      handler: (ctx: unknown, next: () => Promise<void>) => Promise<void>,
      parameters?: Set<string> | string[],
      allowedDuplicateParameters?: Set<string> | string[],
    ): void;
    [key: string]: unknown;
  }
}
