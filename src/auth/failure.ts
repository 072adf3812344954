/**
 * Why a credential was refused, as the edge answers it: 401 with `error="invalid_token"`
 * (RFC 6750 §3.1) for a token that is not valid here; 503 when the authorization server
 * could not be asked (keys or introspection unreachable): the token may be fine, so the
 * client is not told to get another.
 */
export class AuthFailure extends Error {
  constructor(
    readonly kind: 'invalid_token' | 'unavailable',
    message: string,
  ) {
    super(message);
  }
}
