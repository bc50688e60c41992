// Shared by the editor specs: a userDir with this checkout linked in, and Chromium's flags.
import { mkdirSync, mkdtempSync, symlinkSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { root } from '../e2e/support'

export const artifacts = path.join(root, 'test-artifacts')
export const CHROMIUM_FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync']

/** A userDir with Hearth (this checkout, built) linked into node_modules. */
export function linkedUserDir (): string {
  const userDir = mkdtempSync(path.join(os.tmpdir(), 'hearth-editor-'))
  mkdirSync(path.join(userDir, 'node_modules/@hearth'), { recursive: true })
  symlinkSync(root, path.join(userDir, 'node_modules/@hearth/node-red-mqtt'), 'dir')
  writeFileSync(path.join(userDir, 'package.json'), JSON.stringify({ name: 'editor-test', private: true }))
  return userDir
}
