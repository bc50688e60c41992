/**
 * Access control with Mosquitto's files and semantics: password hashes ($7$ / $6$), the password
 * file, an Authenticator over hashed and plain accounts, the ACL file and an ACL Authorizer.
 */
export { AccessFileError, type AccessErrorCode } from './errors'
export {
  DEFAULT_ITERATIONS, hashPassword, verifyPassword, parsePasswordHash, formatPasswordHash,
  type HashOptions, type PasswordHash,
} from './password-hash'
export { parsePasswordFile, formatPasswordFile, loadPasswordFile, type PasswordEntry } from './password-file'
export { PasswordAuthenticator, type Accounts, type PasswordAuthenticatorOptions } from './password-authenticator'
export { parseAclFile, loadAclFile, type AclFile, type AclRule, type AclAccess, type AclWarning } from './acl-file'
export { AclAuthorizer, type AclAuthorizerOptions } from './acl-authorizer'
