/** Hearth's MQTT broker core: public API. Imports nothing from Node-RED. */
export { Broker, createBroker, type ListenOptions, type ListenResult } from './broker'
export { LocalClient } from './local-client'
export { MemoryPersistence } from './persistence'
export { FilePersistence, type FilePersistenceOptions } from './persistence-file'
export type { Persistence, PersistedState, StoredMessage, StoredSession, StoredOutgoing, OutgoingState } from './persistence'
export { allowAllAuthenticator, allowAllAuthorizer, UserTableAuthenticator } from './auth'
export type { Authenticator, Authorizer, AuthenticateRequest, AuthenticateResult, AuthClient, UserTableOptions } from './auth'
export {
  AccessFileError, AclAuthorizer, PasswordAuthenticator, DEFAULT_ITERATIONS as DEFAULT_HASH_ITERATIONS,
  hashPassword, verifyPassword, parsePasswordHash, formatPasswordHash,
  parsePasswordFile, formatPasswordFile, loadPasswordFile, parseAclFile, loadAclFile,
} from './access'
export type {
  AccessErrorCode, Accounts, PasswordAuthenticatorOptions, PasswordEntry, PasswordHash, HashOptions,
  AclFile, AclRule, AclAccess, AclWarning, AclAuthorizerOptions,
} from './access'
export { RC, RC3, ProtocolError, HearthError, ReasonError, StoreError, reasonName } from './errors'
export { renderPrometheus, PROMETHEUS_CONTENT_TYPE } from './metrics'
export type { BrokerMetrics, ListenerMetrics, LoadAverage, EventLoopDelay, PersistenceMetrics, PacketType } from './metrics'
export { INTEGER_OPTIONS, OptionError, type IntegerOption, type IntegerOptionName } from './options'
export { validTopicName, validTopicFilter, parseShared, matchTopic } from './topics'
export type * from './types'
