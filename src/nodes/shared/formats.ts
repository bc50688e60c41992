/** How a subscribe node turns a received payload into `msg.payload` (browser-safe: the editor uses it too). */
export type OutputFormat = 'auto' | 'string' | 'buffer' | 'json' | 'base64'
export const OUTPUT_FORMATS: readonly OutputFormat[] = ['auto', 'string', 'buffer', 'json', 'base64']
