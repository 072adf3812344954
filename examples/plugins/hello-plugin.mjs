// An example third-party MCpeg plugin: a plain ES module, no build step.
// Load it with (paths are relative to the config file):
//
//   plugins:
//     - name: hello
//       module: ./plugins/hello-plugin.mjs
//       config: { greeting: "Hi" }
//
// Its tools then appear as hello__greet (namespaced like any backend's).

/** @type {import('mcpeg').PluginDefinition<{ greeting: string; max_name_length: number }>} */
export default {
  name: 'hello',
  version: '1.0.0',
  description: 'Greets people and counts how often it did.',
  // JSON Schema for `config`: validated when the gateway loads, defaults filled in.
  configSchema: {
    type: 'object',
    additionalProperties: false,
    properties: {
      greeting: { type: 'string', minLength: 1, default: 'Hello' },
      max_name_length: { type: 'integer', minimum: 1, default: 64 },
    },
  },
  start(config, ctx) {
    let greeted = 0;
    ctx.log.info({ greeting: config.greeting }, 'hello plugin started');
    return {
      tools: [
        {
          name: 'greet',
          description: 'Greets someone by name.',
          // Arguments are validated against this before the handler runs.
          inputSchema: {
            type: 'object',
            properties: { name: { type: 'string', minLength: 1, maxLength: config.max_name_length } },
            required: ['name'],
            additionalProperties: false,
          },
          annotations: { readOnlyHint: false },
          async handler(args, call) {
            await call.progress(1, 1, 'greeting');
            greeted++;
            return {
              content: [{ type: 'text', text: `${config.greeting}, ${args.name}!` }],
              structuredContent: { greeting: config.greeting, name: args.name, count: greeted },
            };
          },
        },
        {
          name: 'fail',
          description: 'Always fails: shows how a thrown error reaches the client (isError).',
          inputSchema: { type: 'object', properties: {}, additionalProperties: false },
          handler() {
            throw new Error('this tool always fails');
          },
        },
      ],
      resources: [
        {
          uri: 'hello://stats',
          name: 'hello_stats',
          mimeType: 'application/json',
          read: () => [{ uri: 'hello://stats', mimeType: 'application/json', text: JSON.stringify({ greeted }) }],
        },
      ],
      prompts: [
        {
          name: 'welcome',
          description: 'A welcome message for a new team member.',
          arguments: [{ name: 'name', required: true }, { name: 'team' }],
          get: (args) => ({
            messages: [{ role: 'user', content: { type: 'text', text: `Write a short welcome for ${args.name}${args.team ? ` joining ${args.team}` : ''}. Start with "${config.greeting}".` } }],
          }),
        },
      ],
      health: () => ({ ok: true, detail: `greeted ${greeted}` }),
      stop: () => ctx.log.info('hello plugin stopped'),
    };
  },
};
