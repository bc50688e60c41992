import type { MessageProperties } from '../types'

interface AnyProps {
  payloadFormatIndicator?: boolean
  messageExpiryInterval?: number
  contentType?: string
  responseTopic?: string
  correlationData?: Buffer
  userProperties?: Record<string, string | string[]>
}

/** The application properties forwarded unaltered to subscribers [v5 MQTT-3.3.2-4, v5 MQTT-3.3.2-15..20]. */
export function appProperties (p: AnyProps | undefined): MessageProperties | undefined {
  if (p === undefined) return undefined
  let out: MessageProperties | undefined
  if (p.payloadFormatIndicator !== undefined) (out ??= {}).payloadFormatIndicator = p.payloadFormatIndicator
  if (p.messageExpiryInterval !== undefined) (out ??= {}).messageExpiryInterval = p.messageExpiryInterval
  if (p.contentType !== undefined) (out ??= {}).contentType = p.contentType
  if (p.responseTopic !== undefined) (out ??= {}).responseTopic = p.responseTopic
  if (p.correlationData !== undefined) (out ??= {}).correlationData = p.correlationData
  if (p.userProperties !== undefined) (out ??= {}).userProperties = p.userProperties
  return out
}
