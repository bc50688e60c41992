// Slots of the Int32Array shared (SharedArrayBuffer) between the generator's role threads.
// Counts are in deliveries (messages x fan-out) so one window serves fan-in and fan-out alike.
export const SENT = 0 // deliveries the publishers have written
export const RECV = 1 // deliveries the subscribers have counted
export const STOP = 2 // set by the coordinator: publishers stop writing
export const SEQ = 3 // bumped (Atomics.notify) when a waiting publisher may continue
export const WAITING = 4 // a publisher waits for RECV to reach WAKE_AT
export const WAKE_AT = 5
export const PUB = 6 // messages written by publishers
export const LOST = 7 // deliveries written off after the pipeline went quiet (broker dropped them)
export const SLOTS = 8

export function newControl () {
  return new Int32Array(new SharedArrayBuffer(SLOTS * 4))
}

// Called by subscriber threads after counting n deliveries.
export function addRecv (ctl, n) {
  const r = Atomics.add(ctl, RECV, n) + n
  if (Atomics.load(ctl, WAITING) === 1 && r >= Atomics.load(ctl, WAKE_AT)) {
    Atomics.store(ctl, WAITING, 0)
    Atomics.add(ctl, SEQ, 1)
    Atomics.notify(ctl, SEQ)
  }
}
