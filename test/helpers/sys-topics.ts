// Every topic Mosquitto 2.0.11 publishes under $SYS (Debian's build, with memory tracking: heap/*),
// as `mosquitto_sub -t '$SYS/#' -v` shows them once a client has connected. Hearth publishes the same.
const B = '$SYS/broker/'
const LOADS = ['messages/received', 'messages/sent', 'publish/dropped', 'publish/received', 'publish/sent', 'bytes/received', 'bytes/sent', 'sockets', 'connections']

export const SYS_TOPICS: readonly string[] = [
  'version', 'uptime',
  'clients/total', 'clients/maximum', 'clients/disconnected', 'clients/inactive', 'clients/connected', 'clients/active', 'clients/expired',
  'messages/stored', 'messages/received', 'messages/sent',
  'store/messages/count', 'store/messages/bytes',
  'subscriptions/count', 'shared_subscriptions/count', 'retained messages/count',
  'heap/current', 'heap/maximum',
  'publish/messages/dropped', 'publish/messages/received', 'publish/messages/sent', 'publish/bytes/received', 'publish/bytes/sent',
  'bytes/received', 'bytes/sent',
  ...LOADS.flatMap(l => ['1min', '5min', '15min'].map(w => `load/${l}/${w}`)),
].map(t => B + t)
