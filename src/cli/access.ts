/*
 * Who may connect and what they may do, for the CLI: the `users` map merged with a Mosquitto
 * password file (`passwordFile`), and a Mosquitto ACL file (`aclFile`). SIGHUP re-reads both
 * files without dropping a connection, as Mosquitto does; a file that no longer reads keeps the
 * rules in force and says why.
 */
import {
  AccessFileError, AclAuthorizer, PasswordAuthenticator, loadAclFile, loadPasswordFile,
  type Accounts, type Authorizer,
} from '../broker'
import type { CliSettings } from './config'
import { ConfigError } from './validate'

export interface Access {
  authenticate: PasswordAuthenticator
  authorize: Authorizer | undefined
  /** Read the password and ACL files again; resolves with a line saying what was reloaded. */
  reload (): Promise<string>
}

async function accounts (settings: CliSettings): Promise<Accounts> {
  const a: Accounts = { users: settings.users }
  if (settings.passwordFile !== undefined) a.passwordFile = await loadPasswordFile(settings.passwordFile)
  return a
}

/** A file problem as a config error naming the key (exit code 2 at start). */
function asConfigError (key: string, err: unknown): unknown {
  if (err instanceof AccessFileError) return new ConfigError('UNREADABLE', key, err.message)
  return err
}

/** Load the files the settings name; rejects with a ConfigError when one cannot be used. */
export async function loadAccess (settings: CliSettings): Promise<Access> {
  let authenticate: PasswordAuthenticator
  try {
    // The bridge's local side and other in-process clients are the process's own code: trusted.
    authenticate = new PasswordAuthenticator(await accounts(settings), { allowAnonymous: settings.allowAnonymous, trustLocal: true })
  } catch (err) {
    throw asConfigError('passwordFile', err)
  }
  let authorize: AclAuthorizer | undefined
  if (settings.aclFile !== undefined) {
    try {
      authorize = new AclAuthorizer(await loadAclFile(settings.aclFile), { trustLocal: true })
    } catch (err) {
      throw asConfigError('aclFile', err)
    }
  }
  return {
    authenticate,
    authorize,
    async reload (): Promise<string> {
      const done: string[] = []
      if (settings.passwordFile !== undefined) {
        authenticate.reload(await accounts(settings))
        done.push(`password file ${settings.passwordFile}`)
      }
      if (authorize !== undefined && settings.aclFile !== undefined) {
        authorize.reload(await loadAclFile(settings.aclFile))
        done.push(`ACL file ${settings.aclFile}`)
      }
      return done.length > 0 ? `reloaded ${done.join(' and ')}` : 'nothing to reload (no passwordFile or aclFile)'
    },
  }
}
