/** Why an OpenAPI document could not be loaded; the message names the file or URL. */
export class SpecLoadError extends Error {
  override name = 'SpecLoadError';
}
