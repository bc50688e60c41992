/** Poll `check` until it returns a truthy value and resolve with it; reject naming `what` after `ms`. */
export async function pollUntil<T> (check: () => T | undefined | false | null, ms: number, what: string, everyMs = 20): Promise<T> {
  const deadline = Date.now() + ms
  for (;;) {
    const v = check()
    if (v) return v
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, everyMs))
  }
}
